"""The platform's coding scheme: the 9 behaviours and the S/T mapping.

The single definition lives in the warehouse seed ``dbt/seeds/behaviour_codes.csv``;
dbt builds every metric from it and Python (the generator, inference) reads the same
file, so changing the S/T mapping is a one-file change.

Columns: ``st_code`` is the S/T code a behaviour implies — for a teacher behaviour,
the point is S when the teacher does it; for a student behaviour, the point is S when
it is the students' dominant behaviour. ``in_participation`` marks the student
behaviours the participation curve counts; ``in_attention`` marks the teacher
behaviours over which the attention curve is computed and the student behaviours it
counts.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

SEED_FILE = "behaviour_codes.csv"
SAMPLING_INTERVAL_S = 6.0  # one point every 6 seconds (the platform's scheme)
WINDOW_POINTS = 20  # statistics per 2-minute window


@dataclass(frozen=True)
class Behaviour:
    code: str
    actor: str  # "teacher" | "student"
    position: int
    name_zh: str
    name_en: str
    st_code: str  # "S" | "T"
    share_column: str | None
    in_participation: bool
    in_attention: bool


def seeds_dir() -> Path:
    """The dbt seeds folder; ``JIAOYAN_DBT_DIR`` overrides the repository layout."""
    dbt_dir = os.environ.get("JIAOYAN_DBT_DIR")
    base = Path(dbt_dir) if dbt_dir else Path(__file__).resolve().parents[1] / "dbt"
    return base / "seeds"


@cache
def behaviours() -> tuple[Behaviour, ...]:
    path = seeds_dir() / SEED_FILE
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result = tuple(
        Behaviour(
            code=row["code"],
            actor=row["actor"],
            position=int(row["position"]),
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            st_code=row["st_code"],
            share_column=row["share_column"] or None,
            in_participation=row["in_participation"] == "true",
            in_attention=row["in_attention"] == "true",
        )
        for row in rows
    )
    _check(result, path)
    return result


def _check(items: tuple[Behaviour, ...], path: Path) -> None:
    teachers = [b for b in items if b.actor == "teacher"]
    students = [b for b in items if b.actor == "student"]
    if len(teachers) != 4 or len(students) != 5:
        raise ValueError(
            f"{path}: expected 4 teacher and 5 student behaviours, got {len(teachers)} and {len(students)}"
        )
    for b in items:
        if b.st_code not in ("S", "T"):
            raise ValueError(f"{path}: behaviour {b.code!r} has st_code {b.st_code!r}; allowed: S, T")
        if b.actor == "student" and not b.share_column:
            raise ValueError(f"{path}: student behaviour {b.code!r} has no share_column")


def teacher_codes() -> tuple[str, ...]:
    return tuple(b.code for b in sorted(behaviours(), key=lambda b: b.position) if b.actor == "teacher")


def student_codes() -> tuple[str, ...]:
    return tuple(b.code for b in sorted(behaviours(), key=lambda b: b.position) if b.actor == "student")


def share_columns() -> tuple[str, ...]:
    """Share column names in student-code order."""
    by_code = {b.code: b for b in behaviours()}
    return tuple(by_code[c].share_column or "" for c in student_codes())


def st_codes(teacher: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """S/T code per point from teacher behaviour indices (n,) and student shares (n, 5).

    The dominant student behaviour is the largest share; ties go to the earlier
    behaviour in seed order (``numpy.argmax`` semantics), as in the dbt model.
    """
    by_code = {b.code: b for b in behaviours()}
    teacher_is_s = np.array([by_code[c].st_code == "S" for c in teacher_codes()])
    student_is_s = np.array([by_code[c].st_code == "S" for c in student_codes()])
    dominant = np.argmax(shares, axis=1)
    is_s = teacher_is_s[np.asarray(teacher)] | student_is_s[dominant]
    return np.where(is_s, "S", "T")


@cache
def seed_rows(name: str) -> tuple[dict[str, str], ...]:
    """Rows of a code-list seed, e.g. ``seed_rows("activity_kinds")``."""
    path = seeds_dir() / f"{name}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def seed_codes(name: str, column: str = "code") -> tuple[str, ...]:
    """The codes of a code-list seed, in file order."""
    return tuple(row[column] for row in seed_rows(name))
