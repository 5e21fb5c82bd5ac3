"""``jiaoyan spark activity --batch <date>``: the command the Airflow DAG runs."""

from __future__ import annotations

import datetime as dt

import click

from jiaoyan.errors import UserError


@click.group()
def spark() -> None:
    """Spark jobs (local mode by default; JIAOYAN_SPARK_MASTER or spark-submit for a cluster)."""


@spark.command("activity")
@click.option("--batch", "batch", required=True, help="batch date YYYY-MM-DD (the landing folder's name)")
@click.option("--landing", default=None, help="landing zone (default: JIAOYAN_LANDING_URI)")
@click.option("--lake", default=None, help="lake (default: JIAOYAN_LAKE_URI)")
@click.option("--json", "as_json", is_flag=True, help="print the run file instead of the summary")
def activity(batch: str, landing: str | None, lake: str | None, as_json: bool) -> None:
    """Validate, deduplicate and file a day's activity logs; rebuild the facts of the days that changed."""
    from spark_jobs.activity.job import main

    try:
        batch_date = dt.date.fromisoformat(batch)
    except ValueError as exc:
        raise UserError(f"--batch must be a date YYYY-MM-DD, not {batch!r}") from exc
    for line in main(batch_date, landing, lake, as_json):
        click.echo(line)
