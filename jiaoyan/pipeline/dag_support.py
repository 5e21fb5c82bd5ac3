"""What every Jiaoyan DAG shares: assets, default arguments, alerts and how a night's batch date is chosen.

Kept out of ``dags/`` so the DAG files stay declarations and this logic has unit tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jiaoyan import log
from jiaoyan.pipeline.settings import PipelineSettings, get_pipeline_settings
from jiaoyan.settings import get_settings

LOG = log.get(__name__)

# Assets: consumers (the Superset refresh, report rendering, retraining) attach to these, not to the DAGs.
PUBLISHED_MARTS_URI = "jiaoyan://warehouse/marts"
GOLD_LESSONS_URI = "jiaoyan://warehouse/raw/gold_codes"
BEHAVIOUR_MODEL_URI = "jiaoyan://mlflow/behaviour-model/champion"
ANNUAL_REPORT_URI = "jiaoyan://reports/annual"


def assets() -> dict[str, Any]:
    from airflow.sdk import Asset

    return {
        "published_marts": Asset(name="jiaoyan_published_marts", uri=PUBLISHED_MARTS_URI),
        "gold_lessons": Asset(name="jiaoyan_gold_lessons", uri=GOLD_LESSONS_URI),
        "behaviour_model": Asset(name="jiaoyan_behaviour_model_champion", uri=BEHAVIOUR_MODEL_URI),
        "annual_report": Asset(name="jiaoyan_annual_report", uri=ANNUAL_REPORT_URI),
    }


def default_args(settings: PipelineSettings | None = None) -> dict[str, Any]:
    """Retries with exponential back-off by default; steps that a retry cannot help set ``retries=0``."""
    s = settings or get_pipeline_settings()
    args: dict[str, Any] = {
        "owner": s.owner,
        "retries": s.retries,
        "retry_delay": dt.timedelta(seconds=s.retry_delay_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=30),
        "on_failure_callback": task_failed,
    }
    if s.alert_email:
        args |= {"email": [s.alert_email], "email_on_failure": True, "email_on_retry": False}
    return args


def no_retry() -> dict[str, Any]:
    """For steps whose failure is a verdict (a gate, a refused promotion): rerunning gives the same answer."""
    return {"retries": 0}


def task_failed(context: dict[str, Any]) -> None:
    """Failure callback: one line naming the DAG run, the task and why (the log and the email carry it)."""
    ti = context.get("task_instance") or context.get("ti")
    error = context.get("exception")
    LOG.error("FAILED %s / %s (try %s): %s", getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"),
              getattr(ti, "try_number", "?"), error)


async def nightly_deadline_missed(context: dict[str, Any], **_: Any) -> None:
    """Deadline callback (run by the triggerer): the night is late, so the morning's portraits will be too."""
    run = context.get("dag_run")
    LOG.error("DEADLINE MISSED: %s is still running; portraits and dashboards show the previous night",
              getattr(run, "run_id", run))


def nightly_deadline(settings: PipelineSettings | None = None) -> Any:
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    s = settings or get_pipeline_settings()
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                         interval=dt.timedelta(hours=s.nightly_deadline_hours),
                         callback=AsyncCallback(nightly_deadline_missed), name="nightly_portraits_late")


def batch_date_for(logical_date: dt.datetime | None, requested: str | None = None,
                   timezone: str | None = None) -> str:
    """The night's batch: the one asked for in the run's parameters, else the local day before the run."""
    if requested:
        return dt.date.fromisoformat(str(requested)).isoformat()
    if logical_date is None:
        raise ValueError("a run without a logical date needs the batch_date parameter")
    from zoneinfo import ZoneInfo

    local = logical_date.astimezone(ZoneInfo(timezone or get_settings().timezone))
    return (local.date() - dt.timedelta(days=1)).isoformat()


def cron(expression: str, settings_timezone: str | None = None) -> Any:
    """A cron schedule in the platform's time zone (nights are Beijing nights)."""
    from airflow.sdk import CronTriggerTimetable

    return CronTriggerTimetable(expression, timezone=settings_timezone or get_settings().timezone)
