"""Read a lesson video for its 6-second points: only the frames the points need, and the sound.

Two passes over the file, both cheap:

1. **Index** (:func:`probe`): the pictures' timestamps give the keyframe times, the real end
   of the streams (a truncated file promises more than it holds) and the frame rate (variable
   frame rates are sampled by time, never by frame number). An MP4/MOV file carries them in its
   own sample index, read without touching a picture's bytes when it can be trusted (every
   sample inside the file, no reordered frames, its last GOP readable as indexed); otherwise
   every packet is demuxed without decoding. The audio packets are decoded and resampled once
   to 16 kHz mono (alone, the video's packets skipped, when the index served).
2. **Frames** (:func:`read_frames`): each point's window ``[6k, 6k + 6)`` is split into
   ``frames_per_point`` equal slots; a slot takes the first keyframe inside it (one
   seek, one intra-frame decode, non-key frames skipped by the decoder). Where keyframes
   are sparser than the slots (long GOPs), the slot falls back to the first frame at
   or after its start, decoded forward from the keyframe before it — the least decoding
   that still gives every slot its own picture.

``strategy`` selects the alternatives measured in ``docs/inference.md``: ``keyframes``
(above, the default), ``exact`` (seek and decode forward to the exact slot centre) and
``full`` (decode every frame, keep the nearest; the naive baseline).

Pictures are rotated per the display matrix, turned to landscape when the camera was
mounted on its side, and scaled once to a fixed analysis size by the decoder's scaler.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import av
import numpy as np
from av.stream import Discard
from av.video.reformatter import VideoReformatter

from jiaoyan import codes
from jiaoyan.landing import filesystem, is_local

STRATEGIES = ("keyframes", "exact", "full")
AVINDEX_KEYFRAME, AVINDEX_DISCARD_FRAME = 1, 2  # FFmpeg's index entry flags
EPS = 1e-6


class VideoError(Exception):
    """The video cannot be coded; the message is the quarantine reason."""


@dataclass(frozen=True)
class DecodeOptions:
    strategy: str = "keyframes"
    frames_per_point: int = 1  # measured: 1 is ~40 % cheaper than 2 and meets the accuracy targets
    width: int = 384  # analysis size: every video is scaled to it, so features do not depend on resolution
    height: int = 216
    audio_rate: int = 16000
    min_height: int = 144  # smaller pictures are quarantined: people are a few pixels tall
    truncation_tolerance_s: float = 2.0  # streams may end this much before the declared duration
    threads: int = 1  # decoder threads; 1 is the most work per core (parallelism comes from actors)
    skip_loop_filter: bool = False  # faster intra decode, slightly blockier pictures
    auto_orient: bool = True  # turn portrait pictures (camera on its side) to landscape
    hwaccel: str | None = None  # e.g. "cuda": decode on the GPU (NVDEC) where PyAV/FFmpeg support it
    interval_s: float = codes.SAMPLING_INTERVAL_S

    SAMPLING = ("frames_per_point", "width", "height")  # what defines the features: recorded with the model

    def sampling(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in self.SAMPLING}

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown decode strategy {self.strategy!r}; known: {', '.join(STRATEGIES)}")
        if self.frames_per_point < 1:
            raise ValueError("frames_per_point must be at least 1")


@dataclass
class Probe:
    declared_s: float | None  # what the container says
    duration_s: float  # what the video stream really covers
    fps: float
    width: int  # stored picture size
    height: int
    rotation: int  # display-matrix rotation, degrees counter-clockwise
    quarter_turns: int  # counter-clockwise quarter turns that make the stored picture upright landscape
    keyframes: np.ndarray  # keyframe presentation times, seconds, sorted
    frames: np.ndarray  # every frame's presentation time, seconds, sorted
    audio: np.ndarray | None  # mono float32 at audio_rate, from t = 0; None without a usable track
    audio_rate: int
    seconds: float = 0.0

    @property
    def n_points(self) -> int:
        return math.floor(self.duration_s / codes.SAMPLING_INTERVAL_S + EPS)

    @property
    def variable_rate(self) -> bool:
        steps = np.diff(self.frames)
        return bool(len(steps) > 2 and np.std(steps) > 0.05 * np.mean(steps))


@dataclass
class Frames:
    images: np.ndarray  # (n, height, width, 3) uint8 BGR at the analysis size, upright
    times: np.ndarray  # (n,) presentation time, seconds
    points: np.ndarray  # (n,) point index each picture belongs to
    slots: np.ndarray  # (n,) slot within the point
    fallback: int  # pictures that needed decoding past a keyframe
    decoded: int  # pictures the decoder produced in all
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def open_container(uri: str, options: DecodeOptions) -> Iterator[av.container.InputContainer]:
    """Open a local path or any fsspec URI (read as a file object; remote reads are buffered)."""
    kwargs: dict[str, Any] = {}
    if options.hwaccel:
        from av.codec.hwaccel import HWAccel

        kwargs["hwaccel"] = HWAccel(device_type=options.hwaccel, allow_software_fallback=True)
    try:
        if is_local(uri):
            with av.open(uri.removeprefix("file://"), **kwargs) as box:
                yield box
        else:
            fs, path = filesystem(uri)
            with fs.open(path, "rb", block_size=8 << 20) as handle, av.open(handle, **kwargs) as box:
                yield box
    except (av.error.FFmpegError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise VideoError(f"video not found: {uri}") from exc
        raise VideoError(f"unreadable video: {_short(exc)}") from exc


def file_size(uri: str) -> int | None:
    """The video's size in bytes, or None where it cannot be told."""
    try:
        if is_local(uri):
            return os.path.getsize(uri.removeprefix("file://"))
        fs, path = filesystem(uri)
        return int(fs.size(path))
    except (OSError, TypeError, ValueError):
        return None


