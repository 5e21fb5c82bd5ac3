"""School calendar of the world: terms (from the warehouse seed), school days, holidays.

Lessons happen only on school days (weekdays in term, public holidays excluded). The
activity logs follow the same rhythm, more softly: weekends and holidays are quiet,
vacations quieter still.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import numpy as np

from jiaoyan import codes

# Public holidays that fall in term time (State Council notices); the Spring Festival and
# the summer are already outside the terms.
_HOLIDAYS = (
    ("2024-10-01", "2024-10-07"), ("2025-01-01", "2025-01-01"), ("2025-04-04", "2025-04-06"),
    ("2025-05-01", "2025-05-05"), ("2025-05-31", "2025-06-02"), ("2025-10-01", "2025-10-08"),
    ("2026-01-01", "2026-01-03"), ("2026-04-04", "2026-04-06"), ("2026-05-01", "2026-05-05"),
    ("2026-06-19", "2026-06-21"), ("2026-09-25", "2026-09-27"), ("2026-10-01", "2026-10-07"),
    ("2027-01-01", "2027-01-01"), ("2027-04-03", "2027-04-05"), ("2027-05-01", "2027-05-05"),
)


@dataclass(frozen=True)
class Term:
    code: str
    start: dt.date
    end: dt.date
    index: int  # position in the seed, 0 = first term


@cache
def terms() -> tuple[Term, ...]:
    return tuple(
        Term(row["term_code"], dt.date.fromisoformat(row["term_start"]), dt.date.fromisoformat(row["term_end"]), i)
        for i, row in enumerate(codes.seed_rows("terms"))
    )


def term_of(day: dt.date) -> Term | None:
    for term in terms():
        if term.start <= day <= term.end:
            return term
    return None


@cache
def _holidays() -> frozenset[dt.date]:
    days = set()
    for first, last in _HOLIDAYS:
        day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        while day <= end:
            days.add(day)
            day += dt.timedelta(days=1)
    return frozenset(days)


def is_holiday(day: dt.date) -> bool:
    return day in _holidays() or (day.month, day.day) in {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}


def is_school_day(day: dt.date) -> bool:
    return day.weekday() < 5 and term_of(day) is not None and not is_holiday(day)


def activity_factor(day: dt.date) -> float:
    """Relative platform activity of a day: weekly rhythm, vacations, holidays."""
    factor = (1.0, 1.02, 1.0, 0.97, 0.88, 0.42, 0.36)[day.weekday()]
    if term_of(day) is None:
        factor *= 0.5
    if is_holiday(day):
        factor *= 0.35
    return factor


def school_days(days: list[dt.date]) -> list[dt.date]:
    return [d for d in days if is_school_day(d)]


def term_index(days: np.ndarray | list[dt.date]) -> np.ndarray:
    """Index of the term of each day in the seed (-1 outside term)."""
    out = np.full(len(days), -1, dtype=np.int16)
    for i, day in enumerate(days):
        term = term_of(day)
        out[i] = term.index if term else -1
    return out
