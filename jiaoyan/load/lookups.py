"""What the cross-source rules look up: known teachers, lessons and rubric indicators.

The loader commits a batch's reference data, then its manifest, then its rubrics
before checking the rows that refer to them, so one lookup in the raw tables sees
both history and the same batch. :class:`StaticLookups` serves tests and dry runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

import psycopg


class Lookups(Protocol):
    def known_teachers(self, ids: Collection[str]) -> set[str]:
        """The ids among ``ids`` that are teachers."""
        ...

    def lessons(self, ids: Collection[str]) -> dict[str, float | None]:
        """Known lessons among ``ids`` → their manifest ``duration_s`` (None when not reported)."""
        ...

    def indicators(self, rubric_ids: Collection[str]) -> dict[tuple[str, str], float | None]:
        """(rubric_id, indicator_id) → max_score (None: not a leaf) for these rubrics, latest version."""
        ...


@dataclass
class StaticLookups:
    teachers: set[str] = field(default_factory=set)
    lesson_durations: dict[str, float | None] = field(default_factory=dict)
    rubric_indicators: dict[tuple[str, str], float | None] = field(default_factory=dict)

    def known_teachers(self, ids: Collection[str]) -> set[str]:
        return self.teachers & set(ids)

    def lessons(self, ids: Collection[str]) -> dict[str, float | None]:
        return {i: self.lesson_durations[i] for i in ids if i in self.lesson_durations}

    def indicators(self, rubric_ids: Collection[str]) -> dict[tuple[str, str], float | None]:
        wanted = set(rubric_ids)
        return {k: s for k, s in self.rubric_indicators.items() if k[0] in wanted}


class WarehouseLookups:
    """Lookups in the raw tables (every batch loaded so far, this one included)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def known_teachers(self, ids: Collection[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.conn.execute("select distinct teacher_id from raw.teachers where teacher_id = any(%s)",
                                 (list(ids),))
        return {r[0] for r in rows}

    def lessons(self, ids: Collection[str]) -> dict[str, float | None]:
        if not ids:
            return {}
        # a lesson re-sent in a later batch: its latest manifest row describes it
        rows = self.conn.execute(
            "select distinct on (lesson_id) lesson_id, duration_s from raw.lesson_manifest "
            "where lesson_id = any(%s) order by lesson_id, _batch_id desc, _loaded_at desc", (list(ids),))
        return dict(rows.fetchall())

    def indicators(self, rubric_ids: Collection[str]) -> dict[tuple[str, str], float | None]:
        if not rubric_ids:
            return {}
        rows = self.conn.execute(
            "select distinct on (rubric_id, indicator_id) rubric_id, indicator_id, max_score "
            "from raw.rubric_indicators where rubric_id = any(%s) "
            "order by rubric_id, indicator_id, version desc, _batch_id desc", (list(rubric_ids),))
        return {(r, i): m for r, i, m in rows}
