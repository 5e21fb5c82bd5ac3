"""The sound track of a synthetic lesson: who speaks when, synthetic voices, room acoustics.

The plan follows the script window by window: a lecturing teacher talks most of the
time in a low voice, a teacher writing on the board talks now and then (facing away,
quieter), a patrolling teacher is mostly silent, and teacher-student interaction
alternates turns between the teacher and a high student voice. An answering student
speaks in a high voice (most of the window when answering dominates); students talking
to each other make babble, louder and denser the more of them there are. Reading and
writing is silent. Voices are a glottal sawtooth shaped by vowel formants, cut into
syllables with Mandarin-like tone contours.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
from scipy import signal

from jiaoyan.demo_world import scene
from jiaoyan.demo_world.script import LessonScript

TEACHER = -1
SPEECH_RMS = 0.08  # about -22 dBFS for a voice at gain 1
VOWELS = ((700, 1220, 2600), (280, 2250, 2900), (310, 870, 2250), (450, 1900, 2550), (500, 900, 2450))
TONES = ((1.06, 1.06), (0.93, 1.1), (0.95, 0.9), (1.1, 0.9))  # f0 multipliers at syllable start, end


@dataclass(frozen=True)
class AudioSettings:
    """Sound knobs. Levels are dBFS of the noise's RMS; ``None`` switches a source off."""

    sample_rate: int = 16000
    room_noise_db: float = -60.0  # the always-on floor: pink noise of an empty room
    hum_db: float | None = None  # 50 Hz mains hum with harmonics
    hvac_db: float | None = None  # ventilation: low rumble, slowly swelling
    corridor_per_min: float = 0.0  # muffled corridor noise bursts (voices, steps) per minute
    corridor_db: float = -38.0
    reverb_rt60_s: float = 0.0  # 0: dry; otherwise a diffuse tail with this decay time
    reverb_wet: float = 0.35
    speech_gain_db: float = 0.0  # all voices, e.g. a far-away microphone


@dataclass(frozen=True)
class Utterance:
    who: int  # TEACHER or a student index
    start: float
    end: float
    gain: float


@dataclass(frozen=True)
class Babble:
    start: float
    end: float
    voices: int
    gain: float


@dataclass
class SpeechPlan:
    """Every utterance of the lesson; answers ``who is talking at t`` for the video."""

    utterances: list[Utterance]
    babble: list[Babble]
    taps: list[tuple[float, float]] = field(default_factory=list)  # chalk on the board (start, end)
    steps: list[tuple[float, float]] = field(default_factory=list)  # the teacher walking

    @cached_property
    def _spans(self) -> dict[int, tuple[list[float], list[float]]]:
        out: dict[int, tuple[list[float], list[float]]] = {}
        for u in sorted(self.utterances, key=lambda u: u.start):
            starts, ends = out.setdefault(u.who, ([], []))
            starts.append(u.start)
            ends.append(u.end)
        return out

    @cached_property
    def _student_spans(self) -> tuple[list[float], list[float]]:
        students = sorted((u for u in self.utterances if u.who != TEACHER), key=lambda u: u.start)
        return [u.start for u in students], [u.end for u in students]

    @staticmethod
    def _inside(spans: tuple[list[float], list[float]], t: float) -> bool:
        i = bisect.bisect_right(spans[0], t) - 1
        return i >= 0 and t < spans[1][i]

    def talking(self, who: int, t: float) -> bool:
        spans = self._spans.get(who)
        return spans is not None and self._inside(spans, t)

    def student_turn(self, t: float) -> bool:
        return self._inside(self._student_spans, t)


# --- planning ------------------------------------------------------------------------------------
def plan_speech(script: LessonScript, assign: np.ndarray, speakers: np.ndarray) -> SpeechPlan:
    """Who speaks when, window by window, following the script."""
    rng = np.random.default_rng([script.seed, 201])
    plan = SpeechPlan([], [])
    for k in range(script.n_points):
        a, b = k * script.interval_s, (k + 1) * script.interval_s
        _plan_window(plan, rng, a, b, int(script.teacher[k]), script.student_counts[k], int(speakers[k]),
                     script.class_size)
    return plan


