"""Cross-source rules: what one file cannot tell about its own rows.

Each check moves the rows that break it from a part's good rows to its rejects, with
the field, value and a fixed reason (so the report can count by reason). The row-level
rules — types, allowed values, ranges, shares summing to 1, timestamps with an offset —
are the contract's, applied earlier by :mod:`jiaoyan.contracts.validate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jiaoyan import codes
from jiaoyan.contracts.validate import LINE
from jiaoyan.load.lookups import Lookups
from jiaoyan.load.parts import SOURCE, Part

UNKNOWN_TEACHER = "unknown teacher (not in raw.teachers)"
UNKNOWN_LESSON = "unknown lesson (not in any lesson manifest)"
UNKNOWN_RUBRIC = "unknown rubric (not in raw.rubric_indicators)"
UNKNOWN_INDICATOR = "unknown indicator for this rubric"
NOT_A_LEAF = "scores an indicator that is not a leaf (no max_score)"
ABOVE_MAX = "score above the indicator's max_score"
BEYOND_RUN = "point index beyond the lesson (the lesson run's n_points)"
BEYOND_DURATION = "point index beyond the lesson (floor(duration_s / 6) of the manifest)"
_SEP = "\x1f"  # joins composite keys; cannot occur in ids (their pattern excludes it)


def _mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), bool)


def _not_in(column: pa.ChunkedArray, known: list[str]) -> np.ndarray:
    return ~_mask(pc.is_in(column, value_set=pa.array(known, pa.string())))


def _distinct(column: pa.ChunkedArray) -> list[str]:
    return [x for x in pc.unique(column).to_pylist() if x is not None]


def _composite(table: pa.Table, columns: tuple[str, ...]) -> pa.ChunkedArray:
    parts = [pc.cast(table[c], pa.string()) for c in columns]
    return pc.binary_join_element_wise(*parts, _SEP) if len(parts) > 1 else parts[0]


# Single rules ----------------------------------------------------------------------


def reject_duplicates(part: Part) -> int:
    """Rows whose contract key repeats an earlier row of the batch (in file order, then line order)."""
    key = list(part.contract.key)
    n = part.good.num_rows
    if n < 2:
        return 0
    codes = [_codes(part.good[k]) for k in key]
    order = np.lexsort(codes[::-1])  # stable: equal keys keep their original order, the first row first
    same = np.ones(n - 1, bool)
    for c in codes:
        ordered = c[order]
        same &= ordered[1:] == ordered[:-1]
    if not same.any():
        return 0
    starts = np.concatenate([[True], ~same])
    first = order[np.maximum.accumulate(np.where(starts, np.arange(n), 0))]
    dups, firsts = order[~starts], first[~starts]
    keys = zip(*(part.good[k].take(pa.array(dups)).to_pylist() for k in key), strict=True)
    wheres = zip(part.good[SOURCE].take(pa.array(firsts)).cast(pa.string()).to_pylist(),
                 part.good[LINE].take(pa.array(firsts)).to_pylist(), strict=True)
    values = {int(d): f"{'|'.join(map(str, k))} (first at {src}:{line})"
              for d, k, (src, line) in zip(dups, keys, wheres, strict=True)}
    mask = np.zeros(n, bool)
    mask[dups] = True
    return part.reject_rows(mask, ",".join(key), f"duplicate key ({', '.join(key)}) in the batch",
                            [values[i] for i in np.flatnonzero(mask)])


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Integer codes with the column's equality: its dictionary indices (NULL = -1)."""
    encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    return np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


def reject_unknown_teachers(part: Part, column: str, lookups: Lookups) -> int:
    known = lookups.known_teachers(_distinct(part.good[column]))
    return part.reject_rows(_not_in(part.good[column], sorted(known)), column, UNKNOWN_TEACHER)


def reject_unknown_lessons(part: Part, lookups: Lookups) -> dict[str, float | None]:
    """Drops rows of unknown lessons; returns the known lessons' manifest durations."""
    durations = lookups.lessons(_distinct(part.good["lesson_id"]))
    part.reject_rows(_not_in(part.good["lesson_id"], sorted(durations)), "lesson_id", UNKNOWN_LESSON)
    return durations


def points_of(duration_s: float | None) -> float:
    """Points a lesson of this duration has (NaN when unknown): floor(duration / interval)."""
    if duration_s is None or not math.isfinite(duration_s):
        return math.nan
    return float(math.floor(duration_s / codes.SAMPLING_INTERVAL_S))


