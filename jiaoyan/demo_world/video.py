"""Render a ground-truth lesson script into a real H.264 + AAC MP4.

What the camera sees and hears follows ``LessonScript`` exactly: the teacher's
behaviour and how many students do each student behaviour hold for each whole 6-second
window (see ``scene`` for the picture and ``audio`` for the sound). Nothing in the file
encodes the behaviour except those physical cues.

The output is byte-for-byte reproducible for the same script, settings and library
versions: x264 runs with a fixed thread count, the container is written bit-exact with
no creation time, and every random choice comes from the script's seed. Files appear
atomically (written to a temporary name, then renamed).

    >>> result = render_lesson(script, "lesson.mp4", "default")   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from jiaoyan.demo_world import audio, scene
from jiaoyan.demo_world.script import LessonScript


@dataclass(frozen=True)
class RenderSettings:
    """Every knob of the renderer; ``docs/video-renderer.md`` explains each one."""

    # picture and stream
    width: int = 512
    height: int = 288
    fps: float = 10.0
    gop: int = 20  # keyframe interval in frames (fixed: no scene-cut keyframes)
    # x264
    x264_preset: str = "ultrafast"
    crf: int = 28
    x264_threads: int = 1  # part of the output: a different count gives different bytes
    x264_params: str = ""  # extra "key=value:key=value" options for libx264
    # camera realism
    sensor_noise: float = 0.0  # luma noise, standard deviation in 8-bit levels
    jitter_px: float = 0.0  # camera shake amplitude in pixels
    gain_drift: float = 0.0  # slow exposure drift, share of the brightness (0.1 = +-10 %)
    flicker: float = 0.0  # mains-light flicker amplitude, share of the brightness
    mains_hz: float = 50.0
    lights_off_per_min: float = 0.0  # how often a bank of lights goes off in part of the room
    lights_off_s: float = 20.0  # for how long
    lights_off_gain: float = 0.55  # brightness left in the dark part
    pillar: bool = False  # a pillar between the camera and the left-hand students
    passersby_per_min: float = 0.0  # someone walking right in front of the camera
    # sound
    with_audio: bool = True
    audio: audio.AudioSettings = field(default_factory=audio.AudioSettings)
    audio_bitrate: int = 32000
    aac_coder: str = "fast"  # FFmpeg's AAC coder: "fast" or "twoloop" (slower, a little better)


PRESETS: dict[str, RenderSettings] = {
    # What the demo world renders: a 3-minute lesson costs about 2 s of one core.
    "default": RenderSettings(),
    # A realistic classroom-recorder stream, for benchmarks.
    "bench": RenderSettings(
        width=1280, height=720, fps=25.0, gop=50, crf=26, x264_threads=2, audio_bitrate=48000,
        audio=audio.AudioSettings(room_noise_db=-58.0, reverb_rt60_s=0.35, reverb_wet=0.25),
    ),
    # A worse camera in a worse room: every realism knob on.
    "hard": RenderSettings(
        width=960, height=540, fps=15.0, gop=60, crf=30, x264_params="vbv-maxrate=1500:vbv-bufsize=3000",
        sensor_noise=5.0, jitter_px=3.0, gain_drift=0.15, flicker=0.04,
        lights_off_per_min=0.6, lights_off_s=25.0, pillar=True, passersby_per_min=1.0,
        audio=audio.AudioSettings(room_noise_db=-52.0, hum_db=-42.0, hvac_db=-40.0, corridor_per_min=1.5,
                                  corridor_db=-34.0, reverb_rt60_s=0.8, reverb_wet=0.5, speech_gain_db=-4.0),
    ),
}


def preset(name: str, **overrides: Any) -> RenderSettings:
    """A named preset, optionally with some knobs changed: ``preset("hard", fps=10.0)``."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown render preset {name!r}; known: {', '.join(PRESETS)}") from None
    return replace(base, **overrides)


@dataclass(frozen=True)
class RenderResult:
    path: Path
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    has_audio: bool
    sha256: str
    cpu_s: float  # CPU time the render took (not part of the file)


