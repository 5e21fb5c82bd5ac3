"""Sound features: is anyone speaking, who (one low voice, one high voice, many voices at
once), and the little noises of a lesson (chalk on the board, footsteps).

``speech`` works on a short-time spectrum (32 ms frames every 25 ms) with the lesson's own
noise floor subtracted — estimated from the 10th percentile over the lesson, per frequency bin
and for the speech band as a whole, so hum, ventilation and a distant microphone's gain
cancel lesson by lesson — then per frame:

- **activity**: speech-band (300–3400 Hz) energy above the floor, in dB;
- **pitch**: the autocorrelation of the cleaned spectrum (Wiener–Khinchin) gives the
  period between 2.5 and 12.5 ms (80–400 Hz) and a periodicity strength; the shortest
  period close to the best one avoids octave errors; low (< 180 Hz) and high (> 190 Hz)
  voiced frames tell an adult from a child's voice;
- **overlap**: active frames with weak periodicity are several voices at once (babble);
- **transients**: 2–5 kHz clicks (chalk) and sub-250 Hz thumps (steps) well above their
  neighbourhood.

Each point gets shares of frames, switches between low and high voices (turn-taking),
pitch statistics, flatness and transient rates. Levels are relative to the lesson (speech
level to its median, SNR to its clear-speech level, flatness to its median, event rates to
its median rate), so a noisier room or a farther microphone does not shift them. A video
without sound gives NaN everywhere (the model is trained with such points).

``vad`` adds Silero VAD's speech probability (its bundled ONNX model run with onnxruntime,
all windows of a lesson batched; ≈ 2 ms of CPU per second of sound, so it is optional on a
CPU and cheap on a GPU).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy import fft as sfft
from scipy.ndimage import median_filter

from ray_inference.features.base import ExtractorConfig, LessonInput, register

FRAME = 512  # 32 ms at 16 kHz
HOP = 400  # 25 ms
F_LOW, F_HIGH = 180.0, 190.0  # adult vs child voice boundary, Hz
ACTIVE_DB = 6.0
VOICED = 0.35
CHUNK = 4096  # frames analysed together (about 100 s of sound)


def _frames(x: np.ndarray) -> np.ndarray:
    n = 1 + max(0, (len(x) - FRAME) // HOP)
    return np.lib.stride_tricks.as_strided(x, shape=(n, FRAME), strides=(x.strides[0] * HOP, x.strides[0]))


def _frame_rows(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Frames ``lo .. hi - 1`` of the sound followed by ``FRAME - HOP`` zeros (so that the frames reach the last
    window's end); only a chunk that runs past the end is copied, to pad it."""
    start, end = lo * HOP, (hi - 1) * HOP + FRAME
    segment = x[start:end]
    if len(segment) < end - start:
        segment = np.concatenate([segment, np.zeros(end - start - len(segment), np.float32)])
    return _frames(segment)