def _short(exc: BaseException) -> str:
    text = (getattr(exc, "strerror", None) or str(exc)).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --- pass 1: index and sound ------------------------------------------------------------------
def probe(box: av.container.InputContainer, options: DecodeOptions, uri: str | None = None) -> Probe:
    """The lesson's timing, orientation and sound; with the video's ``uri``, an MP4/MOV sample index can stand in
    for demuxing every packet."""
    t0 = time.perf_counter()
    if not box.streams.video:
        raise VideoError("no video stream")
    vs = box.streams.video[0]
    width, height = vs.codec_context.width, vs.codec_context.height
    if not width or not height:
        raise VideoError("video stream has no picture size")
    vs.codec_context.thread_count = options.threads  # before the decoder opens
    if options.skip_loop_filter:
        vs.codec_context.options = {"skip_loop_filter": "all"}
    tb = float(vs.time_base)
    aus = box.streams.audio[0] if box.streams.audio else None
    sound = _SoundReader(aus, options.audio_rate) if aus is not None else None
    index = _sample_index(box, vs, uri)
    if index is None:
        index = _demux_index(box, vs, sound)
    elif sound is not None:
        _read_sound(box, vs, sound)
    pts, keys, last_duration = index
    if not len(pts):
        raise VideoError("no video frames")
    order = np.argsort(pts, kind="stable")
    start = int(pts[order[0]])
    times = (pts[order] - start) * tb
    key_times = times[keys[order]]
    if not len(key_times):
        raise VideoError("no keyframe in the video stream")
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    last_dur = last_duration * tb or step
    duration = float(times[-1] + last_dur)
    declared = box.duration / 1e6 if box.duration else None
    if declared is not None:  # the last picture's own duration is uncertain (variable rates): trust the
        duration = max(duration, min(declared, duration + 2 * step))  # container within two frame steps
    rotation, turns = _orientation(box, vs, options)
    return Probe(declared_s=declared, duration_s=duration, fps=(len(times) / duration if duration > 0 else 0.0),
                 width=width, height=height, rotation=rotation, quarter_turns=turns, keyframes=key_times, frames=times,
                 audio=sound.result(start * tb) if sound is not None else None, audio_rate=options.audio_rate,
                 seconds=time.perf_counter() - t0)


