"""One row per activity, accumulated over every day it has events.

Attendance accumulates over days, and a late attendance may arrive long after the
activity began, so an activity's row is recomputed whenever any of its events changes:
its creation (from the clean events of the changed days, else kept from its stored
row) and all its attendance (``activity_attendance``, from the activity's first day on)
joined with the participants' universities and schools on the day they attended. The
row is filed under the day of the activity's earliest event; both the old and the new
partition of a recomputed activity are rewritten, with the untouched activities of
those days carried over as they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jiaoyan.contracts.lake import ACTIVITIES, ACTIVITY_ATTENDANCE, FACT_DATE
from spark_jobs import lake_io
from spark_jobs.activity import facts
from spark_jobs.activity.dedupe import fact_date
from spark_jobs.activity.reference import employer_on_day


def rebuild(spark: SparkSession, lake_uri: str, changed_events: DataFrame, changed_days: list[dt.date],
            teachers: DataFrame, timezone: str, materialise: Callable[[DataFrame], DataFrame],
            as_of: DataFrame | None = None) -> tuple[DataFrame, set[dt.date]]:
    """The activities rows of every partition to rewrite, and those partitions.

    ``materialise`` computes a frame once and cuts its lineage: the stored activities are
    read from the partitions this step then rewrites. ``as_of`` (a backfill: ``activity_id``,
    ``_as_of``, the last batch that touched each activity; ``teachers`` then from
    :func:`~spark_jobs.activity.reference.versions_frame`) looks up the participants'
    employers with the teacher versions that batch knew.
    """
    touched = (changed_events.where(F.col("event_type").isin(facts.CREATED, facts.ATTENDED)
                                    & F.col("object_id").isNotNull())
               .select(F.col("object_id").alias("activity_id")).distinct())
    stored = materialise(lake_io.read_range(spark, lake_uri, ACTIVITIES, None, None))
    stored_touched = stored.join(touched, "activity_id", "left_semi")
    old_days = {row[0] for row in stored_touched.select(FACT_DATE).distinct().collect()}
    if not changed_days:
        return spark.createDataFrame([], lake_io.spark_schema(ACTIVITIES)), set()
    since = min([*old_days, *changed_days])
    attendance = (lake_io.read_range(spark, lake_uri, ACTIVITY_ATTENDANCE, since, None)
                  .join(touched, "activity_id", "left_semi"))
    created = _creation(changed_events, stored_touched, changed_days, timezone)
    participation = _participation(attendance, teachers, as_of)
    rebuilt = materialise(lake_io.conform(_combine(created, participation), ACTIVITIES))
    new_days = {row[0] for row in rebuilt.select(FACT_DATE).distinct().collect()}
    days = old_days | new_days
    carried = stored.where(F.col(FACT_DATE).isin(sorted(days))).join(touched, "activity_id", "left_anti")
    return carried.unionByName(rebuilt), days


def _creation(events: DataFrame, stored: DataFrame, changed_days: list[dt.date], timezone: str) -> DataFrame:
    """Per activity: its earliest creation event — from the changed days, or as stored before."""
    fresh = events.where(F.col("event_type") == facts.CREATED).select(
        F.col("object_id").alias("activity_id"), F.col("member_id").alias("creator_id"),
        F.col("ts").alias("created_at"), F.col("kind").alias("c_kind"), F.col("vtro_id").alias("c_vtro"),
        "event_id")
    kept = stored.where(F.col("created_at").isNotNull()
                        & ~fact_date(F.col("created_at"), timezone).isin(changed_days)).select(
        "activity_id", "creator_id", "created_at", F.col("kind").alias("c_kind"),
        F.col("host_vtro_id").alias("c_vtro"), F.lit("").alias("event_id"))
    first = Window.partitionBy("activity_id").orderBy("created_at", "event_id")
    return (fresh.unionByName(kept).withColumn("_n", F.row_number().over(first)).where("_n = 1")
            .withColumn("c_date", fact_date(F.col("created_at"), timezone)).drop("_n", "event_id"))


def _participation(attendance: DataFrame, teachers: DataFrame, as_of: DataFrame | None = None) -> DataFrame:
    """Per activity: attendance totals, participants and their universities and schools, modal kind and office."""
    keys = ["activity_id", "member_id", FACT_DATE]
    if as_of is None:
        located = employer_on_day(attendance, keys, teachers)
    else:
        located = employer_on_day(attendance.join(F.broadcast(as_of), "activity_id", "left"), keys, teachers,
                                  "_as_of")
    totals = located.groupBy("activity_id").agg(
        F.sum("attendances").cast("int").alias("attendances"),
        facts.distinct_count("member_id").alias("participants"),
        facts.distinct_count("university_id").alias("participant_universities"),
        facts.distinct_count("school_id").alias("participant_schools"),
        F.min("first_ts").alias("first_attended_at"),
        F.max("last_ts").alias("last_attended_at"),
        F.min(FACT_DATE).alias("a_first"),
        F.max(FACT_DATE).alias("a_last"),
    )
    return (totals.join(_mode(attendance, "kind", "a_kind"), "activity_id", "left")
            .join(_mode(attendance, "vtro_id", "a_vtro"), "activity_id", "left"))


def _mode(attendance: DataFrame, column: str, alias: str) -> DataFrame:
    """The most frequent value per activity (by attendances; ties: the smallest value)."""
    counts = attendance.where(F.col(column).isNotNull()).groupBy("activity_id", column).agg(
        F.sum("attendances").alias("_n"))
    order = Window.partitionBy("activity_id").orderBy(F.desc("_n"), F.col(column))
    return (counts.withColumn("_r", F.row_number().over(order)).where("_r = 1")
            .select("activity_id", F.col(column).alias(alias)))


def _combine(created: DataFrame, participation: DataFrame) -> DataFrame:
    both = created.join(participation, "activity_id", "full_outer")
    kind = F.coalesce(F.col("c_kind"), F.col("a_kind"))
    universities = F.coalesce(F.col("participant_universities"), F.lit(0))
    return both.select(
        F.least(F.col("c_date"), F.col("a_first")).alias(FACT_DATE),  # least/greatest skip nulls
        "activity_id",
        kind.alias("kind"),
        kind.isin(list(facts.TRAINING_KINDS)).alias("is_training"),
        F.coalesce(F.col("c_vtro"), F.col("a_vtro")).alias("host_vtro_id"),
        "creator_id",
        "created_at",
        "first_attended_at",
        "last_attended_at",
        *(F.coalesce(F.col(c), F.lit(0)).alias(c) for c in ("attendances", "participants",
                                                              "participant_universities", "participant_schools")),
        (universities >= 2).alias("cross_university"),
        F.greatest(F.col("c_date"), F.col("a_last")).alias("last_fact_date"),
    )