def _band(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (freqs >= lo) & (freqs < hi)


class Speech:
    name = "speech"
    version = 2
    modality = "audio"  # every feature is NaN where the point has no sound

    def __init__(self, config: ExtractorConfig) -> None:
        self.config = config

    def feature_names(self) -> list[str]:
        return ["active", "snr_rel_mean", "snr_rel_p90", "loudness", "voiced", "low", "high", "low_of_voiced",
                "high_of_voiced", "switches", "pitch_median", "pitch_iqr", "babble", "periodicity", "flatness",
                "clicks", "thumps", "pauses", "longest_run", "high_run"]

    def extract(self, lesson: LessonInput) -> np.ndarray:
        n = lesson.n_points
        out = np.full((n, len(self.feature_names())), np.nan, np.float32)
        present = lesson.audio_present()
        if lesson.audio is None or lesson.audio_rate != 16000 or not present.any():
            return out
        frames = self._analyse(lesson)
        per_point = round(lesson.interval_s * 16000 / HOP)
        usable = min(n, len(frames["active"]) // per_point)
        rows = np.flatnonzero(present[:usable])
        windows = {k: v[: usable * per_point].reshape(usable, per_point)[rows] for k, v in frames.items()}
        out[rows] = self._windows(windows)
        names = self.feature_names()
        for name in ("clicks", "thumps"):  # event rates relative to the lesson's own: room noise masks events
            col = names.index(name)
            out[:, col] /= float(np.nanmedian(out[rows, col])) + 1.0
        return out

    def _analyse(self, lesson: LessonInput) -> dict[str, np.ndarray]:
        """Per 25-ms frame: snr, level, pitch, periodicity, flatness, click and thump flags.

        Frames are analysed in chunks of ``CHUNK`` (a 45-minute lesson has 108,000 frames): whole-lesson
        temporaries of 0.1–0.2 GB each cost more in page faults than the arithmetic on them; chunked, the
        working set is reused. Every step is per frame, so the values are the same as in one piece."""
        x = np.asarray(lesson.audio, np.float32)
        n = 1 + max(0, (len(x) - HOP) // HOP)  # frames of the sound padded with FRAME - HOP zeros
        freqs = np.fft.rfftfreq(FRAME, 1 / 16000)
        speech, clicks_band, thumps_band = _band(freqs, 300, 3400), _band(freqs, 2000, 5000), _band(freqs, 40, 250)
        window = np.hanning(FRAME).astype(np.float32)
        power = np.empty((n, len(freqs)), np.float32)
        band_power, click_energy, thump_energy = (np.empty(n, np.float32) for _ in range(3))
        for lo, hi in _chunks(n):
            spec = sfft.rfft(_frame_rows(x, lo, hi) * window, axis=1)  # float32 in, complex64 out
            chunk = power[lo:hi]
            np.multiply(spec.real, spec.real, out=chunk)
            chunk += spec.imag * spec.imag
            band_power[lo:hi] = chunk[:, speech].sum(axis=1)
            click_energy[lo:hi] = chunk[:, clicks_band].sum(axis=1)
            thump_energy[lo:hi] = chunk[:, thumps_band].sum(axis=1)
        sample = power[:: max(1, n // 20000)]
        # one bin's power in noise is exponential: its 10th percentile is 0.105 x its mean
        noise = (np.percentile(sample, 10, axis=0) / 0.105 + 1e-10).astype(np.float32)
        floor = np.percentile(band_power[:: max(1, n // 20000)], 10) + 1e-10  # a sum: low variance
        snr = 10 * np.log10(band_power / floor + 1e-10)
        active = snr > ACTIVE_DB
        level = 10 * np.log10(band_power + 1e-12)
        ref_level = np.median(level[active]) if active.any() else np.median(level)
        snr_ref = np.percentile(snr[active], 90) if active.any() else 0.0  # the lesson's clear speech
        pitch = np.full(n, np.nan, np.float32)
        strength = np.zeros(n, np.float32)
        flatness = np.empty(n, np.float32)
        for lo, hi in _chunks(n):
            clean = np.maximum(power[lo:hi] - 1.5 * noise, 0.0)
            pitch[lo:hi], strength[lo:hi] = self._pitch(clean, active[lo:hi], freqs)
            sb = clean[:, speech] + 1e-12
            flatness[lo:hi] = np.exp(np.log(sb).mean(axis=1)) / sb.mean(axis=1)
        flatness /= np.median(flatness[active]) if active.any() else np.median(flatness)
        return {"snr": snr - snr_ref, "active": active, "level": level - ref_level, "pitch": pitch,
                "strength": strength, "flatness": flatness, "clicks": _transients(click_energy),
                "thumps": _transients(thump_energy)}

    @staticmethod
    def _pitch(clean: np.ndarray, active: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Period from the autocorrelation of active frames; the shortest lag within 85 % of the best."""
        pitch = np.full(len(clean), np.nan, np.float32)
        strength = np.zeros(len(clean), np.float32)
        idx = np.flatnonzero(active)
        if not len(idx):
            return pitch, strength
        weights = np.where(freqs < 2000, 1.0, 0.0).astype(np.float32)  # voice harmonics, not hiss
        ac = sfft.irfft(np.sqrt(clean[idx]) * weights, n=FRAME, axis=1)
        lags = ac[:, 40:201] / np.maximum(ac[:, :1], 1e-12)  # 400 .. 80 Hz
        best = lags.max(axis=1)
        first = np.argmax(lags >= 0.85 * best[:, None], axis=1)
        strength[idx] = best
        pitch[idx] = 16000.0 / (40 + first)
        pitch[strength < VOICED] = np.nan
        return pitch, strength

    @staticmethod
    def _windows(f: dict[str, np.ndarray]) -> np.ndarray:
        """All points at once: every array is (points, frames per point)."""
        active, pitch, strength = f["active"], f["pitch"], f["strength"]
        n = active.shape[1]
        voiced = ~np.isnan(pitch)
        low = voiced & (pitch < F_LOW)
        high = voiced & (pitch > F_HIGH)
        n_active = active.sum(axis=1)
        n_voiced = np.maximum(1, voiced.sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no voiced frame in the window
            q75, q50, q25 = np.nanpercentile(pitch, [75, 50, 25], axis=1)
            columns = [
                active.mean(axis=1),
                _masked_mean(f["snr"], active, -40.0),
                np.percentile(f["snr"], 90, axis=1),
                _masked_mean(f["level"], active, -30.0),
                voiced.mean(axis=1), low.mean(axis=1), high.mean(axis=1),
                low.sum(axis=1) / n_voiced, high.sum(axis=1) / n_voiced,
                np.array([_switches(lo, hi) for lo, hi in zip(low, high, strict=True)], np.float32),
                q50, np.where(voiced.sum(axis=1) > 3, q75 - q25, np.nan),
                (active & (strength < 0.3)).sum(axis=1) / np.maximum(1, n_active),
                _masked_mean(strength, active, 0.0),
                _masked_mean(f["flatness"], active, np.nan),
                f["clicks"].sum(axis=1) / n * 40, f["thumps"].sum(axis=1) / n * 40,
                *(np.array([_run_stats(a, h) for a, h in zip(active, high, strict=True)], np.float32) / [1, n, n]).T,
            ]
        return np.column_stack(columns).astype(np.float32)


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) ranges of ``CHUNK`` frames (4096 frames: ≈ 8 MB per float32 temporary)."""
    for lo in range(0, n, CHUNK):
        yield lo, min(n, lo + CHUNK)


def _masked_mean(values: np.ndarray, mask: np.ndarray, empty: float) -> np.ndarray:
    count = mask.sum(axis=1)
    total = np.where(mask, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), empty)


def _switches(low: np.ndarray, high: np.ndarray) -> float:
    """Turns between the low and the high voice: changes of the smoothed voiced-label sequence."""
    labels = np.where(low, 1, 0) + np.where(high, 2, 0)
    smooth = _majority(labels[labels > 0], 5)
    return float(np.count_nonzero(np.diff(smooth))) if len(smooth) > 1 else 0.0


def _run_stats(active: np.ndarray, high: np.ndarray) -> tuple[float, float, float]:
    """Pauses (runs of activity), the longest active run, the longest high-voice run (frames)."""
    runs = _runs(active)
    return float(len(runs)), float(max(runs, default=0)), float(max(_runs(high), default=0))


def _transients(energy: np.ndarray, spread: int = 6, ratio: float = 6.0) -> np.ndarray:
    """Frames whose energy jumps well above the median of their neighbourhood."""
    local = median_filter(energy, size=2 * spread + 1, mode="nearest")
    floor = np.percentile(energy[:: max(1, len(energy) // 20000)], 20)
    return (energy > ratio * local) & (energy > 4 * floor)


def _majority(labels: np.ndarray, width: int) -> np.ndarray:
    if len(labels) < width:
        return labels
    return median_filter(labels, size=width, mode="nearest")


def _runs(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of True."""
    if not mask.any():
        return []
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return (edges[1::2] - edges[::2]).tolist()


class SileroVad:
    """Silero VAD's speech probability per point (mean and share of chunks above 0.5)."""

    name = "vad"
    version = 1
    modality = "audio"
    CHUNK, CONTEXT = 512, 64

    def __init__(self, config: ExtractorConfig) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.inter_op_num_threads = opts.intra_op_num_threads = 1
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if config.device == "cuda" else [
            "CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(self.model_path()), sess_options=opts, providers=providers)

    @staticmethod
    def model_path() -> Path:
        import importlib.util

        spec = importlib.util.find_spec("silero_vad")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("silero-vad is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"

    def feature_names(self) -> list[str]:
        return ["speech_prob", "speech_share"]

    def extract(self, lesson: LessonInput) -> np.ndarray:
        n = lesson.n_points
        out = np.full((n, 2), np.nan, np.float32)
        present = lesson.audio_present()
        if lesson.audio is None or lesson.audio_rate != 16000 or not present.any():
            return out
        width = int(lesson.interval_s * 16000)
        rows = np.flatnonzero(present)
        x = np.stack([lesson.audio[k * width : (k + 1) * width] for k in rows]).astype(np.float32)
        probs = self._run(x)
        out[rows, 0] = probs.mean(axis=1)
        out[rows, 1] = (probs > 0.5).mean(axis=1)
        return out

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Every window as its own stream, all windows in one batch per 32-ms step."""
        b, steps = len(x), x.shape[1] // self.CHUNK
        state = np.zeros((2, b, 128), np.float32)
        context = np.zeros((b, self.CONTEXT), np.float32)
        probs = np.empty((b, steps), np.float32)
        sr = np.array(16000, np.int64)
        for k in range(steps):
            chunk = x[:, k * self.CHUNK : (k + 1) * self.CHUNK]
            out, state = self.session.run(None, {"input": np.concatenate([context, chunk], axis=1), "state": state,
                                                 "sr": sr})
            probs[:, k] = out[:, 0]
            context = chunk[:, -self.CONTEXT :]
        return probs


@register("speech")
def _speech(config: ExtractorConfig) -> Speech:
    return Speech(config)


@register("vad")
def _vad(config: ExtractorConfig) -> SileroVad:
    return SileroVad(config)