Index = tuple[np.ndarray, np.ndarray, int]  # pictures' pts, keyframe flags, the last picture's duration (ticks)


def _demux_index(box: av.container.InputContainer, vs: av.video.stream.VideoStream,
                 sound: _SoundReader | None) -> Index:
    """Every packet demuxed, no picture decoded; the sound decoded on the way."""
    pts: list[int] = []
    keys: list[bool] = []
    durations: list[int] = []
    streams = [vs] if sound is None else [vs, sound.stream]
    with contextlib.suppress(av.error.FFmpegError):  # a damaged tail ends the index where it breaks
        for packet in box.demux(*streams):
            if packet.stream is vs:
                if packet.pts is not None:
                    pts.append(packet.pts)
                    keys.append(bool(packet.is_keyframe))
                    durations.append(packet.duration or 0)
            elif sound is not None:
                sound.add(packet)
    last = durations[int(np.argmax(pts))] if pts else 0
    return np.asarray(pts, np.int64), np.asarray(keys, bool), last


def _sample_index(box: av.container.InputContainer, vs: av.video.stream.VideoStream, uri: str | None) -> Index | None:
    """The pictures' timestamps and keyframe flags from an MP4/MOV sample index (read from the moov box when the
    file was opened), or None where it cannot be trusted to equal the packets: the file's size unknown, a sample
    past its end (truncated), discarded samples (edit lists), reordered frames (B-frames: the index holds decoding
    times), or a last GOP that does not demux as indexed."""
    size = file_size(uri) if uri else None
    if size is None or not box.format.name.startswith("mov") or vs.codec_context.has_b_frames:
        return None
    entries = vs.index_entries
    if not len(entries) or len(entries) != vs.frames:
        return None
    rows = np.array([(e.timestamp, e.pos + e.size, e.flags) for e in entries], np.int64)
    pts, ends, flags = rows[:, 0], rows[:, 1], rows[:, 2]
    keys = (flags & AVINDEX_KEYFRAME).astype(bool)
    if ends.max() > size or (flags & AVINDEX_DISCARD_FRAME).any() or not keys.any() or np.any(np.diff(pts) <= 0):
        return None
    last_duration = _last_gop(str(uri), vs.index, pts[np.flatnonzero(keys)[-1] :])
    return None if last_duration is None else (pts, keys, last_duration)


def _last_gop(uri: str, stream_index: int, pts: np.ndarray) -> int | None:
    """The last picture's duration if the last GOP demuxes with exactly the indexed timestamps, else None. Read
    through a second handle: seeking the first would flush its audio decoder before the sound is read (AAC's
    noise substitution then draws other values)."""
    try:
        with open_container(uri, DecodeOptions()) as other:
            vs = other.streams.video[stream_index]
            other.seek(int(pts[0]), stream=vs, backward=True)
            tail = [(p.pts, p.duration or 0) for p in other.demux(vs) if p.size]
    except (av.error.FFmpegError, VideoError):
        return None
    return tail[-1][1] if [t for t, _ in tail] == pts.tolist() else None


def _read_sound(box: av.container.InputContainer, vs: av.video.stream.VideoStream, sound: _SoundReader) -> None:
    """The sound alone: the video's packets are skipped by the demuxer, not read."""
    vs.discard = Discard.all
    try:
        with contextlib.suppress(av.error.FFmpegError):
            for packet in box.demux(sound.stream):
                sound.add(packet)
    finally:
        vs.discard = Discard.default


