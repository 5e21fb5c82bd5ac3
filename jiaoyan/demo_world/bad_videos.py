"""Defective lesson videos, for tests and for the demo world's broken landing-zone items.

Each maker writes one kind of defect, deterministically and atomically, either from a
good rendered lesson (``good``: an MP4 from ``video.render_lesson``) or from scratch:

========================  ====================================================================
kind                      what is wrong
========================  ====================================================================
``unreadable``            random bytes under an ``.mp4`` name: no container at all
``zero_length``           an empty file
``truncated``             the good file cut partway: the header promises more than is there
``no_audio``              the good video stream alone, no audio track
``variable_frame_rate``   the good frames with irregular timestamps (bursts and gaps)
``unusual_resolution``    rendered at an odd size, 854x478 by default
``tiny``                  rendered very small, 128x72
``rotated``               the good streams with a 90 degree display-matrix rotation
``portrait``              the picture turned on its side, stored as a portrait frame
========================  ====================================================================
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import av
import numpy as np

from jiaoyan.demo_world import video
from jiaoyan.demo_world.script import LessonScript

BAD_KINDS = ("unreadable", "zero_length", "truncated", "no_audio", "variable_frame_rate",
             "unusual_resolution", "tiny", "rotated", "portrait")
UNUSUAL_SIZE = (854, 478)
TINY_SIZE = (128, 72)
PathLike = str | os.PathLike[str]
T = TypeVar("T")


@contextlib.contextmanager
def _atomic(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place if the block succeeds."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def unreadable(path: PathLike, size: int = 64 * 1024, seed: int = 0) -> Path:
    """Random bytes with an ``.mp4`` name: every demuxer refuses it."""
    with _atomic(path) as tmp:
        tmp.write_bytes(np.random.default_rng([seed, 401]).bytes(size))
    return Path(path)


def zero_length(path: PathLike) -> Path:
    with _atomic(path) as tmp:
        tmp.write_bytes(b"")
    return Path(path)


def truncated(good: PathLike, path: PathLike, keep: float = 0.4) -> Path:
    """The first ``keep`` share of the good file's bytes. Rendered files keep their index up
    front (``faststart``), so the file still opens but its frames stop early."""
    data = Path(good).read_bytes()
    with _atomic(path) as tmp:
        tmp.write_bytes(data[: int(len(data) * keep)])
    return Path(path)


def no_audio(good: PathLike, path: PathLike) -> Path:
    """The good video stream alone (a stream copy: nothing re-encoded)."""
    return _remux(good, path, keep_audio=False)


def variable_frame_rate(good: PathLike, path: PathLike, seed: int = 0) -> Path:
    """The good frames re-timed irregularly (a recorder that drops and bunches frames):
    frame intervals of 0.5x to 2.5x the nominal one, same total duration."""
    rng = np.random.default_rng([seed, 402])

    def retime(durations: np.ndarray) -> np.ndarray:
        factors = rng.choice([0.5, 1.0, 1.0, 1.5, 2.5], size=len(durations))
        scaled = durations * factors * durations.sum() / (durations * factors).sum()
        return np.maximum(1, np.round(scaled)).astype(np.int64)

    return _remux(good, path, retime=retime)


def rotated(good: PathLike, path: PathLike, degrees: float = 90.0) -> Path:
    """The good streams with a display matrix asking players to rotate by ``degrees``
    (counter-clockwise, as ``av.VideoFrame.rotation`` reports it)."""
    return _remux(good, path, rotation=degrees)


def unusual_resolution(script: LessonScript, path: PathLike, size: tuple[int, int] = UNUSUAL_SIZE,
                       settings: video.RenderSettings | str = "default") -> Path:
    """Render from scratch at an odd size (both sides must stay even for 4:2:0 H.264)."""
    base = video.preset(settings) if isinstance(settings, str) else settings
    return video.render_lesson(script, path, replace(base, width=size[0], height=size[1])).path


def tiny(script: LessonScript, path: PathLike) -> Path:
    return unusual_resolution(script, path, TINY_SIZE)


def portrait(good: PathLike, path: PathLike, display_rotation: float | None = None) -> Path:
    """The picture turned 90 degrees clockwise and re-encoded as a portrait frame (height >
    width), audio copied. With ``display_rotation`` the file also carries a display matrix."""
    with av.open(str(good)) as src, _atomic(path) as tmp, av.open(str(tmp), "w", format="mp4",
                                                                      options={"fflags": "+bitexact"}) as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.height, vin.width, "yuv420p"
        vout.codec_context.thread_count = 1
        vout.options = {"preset": "ultrafast", "crf": "28"}
        if display_rotation is not None:
            vout.set_display_rotation(display_rotation)
        aout = dst.add_stream_from_template(src.streams.audio[0]) if src.streams.audio else None
        for packet in src.demux():
            if packet.stream.type == "video":
                for frame in packet.decode():
                    turned = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="bgr24"), k=-1))
                    out = av.VideoFrame.from_ndarray(turned, format="bgr24")
                    out.pts, out.time_base = frame.pts, frame.time_base
                    dst.mux(vout.encode(out))
            elif aout is not None and packet.dts is not None:
                packet.stream = aout
                dst.mux(packet)
        dst.mux(vout.encode(None))
    return Path(path)


def _remux(good: PathLike, path: PathLike, keep_audio: bool = True,
           retime: Callable[[np.ndarray], np.ndarray] | None = None, rotation: float | None = None) -> Path:
    """Stream-copy ``good`` into ``path``, optionally dropping audio, re-timing video, rotating."""
    with av.open(str(good)) as src:
        packets = [p for p in src.demux() if p.dts is not None]
        vin = src.streams.video[0]
        video_packets = [p for p in packets if p.stream is vin]
        if retime is not None:
            _retime(video_packets, retime)
        with _atomic(path) as tmp, av.open(str(tmp), "w", format="mp4",
                                           options={"movflags": "+faststart", "fflags": "+bitexact"}) as dst:
            outs = {}
            for stream in src.streams:
                if stream.type == "video" or (keep_audio and stream.type == "audio"):
                    outs[stream.index] = dst.add_stream_from_template(stream)
            if rotation is not None:
                outs[vin.index].set_display_rotation(rotation)
            for packet in packets:
                target = outs.get(packet.stream.index)
                if target is not None:
                    packet.stream = target
                    dst.mux(packet)
    return Path(path)


def _retime(packets: list[av.Packet], retime: Callable[[np.ndarray], np.ndarray]) -> None:
    """New presentation times for a stream without B-frames (decode order = display order)."""
    pts = np.array([p.pts for p in packets], np.int64)
    durations = np.diff(np.append(pts, 2 * pts[-1] - pts[-2])) if len(pts) > 1 else np.array([1])
    new_durations = retime(durations)
    new = pts[0] + np.concatenate([[0], np.cumsum(new_durations)[:-1]])
    for packet, t, d in zip(packets, new.tolist(), new_durations.tolist(), strict=True):
        packet.pts = packet.dts = t
        packet.duration = d


def make_bad_video(kind: str, path: PathLike, good: PathLike | None = None, script: LessonScript | None = None,
                   seed: int = 0) -> Path:
    """One defective video of ``kind`` (see ``BAD_KINDS``); needs ``good`` or ``script``."""
    makers: dict[str, Callable[[], Path]] = {
        "unreadable": lambda: unreadable(path, seed=seed),
        "zero_length": lambda: zero_length(path),
        "truncated": lambda: truncated(_need(good, kind), path),
        "no_audio": lambda: no_audio(_need(good, kind), path),
        "variable_frame_rate": lambda: variable_frame_rate(_need(good, kind), path, seed=seed),
        "unusual_resolution": lambda: unusual_resolution(_need(script, kind), path),
        "tiny": lambda: tiny(_need(script, kind), path),
        "rotated": lambda: rotated(_need(good, kind), path),
        "portrait": lambda: portrait(_need(good, kind), path),
    }
    if kind not in makers:
        raise ValueError(f"unknown bad-video kind {kind!r}; known: {', '.join(BAD_KINDS)}")
    return makers[kind]()


def _need(value: T | None, kind: str) -> T:
    if value is None:
        raise ValueError(f"bad-video kind {kind!r} needs a good video or a script to start from")
    return value
