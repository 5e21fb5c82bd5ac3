"""Day-grain facts built from the clean events of the days a run rewrites.

Every dataset here depends on one day's events only, so a changed day is rebuilt on its
own: member-day, member-day by kind, office-day, sessions, attendance and resources.
Event types and kinds come from the seeds (``event_types``, ``activity_kinds`` with
``is_training``, ``resource_kinds`` with ``is_knowledge_graph``); the names used below
are checked against them at import.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jiaoyan import codes
from jiaoyan.contracts.lake import FACT_DATE, KIND_EVENT_TYPES, RESEARCH_EVENT_TYPES
from jiaoyan.contracts.sources import EVENT_TYPES


def _event_type(code: str) -> str:
    if code not in EVENT_TYPES:
        raise ValueError(f"event type {code!r} is not in dbt/seeds/event_types.csv")
    return code


JOINED = _event_type("member_joined")
LEFT = _event_type("member_left")
CREATED = _event_type("activity_created")
ATTENDED = _event_type("activity_attended")
PUBLISHED = _event_type("resource_published")
POSTED = _event_type("discussion_posted")
OBSERVED = _event_type("lesson_observed")
SCORED = _event_type("lesson_scored")
LOGGED_IN = _event_type("logged_in")
TRAINING_KINDS = tuple(r["code"] for r in codes.seed_rows("activity_kinds") if r["is_training"] == "true")
KNOWLEDGE_GRAPH_KINDS = tuple(r["code"] for r in codes.seed_rows("resource_kinds")
                              if r["is_knowledge_graph"] == "true")


EVENT_COLUMNS = (FACT_DATE, "event_id", "ts", "member_id", "vtro_id", "event_type", "object_id", "kind")


def distinct_count(column: str) -> Column:
    """Distinct non-null values; unlike several countDistinct in one aggregation, no row expansion."""
    return F.size(F.collect_set(column)).cast("int")


def _n(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("int")


def _is(event_type: str) -> Column:
    return F.col("event_type") == event_type


def _training() -> Column:
    return _is(ATTENDED) & F.col("kind").isin(list(TRAINING_KINDS))


def _knowledge_graph() -> Column:
    return _is(PUBLISHED) & F.col("kind").isin(list(KNOWLEDGE_GRAPH_KINDS))


def _research() -> Column:
    return F.col("event_type").isin(list(RESEARCH_EVENT_TYPES))


def sessions(events: DataFrame, gap_minutes: float) -> DataFrame:
    """Sessions per member and day: a gap longer than ``gap_minutes`` starts a new one."""
    member_day = Window.partitionBy(FACT_DATE, "member_id").orderBy("ts", "event_id")
    gap = F.col("ts").cast("double") - F.lag(F.col("ts").cast("double")).over(member_day)
    starts = events.select(FACT_DATE, "member_id", "ts", "event_id", "event_type").withColumn(
        "_start", F.when(gap.isNull() | (gap > gap_minutes * 60), 1).otherwise(0))
    numbered = starts.withColumn("session_no", F.sum("_start").over(
        member_day.rowsBetween(Window.unboundedPreceding, Window.currentRow)).cast("int"))
    return numbered.groupBy(FACT_DATE, "member_id", "session_no").agg(
        F.min("ts").alias("session_start"),
        F.max("ts").alias("session_end"),
        F.count(F.lit(1)).cast("int").alias("events"),
        _n(_research()).alias("research_actions"),
    ).withColumns({
        "duration_seconds": F.col("session_end").cast("double") - F.col("session_start").cast("double"),
        "gap_minutes": F.lit(float(gap_minutes)),
    })


def member_day(events: DataFrame, member_sessions: DataFrame) -> DataFrame:
    """What each member did each day; sessions and active time from ``member_sessions``."""
    per_office = events.groupBy(FACT_DATE, "member_id", "vtro_id").agg(
        F.count(F.lit(1)).cast("int").alias("events"),
        _n(_research()).alias("research_actions"),
        _n(_is(CREATED)).alias("activities_created"),
        _n(_is(ATTENDED)).alias("activities_attended"),
        _n(_training()).alias("trainings_attended"),
        _n(_is(PUBLISHED)).alias("resources_published"),
        _n(_knowledge_graph()).alias("knowledge_graphs_published"),
        _n(_is(POSTED)).alias("discussions_posted"),
        _n(_is(OBSERVED)).alias("lessons_observed"),
        _n(_is(SCORED)).alias("lessons_scored"),
        _n(_is(LOGGED_IN)).alias("logins"),
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
    )
    counts = [c for c in per_office.columns if c not in (FACT_DATE, "member_id", "vtro_id", "first_ts", "last_ts")]
    days = per_office.groupBy(FACT_DATE, "member_id").agg(
        *(F.sum(c).cast("int").alias(c) for c in counts),
        F.count("vtro_id").cast("int").alias("offices_active"),
        F.min("first_ts").alias("first_ts"),
        F.max("last_ts").alias("last_ts"),
    )
    active = member_sessions.groupBy(FACT_DATE, "member_id").agg(
        F.count(F.lit(1)).cast("int").alias("sessions"),
        F.sum("duration_seconds").alias("active_seconds"),
    )
    return days.join(active, [FACT_DATE, "member_id"], "left").fillna({"sessions": 0, "active_seconds": 0.0})


def member_day_kinds(events: DataFrame) -> DataFrame:
    """Activities created or attended and resources published, by kind."""
    return events.where(F.col("event_type").isin(list(KIND_EVENT_TYPES))).groupBy(
        FACT_DATE, "member_id", "vtro_id", "event_type", "kind").agg(
        F.count(F.lit(1)).cast("int").alias("events"),
        F.countDistinct("object_id").cast("int").alias("objects"),
    )


def vtro_day(events: DataFrame) -> DataFrame:
    """Each office's day: counts, active members, activities held and their participants."""
    in_office = events.where(F.col("vtro_id").isNotNull())
    per_member = in_office.groupBy(FACT_DATE, "vtro_id", "member_id").agg(
        F.count(F.lit(1)).cast("int").alias("events"),
        _n(_is(JOINED)).alias("members_joined"),
        _n(_is(LEFT)).alias("members_left"),
        _n(_is(CREATED)).alias("activities_created"),
        _n(_is(ATTENDED)).alias("activities_attended"),
        _n(_training()).alias("trainings_attended"),
        _n(_is(PUBLISHED)).alias("resources_published"),
        _n(_knowledge_graph()).alias("knowledge_graphs_published"),
        _n(_is(POSTED)).alias("discussions_posted"),
        _n(_is(OBSERVED)).alias("lessons_observed"),
        _n(_is(SCORED)).alias("lessons_scored"),
    )
    counts = [c for c in per_member.columns if c not in (FACT_DATE, "vtro_id", "member_id")]
    offices = per_member.groupBy(FACT_DATE, "vtro_id").agg(
        *(F.sum(c).cast("int").alias(c) for c in counts),
        F.count(F.lit(1)).cast("int").alias("active_members"),
        _n(F.col("activities_attended") > 0).alias("participants"),
    )
    held = in_office.where(_is(ATTENDED) & F.col("object_id").isNotNull()).groupBy(FACT_DATE, "vtro_id").agg(
        F.countDistinct("object_id").cast("int").alias("activities_held"))
    return offices.join(held, [FACT_DATE, "vtro_id"], "left").fillna({"activities_held": 0})


def activity_attendance(events: DataFrame) -> DataFrame:
    """Who attended which activity on which day; office and kind of the day's first attendance."""
    first = F.struct("ts", "event_id")
    return events.where(_is(ATTENDED) & F.col("object_id").isNotNull()).groupBy(
        FACT_DATE, F.col("object_id").alias("activity_id"), "member_id").agg(
        F.min_by("vtro_id", first).alias("vtro_id"),
        F.min_by("kind", first).alias("kind"),
        F.count(F.lit(1)).cast("int").alias("attendances"),
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
    )


def resources_published(events: DataFrame) -> DataFrame:
    return events.where(_is(PUBLISHED)).select(
        FACT_DATE, "event_id", F.col("object_id").alias("resource_id"), "kind",
        F.col("kind").isin(list(KNOWLEDGE_GRAPH_KINDS)).alias("is_knowledge_graph"),
        "member_id", "vtro_id", F.col("ts").alias("published_at"))
