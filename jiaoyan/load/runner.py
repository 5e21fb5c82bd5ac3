"""Load one nightly batch, or every batch not loaded yet, into the raw tables.

Order matters: reference data, then the lesson manifest, then rubrics are committed
before the rows that refer to them are checked, so the cross-source rules look up one
place (the raw tables) for both history and the same batch. Each table is its own
transaction (see :mod:`jiaoyan.load.store`); a batch counts as loaded once every table
committed and ``ops.loads`` says ``succeeded``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pyarrow.compute as pc
from psycopg.types.json import Jsonb

from jiaoyan import db, lake, landing, log
from jiaoyan.contracts import (
    ACTIVITY_EVENTS,
    BEHAVIOUR_CODES,
    GOLD_CODES,
    LESSON_MANIFEST,
    LESSON_RUNS,
    REFERENCE_CONTRACTS,
    RUBRIC_SCORES,
    Contract,
)
from jiaoyan.errors import UserError
from jiaoyan.load import activity, copy, rules, store
from jiaoyan.load.lookups import Lookups, WarehouseLookups
from jiaoyan.load.parts import Part, RejectedFile
from jiaoyan.load.plan import BatchPlan, plan_batch
from jiaoyan.load.read import FileRef, read_parquet_part, read_text_part
from jiaoyan.load.report import BatchLoad, TableLoad, order_tables
from jiaoyan.load.rubrics import read_rubrics

LOG = log.get(__name__)
TABLE_ORDER = (
    *(c.name for c in REFERENCE_CONTRACTS),
    "lesson_manifest",
    "rubric_indicators",
    "rubric_bands",
    "rubric_scores",
    "gold_codes",
    "lesson_runs",
    "behaviour_codes",
    "activity_events",
    *(d.dataset for d in activity.registered()),
)
# Raw activity events are loaded row by row only for small volumes (the demo's ~10,000 a day);
# above this many lines in a batch they are left to the Spark job, whose facts load instead.
EVENT_ROWS_LIMIT = 200_000


def load_batch(batch_uri: str, *, batch_id: str | None = None, lake_uri: str | None = None,
               method: copy.Method = copy.DEFAULT_METHOD, event_rows_limit: int = EVENT_ROWS_LIMIT,
               refresh_statistics: bool = True) -> BatchLoad:
    """Load one batch folder (complete: its ``_batch.json`` present). Raises UserError when it cannot start.

    ``refresh_statistics=False`` (batches loaded in a row, e.g. a backfill): leave ANALYZE to the last batch of
    the run, or to the raw gate, instead of repeating it after every batch."""
    plan = plan_batch(batch_uri, batch_id)
    with db.connect("loader", autocommit=True) as conn, batch_lock(conn, plan.batch_id):
        register(conn, plan)
        return BatchLoader(conn, plan, lake.root(lake_uri), method, event_rows_limit,
                           refresh_statistics=refresh_statistics).run()


def pending_batches(conn: psycopg.Connection, landing_uri: str) -> list[str]:
    """Complete batches in the landing zone with no successful load yet, oldest first."""
    loaded = {r[0] for r in conn.execute("select distinct batch_id from ops.loads where status = 'succeeded'")}
    return [d.isoformat() for d in landing.list_batches(landing_uri) if d.isoformat() not in loaded]


def load_all(landing_uri: str, *, lake_uri: str | None = None, method: copy.Method = copy.DEFAULT_METHOD,
             event_rows_limit: int = EVENT_ROWS_LIMIT,
             on_loaded: Callable[[BatchLoad], None] | None = None) -> list[BatchLoad]:
    """Load every complete batch not loaded yet, oldest first; stops at the first that fails."""
    with db.connect("loader", autocommit=True) as conn:
        pending = pending_batches(conn, landing_uri)
    reports = []
    for batch_id in pending:
        report = load_batch(landing.join(landing_uri, batch_id), lake_uri=lake_uri, method=method,
                            event_rows_limit=event_rows_limit, refresh_statistics=batch_id == pending[-1])
        reports.append(report)
        if on_loaded:
            on_loaded(report)
    return reports


@contextmanager
def batch_lock(conn: psycopg.Connection, batch_id: str) -> Iterator[None]:
    """One loader per batch at a time: two interleaved replaces could leave two copies."""
    key = f"jiaoyan.load:{batch_id}"
    got = conn.execute("select pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
    if not got or not got[0]:
        raise UserError(f"batch {batch_id} is being loaded by another process; try again when it finishes")
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (key,))


def register(conn: psycopg.Connection, plan: BatchPlan) -> None:
    """Record the batch and its marker in ``ops.batches`` (first registration time kept)."""
    m = plan.manifest
    conn.execute(
        "insert into ops.batches (batch_id, batch_date, producer, manifest) values (%s, %s, %s, %s) "
        "on conflict (batch_id) do update set batch_date = excluded.batch_date, producer = excluded.producer, "
        "manifest = excluded.manifest",
        (plan.batch_id, m.batch_date, m.producer, Jsonb(m.model_dump(mode="json"))))


class BatchLoader:
    def __init__(self, conn: psycopg.Connection, plan: BatchPlan, lake_uri: str, method: copy.Method,
                 event_rows_limit: int = EVENT_ROWS_LIMIT, lookups: Lookups | None = None,
                 refresh_statistics: bool = True) -> None:
        self.conn, self.plan, self.lake_uri, self.method = conn, plan, lake_uri, method
        self.event_rows_limit = event_rows_limit
        self.lookups = lookups or WarehouseLookups(conn)
        self.report = BatchLoad(plan.batch_id, plan.uri)
        self.refresh_statistics = refresh_statistics

    def run(self) -> BatchLoad:
        started = time.perf_counter()
        self.report.load_id = self._start()
        try:
            for step in (self._reference, self._manifest, self._rubrics, self._scores, self._gold, self._codes,
                         self._events, self._activity, self._marker_problems):
                step()
            if self.refresh_statistics:
                self._refresh_statistics()
        except BaseException as exc:
            self.report.status, self.report.error = "failed", f"{type(exc).__name__}: {exc}"
            self._finish(time.perf_counter() - started)
            raise
        self.report.status = "succeeded"
        self._finish(time.perf_counter() - started)
        order_tables(self.report)
        return self.report

    def _refresh_statistics(self) -> None:
        """ANALYZE the raw tables this batch grew (through the owner's ``ops.analyze_raw``, which skips tables whose
        statistics are still fresh): right after a bulk COPY autovacuum has not run yet, and the raw gate and dbt
        plan their joins of the night's rows on these statistics."""
        grown = sorted({t.contract for t in self.report.tables if t.rows_loaded})
        if grown:
            analysed = self.conn.execute("select ops.analyze_raw(%s)", (grown,)).fetchone()[0]
            LOG.info("%s: statistics refreshed for %s", self.plan.batch_id, ", ".join(analysed) or "no table")

    # steps ---------------------------------------------------------------------------

    def _reference(self) -> None:
        for contract in REFERENCE_CONTRACTS:
            self._commit([self._checked(contract, lambda c=contract: self._read_text(c))])

    def _manifest(self) -> None:
        self._commit([self._checked(LESSON_MANIFEST, lambda: self._read_text(LESSON_MANIFEST))])

    def _rubrics(self) -> None:
        started = time.perf_counter()
        indicators, bands = read_rubrics(self.plan.refs("rubric_indicators"))
        self._add_unlisted(indicators)
        rules.check(indicators, self.lookups)
        rules.check(bands, self.lookups)
        indicators.seconds = time.perf_counter() - started
        self._commit([indicators, bands])

    def _scores(self) -> None:
        self._commit([self._checked(RUBRIC_SCORES, lambda: self._read_text(RUBRIC_SCORES))])

    def _gold(self) -> None:
        self._commit([self._checked(GOLD_CODES, lambda: self._read_text(GOLD_CODES))])

    def _codes(self) -> None:
        """Lesson runs and behaviour codes: the batch's own pre-coded lessons and inference's output."""
        runs = self._checked(LESSON_RUNS, lambda: read_parquet_part(
            LESSON_RUNS, lake_refs(self.lake_uri, lake.lesson_runs_dir(self.plan.batch_id, self.lake_uri))))
        runs.rejected_files.extend(quarantined_videos(runs))
        started = time.perf_counter()
        refs = self.plan.refs("behaviour_codes") + lake_refs(
            self.lake_uri, lake.behaviour_codes_dir(self.plan.batch_id, self.lake_uri))
        codes = read_parquet_part(BEHAVIOUR_CODES, refs)
        self._add_unlisted(codes)
        rules.check_codes(codes, self.lookups, runs.good)
        codes.seconds = time.perf_counter() - started
        self._commit([runs, codes])

    def _small_log(self) -> bool:
        """Whether the batch's activity log is small enough to load event by event."""
        return self.plan.rows.get(ACTIVITY_EVENTS.name, 0) <= self.event_rows_limit

    def _events(self) -> None:
        """Raw activity events for small volumes (repeats are expected: staging keeps the first by ts);
        otherwise only the lines the Spark job quarantined, so the report still shows them."""
        started = time.perf_counter()
        if self._small_log():
            part = self._read_text(ACTIVITY_EVENTS)
        else:
            LOG.info("%s: %s activity-log lines > %s: events left to the Spark job", self.plan.batch_id,
                     self.plan.rows.get(ACTIVITY_EVENTS.name), self.event_rows_limit)
            part = activity.spark_rejects(self.plan.batch_id, self.lake_uri)
        part.seconds = time.perf_counter() - started
        self._commit([part])

    def _activity(self) -> None:
        """The Spark job's facts: the days its run for this batch rewrote, dataset by dataset."""
        run = activity.read_run(self.plan.batch_id, self.lake_uri)
        if run is None:
            LOG.info("%s: no Spark run file in the lake: no activity facts to load", self.plan.batch_id)
            return
        for dataset in activity.registered():
            if dataset.dataset in activity.EVENT_LEVEL and not self._small_log():
                continue
            part, partitions = activity.read_dataset(dataset, run, self.lake_uri)
            self._commit([part], partitions)

    def _marker_problems(self) -> None:
        """Marker entries naming no contract: recorded as rejected files, replaced on rerun."""
        if not self.plan.unknown:
            return
        with self.conn.transaction():
            names = sorted({f.contract for f in self.plan.unknown})
            self.conn.execute("delete from quarantine.rejected_files where batch_id = %s and contract = any(%s)",
                              (self.plan.batch_id, names))
            store.insert_rejected_files(self.conn, self.plan.batch_id, self.plan.unknown)
        self.report.rejected_files.extend(self.plan.unknown)

    # helpers -------------------------------------------------------------------------

    def _read_text(self, contract: Contract) -> Part:
        part = read_text_part(contract, self.plan.refs(contract.name))
        self._add_unlisted(part)
        return part

    def _add_unlisted(self, part: Part) -> None:
        for rejected in self.plan.unlisted_for(part.contract.name):
            part.reject_file(rejected.source_file, rejected.reason)

    def _checked(self, contract: Contract, read: Callable[[], Part]) -> Part:
        started = time.perf_counter()
        part = read()
        rules.check(part, self.lookups)
        part.seconds = time.perf_counter() - started
        return part

    def _commit(self, parts: list[Part], partitions: store.Partitions | None = None) -> list[TableLoad]:
        results = store.commit(self.conn, self.plan.batch_id, self.report.load_id or 0, parts, self.method,
                               partitions)
        for part, result in zip(parts, results, strict=True):
            if part.files or result.rows_loaded or result.rows_rejected:
                self.report.tables.append(result)
            self.report.rejected_files.extend(part.rejected_files)
            LOG.info("%s %s: %s rows loaded, %s quarantined, %s file(s) rejected", self.plan.batch_id,
                     result.contract, result.rows_loaded, result.rows_rejected, result.files_rejected)
        return results

    def _start(self) -> int:
        row = self.conn.execute("insert into ops.loads (batch_id, batch_uri, status) values (%s, %s, 'running') "
                                "returning load_id", (self.plan.batch_id, self.plan.uri)).fetchone()
        assert row is not None
        return int(row[0])

    def _finish(self, seconds: float) -> None:
        r = self.report
        r.seconds = seconds
        if self.conn.closed or self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return  # the connection is gone or broken: the attempt stays 'running', which never counts as loaded
        self.conn.execute(
            "update ops.loads set status = %s, finished_at = now(), rows_loaded = %s, rows_rejected = %s, "
            "files_rejected = %s, seconds = %s, error = %s where load_id = %s",
            (r.status, r.rows_loaded, r.rows_rejected, len(r.rejected_files), seconds, r.error, r.load_id))


def lake_refs(lake_root: str, folder: str) -> list[FileRef]:
    """The Parquet files in a lake folder, named ``lake:<path below the lake root>``."""
    return activity.parquet_refs(lake_root, folder)


def quarantined_videos(runs: Part) -> list[RejectedFile]:
    """Videos inference could not code (lesson runs with status ``quarantined``), as rejected files."""
    table = runs.good
    if not table.num_rows:
        return []
    rows = table.filter(pc.equal(table["status"], "quarantined"))
    return [RejectedFile("lesson_runs", r["video_uri"], f"video quarantined by inference ({r['model_name']} "
                         f"{r['model_version']}): {r['reason'] or 'no reason given'}") for r in rows.to_pylist()]
