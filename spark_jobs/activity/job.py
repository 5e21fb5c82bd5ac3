"""The nightly activity-log job for one batch: the steps in order, and the run file.

1. read the batch's ``activity/*.jsonl*`` lines with file and line number;
2. validate against the contract — rejects to ``quarantine/activity/<batch_id>/``;
3. deduplicate against the lake's clean events and file each event under its CST day;
4. rewrite the clean events of the days that changed;
5. rebuild the day facts of those days, then the activities, trajectories and term
   scores they affect;
6. write ``activity/_runs/<batch_id>.json``: counts, changed days, partitions rewritten.

Every write replaces whole partitions (or the whole quarantine folder of the batch),
and the state excludes the batch's own earlier output, so rerunning a batch rewrites
the same partitions with the same rows and writes the same run file.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jiaoyan import lake, landing, log
from jiaoyan.contracts import lake as contracts
from jiaoyan.contracts.lake import FACT_DATE
from jiaoyan.settings import get_settings
from spark_jobs import lake_io
from spark_jobs.activity import activities, dedupe, facts, read, reference, research, validate
from spark_jobs.session import SparkSettings

LOG = log.get(__name__)
JOB = "activity"
RUN_FILE_VERSION = 1


@dataclass
class RunReport:
    batch_id: str
    files: list[str] = field(default_factory=list)
    lines_read: int = 0  # non-blank lines
    valid: int = 0
    quarantined: int = 0
    duplicates: int = 0
    duplicates_in_batch: int = 0
    duplicates_of_earlier: int = 0
    replaced: int = 0
    new_events: int = 0
    events_by_day: dict[str, int] = field(default_factory=dict)
    late_by_day: dict[str, int] = field(default_factory=dict)
    changed_days: list[str] = field(default_factory=list)
    partitions: dict[str, list[str]] = field(default_factory=dict)  # dataset -> days rewritten
    settings: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        """The run file (``seconds`` stays out of it, so a rerun writes the same file)."""
        payload = asdict(self)
        payload.pop("seconds")
        return {"version": RUN_FILE_VERSION, "job": JOB, **payload}


def run_batch(spark: SparkSession, batch_date: dt.date, landing_uri: str | None = None,
              lake_uri: str | None = None, settings: SparkSettings | None = None) -> RunReport:
    started = time.monotonic()
    settings = settings or SparkSettings()
    landing_uri = landing_uri or get_settings().landing_uri
    lake_uri = lake.root(lake_uri)
    timezone = get_settings().timezone
    batch_id = batch_date.isoformat()
    report = RunReport(batch_id=batch_id, settings=run_settings(settings, timezone))
    files = read.list_log_files(landing_uri, batch_date)
    report.files = [f.source for f in files]
    LOG.info("batch %s: %d activity file(s)", batch_id, len(files))
    changed: list[dt.date] = []
    if files:
        changed = _events(spark, report, files, batch_date, landing_uri, lake_uri, settings, timezone)
    else:
        _write_rejects(None, spark, lake_uri, batch_id)
    if changed:
        _facts(spark, report, changed, batch_date, landing_uri, lake_uri, settings, timezone)
    write_run_file(report, lake_uri)
    report.seconds = round(time.monotonic() - started, 1)
    return report


def run_settings(settings: SparkSettings, timezone: str) -> dict[str, object]:
    """The settings a run file records."""
    return {"lookback_days": settings.lookback_days, "session_gap_minutes": settings.session_gap_minutes,
            "trajectory_history_days": settings.trajectory_history_days, "timezone": timezone}


def write_run_file(report: RunReport, lake_uri: str) -> None:
    landing.write_bytes(lake.activity_run_file(report.batch_id, lake_uri),
                        json.dumps(report.to_json(), indent=2, ensure_ascii=False).encode())


def _events(spark: SparkSession, report: RunReport, files: list[read.LogFile], batch_date: dt.date,
            landing_uri: str, lake_uri: str, settings: SparkSettings, timezone: str) -> list[dt.date]:
    """Steps 1–4; returns the changed days."""
    parsed = _materialise(validate.parse_lines(read.read_lines(spark, files)), settings)
    checked, distributed = validate.decide(parsed, settings.driver_check_max_lines)
    if distributed:
        checked = _materialise(checked, settings)
    valid = dedupe.with_lineage(validate.valid_rows(checked), report.batch_id, timezone)
    rejects = validate.reject_rows(checked)
    report.quarantined = _write_rejects(rejects, spark, lake_uri, report.batch_id)
    new_days = {row[0] for row in valid.select(FACT_DATE).distinct().collect()}
    own_days = _previous_days(lake_uri, report.batch_id)
    window = {batch_date - dt.timedelta(days=i) for i in range(settings.lookback_days + 1)}
    stored = lake_io.read_days(spark, lake_uri, contracts.ACTIVITY_EVENTS_CLEAN, new_days | window | own_days)
    own_days = {row[0] for row in stored.where(F.col("batch_id") == report.batch_id)
                .select(FACT_DATE).distinct().collect()}
    ranked = _materialise(dedupe.rank(valid, stored, report.batch_id), settings)
    counts = dedupe.count(ranked)
    changed = sorted(set(counts.changed_days) | own_days)
    written = lake_io.write_days(dedupe.kept_on(ranked, changed), lake_uri, contracts.ACTIVITY_EVENTS_CLEAN,
                                 changed, files_per_day=settings.files_per_day)
    report.partitions[contracts.ACTIVITY_EVENTS_CLEAN.name] = [d.isoformat() for d in changed]
    LOG.info("%s: rewrote %d day(s), %d with rows", contracts.ACTIVITY_EVENTS_CLEAN.name, len(changed), len(written))
    report.valid, report.new_events = counts.valid, counts.new_events
    report.duplicates, report.replaced = counts.duplicates, counts.replaced
    report.duplicates_in_batch, report.duplicates_of_earlier = counts.duplicates_in_batch, counts.duplicates_of_earlier
    report.lines_read = report.valid + report.quarantined
    report.events_by_day = counts.by_day
    report.late_by_day = counts.late_by_day(batch_date)
    report.changed_days = [d.isoformat() for d in changed]
    ranked.unpersist()
    parsed.unpersist()
    return changed


def _facts(spark: SparkSession, report: RunReport, changed: list[dt.date], batch_date: dt.date,
           landing_uri: str, lake_uri: str, settings: SparkSettings, timezone: str) -> None:
    """Step 5: everything derived from the clean events of the changed days."""
    events = read_changed_events(spark, lake_uri, changed)
    for contract in write_day_facts(spark, events, changed, lake_uri, settings):
        report.partitions[contract.name] = [d.isoformat() for d in changed]
    teachers = reference.teachers_frame(spark, landing_uri, batch_date)
    rows, days = activities.rebuild(spark, lake_uri, events, changed, teachers, timezone,
                                    lambda frame: _materialise(frame, settings))
    _write(report, rows, lake_uri, contracts.ACTIVITIES, days)
    events.unpersist()
    rows, days = research.trajectory(spark, lake_uri, min(changed), settings.trajectory_history_days)
    _write(report, rows, lake_uri, contracts.RESEARCH_TRAJECTORY, days, settings.files_per_day)
    terms = research.affected_periods(min(changed), max([*days, batch_date]))
    rows = research.member_terms(spark, lake_uri, terms, batch_date)
    _write(report, rows, lake_uri, contracts.MEMBER_TERM_RESEARCH, {t.term_start for t in terms})


def read_changed_events(spark: SparkSession, lake_uri: str, changed: list[dt.date]) -> DataFrame:
    """The columns every fact needs, read once and kept for the six day facts and the activities."""
    return lake_io.read_days(spark, lake_uri, contracts.ACTIVITY_EVENTS_CLEAN, changed).select(
        *facts.EVENT_COLUMNS).persist(StorageLevel.MEMORY_AND_DISK)


def write_day_facts(spark: SparkSession, events: DataFrame, changed: list[dt.date], lake_uri: str,
                    settings: SparkSettings) -> list[contracts.Contract]:
    """Rewrite the day-grain facts of the changed days (sessions first: member_day reads them back);
    returns the datasets written, in order."""
    _write(None, facts.sessions(events, settings.session_gap_minutes), lake_uri, contracts.MEMBER_SESSIONS,
           changed)
    sessions = lake_io.read_days(spark, lake_uri, contracts.MEMBER_SESSIONS, changed)
    day_facts = {
        contracts.MEMBER_DAY: facts.member_day(events, sessions),
        contracts.MEMBER_DAY_KINDS: facts.member_day_kinds(events),
        contracts.VTRO_DAY: facts.vtro_day(events),
        contracts.ACTIVITY_ATTENDANCE: facts.activity_attendance(events),
        contracts.RESOURCES_PUBLISHED: facts.resources_published(events),
    }
    for contract, frame in day_facts.items():
        _write(None, frame, lake_uri, contract, changed)
    return [contracts.MEMBER_SESSIONS, *day_facts]


def _write(report: RunReport | None, frame: DataFrame, lake_uri: str, contract: contracts.Contract,
           days: set[dt.date] | list[dt.date], files_per_day: int = 1) -> None:
    started = time.monotonic()
    written = lake_io.write_days(frame, lake_uri, contract, days, files_per_day)
    LOG.info("%s: rewrote %d day(s) in %.1f s", contract.name, len(written), time.monotonic() - started)
    if report is not None:
        report.partitions[contract.name] = [d.isoformat() for d in sorted(days)]


def _write_rejects(rejects: DataFrame | None, spark: SparkSession, lake_uri: str, batch_id: str) -> int:
    """Replace the batch's quarantine folder; returns the rows quarantined."""
    path = lake_io.spark_path(lake.quarantine_dir(JOB, batch_id, lake_uri))
    if rejects is None:
        rejects = spark.createDataFrame([], validate.REJECT_DDL)
    count = rejects.count()
    rejects.orderBy("source_file", "line").coalesce(1).write.mode("overwrite").parquet(path)
    return count


