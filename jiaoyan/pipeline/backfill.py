"""Backfill: bring a landing zone's history into the warehouse in one go, then publish once.

A first deployment (or ``make demo``) starts with months of nightly batches already waiting. Running the nightly
DAG for each would start Spark, dbt and both gates hundreds of times; the backfill does each step once over the
range — Spark over all nights in one pass, the loader batch by batch (oldest first, each its own transaction),
the raw gate on the last night (its cross-batch checks read every earlier batch), one ``dbt build``, the marts gate
and one publication. Nights after ``until`` are left to the nightly DAG. Idempotent like every step it calls.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from jiaoyan import lake, landing, log
from jiaoyan.errors import UserError
from jiaoyan.pipeline import nightly
from jiaoyan.settings import get_settings

LOG = log.get(__name__)


@dataclass
class BackfillReport:
    first: str
    last: str
    nights: int
    steps: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"backfill {self.first} … {self.last}: {self.nights} night(s)"]
        lines += [f"  {step:<16}{seconds:>8.1f} s  {_short(self.steps.get(step))}"
                  for step, seconds in self.seconds.items()]
        return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, dict):
        keys = [k for k in value if k not in ("batch_id", "data_docs", "seconds")][:5]
        return ", ".join(f"{k}={value[k]}" for k in keys)
    return "" if value is None else str(value)


def nights(landing_uri: str, since: dt.date | None = None, until: dt.date | None = None) -> list[dt.date]:
    return [d for d in landing.list_batches(landing_uri)
            if (since is None or d >= since) and (until is None or d <= until)]


def run(landing_uri: str | None = None, lake_uri: str | None = None, *, since: dt.date | None = None,
        until: dt.date | None = None, publish: bool = True) -> BackfillReport:
    """Spark, load, raw gate, dbt build, marts gate and publication for the nights in [since, until]."""
    landing_uri = landing_uri or get_settings().landing_uri
    lake_uri = lake.root(lake_uri)
    days = nights(landing_uri, since, until)
    if not days:
        raise UserError(f"no complete batch in {landing_uri} between {since or 'the first'} and {until or 'the last'}")
    report = BackfillReport(days[0].isoformat(), days[-1].isoformat(), len(days))
    last = days[-1].isoformat()

    def step(name: str, work: Any) -> Any:
        started = time.perf_counter()
        report.steps[name] = result = work()
        report.seconds[name] = time.perf_counter() - started
        LOG.info("backfill %s: %.1f s", name, report.seconds[name])
        return result

    step("activity", lambda: process_activity_range(days, landing_uri, lake_uri))
    step("load", lambda: load_range(days, landing_uri, lake_uri))
    step("gate_raw", lambda: nightly.gate_raw(last))
    step("dbt_build", lambda: nightly.build_marts(last))
    step("gate_marts", lambda: nightly.gate_marts(last))
    if publish:
        step("publish", lambda: nightly.publish(last))
    return report


def process_activity_range(days: list[dt.date], landing_uri: str, lake_uri: str) -> dict[str, Any]:
    """The Spark activity job over the nights in one pass (``spark_jobs.activity.backfill``): the same lake and
    per-night run files as running them one by one, in a fraction of the time."""
    from spark_jobs.activity.backfill import run_batches
    from spark_jobs.session import build_session

    spark = build_session()
    try:
        reports = run_batches(spark, days, landing_uri, lake_uri)
    finally:
        spark.stop()
    return {"nights": len(reports), "valid": sum(r.valid for r in reports),
            "duplicates": sum(r.duplicates for r in reports)}


def load_range(days: list[dt.date], landing_uri: str, lake_uri: str) -> dict[str, Any]:
    """Each night's batch through the loader, oldest first (a night already loaded is replaced, not doubled)."""
    loaded = quarantined = 0
    for day in days:
        # statistics once, after the last night: the lake datasets' days are rewritten every night, so a
        # per-night refresh would ANALYZE ten tables after each of a year's loads
        result = nightly.load(landing.batch_uri(landing_uri, day), day.isoformat(), lake_uri,
                              refresh_statistics=day == days[-1])
        loaded, quarantined = loaded + result["rows_loaded"], quarantined + result["rows_quarantined"]
    return {"nights": len(days), "rows_loaded": loaded, "rows_quarantined": quarantined}
