"""The nightly run's steps: batch → behaviour codes → activity facts → raw → gate → dbt → gate → publish.

Each function is one task of ``dags/nightly_portraits.py`` and returns a small JSON-able dict (the task's XCom).
Every one is idempotent: inference rewrites each lesson's files atomically, Spark rewrites whole day partitions,
the loader replaces the batch, gates record a new run with the same verdict, dbt rebuilds into the unpublished
schemas, and publishing the same checked build twice publishes the same marts (same manifest checksums).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from typing import Any

from jiaoyan import log
from jiaoyan.errors import UserError
from jiaoyan.pipeline.settings import get_pipeline_settings
from jiaoyan.settings import get_settings

LOG = log.get(__name__)


class StepFailed(RuntimeError):
    """A step found something that must stop the night (a failed load, a dbt failure)."""


def batch_location(batch_date: dt.date | str, landing_uri: str | None = None) -> tuple[str, str]:
    """(batch id, batch folder URI) of a night."""
    from jiaoyan import landing  # the DAG files import this module: keep their parse fast (no pyarrow)

    day = dt.date.fromisoformat(batch_date) if isinstance(batch_date, str) else batch_date
    return day.isoformat(), landing.batch_uri(landing_uri or get_settings().landing_uri, day)


def batch_ready(batch_date: dt.date | str, landing_uri: str | None = None) -> bool:
    """The night's batch is complete: its marker ``_batch.json`` is there (producers write it last)."""
    from jiaoyan import landing
    from jiaoyan.contracts.batch import BATCH_MARKER

    _, uri = batch_location(batch_date, landing_uri)
    fs, path = landing.filesystem(landing.join(uri, BATCH_MARKER))
    return fs.exists(path)


def register(batch_date: dt.date | str, landing_uri: str | None = None) -> dict[str, Any]:
    """Read and check the batch marker and list what the batch brings; refuses an incomplete batch."""
    from jiaoyan.load.plan import plan_batch

    batch_id, uri = batch_location(batch_date, landing_uri)
    plan = plan_batch(uri, batch_id)  # UserError on a missing or malformed marker, or files it does not list
    info = {"batch_id": plan.batch_id, "batch_uri": uri, "files": sum(map(len, plan.files.values())),
            "sources": sorted(plan.files), "rows_announced": sum(plan.rows.values()),
            "unlisted_files": [f.source_file for f in plan.unlisted]}
    LOG.info("batch %s: %d file(s) of %d source(s) from %s", batch_id, info["files"], len(plan.files), uri)
    return info


def plan_inference(batch_uri: str, lessons_per_chunk: int | None = None) -> list[list[str]]:
    """Chunks of the batch's lesson videos, one mapped inference task each (empty: nothing to code tonight)."""
    from ray_inference.pipeline import plan_chunks

    size = lessons_per_chunk or get_pipeline_settings().lessons_per_chunk
    chunks = plan_chunks(batch_uri, size)
    LOG.info("%s: %d video lesson(s) in %d chunk(s)", batch_uri, sum(map(len, chunks)), len(chunks))
    return chunks


def code_lessons(batch_uri: str, batch_id: str, lesson_ids: Sequence[str], lake_uri: str | None = None,
                 model_alias: str | None = None, model_uri: str | None = None) -> dict[str, Any]:
    """Code one chunk of lessons on Ray. A bad video is quarantined in the output, never an error here."""
    from ray_inference.pipeline import infer_chunk
    from ray_inference.settings import InferenceSettings

    overrides = {k: v for k, v in (("model_alias", model_alias), ("model_uri", model_uri)) if v}
    summary = infer_chunk(batch_uri, list(lesson_ids), lake_uri=lake_uri, batch_id=batch_id,
                          settings=InferenceSettings(**overrides))
    LOG.info("batch %s: %d lesson(s) coded, %d quarantined, %d points (model %s v%s)", batch_id, summary["coded"],
             summary["quarantined"], summary["points"], summary["model_name"], summary["model_version"])
    return summary


def collect_codes(summaries: Iterable[dict[str, Any] | None]) -> dict[str, Any]:
    """The night's inference in one line: lessons coded and quarantined (with reasons), points, models."""
    done = [s for s in summaries if s]
    quarantined = {k: v for s in done for k, v in (s.get("quarantine_reasons") or {}).items()}
    total = {"chunks": len(done), "lessons": sum(s["lessons"] for s in done), "coded": sum(s["coded"] for s in done),
             "quarantined": sum(s["quarantined"] for s in done), "points": sum(s["points"] for s in done),
             "models": sorted({f"{s['model_name']}@{s['model_version']}" for s in done}),
             "quarantine_reasons": quarantined}
    for lesson, reason in sorted(quarantined.items()):
        LOG.warning("lesson %s quarantined: %s", lesson, reason)
    return total


