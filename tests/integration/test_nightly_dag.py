"""``nightly_portraits`` end to end with ``dag.test()``: real Airflow (SQLite metadata), Ray, Spark, PostgreSQL, dbt,
Great Expectations and MLflow, on a four-night demo world whose last night brings three lesson videos (one corrupt)
and broken log lines.

The history (nights 1–3) is backfilled and a first model trained from the world's gold lessons; then the DAG runs
the video night three times: a normal night publishes with the bad items quarantined; a rerun publishes marts
identical to the first (checksums); with an earlier night held by its raw gate, the night fails before publishing.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SEED, END, DAYS = 3, dt.date(2026, 11, 20), 4  # seed 3: the last night has broken log lines
NIGHT = END.isoformat()
HISTORY_END = END - dt.timedelta(days=1)


@dataclass
class World:
    urls: dict[str, str]
    landing: Path
    lake: Path


@pytest.fixture(scope="module")
def world(sibling_database: Callable, set_env: Callable, airflow_home: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from jiaoyan.demo_world import scales
    from jiaoyan.demo_world import world as demo
    from jiaoyan.pipeline import backfill

    with sibling_database(f"jiaoyan_test_dag_{os.getpid()}") as urls:
        root = tmp_path_factory.mktemp("dag")
        saved = set_env({
            "JIAOYAN_WAREHOUSE_URL": urls["owner"], "JIAOYAN_LOADER_URL": urls["loader"],
            "JIAOYAN_TRANSFORMER_URL": urls["transformer"], "JIAOYAN_READER_URL": urls["reader"],
            "JIAOYAN_LANDING_URI": str(root / "landing"), "JIAOYAN_LAKE_URI": str(root / "lake"),
            "JIAOYAN_GATE_PROJECT_DIR": str(root / "gx"), "JIAOYAN_GATE_DATA_DOCS": "false",
            "JIAOYAN_MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "JIAOYAN_MLFLOW_ARTIFACT_LOCATION": (root / "artifacts").as_uri(),
            "JIAOYAN_PIPELINE_LESSONS_PER_CHUNK": "2",  # three videos → two mapped inference tasks
            "JIAOYAN_SPARK_SHUFFLE_PARTITIONS": "2", "OMP_NUM_THREADS": "1",
            # the gates export their URLs into these; a value left by another module would point at its database
            "JIAOYAN_GATE_RAW_URL": None, "JIAOYAN_GATE_MARTS_URL": None,
        })
        try:
            knobs = scales.knobs("demo", SEED, end=END, days=DAYS, events_per_day=300, video_days=1,
                                 lessons_per_night=3, gold_lessons=4, workers=1, defects=True)
            demo.generate(knobs, str(root / "landing"))
            backfill.run(until=HISTORY_END)
            _train_first_model(root)
            yield World(urls, root / "landing", root / "lake")
        finally:
            set_env(saved)


def _train_first_model(root: Path) -> None:
    """A small champion from the world's gold lessons (these tests check the orchestration, not accuracy)."""
    from behaviour_model.dataset import from_landing
    from behaviour_model.train import train

    result = train(from_landing(str(root / "landing")), params={"max_iter": 20, "random_state": 0}, holdout=0.0,
                   workers=1, cache_dir=str(root / "features"))
    assert result.champion


def scalar(query: str, *args: object) -> object:
    from jiaoyan import db

    with db.connect("owner") as conn:
        return conn.execute(query, args).fetchone()[0]


def rows(query: str, *args: object) -> list[tuple]:
    from jiaoyan import db

    with db.connect("owner") as conn:
        return conn.execute(query, args).fetchall()


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def manifest(publication_id: int) -> dict[str, tuple[int, str]]:
    from jiaoyan import db
    from jiaoyan.pipeline import publication

    with db.connect("transformer") as conn:
        return publication.read(conn, publication_id)


@pytest.fixture(scope="module")
def first_run(world: World) -> object:
    from jiaoyan.pipeline import dag_runs

    return dag_runs.test_run("nightly_portraits", {"batch_date": NIGHT})


def test_a_night_with_a_corrupt_video_and_broken_lines_publishes_with_them_quarantined(world: World,
                                                                                     first_run: object) -> None:
    outcome = first_run
    assert outcome.succeeded, outcome.states()
    states = outcome.states()
    assert {s for t, s in states.items() if t != "announce_gold_lessons"} == {"success"}, states
    assert len([t for t in outcome.tasks if t.task_id == "code_lessons"]) == 2  # fanned out by dynamic mapping
    runs = rows("select lesson_id, status from raw.lesson_runs where _batch_id = %s", NIGHT)
    assert sorted(status for _, status in runs) == ["coded", "coded", "quarantined"], runs
    # the night's quarantine is exactly what the generator broke: score defects and broken log lines, by file and line
    truth = world.landing / "_truth"
    expected = {(d["source"], d["file"], int(d["line"])) for d in _csv(truth / "defects.csv") if d["batch"] == NIGHT}
    expected |= {("activity_events", b["file"].split("/", 1)[1], int(b["line"]))
                 for b in _csv(truth / "activity_defects.csv") if b["kind"] == "broken" and b["arrival_date"] == NIGHT}
    quarantined = rows("select contract, source_file, line from quarantine.rejected_rows where batch_id = %s", NIGHT)
    assert expected and set(quarantined) == expected, quarantined
    publication_id = scalar("select max(publication_id) from ops.publications where batch_id = %s", NIGHT)
    published = manifest(publication_id)
    assert published["mart_teacher_portrait"][0] > 0 and published["fct_behaviour_points"][0] > 0
    coded = scalar("select count(distinct lesson_id) from marts.fct_lesson_runs where batch_id = %s", NIGHT)
    assert coded == 2


def test_rerunning_the_night_leaves_every_mart_identical(first_run: object) -> None:
    from jiaoyan.pipeline import dag_runs

    before = scalar("select max(publication_id) from ops.publications where batch_id = %s", NIGHT)
    outcome = dag_runs.test_run("nightly_portraits", {"batch_date": NIGHT})
    assert outcome.succeeded, outcome.states()
    after = scalar("select max(publication_id) from ops.publications where batch_id = %s", NIGHT)
    assert after > before
    assert manifest(after) == manifest(before)


def test_a_blocking_gate_failure_publishes_nothing(first_run: object) -> None:
    """Hold the night before (shares that do not sum to 1, found by its raw gate): tonight cannot go on."""
    from expectations import gates
    from jiaoyan import db
    from jiaoyan.pipeline import dag_runs

    held = HISTORY_END.isoformat()
    with db.connect("owner") as conn:
        conn.execute("update raw.behaviour_codes set share_listening = share_listening + 0.5 "
                     "where _batch_id = %s and point_index = 1", (held,))
    assert gates.run_raw_gate(held).failed("shares.sum_to_one")
    publications = scalar("select count(*) from ops.publications")
    outcome = dag_runs.test_run("nightly_portraits", {"batch_date": NIGHT})
    states = outcome.states()
    assert outcome.state == "failed"
    assert states["gate_raw"] == "failed"
    assert {states[t] for t in ("dbt_build", "gate_marts", "publish")} == {"upstream_failed"}
    assert scalar("select count(*) from ops.publications") == publications
