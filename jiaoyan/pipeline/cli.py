"""``jiaoyan pipeline …``: the orchestration from the command line (the DAGs call the same functions)."""

from __future__ import annotations

import datetime as dt
import json

import click

from jiaoyan.errors import UserError


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"not a date: {value!r} (expected YYYY-MM-DD)") from None


@click.group()
def pipeline() -> None:
    """Run the nightly pipeline's steps, a backfill, a DAG, or the whole demo."""


@pipeline.command("airflow-init")
def airflow_init_command() -> None:
    """Prepare the project-local Airflow (metadata database in .data/airflow, pools)."""
    from jiaoyan.pipeline import airflow_env

    click.echo(f"Airflow ready: AIRFLOW_HOME={airflow_env.init()}")


@pipeline.command("backfill")
@click.option("--since", help="first night (default: the first batch)")
@click.option("--until", help="last night (default: the last batch)")
@click.option("--landing", "landing_uri", help="landing zone (default JIAOYAN_LANDING_URI)")
@click.option("--lake", "lake_uri", help="lake (default JIAOYAN_LAKE_URI)")
@click.option("--publish/--no-publish", default=True, show_default=True, help="publish the checked build")
def backfill_command(since: str | None, until: str | None, landing_uri: str | None, lake_uri: str | None,
                     publish: bool) -> None:
    """Load a range of nights in one go: Spark, loads, raw gate, one dbt build, marts gate, one publication."""
    from jiaoyan.pipeline import backfill

    click.echo(backfill.run(landing_uri, lake_uri, since=_date(since), until=_date(until), publish=publish).render())


@pipeline.command("night")
@click.option("--batch", "batch_date", required=True, help="the night (YYYY-MM-DD)")
@click.option("--landing", "landing_uri", help="landing zone (default JIAOYAN_LANDING_URI)")
@click.option("--lake", "lake_uri", help="lake (default JIAOYAN_LAKE_URI)")
def night_command(batch_date: str, landing_uri: str | None, lake_uri: str | None) -> None:
    """Every step of the nightly DAG for one night, in order, without Airflow."""
    from jiaoyan.pipeline import nightly

    steps = nightly.run_night(_date(batch_date) or dt.date.min, landing_uri, lake_uri)
    click.echo(json.dumps(steps, indent=2, default=str, ensure_ascii=False))


@pipeline.command("dag-test")
@click.argument("dag_id", type=click.Choice(["nightly_portraits", "retrain_behaviour_model", "reprocess_lessons",
                                              "annual_report"]))
@click.option("--conf", default="{}", help='the run\'s parameters as JSON, e.g. \'{"batch_date": "2026-11-20"}\'')
def dag_test_command(dag_id: str, conf: str) -> None:
    """Run one DAG for real in this process (``dag.test()``) and print each task's state and time."""
    from jiaoyan.pipeline import airflow_env

    airflow_env.init()
    from jiaoyan.pipeline import dag_runs

    try:
        params = json.loads(conf)
    except json.JSONDecodeError as exc:
        raise UserError(f"--conf is not JSON: {exc}") from None
    outcome = dag_runs.test_run(dag_id, params)
    for task_id, state in outcome.states().items():
        click.echo(f"  {task_id:<28}{state:<18}{outcome.seconds_by_task()[task_id]:>8.1f} s")
    click.echo(f"{dag_id} {outcome.run_id}: {outcome.state}")
    if not outcome.succeeded:
        raise SystemExit(1)


@pipeline.command("demo")
@click.option("--landing", "landing_uri", help="landing zone holding the demo world (default JIAOYAN_LANDING_URI)")
def demo_command(landing_uri: str | None) -> None:
    """The demo world end to end: backfill, a champion model, the nightly DAG for the video nights."""
    from jiaoyan.pipeline import airflow_env

    airflow_env.apply()  # before anything imports Airflow
    from jiaoyan.pipeline import demo

    report = demo.run(landing_uri)
    for stage, seconds in report.stages.items():
        click.echo(f"  {stage:<28}{seconds:>8.1f} s")
    click.echo(demo.where_to_look())


@pipeline.command("where")
def where_command() -> None:
    """Print what the pipeline produced and where to look."""
    from jiaoyan.pipeline import demo

    click.echo(demo.where_to_look())