def render_lesson(script: LessonScript, path: str | os.PathLike[str],
                  settings: RenderSettings | str = "default") -> RenderResult:
    """Render ``script`` to an MP4 at ``path`` (written atomically) and describe the file."""
    cfg = preset(settings) if isinstance(settings, str) else settings
    _check(script, cfg)
    cpu0 = time.process_time()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # OpenCV's thread pool costs more than it gains on these small images
    try:
        frames = _encode(script, cfg, tmp)
        os.replace(tmp, out)
    finally:
        cv2.setNumThreads(threads)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return RenderResult(path=out, duration_s=script.duration_s, fps=float(cfg.fps), width=cfg.width,
                        height=cfg.height, frame_count=frames, has_audio=cfg.with_audio,
                        sha256=sha256_file(out), cpu_s=time.process_time() - cpu0)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(script: LessonScript, cfg: RenderSettings) -> None:
    if script.n_points == 0:
        raise ValueError(f"{script.lesson_id}: an empty script has nothing to film")
    if cfg.width % 2 or cfg.height % 2 or cfg.width < 64 or cfg.height < 64:
        raise ValueError(f"frame size {cfg.width}x{cfg.height}: both sides must be even and at least 64")
    if cfg.fps <= 0 or cfg.gop < 1:
        raise ValueError(f"fps {cfg.fps} and gop {cfg.gop} must be positive")
    if cfg.x264_threads < 1:  # 0 would mean "as many as this machine has": bytes would vary by machine
        raise ValueError(f"x264_threads must be at least 1, got {cfg.x264_threads}")


def _frame_points(script: LessonScript, fps: Fraction) -> np.ndarray:
    """Point index of every frame, in exact rational arithmetic (no float drift at boundaries)."""
    n = round(script.duration_s * fps)
    ival = Fraction(script.interval_s).limit_denominator(1000)
    ks = (np.arange(n, dtype=np.int64) * fps.denominator * ival.denominator) // (fps.numerator * ival.numerator)
    return np.minimum(ks, script.n_points - 1)


# --- encoding -------------------------------------------------------------------------------------
def _encode(script: LessonScript, cfg: RenderSettings, tmp: Path) -> int:
    fps = Fraction(cfg.fps).limit_denominator(1001)
    assign = scene.assign_students(script)
    plan = audio.plan_speech(script, assign, scene.choose_speakers(assign, script.teacher))
    margin = math.ceil(cfg.jitter_px) + 1 if cfg.jitter_px > 0 else 0
    room = scene.Classroom(script, cfg.width, cfg.height, margin, plan, assign)
    camera = CameraEffects(script, cfg, fps, margin)
    ks = _frame_points(script, fps)
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart", "fflags": "+bitexact"}) as box:
        video = _video_stream(box, cfg, fps)
        sound = _audio_packets(box, script, plan, cfg) if cfg.with_audio else []
        sound_t = [float(p.pts * p.time_base) for p in sound]
        dt, a = float(1 / fps), 0
        for i, k in enumerate(ks.tolist()):
            t = i * dt
            canvas = room.draw(t, dt, k)
            frame = av.VideoFrame.from_numpy_buffer(camera.shoot(canvas, i, t), format="yuv420p")  # no copy
            frame.pts = i
            box.mux(video.encode(frame))
            while a < len(sound) and sound_t[a] <= t:  # keep the file interleaved
                box.mux(sound[a])
                a += 1
        box.mux(video.encode(None))
        box.mux(sound[a:])
    return len(ks)


def _video_stream(box: av.container.OutputContainer, cfg: RenderSettings, fps: Fraction) -> av.VideoStream:
    stream = box.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = cfg.width, cfg.height, "yuv420p"
    stream.codec_context.time_base = 1 / fps
    stream.codec_context.gop_size = cfg.gop
    stream.codec_context.thread_count = cfg.x264_threads
    params = f"keyint={cfg.gop}:min-keyint={cfg.gop}:scenecut=0" + (f":{cfg.x264_params}" if cfg.x264_params else "")
    stream.options = {"preset": cfg.x264_preset, "crf": str(cfg.crf), "x264-params": params}
    return stream