def _per_row(keys: pa.ChunkedArray, mapping: dict[str, float]) -> np.ndarray:
    """mapping[key] for each row, NaN where the key is not mapped."""
    names = list(mapping)
    values = np.array([mapping[k] for k in names] + [math.nan], np.float64)
    index = pc.index_in(keys, value_set=pa.array(names, pa.string()))
    return values[np.asarray(index.fill_null(len(names)).to_numpy(zero_copy_only=False), np.int64)]


def reject_points_beyond(part: Part, limits: np.ndarray, reason: str) -> int:
    """Rows whose point_index is not below the lesson's point count (where it is known)."""
    index = part.good["point_index"].to_numpy(zero_copy_only=False).astype(np.float64)
    return part.reject_rows(np.isfinite(limits) & (index >= limits), "point_index", reason)


# Per contract ----------------------------------------------------------------------


def check_manifest(part: Part, lookups: Lookups) -> None:
    reject_duplicates(part)
    reject_unknown_teachers(part, "teacher_id", lookups)


def check_scores(part: Part, lookups: Lookups) -> None:
    reject_duplicates(part)
    reject_unknown_lessons(part, lookups)
    reject_unknown_teachers(part, "observer_id", lookups)
    indicators = lookups.indicators(_distinct(part.good["rubric_id"]))
    part.reject_rows(_not_in(part.good["rubric_id"], sorted({r for r, _ in indicators})), "rubric_id",
                     UNKNOWN_RUBRIC)
    maxima = {f"{r}{_SEP}{i}": math.inf if m is None else m for (r, i), m in indicators.items()}
    part.reject_rows(_not_in(_composite(part.good, ("rubric_id", "indicator_id")), sorted(maxima)),
                     "indicator_id", UNKNOWN_INDICATOR)
    per_row = _per_row(_composite(part.good, ("rubric_id", "indicator_id")), maxima)
    part.reject_rows(np.isinf(per_row), "indicator_id", NOT_A_LEAF)
    per_row = per_row[~np.isinf(per_row)]
    score = part.good["score"].to_numpy(zero_copy_only=False).astype(np.float64)
    part.reject_rows(score > per_row + 1e-9, "score", ABOVE_MAX)


def check_gold(part: Part, lookups: Lookups) -> None:
    reject_duplicates(part)
    durations = reject_unknown_lessons(part, lookups)
    reject_unknown_teachers(part, "coder_id", lookups)
    limits = _per_row(part.good["lesson_id"], {k: points_of(d) for k, d in durations.items()})
    reject_points_beyond(part, limits, BEYOND_DURATION)


def check_lesson_runs(part: Part, lookups: Lookups) -> None:
    reject_duplicates(part)
    reject_unknown_lessons(part, lookups)


def check_codes(part: Part, lookups: Lookups, runs: pa.Table | None = None) -> None:
    """Behaviour codes: the lesson run's n_points bounds a lesson's points, else the manifest's duration."""
    reject_duplicates(part)
    durations = reject_unknown_lessons(part, lookups)
    run_key = ("lesson_id", "model_name", "model_version")
    run_points: dict[str, float] = {}
    if runs is not None and runs.num_rows:
        coded = runs.filter(pc.is_valid(runs["n_points"]))
        run_points = dict(zip(_composite(coded, run_key).to_pylist(),
                              map(float, coded["n_points"].to_pylist()), strict=True))
    from_run = _per_row(_composite(part.good, run_key), run_points)
    from_manifest = _per_row(part.good["lesson_id"], {k: points_of(d) for k, d in durations.items()})
    limits = np.where(np.isfinite(from_run), from_run, from_manifest)
    index = part.good["point_index"].to_numpy(zero_copy_only=False).astype(np.float64)
    mask = np.isfinite(limits) & (index >= limits)
    reasons = [BEYOND_RUN if bounded else BEYOND_DURATION for bounded in np.isfinite(from_run[mask])]
    part.reject_rows(mask, "point_index", reasons)


CHECKS: dict[str, Callable[[Part, Lookups], None]] = {
    "lesson_manifest": check_manifest,
    "rubric_scores": check_scores,
    "gold_codes": check_gold,
    "lesson_runs": check_lesson_runs,
    "behaviour_codes": check_codes,
}


# The activity log repeats events by design (the first by ts is kept downstream): not a defect.
REPEATS_EXPECTED = {"activity_events"}


def check(part: Part, lookups: Lookups) -> None:
    """Every contract's rows at least lose in-batch duplicate keys; some have more rules."""
    if part.contract.name in REPEATS_EXPECTED:
        return
    CHECKS.get(part.contract.name, lambda p, _: reject_duplicates(p))(part, lookups)
