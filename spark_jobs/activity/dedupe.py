"""Deduplicate a batch's valid events against the lake and file them under the day they happened.

The lake's ``activity_events_clean`` dataset is the state: one row per event id,
partitioned by the China-Standard-Time day of ``ts``. A batch's valid events are
ranked together with the stored rows of (a) every day the batch's events fall on —
a partition is rewritten whole, so all its stored rows must take part — and (b) the
look-back window, the ``lookback_days`` days before the batch date, where a re-sent
event with a different timestamp may sit. Per event id the first occurrence by
``ts`` wins (ties: earlier batch, then file, then line), so a duplicate delivered days
later never counts twice, and a re-sent copy with an *earlier* ts replaces the stored
one (both days change).

Rows a previous run of the same batch stored are left out of the state, so a rerun
ranks exactly what the first run ranked and writes the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jiaoyan.contracts.lake import ACTIVITY_EVENTS_CLEAN, FACT_DATE

RANK = "_rank"
NEW = "_new"  # the row comes from this batch
WINNER_NEW = "_winner_new"


@dataclass
class DedupeCounts:
    valid: int = 0
    new_events: int = 0  # this batch's events kept (not seen before)
    duplicates_in_batch: int = 0  # repeated within this batch
    duplicates_of_earlier: int = 0  # already stored from an earlier batch
    replaced: int = 0  # stored occurrences replaced by an earlier-ts copy from this batch
    by_day: dict[str, int] = field(default_factory=dict)  # new events per day they happened
    changed_days: list[dt.date] = field(default_factory=list)

    def late_by_day(self, batch_date: dt.date) -> dict[str, int]:
        return {day: n for day, n in self.by_day.items() if day < batch_date.isoformat()}

    @property
    def duplicates(self) -> int:
        return self.duplicates_in_batch + self.duplicates_of_earlier


def fact_date(ts: F.Column, timezone: str) -> F.Column:
    """The day an instant falls on in the platform's time zone (China Standard Time)."""
    return F.to_date(F.from_utc_timestamp(ts, timezone))


def with_lineage(valid: DataFrame, batch_id: str, timezone: str) -> DataFrame:
    """A batch's valid events in the clean dataset's shape."""
    return valid.withColumns({"batch_id": F.lit(batch_id), FACT_DATE: fact_date(F.col("ts"), timezone)})


def rank(new: DataFrame, stored: DataFrame, batch_id: str) -> DataFrame:
    """New and stored rows with ``_rank`` (1 = kept), ``_new`` and ``_winner_new``."""
    columns = [f.name for f in ACTIVITY_EVENTS_CLEAN.fields]
    both = new.select(*columns).withColumn(NEW, F.lit(True)).unionByName(
        stored.where(F.col("batch_id") != batch_id).select(*columns).withColumn(NEW, F.lit(False)))
    order = Window.partitionBy("event_id").orderBy("ts", "batch_id", "source_file", "line")
    return both.withColumns({RANK: F.row_number().over(order), WINNER_NEW: F.first(NEW).over(order)})


def count(ranked: DataFrame) -> DedupeCounts:
    """The batch's counts and the days whose set of kept events changed (one pass over ``ranked``)."""
    is_new, kept = F.col(NEW), F.col(RANK) == 1

    def n(condition: F.Column) -> F.Column:
        return F.sum(F.when(condition, 1).otherwise(0))

    rows = ranked.groupBy(FACT_DATE).agg(
        n(is_new).alias("valid"),
        n(is_new & kept).alias("new_events"),
        n(is_new & ~kept & F.col(WINNER_NEW)).alias("in_batch"),
        n(is_new & ~kept & ~F.col(WINNER_NEW)).alias("earlier"),
        n(~is_new & ~kept).alias("replaced"),
    ).collect()
    total = {key: sum(int(row[key]) for row in rows) for key in ("valid", "new_events", "in_batch", "earlier",
                                                                    "replaced")}
    changed = sorted(row[FACT_DATE] for row in rows if row["new_events"] or row["replaced"])
    return DedupeCounts(
        valid=total["valid"],
        new_events=total["new_events"],
        duplicates_in_batch=total["in_batch"],
        duplicates_of_earlier=total["earlier"],
        replaced=total["replaced"],
        by_day={row[FACT_DATE].isoformat(): int(row["new_events"])
                for row in sorted(rows, key=lambda r: r[FACT_DATE]) if row["new_events"]},
        changed_days=changed,
    )


def kept_on(ranked: DataFrame, days: list[dt.date]) -> DataFrame:
    """The clean dataset's rows for the changed days: every kept occurrence on them."""
    return ranked.where((F.col(RANK) == 1) & F.col(FACT_DATE).isin(days)).drop(RANK, NEW, WINNER_NEW)
