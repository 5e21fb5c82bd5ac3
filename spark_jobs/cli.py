"""``jiaoyan spark activity --batch <date>``: the command the Airflow DAG runs."""

from __future__ import annotations

import datetime as dt

import click

from jiaoyan.errors import UserError


@click.group()
def spark() -> None:
    """Spark jobs (local mode by default; JIAOYAN_SPARK_MASTER or spark-submit for a cluster)."""


@spark.command("activity")
@click.option("--batch", "batch", default=None, help="batch date YYYY-MM-DD (the landing folder's name)")
@click.option("--from", "first", default=None, help="backfill: first night YYYY-MM-DD (with --to)")
@click.option("--to", "last", default=None, help="backfill: last night YYYY-MM-DD; every night in between, "
              "in one session and one pass, as if run one by one")
@click.option("--landing", default=None, help="landing zone (default: JIAOYAN_LANDING_URI)")
@click.option("--lake", default=None, help="lake (default: JIAOYAN_LAKE_URI)")
@click.option("--json", "as_json", is_flag=True, help="print the run file (a backfill: the list of them) instead "
              "of the summary")
def activity(batch: str | None, first: str | None, last: str | None, landing: str | None, lake: str | None,
             as_json: bool) -> None:
    """Validate, deduplicate and file a day's activity logs; rebuild the facts of the days that changed.

    With --from/--to, backfill a range of nights (e.g. a new lake from the demo world)."""
    if batch is not None and (first or last):
        raise UserError("give either --batch or --from/--to, not both")
    if batch is not None:
        from spark_jobs.activity.job import main

        lines = main(_date("--batch", batch), landing, lake, as_json)
    elif first and last:
        from spark_jobs.activity.backfill import main as backfill

        lines = backfill(_date("--from", first), _date("--to", last), landing, lake, as_json)
    else:
        raise UserError("give --batch DATE, or --from DATE --to DATE for a backfill")
    for line in lines:
        click.echo(line)


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise UserError(f"{option} must be a date YYYY-MM-DD, not {value!r}") from exc
