"""Lessons: teacher styles and trends, the schedule, ground-truth points, the simulated coder.

A lesson is a sequence of *segments* (lecture, board writing, questioning, dialogue,
group work, individual practice) whose time shares follow the teacher's style, shifted
term by term by the teacher's trend. Inside a segment, short *steps* cycle through
classroom states (the teacher asks → hands go up → one student or the whole class
answers → feedback, …); each state fixes the teacher's behaviour and the mean student
shares, and every 6-second point draws the class from those means. Everything is
vectorised over all lessons of a night, so a region-scale year (≈ 50 million points)
takes seconds per night, not hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from jiaoyan import codes
from jiaoyan.demo_world import calendar
from jiaoyan.demo_world.randomness import int_seed, stream
from jiaoyan.demo_world.reference import Reference
from jiaoyan.demo_world.scales import Knobs
from jiaoyan.demo_world.script import LessonScript

STYLES = ("lecture", "dialogue", "practice", "mixed")
STYLE_SHARE = np.array([0.34, 0.22, 0.18, 0.26])
TRENDS = ("improving", "stable", "declining")
TREND_SHARE = np.array([0.35, 0.5, 0.15])
KINDS = ("lecture", "board", "questioning", "dialogue", "group", "practice")
# time share of each segment kind, per style (rows sum to 1)
STYLE_MIX = np.array([
    [0.58, 0.12, 0.18, 0.00, 0.02, 0.10],  # lecture-heavy (讲授型)
    [0.13, 0.04, 0.05, 0.66, 0.08, 0.04],  # dialogue (对话型)
    [0.14, 0.04, 0.05, 0.02, 0.20, 0.55],  # practice (练习型)
    [0.36, 0.06, 0.12, 0.04, 0.20, 0.22],  # mixed (混合型)
])
# an improving teacher moves time from talk to dialogue and group work each term; a declining one back
TREND_SHIFT = np.array([-0.8, -0.2, 0.0, 0.7, 0.3, 0.0])
SEGMENT_POINTS = np.array([45.0, 10.0, 30.0, 40.0, 50.0, 60.0])  # mean segment length in a 45-minute lesson
MIN_SEGMENT = np.array([3, 2, 3, 4, 4, 4])
FULL_LESSON_POINTS = 450

# Classroom states: teacher behaviour probabilities (codes.teacher_codes() order) and mean
# student shares (codes.student_codes() order: listening, hand raising, answering,
# reading/writing, student-student interaction).
STATES = {
    "lecture": ([0.97, 0.03, 0, 0], [0.84, 0.01, 0.0, 0.13, 0.02]),
    "quick_question": ([0, 0, 0, 1], [0.72, 0.2, 0.03, 0.04, 0.01]),
    "board_watch": ([0, 1, 0, 0], [0.70, 0.0, 0.0, 0.28, 0.02]),
    "board_copy": ([0, 1, 0, 0], [0.22, 0.0, 0.0, 0.76, 0.02]),
    "ask": ([0.15, 0, 0, 0.85], [0.5, 0.44, 0.0, 0.05, 0.01]),
    "one_answers": ([0, 0, 0, 1], [0.9, 0.02, 0.03, 0.04, 0.01]),
    "chorus": ([0, 0, 0, 1], [0.18, 0.02, 0.76, 0.03, 0.01]),
    "pair_talk": ([0, 0, 0.35, 0.65], [0.12, 0.02, 0.04, 0.06, 0.76]),
    "feedback": ([0.5, 0, 0, 0.5], [0.86, 0.03, 0.01, 0.09, 0.01]),
    "group": ([0, 0, 0.85, 0.15], [0.08, 0.02, 0.04, 0.16, 0.70]),
    "practice": ([0.06, 0, 0.8, 0.14], [0.07, 0.02, 0.01, 0.88, 0.02]),
}
STATE_NAMES = tuple(STATES)
# per segment kind: the cycle of slots, each slot a choice of states; and the mean step length in points
CYCLES = {
    "lecture": ([{"lecture": 0.9, "quick_question": 0.1}], 6.0),
    "board": ([{"board_watch": 0.5, "board_copy": 0.5}], 3.0),
    "questioning": ([{"ask": 1.0}, {"one_answers": 0.8, "chorus": 0.2}, {"feedback": 1.0}], 1.6),
    "dialogue": ([{"ask": 0.6, "feedback": 0.4}, {"chorus": 0.5, "pair_talk": 0.5}], 1.39),
    "group": ([{"group": 1.0}], 20.0),
    "practice": ([{"practice": 1.0}], 6.0),
}
SHARE_CONCENTRATION = 60.0
MODE_THRESHOLDS = {"practice_max_rt": 0.3, "lecture_min_rt": 0.7, "dialogue_min_ch": 0.4}  # DESIGN.md, inclusive
PERIODS = ("08:00:00", "08:55:00", "09:55:00", "10:50:00", "14:00:00", "14:55:00", "15:50:00")
SIMULATED_CODER = ("simulated-coder", "0")


# --- teacher profiles ----------------------------------------------------------------------------
def teacher_profiles(k: Knobs, ref: Reference) -> pd.DataFrame:
    """One row per school teacher: style, trend, skill, class, and when their lessons start being analysed.

    Rural and weak schools lean a little more to lecturing and score a little lower, so
    the urban/rural gap the region portrait shows is real.
    """
    rng = stream(k.seed, "lessons", "profiles")
    first = ref.k12_versions().sort_values(["teacher_id", "valid_from"]).drop_duplicates("teacher_id")
    schools = ref.schools.drop_duplicates("school_id").set_index("school_id")
    info = schools.loc[first["school_id"]]
    n = len(first)
    rural = (info["urban_rural"] == "rural").to_numpy()
    weak = info["is_weak"].to_numpy()
    p_style = np.tile(STYLE_SHARE, (n, 1))
    p_style[:, 0] += 0.15 * rural + 0.08 * weak
    style = _categorical(rng, p_style / p_style.sum(1, keepdims=True))
    trend = _categorical(rng, np.tile(TREND_SHARE, (n, 1)))
    stage_size = {"primary": 44, "junior_secondary": 48, "senior_secondary": 50}
    class_size = np.array([stage_size[s] for s in info["stage"]]) - 12 * rural - 4 * weak
    class_size = np.clip(np.rint(rng.normal(class_size, 4)), 12, 62).astype(np.int16)
    hired = first["valid_from"].where(first["delivered_on"] > k.start, k.start - dt.timedelta(days=1))
    covered = _coverage_start(k, rng, n)
    return pd.DataFrame({
        "teacher_id": first["teacher_id"].to_numpy(), "style": np.array(STYLES)[style],
        "trend": np.array(TRENDS)[trend], "trend_step": rng.uniform(0.04, 0.09, n).round(3),
        "skill": np.clip(rng.normal(0.79, 0.06, n) - 0.03 * rural - 0.03 * weak, 0.5, 0.97).round(3),
        "engagement": np.clip(rng.normal(0.93, 0.03, n) - 0.04 * rural - 0.03 * weak, 0.75, 1.0).round(3),
        "participation": np.clip(rng.normal(1.0, 0.15, n) - 0.15 * rural - 0.05 * weak, 0.5, 1.4).round(3),
        "class_size": class_size, "rural": rural, "weak": weak,
        "analysed_from": np.maximum(covered, pd.to_datetime(hired).dt.date.to_numpy()),
    })


def _coverage_start(k: Knobs, rng: np.random.Generator, n: int) -> np.ndarray:
    """Date from which a teacher's lessons are analysed: coverage grows from the first to the second share."""
    c0, c1 = k.scale.coverage
    u = rng.random(n)
    late = (u >= c0) & (u < c1)
    offset = np.where(late, ((u - c0) / max(c1 - c0, 1e-9) * k.days).astype(int), 0)
    never = dt.date(9999, 12, 31)
    return np.array([never if x >= c1 else k.start + dt.timedelta(days=int(o)) for x, o in zip(u, offset,
                                                                                               strict=True)])