def _audio_packets(box: av.container.OutputContainer, script: LessonScript, plan: audio.SpeechPlan,
                   cfg: RenderSettings) -> list[av.Packet]:
    """Synthesise and encode the whole track up front; the video loop interleaves the packets."""
    sr = cfg.audio.sample_rate
    stream = box.add_stream("aac", rate=sr)
    stream.layout = "mono"
    stream.bit_rate = cfg.audio_bitrate
    stream.options = {"aac_coder": cfg.aac_coder}
    samples = audio.render_audio(script, plan, cfg.audio)
    packets: list[av.Packet] = []
    block = 1024 * 32
    for start in range(0, len(samples), block):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + block], format="flt", layout="mono")
        frame.sample_rate, frame.pts = sr, start
        packets += stream.encode(frame)
    packets += stream.encode(None)
    return packets


# --- what the camera adds ---------------------------------------------------------------------------
class CameraEffects:
    """Occluders in front of the scene, shake, exposure and light changes, sensor noise.

    Lighting and noise are applied in YUV: a gain on luma (and chroma around grey) is what
    an exposure change does, and it is cheaper than touching BGR."""

    def __init__(self, script: LessonScript, cfg: RenderSettings, fps: Fraction, margin: int) -> None:
        self.cfg, self.margin = cfg, margin
        rng = np.random.default_rng([script.seed, 301])
        n = round(script.duration_s * fps)
        t = np.arange(n) / float(fps)
        self.offsets = self._shake(t, rng)
        self.gain = self._gain(t, fps, rng)
        self.dark = _events(script.duration_s, cfg.lights_off_per_min, cfg.lights_off_s, rng)
        self.walkers = _events(script.duration_s, cfg.passersby_per_min, 2.5, rng)
        self.walk_dir = [1 if rng.random() < 0.5 else -1 for _ in self.walkers]
        self.noise = self._noise_bank(rng) if cfg.sensor_noise > 0 else None
        self.noise_pick = rng.integers(0, 8, n)
        self.pillar = self._pillar() if cfg.pillar else None

    def _shake(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        amp = self.cfg.jitter_px
        if amp <= 0:
            return np.zeros((len(t), 2), np.int64)
        f, p = rng.uniform(0.15, 1.5, (2, 3)), rng.uniform(0, 2 * np.pi, (2, 3))
        w = np.array([0.5, 0.3, 0.2])
        smooth = np.stack([(w * np.sin(2 * np.pi * f[d] * t[:, None] + p[d])).sum(1) for d in range(2)], 1)
        jolt = rng.normal(0, 0.25, (len(t), 2))
        return np.clip(np.rint(amp * (smooth + jolt)), -self.margin, self.margin).astype(np.int64)

    def _gain(self, t: np.ndarray, fps: Fraction, rng: np.random.Generator) -> np.ndarray:
        cfg = self.cfg
        p = rng.uniform(0, 2 * np.pi, 3)
        drift = cfg.gain_drift * (0.7 * np.sin(2 * np.pi * t / 97 + p[0]) + 0.3 * np.sin(2 * np.pi * t / 23 + p[1]))
        light = 2 * cfg.mains_hz  # lamps flicker at twice the mains frequency, aliased by the frame rate
        alias = abs(light - round(light / float(fps)) * float(fps)) or 0.7
        return 1.0 + drift + cfg.flicker * np.sin(2 * np.pi * alias * t + p[2])

    def _noise_bank(self, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        h, w = self.cfg.height, self.cfg.width
        bank = []
        for _ in range(8):
            z = np.rint(rng.normal(0, self.cfg.sensor_noise, (h, w)))
            bank.append((np.clip(z, 0, 255).astype(np.uint8), np.clip(-z, 0, 255).astype(np.uint8)))
        return bank

    def _pillar(self) -> tuple[int, np.ndarray]:
        """A concrete pillar close to the camera on the left: a vertical strip, lit from the windows."""
        w = self.cfg.width + 2 * self.margin
        x0, width = int(0.16 * w), max(4, int(0.05 * w))
        shade = np.linspace(215, 150, width, dtype=np.float32)
        strip = np.repeat(np.stack([shade * 0.95, shade, shade * 1.02], -1)[None], self.cfg.height + 2 * self.margin, 0)
        return x0, np.clip(strip, 0, 255).astype(np.uint8)

    def shoot(self, canvas: np.ndarray, i: int, t: float) -> np.ndarray:
        """The I420 frame the camera records of ``canvas`` at frame i."""
        if self.pillar is not None:
            x0, strip = self.pillar
            canvas[:, x0 : x0 + strip.shape[1]] = strip
        for (start, end), direction in zip(self.walkers, self.walk_dir, strict=True):
            if start <= t < end:
                _passerby(canvas, (t - start) / (end - start), direction)
        h, w, m = self.cfg.height, self.cfg.width, self.margin
        dx, dy = self.offsets[i]
        view = canvas[m + dy : m + dy + h, m + dx : m + dx + w]
        yuv = cv2.cvtColor(view, cv2.COLOR_BGR2YUV_I420)
        self._light(yuv, i, t)
        if self.noise is not None:
            plus, minus = self.noise[self.noise_pick[i]]
            luma = yuv[:h]
            cv2.add(luma, plus, dst=luma)
            cv2.subtract(luma, minus, dst=luma)
        return yuv

    def _light(self, yuv: np.ndarray, i: int, t: float) -> None:
        h = self.cfg.height
        g = float(self.gain[i])
        if abs(g - 1.0) > 1e-3:
            _scale(yuv[:h], g, 16.0)
            _scale(yuv[h:], 0.5 + 0.5 * g, 128.0)
        for start, end in self.dark:
            if start <= t < end:
                ramp = min(1.0, (t - start) / 0.3, (end - t) / 0.3)  # lamps take a moment
                self._dark_side(yuv, 1.0 - ramp * (1.0 - self.cfg.lights_off_gain))
                break

    def _dark_side(self, yuv: np.ndarray, g: float) -> None:
        """The left part of the room (the lights of one switch) darker, with a soft edge."""
        h, w = self.cfg.height, self.cfg.width
        u = yuv[h : h + h // 4].reshape(h // 2, w // 2)
        v = yuv[h + h // 4 :].reshape(h // 2, w // 2)
        bands = 6  # a stepped ramp is much cheaper than a per-pixel gain map
        edges = [0] + [int((0.3 + 0.2 * j / bands) * w) // 2 * 2 for j in range(bands)]
        for j in range(bands):
            gj = g + (1.0 - g) * j / bands
            a, b = edges[j], edges[j + 1]
            _scale(yuv[:h, a:b], gj, 16.0)
            _scale(u[:, a // 2 : b // 2], 0.5 + 0.5 * gj, 128.0)
            _scale(v[:, a // 2 : b // 2], 0.5 + 0.5 * gj, 128.0)


def _scale(plane: np.ndarray, gain: float, pivot: float) -> None:
    """In place: pivot + gain * (x - pivot), saturated to 0..255."""
    cv2.convertScaleAbs(plane, dst=plane, alpha=gain, beta=pivot * (1.0 - gain))


def _events(duration: float, per_min: float, length: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Non-overlapping (start, end) intervals arriving as a Poisson process."""
    out: list[tuple[float, float]] = []
    if per_min <= 0:
        return out
    t = float(rng.exponential(60.0 / per_min))
    while t < duration:
        out.append((t, min(duration, t + length)))
        t += length + float(rng.exponential(60.0 / per_min))
    return out


def _passerby(canvas: np.ndarray, progress: float, direction: int) -> None:
    """A person crossing right in front of the lens: a big, dark head and shoulders."""
    h, w = canvas.shape[:2]
    x = int((-0.25 + 1.5 * progress) * w) if direction > 0 else int((1.25 - 1.5 * progress) * w)
    color = (38, 36, 40)
    cv2.ellipse(canvas, (x, int(1.05 * h)), (int(0.33 * h), int(0.3 * h)), 0, 0, 360, color, -1)
    cv2.circle(canvas, (x, int(0.62 * h)), int(0.17 * h), (30, 30, 34), -1)
