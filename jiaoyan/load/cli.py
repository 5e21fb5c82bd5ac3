"""``jiaoyan load batch|all|report``: bulk-load nightly batches into the raw tables."""

from __future__ import annotations

import time

import click

from jiaoyan import landing
from jiaoyan.contracts.batch import BATCH_MARKER
from jiaoyan.errors import UserError
from jiaoyan.settings import get_settings

METHODS = click.Choice(["binary", "rows", "csv"])
EVENTS_HELP = "load raw activity events only when a batch's log has at most this many lines (0: never)"


@click.group()
def load() -> None:
    """Bulk-load nightly batches into the raw tables (COPY), quarantining what breaks the contracts."""


def resolve_batch(uri: str, batch_id: str | None) -> tuple[str, str | None]:
    """(batch folder, batch id override): a batch folder, or a landing zone plus --batch-id."""
    fs, path = landing.filesystem(uri)
    if fs.exists(f"{path.rstrip('/')}/{BATCH_MARKER}"):
        return uri, batch_id
    if batch_id is None:
        if not fs.exists(path):
            raise UserError(f"{uri}: no such folder")
        raise UserError(f"{uri}: no {BATCH_MARKER} here; give a batch folder, or a landing zone with "
                        "--batch-id YYYY-MM-DD (an incomplete batch is refused)")
    return landing.join(uri, batch_id), None


@load.command("batch")
@click.argument("uri")
@click.option("--batch-id", default=None, help="batch to load from a landing zone, or the id to tag a folder's rows")
@click.option("--lake", "lake_uri", default=None, help="lake with inference and Spark outputs (JIAOYAN_LAKE_URI)")
@click.option("--method", type=METHODS, default="binary", show_default=True, help="COPY encoding")
@click.option("--event-rows-limit", type=int, default=200_000, show_default=True, help=EVENTS_HELP)
def batch_command(uri: str, batch_id: str | None, lake_uri: str | None, method: str, event_rows_limit: int) -> None:
    """Load one batch: URI is its folder, or a landing zone with --batch-id."""
    from jiaoyan.load.runner import load_batch

    folder, override = resolve_batch(uri, batch_id)
    report = load_batch(folder, batch_id=override, lake_uri=lake_uri, method=method,  # type: ignore[arg-type]
                        event_rows_limit=event_rows_limit)
    click.echo(report.render())


@load.command("all")
@click.option("--landing", "landing_uri", default=None, help="landing zone (default JIAOYAN_LANDING_URI)")
@click.option("--lake", "lake_uri", default=None, help="lake with inference and Spark outputs (JIAOYAN_LAKE_URI)")
@click.option("--method", type=METHODS, default="binary", show_default=True, help="COPY encoding")
@click.option("--event-rows-limit", type=int, default=200_000, show_default=True, help=EVENTS_HELP)
@click.option("--verbose", "-v", is_flag=True, help="print each batch's full report")
def all_command(landing_uri: str | None, lake_uri: str | None, method: str, event_rows_limit: int,
                verbose: bool) -> None:
    """Load every complete batch not loaded yet, oldest first (stops at the first failure)."""
    from jiaoyan.load.report import BatchLoad
    from jiaoyan.load.runner import load_all

    landing_uri = landing_uri or get_settings().landing_uri
    waiting = sorted(set(landing.list_batches(landing_uri, complete_only=False)) -
                     set(landing.list_batches(landing_uri)))
    started = time.perf_counter()

    def show(report: BatchLoad) -> None:
        click.echo(report.render() if verbose else report.summary())

    reports = load_all(landing_uri, lake_uri=lake_uri, method=method,  # type: ignore[arg-type]
                       event_rows_limit=event_rows_limit, on_loaded=show)
    for day in waiting:
        click.echo(f"batch {day.isoformat()}: waiting (no {BATCH_MARKER} yet)")
    seconds = time.perf_counter() - started
    rows = sum(r.rows_loaded + r.rows_rejected for r in reports)
    click.echo(f"loaded {len(reports)} batch(es): {sum(r.rows_loaded for r in reports):,} rows, "
               f"{sum(r.rows_rejected for r in reports):,} quarantined, "
               f"{sum(len(r.rejected_files) for r in reports)} file(s) rejected in {seconds:.1f} s "
               f"({rows / seconds if seconds else 0:,.0f} rows/s)")


@load.command("report")
@click.argument("batch_id")
def report_command(batch_id: str) -> None:
    """Print the report of a batch's latest load, from the warehouse."""
    from jiaoyan import db
    from jiaoyan.load.report import from_warehouse

    with db.connect("loader") as conn:
        report = from_warehouse(conn, batch_id)
    if report is None:
        raise UserError(f"batch {batch_id} has never been loaded")
    click.echo(report.render())
