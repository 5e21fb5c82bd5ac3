"""Members' universities and schools, from the landing zone's teacher reference files.

``reference/teachers.csv`` is a full snapshot in the first batch and a delta (new or
changed rows, each with its ``valid_from``) in later ones. The job reads every batch's
file up to the batch being processed, through the contract's reference reader (rows
that break the contract are ignored here; the loader quarantines them), and keeps one
row per ``(teacher_id, valid_from)`` — the latest batch's. A member's employer on a day
is the row with the latest ``valid_from`` on or before it (else the earliest row).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jiaoyan import landing
from jiaoyan.contracts import validate
from jiaoyan.contracts.sources import TEACHERS

COLUMNS = ("teacher_id", "valid_from", "university_id", "school_id")
BATCH = "_batch"


def teacher_rows(landing_uri: str, batch_date: dt.date) -> pa.Table:
    """(teacher_id, valid_from, university_id, school_id), one row per teacher version."""
    rows = teacher_versions(landing_uri, batch_date)
    rows = rows.sort_by([("teacher_id", "ascending"), ("valid_from", "ascending"), (BATCH, "descending")])
    return _first_per_version(rows).drop_columns([BATCH])


def teacher_versions(landing_uri: str, last_batch: dt.date) -> pa.Table:
    """Every batch's teacher rows up to ``last_batch``, each with the batch that delivered it (``_batch``)."""
    tables = []
    for day in landing.list_batches(landing_uri, complete_only=False):
        if day > last_batch:
            break
        uri = landing.join(landing.batch_uri(landing_uri, day), TEACHERS.location)
        fs, path = landing.filesystem(uri)
        if not fs.exists(path):
            continue
        good = validate.read_csv(TEACHERS, landing.read_bytes(uri), TEACHERS.location).good
        tables.append(good.select(list(COLUMNS)).append_column(BATCH, pa.array([day] * good.num_rows,
                                                                               pa.date32())))
    if not tables:
        return pa.table({name: pa.array([], pa.date32() if name in ("valid_from", BATCH) else pa.string())
                         for name in (*COLUMNS, BATCH)})
    return pa.concat_tables(tables)


def _first_per_version(rows: pa.Table) -> pa.Table:
    ids, starts = rows["teacher_id"].to_pylist(), rows["valid_from"].to_pylist()
    keep = [i == 0 or (ids[i], starts[i]) != (ids[i - 1], starts[i - 1]) for i in range(rows.num_rows)]
    return rows.filter(pa.array(keep, pa.bool_()))


def teachers_frame(spark: SparkSession, landing_uri: str, batch_date: dt.date) -> DataFrame:
    table = teacher_rows(landing_uri, batch_date)
    schema = "teacher_id string, valid_from date, university_id string, school_id string"
    if table.num_rows == 0:
        return spark.createDataFrame([], schema)
    return spark.createDataFrame(table.to_pandas(), schema)


def versions_frame(spark: SparkSession, landing_uri: str, last_batch: dt.date) -> DataFrame:
    """:func:`teacher_versions` as a frame, for :func:`employer_on_day` with ``as_of``."""
    table = teacher_versions(landing_uri, last_batch)
    schema = f"teacher_id string, valid_from date, university_id string, school_id string, {BATCH} date"
    if table.num_rows == 0:
        return spark.createDataFrame([], schema)
    return spark.createDataFrame(table.select([*COLUMNS, BATCH]).to_pandas(), schema)


def employer_on_day(rows: DataFrame, keys: list[str], teachers: DataFrame, as_of: str | None = None) -> DataFrame:
    """``rows`` (unique by ``keys``; with member_id and fact_date) plus the member's university_id and
    school_id that day.

    ``as_of`` (a date column of ``rows``; ``teachers`` from :func:`versions_frame`): only the versions
    delivered by that batch count, as in that batch's own run (:func:`teacher_rows`)."""
    applies = F.col("valid_from") <= F.col("fact_date")
    age = F.datediff(F.col("fact_date"), F.col("valid_from"))
    # the latest version in force that day (smallest non-negative age), else the earliest version
    order = Window.partitionBy(*keys).orderBy(F.when(applies, 0).otherwise(1), F.abs(age))
    if as_of is None:
        versions = F.broadcast(teachers.withColumnRenamed("teacher_id", "member_id"))
        joined = rows.join(versions, "member_id", "left")
    else:
        versions = F.broadcast(teachers)
        joined = rows.join(versions, (F.col("member_id") == F.col("teacher_id")) & (F.col(BATCH) <= F.col(as_of)),
                           "left").drop("teacher_id")
        latest = Window.partitionBy(*keys, "valid_from").orderBy(F.desc(BATCH))  # a version's latest delivery
        joined = joined.withColumn("_latest", F.row_number().over(latest)).where("_latest = 1").drop(
            "_latest", BATCH, as_of)
    return joined.withColumn("_pick", F.row_number().over(order)).where("_pick = 1").drop("_pick", "valid_from")
