"""Read a batch's activity logs as lines, each with its file and line number.

Spark's text reader gives no line numbers, so they are rebuilt from where each row
sits: the job's session reads one file or split per partition (``openCostInBytes`` =
``maxPartitionBytes``, see :mod:`spark_jobs.session`) and ``monotonically_increasing_id``
numbers the rows of a partition 0, 1, 2, … in file order (its low 33 bits). A gzip
file is never split, so its line number is that position + 1. A large plain file may
be split; its splits' line counts are summed by a small extra pass over just those
files, and each row adds the lines of the splits before its own.

Lines are split on ``\\n`` only, like the reference reader
(:func:`jiaoyan.contracts.validate.read_jsonl`), so both number lines the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jiaoyan import landing
from jiaoyan.contracts.sources import ACTIVITY_EVENTS
from spark_jobs.lake_io import spark_path

POSITION_BITS = 33  # monotonically_increasing_id: partition index << 33 | position in the partition
SOURCE_PREFIX = ACTIVITY_EVENTS.location.split("/", 1)[0]  # "activity"
BATCH_IN_PATH = rf"/(\d{{4}}-\d{{2}}-\d{{2}})/{SOURCE_PREFIX}/[^/]+$"  # the batch folder of a log file's path


@dataclass(frozen=True)
class LogFile:
    uri: str  # as fsspec sees it
    name: str  # file name inside the batch's activity folder
    size: int

    @property
    def source(self) -> str:
        """The name quarantine and lineage record: relative to the batch folder."""
        return f"{SOURCE_PREFIX}/{self.name}"

    @property
    def splittable(self) -> bool:
        return not self.name.endswith(".gz")


def list_log_files(landing_uri: str, batch_date: dt.date) -> list[LogFile]:
    """The batch's activity log files (contract location ``activity/*.jsonl*``), sorted by name."""
    fs, root = landing.filesystem(landing.batch_uri(landing_uri, batch_date))
    pattern = f"{root.rstrip('/')}/{ACTIVITY_EVENTS.location}"
    found = []
    for path in sorted(fs.glob(pattern)):
        info = fs.info(path)
        if info.get("type") == "directory":
            continue
        name = path.rstrip("/").rsplit("/", 1)[-1]
        uri = path if landing.is_local(landing_uri) else fs.unstrip_protocol(path)
        found.append(LogFile(uri=uri, name=name, size=int(info.get("size") or 0)))
    return found


def read_lines(spark: SparkSession, files: list[LogFile], with_batch: bool = False) -> DataFrame:
    """Columns: ``source_file``, ``line`` (from 1), ``value`` (the line without its ``\\n``).

    ``with_batch`` (files of several batches read at once): ``source_file`` is prefixed with the
    batch folder's name, ``<YYYY-MM-DD>/activity/<name>`` (see :func:`split_batch`)."""
    raw = spark.read.option("lineSep", "\n").text([spark_path(f.uri) for f in files])
    # the id must be taken straight off the scan, before any filter, to count every line
    lines = raw.select(
        F.col("value"),
        F.col("_metadata.file_path").alias("_file_path"),
        F.col("_metadata.file_name").alias("_file_name"),
        F.col("_metadata.file_block_start").alias("_block_start"),
        (F.monotonically_increasing_id().bitwiseAND(F.lit((1 << POSITION_BITS) - 1)) + 1).alias("_position"),
    )
    split_bytes = _conf_bytes(spark, "spark.sql.files.maxPartitionBytes")
    before = _lines_before_splits(spark, [f for f in files if f.splittable and f.size > split_bytes])
    line = F.col("_position") + F.coalesce(F.col("_lines_before"), F.lit(0))
    if before is not None:
        lines = lines.join(F.broadcast(before), ["_file_path", "_block_start"], "left")
    else:
        lines = lines.withColumn("_lines_before", F.lit(0).cast("long"))
    source = _source(F.col("_file_name"))
    if with_batch:
        source = F.concat(F.regexp_extract(F.col("_file_path"), BATCH_IN_PATH, 1), F.lit("/"), source)
    return lines.select(source.alias("source_file"), line.cast("long").alias("line"), "value")


def split_batch(frame: DataFrame) -> DataFrame:
    """Undo ``with_batch``: ``batch_id`` and the plain ``source_file`` (relative to the batch folder)."""
    prefixed = F.col("source_file")
    return frame.withColumns({"batch_id": F.substring_index(prefixed, "/", 1),
                              "source_file": F.expr(f"substring(source_file, {len('YYYY-MM-DD/') + 1})")})


def _conf_bytes(spark: SparkSession, key: str) -> int:
    """A byte-size setting ("134217728", "128m", "128MB") in bytes."""
    text = str(spark.conf.get(key)).strip().lower().removesuffix("b")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1:] in units else int(text)


def _source(file_name: Column) -> Column:
    return F.concat(F.lit(f"{SOURCE_PREFIX}/"), file_name)


def _lines_before_splits(spark: SparkSession, big_files: list[LogFile]) -> DataFrame | None:
    """For files Spark may split: the lines in a file before each split starts."""
    if not big_files:
        return None
    counts = (spark.read.option("lineSep", "\n").text([spark_path(f.uri) for f in big_files])
              .groupBy(F.col("_metadata.file_path").alias("_file_path"),
                       F.col("_metadata.file_block_start").alias("_block_start"))
              .count().collect())
    rows = []
    by_file: dict[str, list[tuple[int, int]]] = {}
    for row in counts:
        by_file.setdefault(row["_file_path"], []).append((row["_block_start"], row["count"]))
    for name, blocks in by_file.items():
        total = 0
        for start, count in sorted(blocks):
            rows.append((name, start, total))
            total += count
    return spark.createDataFrame(rows, "_file_path string, _block_start long, _lines_before long")