def _categorical(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One draw per row of probabilities ``p`` (rows sum to 1)."""
    u = rng.random(p.shape[0])
    return np.minimum((u[:, None] > np.cumsum(p, axis=1)).sum(1), p.shape[1] - 1)


def style_mix(style: np.ndarray, trend: np.ndarray, trend_step: np.ndarray, terms_on: np.ndarray) -> np.ndarray:
    """Segment time shares per lesson: the style's mix shifted by the trend for each term since the first."""
    base = STYLE_MIX[[STYLES.index(s) for s in style]]
    sign = np.select([trend == "improving", trend == "declining"], [1.0, -1.0], 0.0)
    mix = base + (sign * trend_step * terms_on)[:, None] * TREND_SHIFT[None, :]
    mix = np.maximum(mix, 0.0)
    return mix / mix.sum(1, keepdims=True)


# --- schedule ----------------------------------------------------------------------------------
@dataclass
class Schedule:
    lessons: pd.DataFrame  # one row per lesson of the world, sorted by date, start time, teacher
    video_nights: list[dt.date]


def schedule(k: Knobs, ref: Reference, profiles: pd.DataFrame) -> Schedule:
    """Every analysed lesson of the world: who, where, when, how long, and how it arrives."""
    rng = stream(k.seed, "lessons", "schedule")
    school_days = calendar.school_days(k.dates())
    video_nights = school_days[-k.video_days:] if k.video_days else []
    rate = k.scale.lessons_per_teacher_month / 21.0  # about 21 school days a month
    teacher_idx, dates = [], []
    analysed_from = profiles["analysed_from"].to_numpy()
    for day in school_days:
        if day in video_nights:
            pool = np.flatnonzero(analysed_from <= day)
            pick = np.sort(rng.choice(pool, min(k.lessons_per_night, len(pool)), replace=False))
        else:
            pick = np.flatnonzero((rng.random(len(profiles)) < rate) & (analysed_from <= day))
        teacher_idx.append(pick)
        dates += [day] * len(pick)
    idx = np.concatenate(teacher_idx) if teacher_idx else np.zeros(0, int)
    frame = lesson_frame(k, rng, ref, profiles, idx, dates)
    frame["delivery"] = np.where(frame["lesson_date"].isin(video_nights), "video", "precoded")
    _pick_gold(k, rng, frame)
    _pick_corrupt(rng, frame, video_nights)
    return Schedule(frame, video_nights)


def lesson_frame(k: Knobs, rng: np.random.Generator, ref: Reference, profiles: pd.DataFrame, idx: np.ndarray,
                 dates: list[dt.date]) -> pd.DataFrame:
    """Lessons of teachers ``profiles.iloc[idx]`` on ``dates``: length, time, class, school and grade that day,
    ids in (date, start time, teacher) order."""
    frame = pd.DataFrame({"teacher_id": profiles["teacher_id"].to_numpy()[idx], "lesson_date": dates})
    frame = _lesson_details(k, rng, frame, profiles, idx)
    frame = _at_date(frame, ref)
    frame = frame.sort_values(["lesson_date", "start_time", "teacher_id"], kind="stable").reset_index(drop=True)
    frame["lesson_id"] = np.array([f"L{d:%Y%m%d}-{i:05d}" for d, i in zip(
        frame["lesson_date"], frame.groupby("lesson_date").cumcount() + 1, strict=True)], dtype=object)
    frame["render_seed"] = [int_seed(k.seed, "render", lid) for lid in frame["lesson_id"]]
    frame["delivery"] = "precoded"
    frame["corrupt"] = False
    return frame


def _lesson_details(k: Knobs, rng: np.random.Generator, frame: pd.DataFrame, profiles: pd.DataFrame,
                    idx: np.ndarray) -> pd.DataFrame:
    n = len(frame)
    lo, hi = k.scale.lesson_points
    frame["n_points"] = rng.integers(lo, hi + 1, n).astype(np.int32)
    frame["record_extra_s"] = np.round(rng.uniform(0, 5.9, n), 1)  # the recorder stops a little after a point
    period = rng.integers(0, len(PERIODS), n)
    early = rng.integers(0, 120, n)
    frame["start_time"] = [_minus_seconds(PERIODS[p], int(e)) for p, e in zip(period, early, strict=True)]
    frame["class_size"] = np.clip(profiles["class_size"].to_numpy()[idx] - rng.integers(0, 3, n), 8, 120).astype(
        np.int16)
    for col in ("style", "trend", "trend_step", "skill", "engagement", "participation"):
        frame[col] = profiles[col].to_numpy()[idx]
    term = calendar.term_index(list(frame["lesson_date"]))
    first_term = calendar.term_of(k.start) or calendar.term_of(next(iter(calendar.school_days(k.dates())), k.start))
    first_index = first_term.index if first_term else int(term.min(initial=0))
    frame["term_code"] = [calendar.terms()[t].code for t in term]
    frame["terms_on"] = (term - first_index).clip(0).astype(np.int16)
    return frame


def _minus_seconds(hhmmss: str, seconds: int) -> str:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    total = h * 3600 + m * 60 + s - seconds
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _at_date(frame: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """The teacher's school, subject and grade on the lesson date (teachers change school or grade)."""
    versions = ref.k12_versions()[["teacher_id", "valid_from", "school_id", "subject", "grade"]].copy()
    versions["valid_from"] = pd.to_datetime(versions["valid_from"])
    left = frame.assign(_date=pd.to_datetime(frame["lesson_date"]), _order=np.arange(len(frame)))
    merged = pd.merge_asof(left.sort_values("_date"), versions.sort_values("valid_from"), left_on="_date",
                           right_on="valid_from", by="teacher_id", direction="backward")
    merged = merged.sort_values("_order").drop(columns=["_date", "_order", "valid_from"]).reset_index(drop=True)
    merged["grade"] = merged["grade"].astype(np.int16)
    return merged


def _pick_gold(k: Knobs, rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Human-coded lessons with videos: spread over the year and evenly over the four styles."""
    pre = frame.index[frame["delivery"] == "precoded"]
    if k.gold_lessons == 0 or not len(pre):
        return
    chosen: list[int] = []
    per_style = -(-k.gold_lessons // len(STYLES))
    for style in STYLES:
        pool = pre[frame.loc[pre, "style"] == style]
        if len(pool):
            take = min(per_style, len(pool))
            spots = ((np.arange(take) + 0.5) * len(pool) / take).astype(int)  # evenly over the dates
            chosen += list(pool[np.unique(spots)])
    rng.shuffle(chosen)
    frame.loc[sorted(chosen[: k.gold_lessons]), "delivery"] = "gold"


def _pick_corrupt(rng: np.random.Generator, frame: pd.DataFrame, video_nights: list[dt.date]) -> None:
    if not video_nights:
        return
    last = frame.index[(frame["lesson_date"] == video_nights[-1]) & (frame["delivery"] == "video")]
    if len(last) >= 2:  # the last video night keeps at least one good video
        frame.loc[last[rng.integers(len(last))], "corrupt"] = True


# --- points --------------------------------------------------------------------------------------
@dataclass
class Points:
    """Ground truth of a batch of lessons, concatenated: lesson ``i`` has points ``offsets[i]:offsets[i+1]``."""

    offsets: np.ndarray  # int64 (L + 1,)
    teacher: np.ndarray  # int8 (N,), index into codes.teacher_codes()
    counts: np.ndarray  # int16 (N, 5), students per student behaviour
    class_size: np.ndarray  # int16 (N,)

    @property
    def shares(self) -> np.ndarray:
        return (self.counts / self.class_size[:, None]).astype(np.float32)

    def st(self) -> np.ndarray:
        return codes.st_codes(self.teacher, self.shares)

    def script(self, i: int, lesson_id: str, seed: int) -> LessonScript:
        a, b = self.offsets[i], self.offsets[i + 1]
        return LessonScript(lesson_id=lesson_id, seed=seed, class_size=int(self.class_size[a]),
                            teacher=self.teacher[a:b].copy(), student_counts=self.counts[a:b].copy())


def generate_points(rng: np.random.Generator, lessons: pd.DataFrame) -> Points:
    """Ground-truth points of ``lessons`` (columns: n_points, class_size, style, trend, trend_step,
    terms_on, engagement, participation), all drawn together from ``rng``."""
    n_points = lessons["n_points"].to_numpy().astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_points)])
    if not len(lessons):
        return Points(offsets, np.zeros(0, np.int8), np.zeros((0, 5), np.int16), np.zeros(0, np.int16))
    mix = style_mix(lessons["style"].to_numpy(), lessons["trend"].to_numpy(), lessons["trend_step"].to_numpy(),
                    lessons["terms_on"].to_numpy())
    kind, segment_start = _segments(rng, n_points, mix)
    state, teacher = _steps(rng, kind, segment_start)
    lesson_of = np.repeat(np.arange(len(lessons)), n_points)
    class_size = lessons["class_size"].to_numpy().astype(np.int16)[lesson_of]
    means = _student_means(state, lessons["engagement"].to_numpy()[lesson_of],
                           lessons["participation"].to_numpy()[lesson_of])
    counts = _draw_counts(rng, means, class_size)
    return Points(offsets, teacher, counts, class_size)


def _segments(rng: np.random.Generator, n_points: np.ndarray, mix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment kind of every point and whether a segment starts there."""
    n_lessons, n_kinds = mix.shape
    length = np.maximum(MIN_SEGMENT[None, :], SEGMENT_POINTS[None, :] * n_points[:, None] / FULL_LESSON_POINTS)
    p = mix / length
    p /= p.sum(1, keepdims=True)
    expected = (p * length).sum(1)  # mean segment length of each lesson
    n_seg = int(np.ceil(np.max(n_points / expected) * 2.5)) + 6  # enough; the last one runs on if not
    u = rng.random((n_lessons, n_seg))
    kinds = np.minimum((u[:, :, None] > np.cumsum(p, 1)[:, None, :]).sum(2), n_kinds - 1)
    mean = np.take_along_axis(length, kinds, 1)
    dur = np.maximum(MIN_SEGMENT[kinds], np.rint(rng.gamma(2.5, mean / 2.5))).astype(np.int64)
    end = np.cumsum(dur, 1)
    start = end - dur
    eff = np.clip(end, 0, n_points[:, None]) - np.clip(start, 0, n_points[:, None])
    eff[:, -1] += np.maximum(0, n_points - end[:, -1])  # rare: the segments fell short, the last one runs on
    flat_kind = np.repeat(kinds.ravel(), eff.ravel())
    starts = np.zeros(len(flat_kind), bool)
    first = np.cumsum(eff.ravel()) - eff.ravel()
    starts[first[eff.ravel() > 0]] = True
    return flat_kind.astype(np.int8), starts


def _cycle_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per kind: number of slots, first row in the slot table, mean step; the slot table of cumulative
    state probabilities."""
    n_slots, first_row, step, rows = [], [], [], []
    for kind in KINDS:
        slots, mean_step = CYCLES[kind]
        n_slots.append(len(slots))
        first_row.append(len(rows))
        step.append(mean_step)
        for slot in slots:
            rows.append(np.cumsum([slot.get(s, 0.0) for s in STATE_NAMES]))
    return np.array(n_slots), np.array(first_row), np.array(step), np.array(rows)


_N_SLOTS, _FIRST_ROW, _STEP, _SLOT_CUM = _cycle_tables()
_TEACHER_CUM = np.cumsum(np.array([STATES[s][0] for s in STATE_NAMES], dtype=float), 1)
_STUDENT_MEAN = np.array([STATES[s][1] for s in STATE_NAMES], dtype=float)


def _steps(rng: np.random.Generator, kind: np.ndarray, segment_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classroom state and teacher behaviour per point: steps of geometric length cycling through slots."""
    n = len(kind)
    boundary = segment_start | (rng.random(n) < 1.0 / _STEP[kind])
    step = np.cumsum(boundary) - 1
    seg_id = np.cumsum(segment_start) - 1
    seg_first_step = step[np.flatnonzero(segment_start)]
    step_kind = kind[boundary]
    step_in_seg = np.arange(len(step_kind)) - seg_first_step[seg_id[boundary]]
    row = _FIRST_ROW[step_kind] + step_in_seg % _N_SLOTS[step_kind]
    u = rng.random(len(step_kind))
    state = np.minimum((u[:, None] > _SLOT_CUM[row]).sum(1), len(STATE_NAMES) - 1)
    u2 = rng.random(len(step_kind))
    teacher = np.minimum((u2[:, None] > _TEACHER_CUM[state]).sum(1), 3).astype(np.int8)
    return state[step], teacher[step]


def _student_means(state: np.ndarray, engagement: np.ndarray, participation: np.ndarray) -> np.ndarray:
    """Mean shares per point: less engaged classes listen less (reading or writing their own work
    instead); more participative ones raise more hands."""
    means = _STUDENT_MEAN[state].copy()
    drift = means[:, 0] * (1.0 - engagement)
    means[:, 0] -= drift
    means[:, 3] += drift
    hands = means[:, 1] * participation
    means[:, 0] += means[:, 1] - hands
    means[:, 1] = hands
    means = np.maximum(means, 0.004)
    return means / means.sum(1, keepdims=True)


def _draw_counts(rng: np.random.Generator, means: np.ndarray, class_size: np.ndarray) -> np.ndarray:
    """Students per behaviour: shares around the means with the spread of a Dirichlet of concentration
    SHARE_CONCENTRATION (normal approximation: five times cheaper than gamma draws), rounded to whole
    students by largest remainder."""
    spread = np.sqrt(means * (1.0 - means) / (SHARE_CONCENTRATION + 1.0))
    shares = np.maximum(means + spread * rng.standard_normal(means.shape), 0.0)
    shares /= shares.sum(1, keepdims=True)
    exact = shares * class_size[:, None]
    counts = np.floor(exact).astype(np.int16)
    short = class_size - counts.sum(1)
    order = np.argsort(-(exact - counts), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(5)[None, :].repeat(len(order), 0), 1)
    counts += (rank < short[:, None]).astype(np.int16)
    return counts


# --- lesson-level truth -------------------------------------------------------------------------
def rt_ch(points: Points) -> tuple[np.ndarray, np.ndarray]:
    """Rt (share of T points) and Ch ((runs - 1) / N) per lesson, from the truth."""
    is_t = points.st() == "T"
    offsets = points.offsets
    n = np.diff(offsets)
    starts = offsets[:-1]
    nonempty = n > 0
    n_t = np.add.reduceat(is_t.astype(np.int64), starts[nonempty]) if is_t.size else np.zeros(0)
    change = np.r_[False, is_t[1:] != is_t[:-1]]
    change[starts[nonempty]] = False  # a new lesson is not a change of run
    n_change = np.add.reduceat(change.astype(np.int64), starts[nonempty]) if is_t.size else np.zeros(0)
    rt = np.zeros(len(n))
    ch = np.zeros(len(n))
    rt[nonempty] = n_t / n[nonempty]
    ch[nonempty] = n_change / n[nonempty]
    return rt, ch


def teaching_mode(rt: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """DESIGN.md's rule, first match wins, boundaries inclusive (codes from dbt/seeds/teaching_modes.csv)."""
    t = MODE_THRESHOLDS
    return np.select([rt <= t["practice_max_rt"], rt >= t["lecture_min_rt"], ch >= t["dialogue_min_ch"]],
                     ["practice", "lecture", "dialogue"], "mixed")


# --- the simulated coder ----------------------------------------------------------------------
# P(predicted | true teacher behaviour) of the simulated coder; rows: true, columns: predicted
CODER_CONFUSION = np.array([
    [0.94, 0.018, 0.006, 0.036],
    [0.064, 0.92, 0.016, 0.0],
    [0.0, 0.0, 0.95, 0.05],
    [0.084, 0.0, 0.036, 0.88],
])
CODER_SHARE_NOISE = 0.035
CODER_OCCLUSION = 0.08  # share of the class the camera misses


def simulated_codes(rng: np.random.Generator, lessons: pd.DataFrame, points: Points) -> pa.Table:
    """Behaviour codes with realistic errors, for lessons that arrive already coded.

    They exist to give the warehouse a year of history and volume; they say nothing about
    how good the real behaviour model is.
    """
    n = len(points.teacher)
    truth = points.teacher.astype(np.int64)
    predicted = np.minimum((rng.random(n)[:, None] > np.cumsum(CODER_CONFUSION, 1)[truth]).sum(1), 3)
    right = predicted == truth
    prob = np.where(right, np.clip(rng.beta(8, 1.5, n), 0.3, 0.999), rng.uniform(0.34, 0.7, n)).astype(np.float32)
    shares = np.maximum(points.shares + rng.normal(0, CODER_SHARE_NOISE, (n, 5)), 0.0)
    shares = (shares / shares.sum(1, keepdims=True)).astype(np.float32)
    seen = (points.class_size - rng.binomial(points.class_size, CODER_OCCLUSION)).astype(np.int16)
    lesson_of = np.repeat(np.arange(len(lessons)), np.diff(points.offsets))
    audio = np.repeat(rng.random(len(lessons)) >= 0.02, np.diff(points.offsets))  # a few recordings lack sound
    point_index = (np.arange(n) - points.offsets[:-1][lesson_of]).astype(np.int32)
    teacher_codes = np.array(codes.teacher_codes())
    columns = {
        "lesson_id": pa.DictionaryArray.from_arrays(pa.array(lesson_of.astype(np.int32)),
                                                    pa.array(lessons["lesson_id"].to_numpy(), pa.string())),
        "point_index": pa.array(point_index),
        "t_start_s": pa.array(point_index * codes.SAMPLING_INTERVAL_S),
        "teacher_behaviour": _dict_array(predicted, teacher_codes),
        "teacher_prob": pa.array(prob),
        **{col: pa.array(shares[:, j]) for j, col in enumerate(codes.share_columns())},
        "students_seen": pa.array(seen),
        "st_code": _dict_array((codes.st_codes(predicted, shares) == "S").astype(np.int64), np.array(["T", "S"])),
        "model_name": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([SIMULATED_CODER[0]])),
        "model_version": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)),
                                                        pa.array([SIMULATED_CODER[1]])),
        "audio_present": pa.array(audio),
    }
    return pa.table(columns)


def _dict_array(index: np.ndarray, values: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), pa.array(values, pa.string()))


def truth_table(lessons: pd.DataFrame, points: Points) -> pa.Table:
    """Per-point truth: lesson_id, point_index, teacher behaviour, the five shares, st_code."""
    n = len(points.teacher)
    lesson_of = np.repeat(np.arange(len(lessons)), np.diff(points.offsets))
    shares = points.shares
    return pa.table({
        "lesson_id": pa.DictionaryArray.from_arrays(pa.array(lesson_of.astype(np.int32)),
                                                    pa.array(lessons["lesson_id"].to_numpy(), pa.string())),
        "point_index": pa.array((np.arange(n) - points.offsets[:-1][lesson_of]).astype(np.int32)),
        "teacher_behaviour": _dict_array(points.teacher.astype(np.int64), np.array(codes.teacher_codes())),
        **{col: pa.array(shares[:, j]) for j, col in enumerate(codes.share_columns())},
        "st_code": _dict_array((points.st() == "S").astype(np.int64), np.array(["T", "S"])),
        "class_size": pa.array(points.class_size),
    })