def _plan_window(plan: SpeechPlan, rng: np.random.Generator, a: float, b: float, teacher: int,
                 counts: np.ndarray, speaker: int, class_size: int) -> None:
    talkers = int(counts[scene.TALK])
    if talkers:
        voices = min(6, math.ceil(talkers / 3))
        plan.babble.append(Babble(a, b, voices, 0.12 + 0.3 * min(1.0, talkers / (0.4 * class_size))))
    if teacher == scene.INTERACT:
        _turns(plan, rng, a, b, max(speaker, 0))
        return
    free = [(a, b)]
    if speaker >= 0:
        dominant = int(np.argmax(counts)) == scene.ANSWER
        length = (b - a) * (0.7 if dominant else 0.3)
        start = a + 0.3 if dominant else float(rng.uniform(a + 0.3, b - length))
        plan.utterances.append(Utterance(speaker, start, start + length, 0.7))
        free = [(a, start - 0.3), (start + length + 0.3, b)]
    for lo, hi in free:
        _teacher_talk(plan, rng, lo, hi, teacher)
    if teacher == scene.WRITE:
        plan.taps.append((a, b))
    elif teacher == scene.PATROL:
        plan.steps.append((a, b))


def _turns(plan: SpeechPlan, rng: np.random.Generator, a: float, b: float, student: int) -> None:
    """Teacher and student take turns; each turn 1-2.4 s with short gaps."""
    t, who = a + float(rng.uniform(0.0, 0.3)), TEACHER
    while t < b - 0.5:
        end = min(b, t + float(rng.uniform(1.0, 2.4)))
        plan.utterances.append(Utterance(who, t, end, 1.0 if who == TEACHER else 0.7))
        t, who = end + float(rng.uniform(0.15, 0.35)), student if who == TEACHER else TEACHER


TEACHER_STYLE = {  # (share of time talking, phrase length range s, gain)
    scene.LECTURE: (0.85, (1.2, 3.5), 1.0),
    scene.WRITE: (0.35, (0.8, 2.0), 0.6),
    scene.PATROL: (0.08, (0.6, 1.4), 0.4),
}


def _teacher_talk(plan: SpeechPlan, rng: np.random.Generator, a: float, b: float, teacher: int) -> None:
    duty, (lo, hi), gain = TEACHER_STYLE[teacher]
    mean_len = (lo + hi) / 2
    gap_mean = mean_len * (1 - duty) / duty
    t = a + float(rng.uniform(0.0, min(gap_mean, 0.5)))
    while t + lo <= b:
        end = min(b, t + float(rng.uniform(lo, hi)))
        if teacher != scene.PATROL or rng.random() < 0.35:  # a patrolling teacher mostly keeps quiet
            plan.utterances.append(Utterance(TEACHER, t, end, gain))
        t = end + float(rng.exponential(gap_mean)) + 0.15


# --- voices ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Voice:
    f0: float  # Hz
    formants: float  # formant scale: 1 adult male, ~1.2 child
    breath: float  # aspiration noise share


def teacher_voice(seed: int) -> Voice:
    rng = np.random.default_rng([seed, 202])
    return Voice(f0=float(rng.uniform(105, 145)), formants=1.0, breath=0.04)


def student_voice(seed: int, student: int) -> Voice:
    rng = np.random.default_rng([seed, 203, student])
    return Voice(f0=float(rng.uniform(230, 300)), formants=float(rng.uniform(1.15, 1.25)), breath=0.06)


