"""Quality gates: the cost of both gates on a region-scale night against that night's dbt build, same run.

A fresh, migrated ``jiaoyan_bench_gates`` database gets the region scale's world for one night (reference
data for 30,000 teachers, the night's ~580 lessons, scores, a small activity log: ``jiaoyan demo-data
--scale region --days 1``), then two more nights of ``GATES_BENCH_LESSONS`` (default 2,000) pre-coded
45-minute lessons each from the generator's region helpers (``jiaoyan.demo_world.bench.lessons_night``,
≈ 450 points a lesson). Every night goes through the pipeline as the DAG runs it: load → raw gate →
``dbt build`` into the ``_next`` schemas → marts gate → publication. The figures are those of the last
night, the steady state: its build catches up two nights of incremental work in the schemas it builds
into (they were published the night before last), which is what publication by swap costs.

Figures: raw gate + marts gate (Data Docs included) against the ``dbt build`` (data tests included) of the
same night, target ≤ 0.2; each gate alone; Great Expectations' import in a fresh process (paid once per
process, not per gate).

Run: ``python tests/benchmarks/run.py gates`` (``GATES_BENCH_LESSONS`` changes the night's size).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from run import Report  # tests/benchmarks/run.py loads this module beside it

LESSONS = int(os.environ.get("GATES_BENCH_LESSONS", "2000"))
DATABASE = "jiaoyan_bench_gates"
SEED = 1
FIRST = dt.date(2026, 11, 17)  # a Tuesday; the two bench nights follow
URL_VARIABLES = {"owner": "JIAOYAN_WAREHOUSE_URL", "loader": "JIAOYAN_LOADER_URL",
                 "transformer": "JIAOYAN_TRANSFORMER_URL", "reader": "JIAOYAN_READER_URL"}
ROOT = Path(__file__).resolve().parents[2]


def run(report: Report) -> None:
    urls = _fresh_database()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        work = Path(tmp)
        os.environ["JIAOYAN_GATE_PROJECT_DIR"] = str(ROOT / ".data" / "bench" / "gates-gx")
        _reset()
        landing, lake = work / "landing", work / "lake"
        _first_night(landing)
        nights = [FIRST, FIRST + dt.timedelta(days=1), FIRST + dt.timedelta(days=2)]
        _lessons_night(landing, nights[1])
        _lessons_night(landing, nights[2])
        timings = [_night(urls, landing, lake, work, night.isoformat()) for night in nights]
    last = timings[-1]
    gates = last["raw"] + last["marts"]
    load = f"; 1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    size = f"{LESSONS:,} lessons, {last['points']:,} behaviour points"
    report.figure(f"raw + marts gate vs that night's dbt build, region night of {size}", gates, "s",
                  baseline=last["dbt"], target="<= 0.2",
                  note=f"baseline: `jiaoyan dbt build --vars '{{build_schema_suffix: _next}}'` of the same night "
                       f"(data tests included; {last['dbt']:.1f} s); gates include Data Docs{load}")
    report.figure(f"raw gate alone ({last['raw_expectations']} expectations)", last["raw"], "s",
                  baseline=last["dbt"], note="share of the same dbt build")
    report.figure(f"marts gate alone ({last['marts_expectations']} expectations), publication included",
                  last["marts"], "s", baseline=last["dbt"], note="share of the same dbt build")
    report.figure("first night's full dbt build (for scale)", timings[0]["dbt"], "s")
    report.figure("import great_expectations in a fresh process (once per process)", _import_seconds(), "s",
                  note="this environment sets PYTHONDONTWRITEBYTECODE, so every import compiles GX from source")


# --- the nights --------------------------------------------------------------------------------------------
def _first_night(landing: Path) -> None:
    from jiaoyan.demo_world import scales, world

    knobs = scales.knobs("region", SEED, end=FIRST, days=1, events_per_day=2000, video_days=0,
                         lessons_per_night=0, gold_lessons=0, workers=1, defects=False)
    world.generate(knobs, str(landing))


def _lessons_night(landing: Path, day: dt.date) -> None:
    from jiaoyan.demo_world import bench

    base = bench.light_world("region", SEED, FIRST)
    night = bench.lessons_night("region", SEED, n_lessons=LESSONS, day=day, base=base)
    bench.write_lessons_night(str(landing), night)


def _night(urls: dict[str, str], landing: Path, lake: Path, work: Path, batch: str) -> dict:
    from expectations import gates
    from jiaoyan import dbt_runner
    from jiaoyan.load import load_batch

    report = load_batch(str(landing / batch), lake_uri=str(lake))
    assert report.status == "succeeded", report.render()
    started = time.perf_counter()
    raw = gates.run_raw_gate(batch).raise_for_status()
    raw_s = time.perf_counter() - started
    env = {"DBT_TARGET_PATH": str(work / "dbt" / "target"), "DBT_LOG_PATH": str(work / "dbt" / "logs")}
    started = time.perf_counter()
    result = dbt_runner.run(["build", *gates.DBT_BUILD_ARGS], url=urls["transformer"], env=env)
    dbt_s = time.perf_counter() - started
    assert result.success, f"dbt build failed for {batch}; see {work}/dbt/logs"
    started = time.perf_counter()
    marts = gates.run_marts_gate(batch).raise_for_status()
    marts_s = time.perf_counter() - started
    assert marts.publication_id is not None
    with psycopg.connect(urls["owner"]) as conn:
        points = conn.execute("select count(*) from raw.behaviour_codes where _batch_id = %s", (batch,)).fetchone()[0]
    print(f"  night {batch}: load {report.seconds:.1f} s, raw gate {raw_s:.1f} s, dbt build {dbt_s:.1f} s, "
          f"marts gate {marts_s:.1f} s ({points:,} points)", flush=True)
    return {"raw": raw_s, "dbt": dbt_s, "marts": marts_s, "points": points,
            "raw_expectations": len(raw.findings), "marts_expectations": len(marts.findings)}


def _import_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import great_expectations"], check=True)
    return time.perf_counter() - started


# --- database ---------------------------------------------------------------------------------------------
def _fresh_database() -> dict[str, str]:
    from jiaoyan.db import with_database
    from jiaoyan.settings import get_settings, reset_settings_cache
    from jiaoyan.warehouse.cli import up
    from jiaoyan.warehouse.migrate import migrate

    up()
    settings = get_settings()
    admin = settings.warehouse_url or ""
    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {DATABASE} with (force)")
        conn.execute(f"create database {DATABASE}")
    urls = {role: with_database(getattr(settings, field) or "", DATABASE) for role, field in
            (("owner", "warehouse_url"), ("loader", "loader_url"), ("transformer", "transformer_url"),
             ("reader", "reader_url"))}
    for role, variable in URL_VARIABLES.items():
        os.environ[variable] = urls[role]
    reset_settings_cache()
    migrate(get_settings())
    return urls


def _reset() -> None:
    from expectations import project
    from expectations.settings import reset_gate_settings_cache
    from jiaoyan.settings import reset_settings_cache

    reset_settings_cache()
    reset_gate_settings_cache()
    project.reset()