def process_activity(batch_date: dt.date | str, landing_uri: str | None = None,
                     lake_uri: str | None = None) -> dict[str, Any]:
    """The Spark activity job for the night (a local session, or the cluster ``JIAOYAN_SPARK_MASTER`` names)."""
    from spark_jobs.activity.job import run_batch
    from spark_jobs.session import build_session

    batch_id, _ = batch_location(batch_date)
    spark = build_session()
    try:
        report = run_batch(spark, dt.date.fromisoformat(batch_id), landing_uri, lake_uri)
    finally:
        spark.stop()
    result = {"batch_id": batch_id, "valid": report.valid, "new_events": report.new_events,
              "duplicates": report.duplicates, "changed_days": len(report.partitions.get("activity_events_clean", [])),
              "seconds": report.seconds}
    LOG.info("batch %s: activity %s", batch_id, result)
    return result


def load(batch_uri: str, batch_id: str, lake_uri: str | None = None, refresh_statistics: bool = True) -> dict[str, Any]:
    """Bulk-load the batch (replacing any earlier load of it); bad rows go to quarantine, not to an error."""
    from jiaoyan.load import load_batch

    report = load_batch(batch_uri, batch_id=batch_id, lake_uri=lake_uri, refresh_statistics=refresh_statistics)
    LOG.info("%s", report.render())
    if report.status != "succeeded":
        raise StepFailed(f"batch {batch_id}: load {report.status}: {report.error}")
    return {"batch_id": batch_id, "rows_loaded": report.rows_loaded, "rows_quarantined": report.rows_rejected,
            "files_rejected": len(report.rejected_files), "seconds": round(report.seconds, 1),
            "gold_rows": sum(t.rows_loaded for t in report.tables if t.contract == "gold_codes")}


def gate_raw(batch_id: str) -> dict[str, Any]:
    """The raw gate; a blocking failure raises ``GateFailed`` (so nothing downstream runs)."""
    from expectations import gates

    verdict = gates.run_raw_gate(batch_id)
    LOG.info("%s", verdict.render())
    verdict.raise_for_status()
    return _verdict(verdict)


def build_marts(batch_id: str) -> dict[str, Any]:
    """One ``dbt build`` of the whole project into the unpublished schemas (``*_next``)."""
    from expectations.gates import DBT_BUILD_ARGS
    from jiaoyan import dbt_runner

    result = dbt_runner.run(["build", *DBT_BUILD_ARGS], subprocess=True)
    if not result.success:
        raise StepFailed(f"batch {batch_id}: dbt build failed (exit {result.exit_code}); the marts stay as published")
    return {"batch_id": batch_id, "seconds": round(result.seconds, 1)}


def gate_marts(batch_id: str) -> dict[str, Any]:
    """The marts gate on the unpublished build; a blocking failure raises and nothing is published."""
    from expectations import gates

    verdict = gates.run_marts_gate(batch_id, publish=False)
    LOG.info("%s", verdict.render())
    verdict.raise_for_status()
    return _verdict(verdict)


def publish(batch_id: str) -> dict[str, Any]:
    """Swap the checked build in and record the publication's manifest (row counts and checksums per mart)."""
    from expectations import gates
    from jiaoyan.pipeline import publication

    started = time.perf_counter()
    publication_id = gates.publish_marts(batch_id)  # refuses unless this batch's gates passed
    marts = publication.record(publication_id)
    LOG.info("batch %s: published as publication %d (%d marts, %s rows)", batch_id, publication_id, len(marts),
             f"{sum(m.row_count for m in marts):,}")
    return {"batch_id": batch_id, "publication_id": publication_id, "marts": len(marts),
            "rows": sum(m.row_count for m in marts), "seconds": round(time.perf_counter() - started, 1)}


def _verdict(verdict: Any) -> dict[str, Any]:
    return {"batch_id": verdict.batch_id, "status": verdict.status, "run_id": verdict.run_id,
            "warnings": [f"{f.suite} · {f.check}" for f in verdict.failed_warning],
            "data_docs": str(verdict.data_docs) if verdict.data_docs else None}


def run_night(batch_date: dt.date | str, landing_uri: str | None = None, lake_uri: str | None = None) -> dict:
    """Every step in order, without Airflow (``jiaoyan pipeline night``): what the DAG does, sequentially."""
    from jiaoyan import lake

    info = register(batch_date, landing_uri)
    batch_id, uri = info["batch_id"], info["batch_uri"]
    lake_uri = lake.root(lake_uri)
    codes = collect_codes(code_lessons(uri, batch_id, chunk, lake_uri) for chunk in plan_inference(uri))
    steps = {"register": info, "inference": codes,
             "activity": process_activity(batch_id, landing_uri, lake_uri),
             "load": load(uri, batch_id, lake_uri), "gate_raw": gate_raw(batch_id),
             "dbt_build": build_marts(batch_id), "gate_marts": gate_marts(batch_id), "publish": publish(batch_id)}
    return steps


def require_batch(batch_date: str) -> dt.date:
    try:
        return dt.date.fromisoformat(batch_date)
    except ValueError:
        raise UserError(f"not a batch date: {batch_date!r} (expected YYYY-MM-DD)") from None