@cache
def _vocal_tract(vowel: int, scale: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Cascade of three formant resonators for a vowel, as one IIR filter (b, a)."""
    b, a = np.array([1.0]), np.array([1.0])
    for freq, bandwidth in zip(VOWELS[vowel], (90, 110, 160), strict=True):
        r = math.exp(-math.pi * bandwidth / sr)
        theta = 2 * math.pi * freq * scale / sr
        a = np.convolve(a, [1.0, -2 * r * math.cos(theta), r * r])
        b = b * (1 - r) * math.sqrt(1 - 2 * r * math.cos(2 * theta) + r * r)  # about unit gain at each peak
    return b, a


def speak(voice: Voice, duration: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """``duration`` seconds of speech-like sound at unit-ish RMS while voiced."""
    n = max(1, int(duration * sr))
    bounds = _syllables(n, sr, rng)
    f0 = _pitch(voice.f0, bounds, n, rng)
    phase = np.cumsum(f0 / sr)
    source = (2.0 * (phase % 1.0) - 1.0).astype(np.float32)
    source = signal.lfilter([0.35], [1.0, -0.65], source).astype(np.float32)  # glottal spectral tilt
    out = np.zeros(n, np.float32)
    noise = rng.standard_normal(n).astype(np.float32)
    for s, e in bounds:
        out[s:e] = _syllable(voice, source[s:e], noise[s:e], sr, rng)
    return out


def _syllables(n: int, sr: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    out, t = [], int(rng.integers(0, int(0.05 * sr)))
    while t < n - int(0.08 * sr):
        length = int(rng.uniform(0.14, 0.28) * sr)
        out.append((t, min(n, t + length)))
        t += length + int(rng.uniform(0.02, 0.07) * sr)
    return out


def _pitch(base: float, bounds: list[tuple[int, int]], n: int, rng: np.random.Generator) -> np.ndarray:
    knots_x, knots_y = [0.0], [base]
    for s, e in bounds:
        lo, hi = TONES[int(rng.integers(len(TONES)))]
        knots_x += [float(s), float(e)]
        knots_y += [base * lo, base * hi]
    knots_x.append(float(n))
    knots_y.append(base * 0.9)
    f0 = np.interp(np.arange(n, dtype=np.float32), knots_x, knots_y).astype(np.float32)
    declination = np.linspace(1.04, 0.95, n, dtype=np.float32)
    return f0 * declination


def _syllable(voice: Voice, source: np.ndarray, noise: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One vowel at unit RMS with a little breath, maybe led by a fricative consonant."""
    b, a = _vocal_tract(int(rng.integers(len(VOWELS))), voice.formants, sr)
    voiced = signal.lfilter(b, a, source).astype(np.float32)
    voiced *= 1.0 / (float(np.sqrt(np.mean(voiced**2))) or 1.0)
    voiced += voice.breath * noise
    env = np.sin(np.linspace(0, math.pi, len(source), dtype=np.float32)).clip(0.0) ** 0.6
    if rng.random() < 0.4:
        c = min(len(source), int(0.05 * sr))
        voiced[:c] = np.diff(noise[: c + 1]) * 0.25  # high-passed noise: a hiss like s, sh, x
        env[:c] = 1.0
    return voiced * env


# --- mixing --------------------------------------------------------------------------------------------
def render_audio(script: LessonScript, plan: SpeechPlan, settings: AudioSettings) -> np.ndarray:
    """The whole lesson's mono track, float32 in [-1, 1]."""
    sr = settings.sample_rate
    n = round(script.duration_s * sr)
    rng = np.random.default_rng([script.seed, 204])
    speech = np.zeros(n, np.float32)
    _mix_utterances(speech, script.seed, plan.utterances, sr, rng)
    _mix_babble(speech, script.seed, plan.babble, sr, rng)
    _mix_taps(speech, plan.taps, sr, rng)
    _mix_steps(speech, plan.steps, sr, rng)
    speech *= 10 ** (settings.speech_gain_db / 20)
    if settings.corridor_per_min > 0:
        _mix_corridor(speech, script.seed, settings, rng)
    if settings.reverb_rt60_s > 0:
        speech = _reverb(speech, settings.reverb_rt60_s, settings.reverb_wet, sr, rng)
    speech += _background(n, settings, rng)
    return np.clip(speech, -1.0, 1.0)


def _place(track: np.ndarray, sound: np.ndarray, start: int) -> None:
    end = min(len(track), start + len(sound))
    if end > start:
        track[start:end] += sound[: end - start]


def _fade(x: np.ndarray, sr: int, seconds: float = 0.02) -> np.ndarray:
    m = min(len(x) // 2, int(seconds * sr))
    if m:
        ramp = np.linspace(0, 1, m, dtype=np.float32)
        x[:m] *= ramp
        x[-m:] *= ramp[::-1]
    return x


def _mix_utterances(track: np.ndarray, seed: int, utterances: list[Utterance], sr: int,
                    rng: np.random.Generator) -> None:
    voices: dict[int, Voice] = {}
    for u in utterances:
        voice = voices.get(u.who)
        if voice is None:
            voice = voices[u.who] = teacher_voice(seed) if u.who == TEACHER else student_voice(seed, u.who)
        sound = speak(voice, u.end - u.start, sr, rng)
        rms = float(np.sqrt(np.mean(sound**2))) or 1.0
        _place(track, _fade(sound * (SPEECH_RMS * u.gain / rms), sr), round(u.start * sr))


def _babble_pools(seed: int, sr: int, seconds: float = 12.0) -> list[np.ndarray]:
    """Four different students chatting without pause, to cut babble from."""
    rng = np.random.default_rng([seed, 205])
    pools = []
    for j in range(4):
        parts, total = [], 0
        while total < seconds * sr:
            part = speak(student_voice(seed, 10_000 + j), float(rng.uniform(0.8, 2.5)), sr, rng)
            parts += [part / (np.sqrt(np.mean(part**2)) or 1.0), np.zeros(int(rng.uniform(0.1, 0.5) * sr), np.float32)]
            total += len(parts[-1]) + len(parts[-2])
        pools.append(np.concatenate(parts) * SPEECH_RMS)
    return pools


def _mix_babble(track: np.ndarray, seed: int, spans: list[Babble], sr: int, rng: np.random.Generator) -> None:
    if not spans:
        return
    pools = _babble_pools(seed, sr)
    for span in spans:
        start, length = round(span.start * sr), round((span.end - span.start) * sr)
        mix = np.zeros(length, np.float32)
        for j in range(span.voices):
            pool = pools[j % len(pools)]
            idx = (int(rng.integers(len(pool))) + np.arange(length)) % len(pool)
            mix += pool[idx] * float(rng.uniform(0.6, 1.0))
        _place(track, _fade(mix * span.gain, sr, 0.15), start)


def _mix_taps(track: np.ndarray, spans: list[tuple[float, float]], sr: int, rng: np.random.Generator) -> None:
    """Chalk knocking on the board: short bright clicks, a few per second."""
    click_len = int(0.012 * sr)
    b, a = signal.butter(2, [2000, min(5000, sr / 2 - 100)], btype="band", fs=sr)
    for lo, hi in spans:
        t = lo + float(rng.exponential(0.25))
        while t < hi:
            click = signal.lfilter(b, a, rng.standard_normal(click_len)).astype(np.float32)
            click *= np.exp(-np.arange(click_len, dtype=np.float32) / (0.003 * sr)) * 0.05
            _place(track, click, round(t * sr))
            t += float(rng.exponential(0.25)) + 0.05


def _mix_steps(track: np.ndarray, spans: list[tuple[float, float]], sr: int, rng: np.random.Generator) -> None:
    """Soft footsteps of the patrolling teacher, about two a second."""
    step_len = int(0.06 * sr)
    b, a = signal.butter(2, 250, fs=sr)
    for lo, hi in spans:
        t = lo + float(rng.uniform(0, 0.5))
        while t < hi:
            thump = signal.lfilter(b, a, rng.standard_normal(step_len)).astype(np.float32)
            thump *= np.exp(-np.arange(step_len, dtype=np.float32) / (0.012 * sr)) * 0.06
            _place(track, thump, round(t * sr))
            t += float(rng.uniform(0.5, 0.6))


def _mix_corridor(track: np.ndarray, seed: int, settings: AudioSettings, rng: np.random.Generator) -> None:
    """Muffled voices and steps from the corridor, arriving at random."""
    sr = settings.sample_rate
    pools = _babble_pools(seed + 1, sr)
    b, a = signal.butter(2, 700, fs=sr)  # through a closed door
    duration = len(track) / sr
    t = float(rng.exponential(60.0 / settings.corridor_per_min))
    while t < duration:
        length = int(rng.uniform(2.0, 6.0) * sr)
        pool = pools[int(rng.integers(len(pools)))]
        burst = pool[(int(rng.integers(len(pool))) + np.arange(length)) % len(pool)]
        burst = signal.lfilter(b, a, burst).astype(np.float32)
        burst *= (10 ** (settings.corridor_db / 20)) / (np.sqrt(np.mean(burst**2)) or 1.0)
        _place(track, _fade(burst, sr, 0.5), round(t * sr))
        t += length / sr + float(rng.exponential(60.0 / settings.corridor_per_min))


def _reverb(dry: np.ndarray, rt60: float, wet: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A diffuse room tail: exponentially decaying noise, pre-delayed 15 ms, convolved in."""
    length = int(min(rt60, 2.0) * sr)
    tail = rng.standard_normal(length).astype(np.float32) * np.exp(
        -6.9 * np.arange(length, dtype=np.float32) / length)
    tail[: int(0.015 * sr)] = 0.0
    tail *= 1.0 / (np.sqrt(np.sum(tail**2)) or 1.0)
    return (dry + wet * signal.oaconvolve(dry, tail)[: len(dry)]).astype(np.float32)


def _background(n: int, settings: AudioSettings, rng: np.random.Generator) -> np.ndarray:
    sr = settings.sample_rate
    white = rng.standard_normal(n, dtype=np.float32)
    pink = signal.lfilter([1.0], [1.0, -0.95], white).astype(np.float32)  # a 1/f-ish room floor
    out = pink * (10 ** (settings.room_noise_db / 20) / (float(np.std(pink)) or 1.0))
    if settings.hum_db is not None:  # one exact period of 50 Hz and harmonics, tiled
        period = np.arange(sr // math.gcd(sr, 50)) / sr
        hum = sum(np.sin(2 * np.pi * 50 * h * period) / h for h in (1, 2, 3, 4)).astype(np.float32)
        out += np.resize(hum, n) * (10 ** (settings.hum_db / 20) / float(np.std(hum)))
    if settings.hvac_db is not None:
        rumble = signal.lfilter([1.0], [1.0, -0.995], white[::-1]).astype(np.float32)
        swell = 1.0 + 0.3 * np.sin(np.arange(n, dtype=np.float32) * np.float32(2 * np.pi / (47.0 * sr)))
        out += rumble * swell * (10 ** (settings.hvac_db / 20) / (float(np.std(rumble)) or 1.0))
    return out
