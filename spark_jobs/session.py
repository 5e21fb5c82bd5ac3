"""Spark settings (``JIAOYAN_SPARK_*``) and the one SparkSession a job creates.

Local mode by default (``local[*]``): on this project's 2-core machines a SparkSession
costs ≈ 20 s to start, so a job creates it once and passes it around. The same job
runs unchanged on a cluster: ``spark-submit`` supplies the master, and anything set on
the command line (``--conf``) wins over these defaults, which are only applied when
the job builds its own session.
"""

from __future__ import annotations

import os
import sys

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from pyspark.sql import SparkSession

from jiaoyan.settings import JiaoyanSettings

SPLIT_BYTES = 128 * 1024 * 1024


class SparkSettings(JiaoyanSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYAN_SPARK_")

    master: str = Field(default="local[*]", description="Spark master URL; spark-submit's --master wins")
    shuffle_partitions: int = Field(default=4, ge=1, description="spark.sql.shuffle.partitions (small "
                                    "locally; ~2-3× the cores on a cluster)")
    driver_memory: str = Field(default="4g", description="spark.driver.memory (local mode: also the executors' heap)")
    executor_memory: str | None = Field(default=None, description="spark.executor.memory on a cluster")
    checkpoint_dir: str | None = Field(default=None, description="reliable checkpoints on a cluster (HDFS/S3 "
                                       "folder); unset: local checkpoints, fine in local mode")
    lookback_days: int = Field(default=7, ge=0, description="earlier days of clean events a duplicate is looked "
                               "for in (besides the days the batch's events fall on)")
    session_gap_minutes: float = Field(default=30.0, gt=0, description="inactivity gap that ends a session")
    trajectory_history_days: int = Field(default=400, ge=1, description="how far back the previous research "
                                         "action is looked for (gap_days is empty beyond it)")
    driver_check_max_lines: int = Field(default=200_000, ge=0, description="doubtful lines up to this many get "
                                        "their reference verdict in the driver; more go to the executors")
    files_per_day: int = Field(default=4, ge=1, description="Parquet files per day of the big datasets (clean "
                               "events, trajectories), written and read back in parallel; the others get one")


def build_session(settings: SparkSettings | None = None, app_name: str = "jiaoyan-activity") -> SparkSession:
    """The job's SparkSession with local-friendly defaults; an existing session is reused."""
    settings = settings or SparkSettings()
    builder = SparkSession.builder.appName(app_name)
    if not _submitted():
        builder = builder.master(settings.master)
        # the Python workers must be this interpreter (the project's environment), not the system python3
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        for key, value in session_conf(settings).items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    _apply_runtime_conf(spark, settings)
    if settings.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(settings.checkpoint_dir)
    spark.sparkContext.setLogLevel("WARN")
    return spark


def session_conf(settings: SparkSettings) -> dict[str, str]:
    """Static settings, applied only when the job starts its own session (not under spark-submit)."""
    conf = {
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.enabled": "false",  # no web UI on a batch job; saves start-up time and a port
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.extraJavaOptions": "-Dlog4j2.level=WARN",
        "spark.pyspark.python": sys.executable,
    }
    if settings.executor_memory:
        conf["spark.executor.memory"] = settings.executor_memory
    return conf


def _apply_runtime_conf(spark: SparkSession, settings: SparkSettings) -> None:
    """Session settings the job relies on, applied even under spark-submit."""
    conf = {
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",  # days are computed explicitly in China Standard Time
        "spark.sql.sources.partitionOverwriteMode": "dynamic",  # overwrite only the partitions written
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",  # read back as timestamp[us, UTC]
        # One input file or split per read partition: line numbers are then positions within the
        # partition (see spark_jobs.activity.read). Costs nothing for gzip, which is never split.
        "spark.sql.files.maxPartitionBytes": str(SPLIT_BYTES),
        "spark.sql.files.openCostInBytes": str(SPLIT_BYTES),
    }
    for key, value in conf.items():
        spark.conf.set(key, value)


def _submitted() -> bool:
    """True under spark-submit, whose launcher starts the JVM and hands the driver its gateway."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