def _previous_days(lake_uri: str, batch_id: str) -> set[dt.date]:
    """The days a previous run of this batch rewrote (its own rows may sit there)."""
    uri = lake.activity_run_file(batch_id, lake_uri)
    fs, path = landing.filesystem(uri)
    if not fs.exists(path):
        return set()
    previous = json.loads(landing.read_bytes(uri))
    return {dt.date.fromisoformat(day) for day in previous.get("changed_days", [])}


def _materialise(frame: DataFrame, settings: SparkSettings) -> DataFrame:
    """Compute once and cut the lineage: later steps reuse it, and the lake files it was read from may be
    rewritten meanwhile. Reliable checkpoints when a checkpoint folder is configured (clusters)."""
    if settings.checkpoint_dir:
        return frame.checkpoint(eager=True)
    return frame.localCheckpoint(eager=True)


def summary(report: RunReport) -> list[str]:
    """The counts the CLI prints."""
    late = ", ".join(f"{day}: {n}" for day, n in report.late_by_day.items()) or "none"
    return [
        f"batch {report.batch_id}: {len(report.files)} file(s), {report.seconds:.1f} s",
        f"  read {report.lines_read:,}  valid {report.valid:,}  quarantined {report.quarantined:,}",
        f"  duplicates {report.duplicates:,} (in batch {report.duplicates_in_batch:,}, of earlier batches "
        f"{report.duplicates_of_earlier:,}; stored copies replaced {report.replaced:,})",
        f"  new events {report.new_events:,}; late by day: {late}",
        f"  changed days: {', '.join(report.changed_days) or 'none'}",
    ]


def main(batch_date: dt.date, landing_uri: str | None, lake_uri: str | None, as_json: bool = False) -> list[str]:
    """Build the session, run the batch, return what to print (shared by the CLI and spark-submit)."""
    from spark_jobs.session import build_session

    settings = SparkSettings()
    spark = build_session(settings)
    report = run_batch(spark, batch_date, landing_uri, lake_uri, settings)
    if as_json:
        return [json.dumps(report.to_json(), indent=2, ensure_ascii=False)]
    return summary(report)
