"""The DAG files: every one imports cleanly and quickly, and has what operations rely on (owners, tags, docs,
retries, pools, the nightly deadline, the assets consumers attach to)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jiaoyan.pipeline import airflow_env, dag_support
from jiaoyan.pipeline.settings import PipelineSettings

ROOT = Path(__file__).resolve().parents[2]
DAG_IDS = {"nightly_portraits", "retrain_behaviour_model", "reprocess_lessons", "annual_report"}

# Parsed in a fresh interpreter with the project-local Airflow settings, as the DAG processor would: Airflow reads
# its configuration once, at first import, so this process's tests must not decide it.
PROBE = textwrap.dedent("""
    import json, time
    import airflow.sdk  # the processor has Airflow loaded before it parses files
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag()
    report = {"errors": {k: str(v) for k, v in bag.import_errors.items()},
              "seconds": {s.file: s.duration.total_seconds() for s in bag.dagbag_stats}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        tasks = dag.tasks
        report["dags"][dag_id] = {
            "tags": sorted(dag.tags), "doc": bool(dag.doc_md), "owners": sorted({t.owner for t in tasks}),
            "retries": {t.task_id: t.retries for t in tasks}, "pools": {t.task_id: t.pool for t in tasks},
            "deadline": bool(dag.deadline), "params": sorted(dag.params.keys()),
            "outlets": {t.task_id: [a.uri for a in t.outlets] for t in tasks if t.outlets},
            "max_active_runs": dag.max_active_runs, "catchup": dag.catchup,
            "undocumented": sorted(t.task_id for t in tasks if not (t.doc_md or t.doc or getattr(
                getattr(t, "python_callable", None), "__doc__", None))),
        }
    print("REPORT" + json.dumps(report))
""")


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import json

    env = {**os.environ, **airflow_env.environment(tmp_path_factory.mktemp("airflow"))}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    line = next((x for x in out.stdout.splitlines() if x.startswith("REPORT")), None)
    assert line, out.stderr[-3000:]
    return json.loads(line[len("REPORT"):])


def test_every_dag_imports_without_errors(bag: dict) -> None:
    assert bag["errors"] == {}
    assert set(bag["dags"]) == DAG_IDS


def test_every_dag_file_parses_within_a_second(bag: dict) -> None:
    assert bag["seconds"] and max(bag["seconds"].values()) < 1.0, bag["seconds"]


def test_owners_tags_docs_and_retries(bag: dict) -> None:
    for dag_id, d in bag["dags"].items():
        assert d["owners"] == [PipelineSettings().owner], dag_id
        assert "jiaoyan" in d["tags"] and len(d["tags"]) >= 2, dag_id
        assert d["doc"], f"{dag_id} has no doc_md"
        assert d["undocumented"] == [], f"{dag_id}: tasks without a docstring"
        assert d["max_active_runs"] == 1, dag_id


def test_retries_where_they_help_and_none_where_they_cannot(bag: dict) -> None:
    nightly = bag["dags"]["nightly_portraits"]["retries"]
    # a verdict is the same on a retry; I/O, Ray and locks may pass the second time
    assert nightly["gate_raw"] == nightly["gate_marts"] == nightly["register"] == 0
    assert nightly["code_lessons"] >= 1 and nightly["load"] >= 1 and nightly["process_activity"] >= 1
    assert bag["dags"]["retrain_behaviour_model"]["retries"]["promote_challenger"] == 0


def test_pools_keep_a_night_from_overloading_ray_and_the_warehouse(bag: dict) -> None:
    s = PipelineSettings()
    pools = bag["dags"]["nightly_portraits"]["pools"]
    assert pools["code_lessons"] == s.ray_pool
    assert {pools[t] for t in ("load", "gate_raw", "dbt_build", "gate_marts", "publish")} == {s.warehouse_pool}


def test_the_nightly_run_has_a_deadline_catches_up_and_announces_its_assets(bag: dict) -> None:
    nightly = bag["dags"]["nightly_portraits"]
    assert nightly["deadline"] and nightly["catchup"]
    assert nightly["outlets"] == {"publish": [dag_support.PUBLISHED_MARTS_URI],
                                  "announce_gold_lessons": [dag_support.GOLD_LESSONS_URI]}
    assert bag["dags"]["annual_report"]["outlets"] == {"export_documents": [dag_support.ANNUAL_REPORT_URI]}


def test_manual_dags_take_their_parameters(bag: dict) -> None:
    assert bag["dags"]["reprocess_lessons"]["params"] == ["end_date", "model", "start_date"]
    assert bag["dags"]["annual_report"]["params"] == ["year"]
    assert bag["dags"]["nightly_portraits"]["params"] == ["batch_date"]


def test_dag_files_hold_no_connection_or_secret() -> None:
    for path in (ROOT / "dags").glob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        for word in ("postgresql://", "password", "secret", "jiaoyan_loader", "127.0.0.1", "localhost"):
            assert word not in text, f"{path.name} mentions {word!r}: settings come from the environment"


@pytest.mark.parametrize(("logical", "requested", "expected"), [
    (dt.datetime(2026, 11, 20, 17, 30, tzinfo=dt.UTC), None, "2026-11-20"),  # 01:30 on the 21st in Beijing
    (dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC), None, "2026-11-19"),  # 23:00 on the 20th in Beijing
    (None, "2026-03-02", "2026-03-02"),
])
def test_the_night_is_the_local_day_before_the_run(logical: dt.datetime | None, requested: str | None,
                                                   expected: str) -> None:
    assert dag_support.batch_date_for(logical, requested, "Asia/Shanghai") == expected


def test_a_run_without_date_or_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_date"):
        dag_support.batch_date_for(None, None)
