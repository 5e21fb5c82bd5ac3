"""Date-partitioned lake datasets in Spark: schemas from the contracts, day reads, day rewrites.

A dataset is ``<lake>/activity/<name>/event_date=<YYYY-MM-DD>/`` (:mod:`jiaoyan.lake`).
Writes use dynamic partition overwrite, so only the days present in the output are
replaced and every other day is left alone; a day the job meant to rewrite that has
no rows any more is removed explicitly (dynamic overwrite cannot know about it).
Rerunning a write with the same rows leaves the same rows: nothing is appended.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jiaoyan import lake
from jiaoyan.contracts.lake import FACT_DATE, PARTITION_COLUMN
from jiaoyan.contracts.model import Contract

_SPARK_TYPES: tuple[tuple[object, T.DataType], ...] = (
    (pa.types.is_string, T.StringType()),
    (pa.types.is_boolean, T.BooleanType()),
    (pa.types.is_int8, T.ByteType()),
    (pa.types.is_int16, T.ShortType()),
    (pa.types.is_int32, T.IntegerType()),
    (pa.types.is_int64, T.LongType()),
    (pa.types.is_float32, T.FloatType()),
    (pa.types.is_float64, T.DoubleType()),
    (pa.types.is_date, T.DateType()),
    (pa.types.is_timestamp, T.TimestampType()),
    (pa.types.is_map, T.MapType(T.StringType(), T.StringType())),
)


def spark_type(arrow_type: pa.DataType) -> T.DataType:
    for test, spark in _SPARK_TYPES:
        if test(arrow_type):  # type: ignore[operator]
            return spark
    raise TypeError(f"no Spark type for {arrow_type}")


def spark_schema(contract: Contract) -> T.StructType:
    return T.StructType([T.StructField(f.name, spark_type(f.type), nullable=not f.required)
                         for f in contract.fields])


def conform(df: DataFrame, contract: Contract) -> DataFrame:
    """Exactly the contract's columns, in its order and types (what the loader expects).

    Every column is written as nullable, so files of one dataset share one schema whatever
    Spark could prove about a particular write (a literal is "not null" to it)."""
    missing = [f.name for f in contract.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"{contract.name}: the job did not compute {missing}")
    nullable = {f.name: f.nullable for f in df.schema.fields}
    columns = []
    for spec in contract.fields:
        column = F.col(spec.name).cast(spark_type(spec.type))
        if not nullable[spec.name]:  # a condition the optimiser cannot fold keeps it nullable
            column = F.when(F.spark_partition_id() >= 0, column)
        columns.append(column.alias(spec.name))
    return df.select(*columns)


def spark_path(uri: str) -> str:
    """A lake or landing location as Hadoop names it: bare paths are local files, s3:// is s3a://."""
    if uri.startswith("s3://"):
        return "s3a://" + uri.removeprefix("s3://")
    if "://" not in uri:
        return "file://" + os.path.abspath(uri)
    return uri


def dataset_path(lake_uri: str, name: str) -> str:
    return spark_path(lake.activity_dataset_dir(name, lake_uri))


def day_path(lake_uri: str, name: str, day: dt.date) -> str:
    return f"{dataset_path(lake_uri, name)}/{PARTITION_COLUMN}={day.isoformat()}"


def _fs(spark: SparkSession, path: str) -> tuple[object, object]:  # py4j Hadoop FileSystem and Path
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path  # type: ignore[attr-defined]


def existing_days(spark: SparkSession, lake_uri: str, name: str) -> set[dt.date]:
    """The days a dataset has a partition for."""
    fs, root = _fs(spark, dataset_path(lake_uri, name))
    if not fs.exists(root):  # type: ignore[attr-defined]
        return set()
    days = set()
    for status in fs.listStatus(root):
        folder = status.getPath().getName()
        if status.isDirectory() and folder.startswith(f"{PARTITION_COLUMN}="):
            days.add(dt.date.fromisoformat(folder.split("=", 1)[1]))
    return days


def read_days(spark: SparkSession, lake_uri: str, contract: Contract, days: Iterable[dt.date]) -> DataFrame:
    """The rows of the given days (those that exist); an empty frame when there are none."""
    present = sorted(set(days) & existing_days(spark, lake_uri, contract.name))
    schema = spark_schema(contract)
    if not present:
        return spark.createDataFrame([], schema)
    paths = [day_path(lake_uri, contract.name, day) for day in present]
    return spark.read.schema(schema).parquet(*paths)


def read_range(spark: SparkSession, lake_uri: str, contract: Contract, first: dt.date | None,
               last: dt.date | None) -> DataFrame:
    """Rows of the existing days between first and last (inclusive; None: unbounded)."""
    days = {d for d in existing_days(spark, lake_uri, contract.name)
            if (first is None or d >= first) and (last is None or d <= last)}
    return read_days(spark, lake_uri, contract, days)


def write_days(df: DataFrame, lake_uri: str, contract: Contract, days: Iterable[dt.date],
               files_per_day: int = 1) -> list[dt.date]:
    """Replace exactly ``days`` of a dataset with ``df``'s rows (which must all fall on those days).

    Dynamic partition overwrite replaces the days ``df`` has rows for; a day it has none
    for keeps its old files, so afterwards every target day whose files did not change
    is removed. Returns the days that now hold rows.
    """
    days = set(days)
    spark = df.sparkSession
    before = {day: _files(spark, day_path(lake_uri, contract.name, day)) for day in days}
    rows = conform(df, contract).where(F.col(FACT_DATE).isin(sorted(days)))
    _spread(rows.withColumn(PARTITION_COLUMN, F.col(FACT_DATE)), contract, files_per_day).write.mode(
        "overwrite").partitionBy(PARTITION_COLUMN).parquet(dataset_path(lake_uri, contract.name))
    present = []
    for day in sorted(days):
        path = day_path(lake_uri, contract.name, day)
        after = _files(spark, path)
        if after and after != before[day]:
            present.append(day)
        elif after:  # not rewritten: the day has no rows any more
            fs, hadoop_path = _fs(spark, path)
            fs.delete(hadoop_path, True)  # type: ignore[attr-defined]
    return present


def _files(spark: SparkSession, path: str) -> frozenset[str]:
    fs, hadoop_path = _fs(spark, path)
    if not fs.exists(hadoop_path):  # type: ignore[attr-defined]
        return frozenset()
    return frozenset(status.getPath().getName() for status in fs.listStatus(hadoop_path)  # type: ignore[attr-defined]
                     if not status.getPath().getName().startswith((".", "_")))


def _spread(df: DataFrame, contract: Contract, files_per_day: int) -> DataFrame:
    """One task (one file) per day, or ``files_per_day`` for the big datasets."""
    if files_per_day <= 1:
        return df.repartition(PARTITION_COLUMN)
    salt = F.pmod(F.xxhash64(*contract.key), F.lit(files_per_day))
    return df.repartition(PARTITION_COLUMN, salt)
