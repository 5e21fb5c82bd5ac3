"""Research trajectories and the research-potential score — the one place the score is defined.

**Research actions** are the event types that act on an activity, resource, discussion
or lesson (the ``object`` column of ``dbt/seeds/event_types.csv``): creating or attending
an activity, publishing a resource, posting in a discussion, observing or scoring a
peer's lesson. Joining, leaving and logging in are not research.

**Trajectory** (``research_trajectory``): each member's research actions in time order
(ts, then event_id), each with the gap in days since the member's previous one. The
previous action is looked for up to ``trajectory_history_days`` (default 400) back:
``gap_days`` is empty when there is none that recent, so a row never depends on how
much history a particular run read.

**Research potential** (``member_term_research``), per member and term. A term's period
runs from the day after the previous term ends to the day it ends (the holiday before a
term counts towards it; terms from ``dbt/seeds/terms.csv``). With, over that period,

- ``n`` research actions, ``k`` distinct research event types out of ``K`` (6),
- ``c`` contributions: activities created, resources published, peers' lessons scored,
- ``w`` active weeks (7-day steps from the period start with an action) out of ``W``
  elapsed weeks (up to ``computed_through``), and ``g`` the median gap in days,

the components, each in [0, 1], are

- volume = min(1, ln(1 + n) / ln(1 + 60)) — 60 actions in a term (≈ one every 3 days) saturates it;
- breadth = k / K;
- contribution = min(1, 2 c / n) — half of the actions being contributions saturates it;
- continuity = ½ · min(1, w / W) + ½ · exp(−g / 14) (the second half is 0 when no gap is known);

and **research_potential = 100 × (0.30 volume + 0.20 breadth + 0.20 contribution + 0.30
continuity)**, rounded to 0.1. It rewards steady, varied engagement that gives something
back over bursts of attendance. The warehouse (dbt) reads the score and its components
from this dataset and does not recompute them (``docs/metrics-ownership.md``).
:func:`score` is the same formula in plain Python, used by the unit tests to check this
Spark version.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jiaoyan import codes
from jiaoyan.contracts.lake import (
    ACTIVITY_EVENTS_CLEAN,
    FACT_DATE,
    RESEARCH_EVENT_TYPES,
    RESEARCH_TRAJECTORY,
)
from spark_jobs import lake_io
from spark_jobs.activity import facts

SATURATING_ACTIONS = 60
CONTRIBUTION_SHARE = 0.5
GAP_SCALE_DAYS = 14.0
WEIGHTS = {"volume": 0.30, "breadth": 0.20, "contribution": 0.20, "continuity": 0.30}
CONTRIBUTIONS = (facts.CREATED, facts.PUBLISHED, facts.SCORED)
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Period:
    term_code: str
    term_start: dt.date
    start: dt.date  # the day after the previous term ends
    end: dt.date  # the term's last day


def periods(seed_text: str | None = None) -> list[Period]:
    """Terms of the seed with their research periods, in order."""
    rows = list(csv.DictReader(io.StringIO(seed_text))) if seed_text else list(codes.seed_rows("terms"))
    rows.sort(key=lambda r: r["term_start"])
    out, previous_end = [], None
    for row in rows:
        start, end = dt.date.fromisoformat(row["term_start"]), dt.date.fromisoformat(row["term_end"])
        period_start = previous_end + dt.timedelta(days=1) if previous_end else start
        out.append(Period(row["term_code"], start, period_start, end))
        previous_end = end
    return out


def score(actions: int, action_types: int, contributions: int, active_weeks: int, elapsed_weeks: int,
          median_gap_days: float | None) -> dict[str, float]:
    """The research-potential formula in plain Python (the reference for the Spark version)."""
    parts = {
        "volume": min(1.0, math.log1p(actions) / math.log1p(SATURATING_ACTIONS)),
        "breadth": action_types / len(RESEARCH_EVENT_TYPES),
        "contribution": min(1.0, contributions / (CONTRIBUTION_SHARE * actions)) if actions else 0.0,
        "continuity": 0.5 * min(1.0, active_weeks / max(elapsed_weeks, 1))
        + 0.5 * (math.exp(-median_gap_days / GAP_SCALE_DAYS) if median_gap_days is not None else 0.0),
    }
    parts["research_potential"] = round(100 * sum(WEIGHTS[k] * parts[k] for k in WEIGHTS), 1)
    return parts


def score_columns() -> dict[str, Column]:
    """The same formula as Spark columns over the member_term_research counts."""
    n = F.col("actions").cast("double")
    parts = {
        "volume_score": F.least(F.lit(1.0), F.log1p(n) / math.log1p(SATURATING_ACTIONS)),
        "breadth_score": F.col("action_types") / F.lit(float(len(RESEARCH_EVENT_TYPES))),
        "contribution_score": F.when(n > 0, F.least(F.lit(1.0), F.col("_contributions") / (CONTRIBUTION_SHARE * n)))
        .otherwise(0.0),
        "continuity_score": 0.5 * F.least(F.lit(1.0), F.col("active_weeks") / F.greatest(F.col("_elapsed_weeks"),
                                                                                        F.lit(1)))
        + 0.5 * F.coalesce(F.exp(-F.col("median_gap_days") / GAP_SCALE_DAYS), F.lit(0.0)),
    }
    total = sum((WEIGHTS[name.removesuffix("_score")] * column for name, column in parts.items()), F.lit(0.0))
    return {**parts, "research_potential": F.round(100 * total, 1)}


# Trajectory -------------------------------------------------------------------------


def trajectory(spark: SparkSession, lake_uri: str, first_day: dt.date, history_days: int) -> tuple[DataFrame,
                                                                                                    set[dt.date]]:
    """The trajectory rows of every day from ``first_day`` on, and those days (to rewrite).

    Reads the clean events from ``first_day`` on and, for the gap of each member's first
    action in that range, the last earlier action within the history window.
    """
    events_days = {d for d in lake_io.existing_days(spark, lake_uri, ACTIVITY_EVENTS_CLEAN.name) if d >= first_day}
    old_days = {d for d in lake_io.existing_days(spark, lake_uri, RESEARCH_TRAJECTORY.name) if d >= first_day}
    actions = (lake_io.read_days(spark, lake_uri, ACTIVITY_EVENTS_CLEAN, events_days)
               .where(F.col("event_type").isin(list(RESEARCH_EVENT_TYPES)))
               .select(FACT_DATE, "member_id", "event_id", "ts", F.col("event_type").alias("action"), "kind",
                       "vtro_id", "object_id", F.lit(False).alias("_anchor")))
    earlier = lake_io.read_range(spark, lake_uri, RESEARCH_TRAJECTORY,
                                 first_day - dt.timedelta(days=history_days), first_day - dt.timedelta(days=1))
    last = earlier.groupBy("member_id").agg(F.max(F.struct("ts", "event_id", FACT_DATE)).alias("_last"))
    anchors = last.select("member_id", F.col("_last.ts").alias("ts"), F.col("_last.event_id").alias("event_id"),
                          F.col(f"_last.{FACT_DATE}").alias(FACT_DATE))
    both = actions.unionByName(anchors.withColumn("_anchor", F.lit(True)), allowMissingColumns=True)
    order = Window.partitionBy("member_id").orderBy("ts", "event_id")
    prev_ts, prev_day = F.lag("ts").over(order), F.lag(FACT_DATE).over(order)
    rows = both.withColumns({"prev_ts": prev_ts, "_prev_day": prev_day}).where(~F.col("_anchor"))
    recent = F.col("_prev_day") >= F.date_sub(F.col(FACT_DATE), history_days)
    rows = rows.withColumns({
        "prev_ts": F.when(recent, F.col("prev_ts")),
        "gap_days": F.when(recent, (F.col("ts").cast("double") - F.col("prev_ts").cast("double"))
                           / SECONDS_PER_DAY),
    })
    return rows, events_days | old_days


# Terms ------------------------------------------------------------------------------


def affected_periods(first_day: dt.date, last_day: dt.date) -> list[Period]:
    return [p for p in periods() if p.start <= last_day and p.end >= first_day]


def member_terms(spark: SparkSession, lake_uri: str, terms: list[Period], batch_date: dt.date) -> DataFrame:
    """member_term_research rows for the given terms, from the (already rewritten) trajectory."""
    frames = []
    for term in terms:
        rows = lake_io.read_range(spark, lake_uri, RESEARCH_TRAJECTORY, term.start, term.end)
        frames.append(rows.withColumns({
            "term_code": F.lit(term.term_code), "_term_start": F.lit(term.term_start),
            "_period_start": F.lit(term.start), "_period_end": F.lit(term.end)}))
    if not frames:
        return spark.createDataFrame([], "member_id string")
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return _aggregate(union, batch_date)


def _aggregate(rows: DataFrame, batch_date: dt.date) -> DataFrame:
    week = F.floor(F.datediff(F.col(FACT_DATE), F.col("_period_start")) / 7)
    grouped = rows.groupBy("term_code", "_term_start", "_period_start", "_period_end", "member_id").agg(
        F.count(F.lit(1)).cast("int").alias("actions"),
        facts.distinct_count("action").alias("action_types"),
        *(F.sum(F.when(F.col("action") == code, 1).otherwise(0)).cast("int").alias(name) for code, name in (
            (facts.CREATED, "activities_created"), (facts.ATTENDED, "activities_attended"),
            (facts.PUBLISHED, "resources_published"), (facts.POSTED, "discussions_posted"),
            (facts.OBSERVED, "lessons_observed"), (facts.SCORED, "lessons_scored"))),
        F.sum(F.when(F.col("action").isin(list(CONTRIBUTIONS)), 1).otherwise(0)).alias("_contributions"),
        F.size(F.collect_set(week)).cast("int").alias("active_weeks"),
        F.median("gap_days").alias("median_gap_days"),
        F.min("ts").alias("first_action_at"),
        F.max("ts").alias("last_action_at"),
        F.max(FACT_DATE).alias("_last_day"),
    )
    through = F.least(F.col("_period_end"), F.greatest(F.lit(batch_date), F.col("_last_day")))
    grouped = grouped.withColumns({
        "computed_through": through,
        "_elapsed_weeks": F.ceil((F.datediff(through, F.col("_period_start")) + 1) / 7),
        FACT_DATE: F.col("_term_start"),
    })
    return grouped.withColumns(score_columns())
