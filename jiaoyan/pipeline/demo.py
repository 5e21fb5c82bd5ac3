"""``make demo``: the demo world through the whole pipeline, then where to look.

1. backfill the nights before the first video night (pre-coded lessons, rubric scores, activity logs);
2. make sure a behaviour model is champion in MLflow — trained from the world's gold-coded lessons when there is
   none (the same code path the retraining DAG uses);
3. run the ``nightly_portraits`` DAG for real (``dag.test()``) for each video night: the videos are coded on Ray,
   one of them is corrupt and is quarantined, broken log lines are quarantined, the gates run and the night is
   published;
4. write ``.data/demo/summary.json`` with each stage's time and print where the results are.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from jiaoyan import db, lake, log
from jiaoyan.errors import UserError
from jiaoyan.pipeline import backfill
from jiaoyan.settings import data_dir, get_settings

LOG = log.get(__name__)


@dataclass
class DemoReport:
    landing_uri: str
    lake_uri: str
    stages: dict[str, float] = field(default_factory=dict)
    backfill: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    nights: list[dict[str, Any]] = field(default_factory=list)


def video_nights(landing_uri: str) -> list[dt.date]:
    """Nights whose lessons come as videos (the nightly DAG codes them); the demo world's truth says which."""
    from jiaoyan.demo_world import truth

    try:
        lessons = truth.lessons(landing_uri)
    except FileNotFoundError:
        raise UserError(f"{landing_uri} holds no demo world (no _truth/): run `make demo-data` first") from None
    days = sorted({str(d) for d in lessons.loc[lessons["delivery"] == "video", "lesson_date"]})
    return [dt.date.fromisoformat(d) for d in days]


def published_batches() -> set[str]:
    with db.connect("transformer") as conn:
        return {r[0] for r in conn.execute("select distinct batch_id from ops.publications")}


def ensure_champion(landing_uri: str) -> dict[str, Any]:
    """The registered champion, trained from the landing zone's gold lessons when the registry has none."""
    from behaviour_model.settings import configure
    from mlflow.exceptions import MlflowException

    from mlflow import MlflowClient

    ms = configure()
    try:
        version = MlflowClient().get_model_version_by_alias(ms.model_name, "champion")
        return {"model": ms.model_name, "version": version.version, "trained": False}
    except MlflowException:
        pass
    from behaviour_model.train import train_from_warehouse

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # scikit-learn's OpenMP threads fight Ray and Spark for the cores
    result = train_from_warehouse(landing_uri, settings=ms, log_fn=LOG.info)  # the gold lessons loaded so far
    return {"model": result.model_name, "version": result.version, "trained": True, "champion": result.champion,
            "train_lessons": len(result.train_lessons), "holdout_lessons": len(result.holdout_lessons),
            "holdout": {k: result.holdout.get(k) for k in ("teacher_macro_f1", "teacher_kappa", "share_mae")}}


def run(landing_uri: str | None = None, lake_uri: str | None = None) -> DemoReport:
    from jiaoyan.pipeline import airflow_env, dag_runs

    landing_uri = landing_uri or get_settings().landing_uri
    lake_uri = lake.root(lake_uri)
    report = DemoReport(landing_uri, lake_uri)
    nights = video_nights(landing_uri)
    if not nights:
        raise UserError(f"the demo world in {landing_uri} has no video night for the nightly DAG")
    history_end = nights[0] - dt.timedelta(days=1)

    started = time.perf_counter()
    if history_end.isoformat() in published_batches():
        LOG.info("history up to %s is published already: backfill skipped", history_end)
        report.backfill = {"skipped": True}
    else:
        result = backfill.run(landing_uri, lake_uri, until=history_end)
        LOG.info("%s", result.render())
        report.backfill = {"nights": result.nights, "seconds": result.seconds, "steps": result.steps}
    report.stages["backfill"] = time.perf_counter() - started

    started = time.perf_counter()
    report.model = ensure_champion(landing_uri)
    report.stages["model"] = time.perf_counter() - started

    started = time.perf_counter()
    airflow_env.init()
    report.stages["airflow_init"] = time.perf_counter() - started
    for night in nights:
        started = time.perf_counter()
        outcome = dag_runs.test_run("nightly_portraits", {"batch_date": night.isoformat()})
        seconds = time.perf_counter() - started
        report.nights.append({"batch_id": night.isoformat(), "state": outcome.state, "seconds": seconds,
                              "tasks": outcome.seconds_by_task(), "states": outcome.states()})
        report.stages[f"nightly {night}"] = seconds
        if not outcome.succeeded:
            failed = [t for t, s in outcome.states().items() if s == "failed"]
            raise UserError(f"nightly_portraits for {night} ended {outcome.state} (failed: {', '.join(failed)}); "
                            f"see the task logs under {airflow_env.environment()['AIRFLOW_HOME']}/logs")
    write(report)
    return report


def summary_path() -> Any:
    return data_dir() / "demo" / "summary.json"


def write(report: DemoReport) -> None:
    path = summary_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2, default=str, ensure_ascii=False), encoding="utf-8")


def where_to_look() -> str:
    """What was produced and where: marts, quarantine, Data Docs, MLflow, Airflow, the run summary."""
    from behaviour_model.settings import MlflowSettings

    from expectations import project

    s = get_settings()
    lines = ["", "Jiaoyan demo — where to look", ""]
    with db.connect("transformer") as conn:
        pub = conn.execute("select publication_id, batch_id, published_at from ops.publications "
                           "order by publication_id desc limit 1").fetchone()
        if pub:
            lines.append(f"  published marts     publication {pub[0]} of night {pub[1]} ({pub[2]:%Y-%m-%d %H:%M})")
            for relation, rows in conn.execute(
                    "select relation, row_count from ops.publication_marts where publication_id = %s and relation in "
                    "('mart_teacher_portrait', 'mart_region_portrait', 'mart_annual_report', 'mart_lesson_report', "
                    "'fct_behaviour_points') order by relation", (pub[0],)):
                lines.append(f"      marts.{relation:<28}{rows:>10,} rows")
        quarantined = conn.execute("select count(*) from quarantine.rejected_rows").fetchone()
        lines.append(f"  quarantine          {quarantined[0]:,} rows with file, line and reason: "
                     "`jiaoyan load report --batch <date>`, table quarantine.rejected_rows")
    lines += [
        f"  warehouse           {_safe_url(s.reader_url)} (read-only role; `jiaoyan warehouse env` for the others)",
        f"  Data Docs           {project.data_docs_index()}",
        f"  MLflow              {MlflowSettings().tracking_uri}  (`jiaoyan model list`)",
        f"  Airflow             {data_dir() / 'airflow'} (logs/ per task; `make airflow-ui` for the UI)",
        f"  lake                {s.lake_uri}",
        f"  run summary         {summary_path()}",
    ]
    return "\n".join(lines)


def _safe_url(url: str | None) -> str:
    if not url:
        return "(not configured)"
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"postgresql://{parts.username}@{parts.hostname}:{parts.port}{parts.path}"