class _SoundReader:
    """Decodes audio packets as the index pass meets them into one growing mono buffer; resamples once, at
    the end (a per-packet resampler costs more than decoding the sound). Samples are read straight from the
    frames' planes: 42,000 AAC frames of a 45-minute lesson through ``to_ndarray`` and a list of chunks cost
    more than decoding them."""

    SCALE: ClassVar[dict[str, float]] = {"s16": 1 / 32768, "s16p": 1 / 32768, "s32": 1 / 2**31, "s32p": 1 / 2**31}
    DTYPES: ClassVar[dict[str, type]] = {"flt": np.float32, "dbl": np.float64, "s16": np.int16, "s32": np.int32,
                                         "u8": np.uint8}

    def __init__(self, stream: av.audio.stream.AudioStream, rate: int) -> None:
        self.stream = stream
        self.rate = rate
        self.source_rate: int | None = None
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 60.0
        self.buffer = np.empty(int(seconds * (stream.sample_rate or rate) * 1.01) + 4096, np.float32)
        self.size = 0
        self.first_pts: float | None = None
        self.failed = False

    def add(self, packet: av.Packet) -> None:
        if self.failed:
            return
        try:
            for frame in packet.decode():
                if self.first_pts is None and frame.pts is not None:
                    self.first_pts = float(frame.pts * frame.time_base)
                self.source_rate = self.source_rate or frame.sample_rate
                if frame.sample_rate != self.source_rate:
                    raise ValueError("the sample rate changes within the stream")
                self._append(frame)
        except (av.error.FFmpegError, ValueError):
            self.failed = True  # broken sound: code the lesson from the pictures

    def _append(self, frame: av.AudioFrame) -> None:
        end = self.size + frame.samples
        if end > len(self.buffer):  # the stream ran longer than it declared
            grown = np.empty(max(end, 2 * len(self.buffer)), np.float32)
            grown[: self.size] = self.buffer[: self.size]
            self.buffer = grown
        if frame.format.name in ("fltp", "flt") and len(frame.layout.channels) == 1:  # AAC's usual: copied as is
            self.buffer[self.size : end] = np.frombuffer(frame.planes[0], np.float32, count=frame.samples)
        else:
            self.buffer[self.size : end] = self._mono(frame)
        self.size = end

    def _mono(self, frame: av.AudioFrame) -> np.ndarray:
        channels = len(frame.layout.channels)
        dtype = self.DTYPES.get(frame.format.name.removesuffix("p"))
        if dtype is None:  # an unusual sample format: PyAV's general conversion
            data = frame.to_ndarray()
            if not frame.format.is_planar:  # interleaved: (1, samples * channels)
                data = data.reshape(-1, channels).T
        elif frame.format.is_planar:  # one plane per channel (planes are padded: read `samples` values)
            data = [np.frombuffer(plane, dtype, count=frame.samples) for plane in frame.planes[:channels]]
        else:
            data = np.frombuffer(frame.planes[0], dtype, count=frame.samples * channels).reshape(-1, channels).T
        mono = np.mean(data, axis=0, dtype=np.float32) if channels > 1 else np.asarray(data[0], np.float32)
        if frame.format.name in self.SCALE:
            mono = mono * np.float32(self.SCALE[frame.format.name])
        elif frame.format.name.startswith("u8"):
            mono = (mono - 128.0) / 128.0
        return mono

    def result(self, video_start: float) -> np.ndarray | None:
        if self.failed or not self.size or not self.source_rate:
            return None
        audio = self.buffer[: self.size]
        if self.source_rate != self.rate:  # once, for the whole track
            from scipy.signal import resample_poly

            g = math.gcd(self.rate, self.source_rate)
            audio = resample_poly(audio, self.rate // g, self.source_rate // g).astype(np.float32)
        offset = round(((self.first_pts or 0.0) - video_start) * self.rate)
        if offset > 0:  # sound starts late: pad with silence so that t = 0 is the first picture
            audio = np.concatenate([np.zeros(offset, np.float32), audio])
        elif offset < 0:
            audio = audio[-offset:]
        return audio


def _orientation(box: av.container.InputContainer, vs: av.video.stream.VideoStream,
                 options: DecodeOptions) -> tuple[int, int]:
    """Display rotation (PyAV reads the display matrix on the first frame) and the quarter turns that
    make the picture upright landscape. A classroom camera films in landscape: a portrait picture
    was filmed on its side, so it is turned until the busier half (people, desks) is at the bottom
    and the plain wall at the top."""
    try:
        box.seek(0, stream=vs)
        frame = next(iter(box.decode(vs)), None)
    except av.error.FFmpegError:
        frame = None
    if frame is None:
        return 0, 0
    rotation = round(getattr(frame, "rotation", 0) or 0) % 360
    turns = _quarter_turns(rotation)
    picture = np.rot90(frame.to_ndarray(format="gray"), k=turns)
    if options.auto_orient and picture.shape[0] > picture.shape[1]:
        texture = np.abs(np.diff(picture.astype(np.float32), axis=0)).mean(axis=0)  # per column
        half = len(texture) // 2
        turns += 3 if texture[half:].sum() > texture[:half].sum() else 1
    return rotation, turns % 4


def check(p: Probe, options: DecodeOptions) -> None:
    """Quarantine what cannot be coded faithfully."""
    if p.declared_s is not None and p.duration_s < p.declared_s - options.truncation_tolerance_s:
        raise VideoError(f"truncated: the container declares {p.declared_s:.1f} s but the video stream ends at "
                         f"{p.duration_s:.1f} s")
    short, _long = sorted((p.width, p.height))
    if short < options.min_height:
        raise VideoError(f"resolution {p.width}x{p.height} is below the minimum of {options.min_height} lines "
                         "for coding people")
    if p.n_points < 1:
        raise VideoError(f"too short: {p.duration_s:.1f} s holds no complete {options.interval_s:g}-second point")


# --- pass 2: the pictures the points need -------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    times: np.ndarray  # presentation time of each picture to decode, seconds
    points: np.ndarray
    slots: np.ndarray
    keyframe: np.ndarray  # bool: the picture is a keyframe (one intra decode)


def plan(p: Probe, options: DecodeOptions) -> Plan:
    """Which picture each (point, slot) gets, in time order."""
    m, ival = options.frames_per_point, options.interval_s
    n = p.n_points
    k = np.repeat(np.arange(n), m)
    j = np.tile(np.arange(m), n)
    lo = k * ival + j * ival / m
    hi = lo + ival / m
    if options.strategy == "keyframes":
        idx = np.searchsorted(p.keyframes, lo - EPS)
        kf = np.where(idx < len(p.keyframes), p.keyframes[np.minimum(idx, len(p.keyframes) - 1)], np.inf)
        inside = kf < hi - EPS
        first = p.frames[np.minimum(np.searchsorted(p.frames, lo - EPS), len(p.frames) - 1)]
        times = np.where(inside, kf, first)
        return Plan(times, k, j, inside)
    centre = (lo + hi) / 2
    nearest = p.frames[np.clip(np.searchsorted(p.frames, centre - EPS), 0, len(p.frames) - 1)]
    return Plan(nearest, k, j, np.isin(nearest, p.keyframes))


def read_frames(box: av.container.InputContainer, p: Probe, options: DecodeOptions) -> Frames:
    t0 = time.perf_counter()
    pl = plan(p, options)
    vs = box.streams.video[0]
    reader = _full_decode if options.strategy == "full" else _seek_decode
    images, decoded = reader(box, vs, pl, options, p.quarter_turns, p.keyframes)
    fallback = int(np.count_nonzero(~pl.keyframe))
    return Frames(images=images, times=pl.times, points=pl.points, slots=pl.slots, fallback=fallback,
                  decoded=decoded, seconds=time.perf_counter() - t0)


def _quarter_turns(rotation: int) -> int:
    return round(rotation / 90) % 4


def _picture(frame: av.VideoFrame, options: DecodeOptions, turns: int, scaler: VideoReformatter) -> np.ndarray:
    """Upright BGR at the analysis size; the scaler runs once, on the stored orientation. One scaler serves a
    lesson: ``frame.to_ndarray(width=…)`` would set up a new one for every picture (half the cost of scaling)."""
    w, h = (options.height, options.width) if turns % 2 else (options.width, options.height)
    img = scaler.reformat(frame, width=w, height=h, format="bgr24").to_ndarray()
    return np.ascontiguousarray(np.rot90(img, k=turns)) if turns else img


def _seek_decode(box: av.container.InputContainer, vs: av.video.stream.VideoStream, pl: Plan,
                 options: DecodeOptions, turns: int, keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Seek to the keyframe before each picture, or keep decoding forward when that is shorter
    (several fallback pictures inside one long GOP are decoded in one run)."""
    tb = float(vs.time_base)
    start = vs.start_time or 0
    out = np.empty((len(pl.times), options.height, options.width, 3), np.uint8)
    scaler = VideoReformatter()
    decoded, pos, frames = 0, -np.inf, None
    last_t, last_img = None, None
    for i, (t, is_key) in enumerate(zip(pl.times.tolist(), pl.keyframe.tolist(), strict=True)):
        if t == last_t:  # two slots may share a picture
            out[i] = last_img
            continue
        target = start + round(t / tb)
        vs.codec_context.skip_frame = "NONKEY" if is_key else "DEFAULT"
        if frames is None or is_key or t <= pos or _key_between(keys, pos, t):
            box.seek(target, stream=vs, backward=True)
            frames = box.decode(vs)
        frame = None
        for frame in frames:
            decoded += 1
            if frame.pts is not None and frame.pts >= target - 1:
                break
        else:
            frames = None
        if frame is None:
            raise VideoError(f"no picture could be decoded at {t:.1f} s")
        pos = float((frame.pts - start) * tb) if frame.pts is not None else t
        last_t, last_img = t, _picture(frame, options, turns, scaler)
        out[i] = last_img
    return out, decoded


def _key_between(keys: np.ndarray, lo: float, hi: float) -> bool:
    """A keyframe in (lo, hi]: seeking there is cheaper than decoding forward."""
    i = np.searchsorted(keys, lo, side="right")
    return bool(i < len(keys) and keys[i] <= hi)


def _full_decode(box: av.container.InputContainer, vs: av.video.stream.VideoStream, pl: Plan,
                 options: DecodeOptions, turns: int, keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Naive baseline: decode every frame, keep the ones the plan names."""
    tb = float(vs.time_base)
    start = vs.start_time or 0
    wanted: dict[int, list[int]] = {}
    for i, t in enumerate(pl.times.tolist()):
        wanted.setdefault(start + round(t / tb), []).append(i)
    out = np.empty((len(pl.times), options.height, options.width, 3), np.uint8)
    scaler = VideoReformatter()
    box.seek(0, stream=vs)
    decoded = 0
    for frame in box.decode(vs):
        decoded += 1
        rows = wanted.get(frame.pts)
        if rows:
            out[rows] = _picture(frame, options, turns, scaler)
    return out, decoded


# --- one call for a lesson --------------------------------------------------------------------
@dataclass
class Lesson:
    probe: Probe
    frames: Frames

    @property
    def n_points(self) -> int:
        return self.probe.n_points


def read_lesson(uri: str, options: DecodeOptions | None = None) -> Lesson:
    """Index, check and sample a lesson video; raises :class:`VideoError` with the quarantine reason."""
    options = options or DecodeOptions()
    with open_container(uri, options) as box:
        try:
            p = probe(box, options, uri)
            check(p, options)
            frames = read_frames(box, p, options)
        except av.error.FFmpegError as exc:
            raise VideoError(f"undecodable video: {_short(exc)}") from exc
    return Lesson(p, frames)
