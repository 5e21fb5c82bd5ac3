"""dbt build: an incremental night against a full refresh of the same warehouse, measured in the same run.

A region-scale year of history (DESIGN.md: ≈ 50 million behaviour points — 111,000 lessons of 450 points,
loaded as ten monthly batches, with rubric scores for a tenth of the lessons) plus one region-scale night
(10,000 lessons = 4.5 million points and 100,000 rubric scores), generated with NumPy in the contracts' schemas
and written into a fresh, migrated ``jiaoyan_bench_dbt`` database as the loader writes them: ``COPY`` as the
loader role with ``ops.load_tables`` bookkeeping in the same transaction, history stamped with past load times.

Figures, all from one run:

1. full build of the history (``dbt build --full-refresh``) — informative;
2. the night, incremental (``dbt build``): the lesson-run facts read only the night's deliveries through
   ``ops.load_tables`` and the raw tables' batch index, and delete+insert by lesson run;
   every build here is the nightly one — in process, without the unit tests (CI runs those);
3. the same build again with nothing new (the cost of a night without data);
4. the baseline: ``dbt build --full-refresh`` of history + night. Ratio 4 / 2, target ≥ 10;
5. the marts after 2 and after 4 are compared (checksums of every mart except the point-level tables);
6. dbt start-up, in process and as a subprocess (``jiaoyan dbt`` supports both).

Run: ``python tests/benchmarks/run.py dbt`` (the full scale: about half an hour and ≈ 25 GB of disk on a 2-core
machine) or ``python tests/benchmarks/bench_dbt.py --quick`` (a tenth of the scale; ``DBT_BENCH_QUICK=1`` does
the same through the harness). ``DBT_BENCH_KEEP=1`` keeps the database afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from jiaoyan import codes, dbt_runner
from jiaoyan.contracts import by_name
from jiaoyan.db import with_database
from jiaoyan.load import copy
from jiaoyan.settings import Settings, get_settings

if TYPE_CHECKING:
    from run import Report  # tests/benchmarks/run.py loads this module beside it

QUICK = "--quick" in sys.argv or os.environ.get("DBT_BENCH_QUICK") == "1"
HISTORY_LESSONS = 11_100 if QUICK else 111_000
NIGHT_LESSONS = 1_000 if QUICK else 10_000
NIGHT_SCORES = 10_000 if QUICK else 100_000
SCORED_SHARE = 0.1  # share of history lessons with rubric scores
POINTS = 450  # 45 minutes at one point every 6 s
LEAVES = 10
OBSERVERS = 3
TEACHERS = 30_000
SCHOOLS = 1_000
DATABASE = "jiaoyan_bench_dbt"
HISTORY_MONTHS = [dt.date(2025, 9, 30) + dt.timedelta(days=30 * i) for i in range(10)]
NIGHT = dt.date(2026, 9, 15)
# the nightly build: everything but the unit tests (they test the SQL, not the data: CI runs them, and
# tests/integration/test_dbt_build.py runs the whole `dbt build` including them)
NIGHTLY = ("--exclude-resource-type", "unit_test")
MART_EXCLUDED = {"fct_behaviour_points", "mart_lesson_st_curve"}  # 50 M rows: compared by their lesson-level marts


def run(report: Report) -> None:
    urls = _fresh_database()
    workdir = Path(tempfile.mkdtemp(prefix="bench-dbt-"))
    scale = "quick (a tenth)" if QUICK else "region"
    started = time.perf_counter()
    _load_reference(urls["loader"])
    lessons = _load_history(urls["loader"])
    with psycopg.connect(urls["owner"], autocommit=True) as conn:
        conn.execute("analyze")
    load_seconds = time.perf_counter() - started
    history_points = lessons * POINTS
    print(f"  history loaded: {history_points:,} points in {load_seconds:.0f} s", flush=True)

    full_history = _build(urls["transformer"], workdir, "build", "--full-refresh", *NIGHTLY,
                          label="full-history")
    report.figure(f"dbt build --full-refresh of the history ({history_points:,} points, {scale} scale)",
                  full_history.seconds, "s", note=_load_note())
    _load_night(urls["loader"], HISTORY_LESSONS)
    incremental = _build(urls["transformer"], workdir, "build", *NIGHTLY, label="incremental")
    after_incremental = _checksums(urls["owner"])
    quiet = _build(urls["transformer"], workdir, "build", *NIGHTLY, label="no-new-data")
    full = _build(urls["transformer"], workdir, "build", "--full-refresh", *NIGHTLY, label="full-refresh")
    after_full = _checksums(urls["owner"])

    night_points = NIGHT_LESSONS * POINTS
    report.figure(f"full refresh (history + night, {history_points + night_points:,} points) vs the incremental "
                  f"night ({night_points:,} points, {NIGHT_SCORES:,} rubric scores): dbt build seconds",
                  full.seconds, "s", baseline=incremental.seconds, target=">= 10",
                  note=f"incremental {incremental.seconds:.1f} s, full refresh {full.seconds:.1f} s; "
                       f"models alone: incremental {incremental.model_seconds:.1f} s, full "
                       f"{full.model_seconds:.1f} s{_load_note()}")
    report.figure("models only (sum of node times): full refresh vs incremental", full.model_seconds, "s",
                  baseline=incremental.model_seconds,
                  note="slowest incremental nodes: " + ", ".join(f"{n} {s:.1f} s" for n, s in incremental.top))
    report.figure("a night with no new data: dbt build seconds", quiet.seconds, "s",
                  note=f"{quiet.nodes} nodes; start-up, tests and the lesson-level tables rebuilt from facts")
    same = {k: v for k, v in after_incremental.items() if k not in MART_EXCLUDED} == {
        k: v for k, v in after_full.items() if k not in MART_EXCLUDED}
    report.figure("marts after the incremental night equal the full refresh (1 = yes)", float(same), "bool",
                  target=">= 1", note=f"{len(after_full) - len(MART_EXCLUDED)} mart relations compared by checksum")
    _startup(report, urls["transformer"], workdir)
    for name, result in (("full history", full_history), ("incremental", incremental), ("full", full)):
        print(f"  {name}: slowest nodes " + ", ".join(f"{n} {s:.1f} s" for n, s in result.top), flush=True)
    if os.environ.get("DBT_BENCH_KEEP") != "1":
        _drop_database()


# Database and dbt ------------------------------------------------------------------------------------------
def _admin_url() -> str:
    """The owner URL of the running warehouse; starts the local cluster only when none is configured."""
    url = get_settings().warehouse_url
    if not url:
        from jiaoyan.warehouse.cli import up

        up()
        url = get_settings().warehouse_url
    return url or ""


def _fresh_database() -> dict[str, str]:
    from jiaoyan.warehouse.migrate import migrate

    admin = _admin_url()
    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    settings = get_settings()
    urls = {"owner": with_database(admin, DATABASE),
            "loader": with_database(settings.loader_url or "", DATABASE),
            "transformer": with_database(settings.transformer_url or "", DATABASE),
            "reader": with_database(settings.reader_url or "", DATABASE)}
    migrate(Settings(warehouse_url=urls["owner"], loader_url=urls["loader"], transformer_url=urls["transformer"],
                     reader_url=urls["reader"]))
    return urls


def _drop_database() -> None:
    with psycopg.connect(with_database(get_settings().warehouse_url or "", "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))


class Build:
    """A dbt invocation's wall time and, from run_results.json, the time its nodes took."""

    def __init__(self, seconds: float, results: dict) -> None:
        self.seconds = seconds
        nodes = [(r["unique_id"], float(r.get("execution_time") or 0)) for r in results["results"]]
        self.nodes = len(nodes)
        self.model_seconds = sum(t for uid, t in nodes if uid.startswith(("model.", "snapshot.", "seed.")))
        self.top = sorted(((uid.split(".")[-1], t) for uid, t in nodes), key=lambda item: -item[1])[:4]


def _build(url: str, workdir: Path, *args: str, label: str) -> Build:
    env = {"DBT_TARGET_PATH": str(workdir / "target"), "DBT_LOG_PATH": str(workdir / "logs"),
           "JIAOYAN_DBT_THREADS": "4"}
    print(f"  dbt {' '.join(args)} …", flush=True)
    result = dbt_runner.run(list(args), url=url, env=env)  # in process, as an Airflow task calls it
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed (exit {result.exit_code}); logs in {workdir / 'logs'}")
    text = (workdir / "target" / "run_results.json").read_text()
    (workdir / f"run_results-{label}.json").write_text(text)  # every node's time, kept per build
    results = json.loads(text)
    print(f"    {result.seconds:.1f} s (node times: {workdir}/run_results-{label}.json)", flush=True)
    return Build(result.seconds, results)


def _checksums(owner: str) -> dict[str, str]:
    with psycopg.connect(owner) as conn:
        names = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        return {name: conn.execute(sql.SQL(
            "select count(*) || ':' || coalesce(md5(string_agg(h, '' order by h)), '') "
            "from (select md5(t::text) as h from marts.{} as t) as rows").format(sql.Identifier(name))).fetchone()[0]
            for name in names if name not in MART_EXCLUDED}


def _startup(report: Report, url: str, workdir: Path) -> None:
    """dbt's fixed cost per invocation: `dbt parse` (partial parsing warm) in this process and as a subprocess."""
    env = {"DBT_TARGET_PATH": str(workdir / "target"), "DBT_LOG_PATH": str(workdir / "logs")}
    timings = {}
    for mode in (True, False, True, False):
        timings.setdefault(mode, []).append(dbt_runner.run(["parse"], url=url, env=env, subprocess=mode).seconds)
    report.figure("dbt start-up: `jiaoyan dbt parse` as a subprocess (partial parsing warm)", min(timings[True]), "s",
                  baseline=min(timings[False]), note="baseline: the same in process (dbtRunner), after the first "
                                                   "in-process call imported dbt")


def _load_note() -> str:
    return f"; 1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


# Data --------------------------------------------------------------------------------------------------------
def _copy_batch(url: str, batch_id: str, loaded_at: dt.datetime | None,
                tables: dict[str, Iterable[pa.Table]]) -> None:
    """One batch as the loader writes it: rows (in as many COPYs as chunks) and ops bookkeeping, one transaction."""
    with psycopg.connect(url) as conn, conn.transaction():
        load_id = conn.execute("insert into ops.loads (batch_id, batch_uri, status) values (%s, %s, 'succeeded') "
                               "returning load_id", (batch_id, f"bench://{batch_id}")).fetchone()[0]
        for contract, chunks in tables.items():
            schema = by_name(contract).schema
            rows = 0
            for chunk in chunks:
                table = _with_provenance(chunk.select(schema.names).cast(schema), batch_id, contract, loaded_at)
                rows += copy.copy_table(conn, f"raw.{contract}", table)
            conn.execute("insert into ops.load_tables (batch_id, contract, load_id, files, files_rejected, "
                         "rows_loaded, rows_rejected, seconds, copy_seconds, loaded_at) "
                         "values (%s, %s, %s, 1, 0, %s, 0, 0, 0, coalesce(%s::timestamptz, now()))",
                         (batch_id, contract, load_id, rows, loaded_at))


def _with_provenance(table: pa.Table, batch_id: str, contract: str, loaded_at: dt.datetime | None) -> pa.Table:
    n = table.num_rows
    table = (table.append_column("_batch_id", _constant(batch_id, n))
             .append_column("_source_file", _constant(f"{contract}.bench", n))
             .append_column("_line", pa.array(np.arange(1, n + 1, dtype=np.int64))))
    if loaded_at is not None:
        table = table.append_column("_loaded_at", pa.array(np.full(n, np.datetime64(loaded_at.replace(tzinfo=None),
                                                                                    "us")), pa.timestamp("us", "UTC")))
    return table


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value]))


def _ids(prefix: str, numbers: np.ndarray, width: int = 7) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(numbers.astype(str), width)))


def _rows(columns: dict[str, list]) -> pa.Table:
    return pa.table(columns)


def _load_reference(url: str) -> None:
    rng = np.random.default_rng(1)
    districts = [f"4201{d:02d}" for d in range(2, 15)]
    regions = _rows({"region_code": ["420000", "420100", *districts],
                     "region_name": ["湖北省", "武汉市", *[f"区{d}" for d in districts]],
                     "level": ["province", "city", *["district"] * len(districts)],
                     "parent_code": [None, "420000", *["420100"] * len(districts)]})
    school = np.arange(SCHOOLS)
    schools = pa.table({"school_id": _ids("SCH", school, 5),
                        "school_name": pa.array([f"学校{i}" for i in school]),
                        "district_code": pa.array(np.array(districts)[school % len(districts)]),
                        "urban_rural": pa.array(np.where(school % 3 == 0, "rural", "urban")),
                        "is_weak": pa.array(school % 10 == 0),
                        "stage": pa.array(np.where(school % 2 == 0, "primary", "junior_secondary")),
                        "valid_from": pa.array([dt.date(2020, 1, 1)] * SCHOOLS, pa.date32())})
    teacher = np.arange(TEACHERS)
    subjects = np.array(["chinese", "mathematics", "english", "physics", "science"])
    teachers = pa.table({"teacher_id": _ids("TS", teacher, 6), "teacher_name": pa.array([f"教师{i}" for i in teacher]),
                         "gender": pa.array(np.where(teacher % 2 == 0, "F", "M")),
                         "birth_year": pa.array(rng.integers(1965, 2000, TEACHERS).astype(np.int16)),
                         "title": pa.array(np.full(TEACHERS, "teacher_level_2")),
                         "subject": pa.array(subjects[teacher % len(subjects)]),
                         "grade": pa.array((1 + teacher % 9).astype(np.int8)),
                         "school_id": _ids("SCH", teacher % SCHOOLS, 5),
                         "university_id": pa.nulls(TEACHERS, pa.string()),
                         "valid_from": pa.array([dt.date(2020, 1, 1)] * TEACHERS, pa.date32())})
    leaves = [f"{g}.{i}" for g in "ABC" for i in range(1, 5)][:LEAVES]
    indicators = _rows({
        "rubric_id": ["R1"] * (3 + LEAVES), "rubric_name": ["课堂教学量规"] * (3 + LEAVES),
        "kind": ["classroom_teaching"] * (3 + LEAVES), "version": [1] * (3 + LEAVES),
        "published_on": [dt.date(2025, 1, 1)] * (3 + LEAVES), "subject": [None] * (3 + LEAVES),
        "indicator_id": ["A", "B", "C", *leaves], "parent_id": [None, None, None, *[leaf[0] for leaf in leaves]],
        "level": [1, 1, 1, *[2] * LEAVES], "name": ["A", "B", "C", *leaves],
        "position": [1, 2, 3, *range(1, LEAVES + 1)],
        "max_score": [None, None, None, *[10.0] * LEAVES], "weight": [None, None, None, *[1.0] * LEAVES]})
    bands = _rows({"rubric_id": ["R1"] * 4, "band": ["excellent", "good", "pass", "needs_work"],
                   "label_zh": ["优秀", "良好", "合格", "待改进"], "min_ratio": [0.9, 0.75, 0.6, 0.0],
                   "rank": [1, 2, 3, 4]})
    _copy_batch(url, "2025-09-01", dt.datetime(2025, 9, 2, 2, tzinfo=dt.UTC),
                {"regions": [regions], "schools": [schools], "teachers": [teachers], "rubric_indicators": [indicators],
                 "rubric_bands": [bands]})


def _lessons(first: int, n: int, days: list[dt.date], rng: np.random.Generator) -> pa.Table:
    number = np.arange(first, first + n)
    teacher = rng.integers(0, TEACHERS, n)
    return pa.table({"lesson_id": _ids("L", number), "teacher_id": _ids("TS", teacher, 6),
                     "school_id": _ids("SCH", teacher % SCHOOLS, 5),
                     "subject": pa.array(np.array(["chinese", "mathematics", "english", "physics", "science"])[
                         teacher % 5]),
                     "grade": pa.array((1 + teacher % 9).astype(np.int8)),
                     "lesson_date": pa.array(np.array(days, "datetime64[D]")[rng.integers(0, len(days), n)]),
                     "start_time": pa.array(np.full(n, "08:00:00")), "video_uri": pa.nulls(n, pa.string()),
                     "class_size": pa.array(np.full(n, 45, np.int16)),
                     "duration_s": pa.array(np.full(n, POINTS * 6.0))})


def _points(first: int, n: int, rng: np.random.Generator) -> pa.Table:
    """n lessons × 450 points: each lesson has a style (its teacher-behaviour mix and students' focus)."""
    rows = n * POINTS
    lesson = np.repeat(np.arange(n), POINTS)
    point = np.tile(np.arange(POINTS, dtype=np.int32), n)
    mixes = np.array([[0.8, 0.1, 0.05, 0.05], [0.1, 0.0, 0.8, 0.1], [0.4, 0.05, 0.15, 0.4], [0.5, 0.1, 0.2, 0.2]])
    style = rng.integers(0, 4, n)[lesson]
    teacher = (rng.random(rows)[:, None] > np.cumsum(mixes[style], axis=1)).sum(axis=1).clip(0, 3)
    alpha = np.full((rows, 5), 0.6)
    alpha[np.arange(rows), rng.integers(0, 5, rows)] += 3
    shares = rng.gamma(alpha).astype(np.float32)
    shares /= shares.sum(axis=1, keepdims=True)
    names = pa.array(list(codes.teacher_codes()))
    return pa.table({
        "lesson_id": pa.DictionaryArray.from_arrays(pa.array(lesson.astype(np.int32)),
                                                    _ids("L", np.arange(first, first + n))),
        "point_index": point, "t_start_s": point * codes.SAMPLING_INTERVAL_S,
        "teacher_behaviour": pa.DictionaryArray.from_arrays(pa.array(teacher.astype(np.int32)), names),
        "teacher_prob": np.full(rows, 0.9, np.float32),
        **{c: shares[:, i] for i, c in enumerate(codes.share_columns())},
        "students_seen": np.full(rows, 40, np.int16),
        "st_code": pa.array(codes.st_codes(teacher, shares)),
        "model_name": _constant("behaviour-net", rows), "model_version": _constant("3", rows),
        "audio_present": np.ones(rows, bool),
    })


def _scores(lesson_numbers: np.ndarray, rng: np.random.Generator, day: dt.date) -> pa.Table:
    n = len(lesson_numbers) * OBSERVERS * LEAVES
    leaves = pa.array([f"{g}.{i}" for g in "ABC" for i in range(1, 5)][:LEAVES])
    return pa.table({
        "lesson_id": _ids("L", np.repeat(lesson_numbers, OBSERVERS * LEAVES)),
        "rubric_id": _constant("R1", n).dictionary_decode(),
        "indicator_id": leaves.take(pa.array(np.arange(n) % LEAVES)),
        "observer_id": _ids("TS", np.repeat(rng.integers(0, TEACHERS, n // LEAVES), LEAVES), 6),
        "observer_role": pa.array(np.full(n, "peer")),
        "score": np.round(rng.uniform(4, 10, n), 1),
        "scored_at": pa.array(np.full(n, np.datetime64(f"{day}T10:00:00", "us")), pa.timestamp("us", "UTC")),
    })


def _school_days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=d) for d in range((end - start).days + 1)
            if (start + dt.timedelta(days=d)).weekday() < 5]


def _point_chunks(first: int, n: int, rng: np.random.Generator) -> Iterator[pa.Table]:
    for chunk in range(first, first + n, 2_000):
        yield _points(chunk, min(2_000, first + n - chunk), rng)


def _load_history(url: str) -> int:
    rng = np.random.default_rng(2)
    per_month = HISTORY_LESSONS // len(HISTORY_MONTHS)
    first = 0
    for month_end in HISTORY_MONTHS:
        days = _school_days(month_end - dt.timedelta(days=29), month_end)
        loaded_at = dt.datetime.combine(month_end + dt.timedelta(days=1), dt.time(2), tzinfo=dt.UTC)
        scored = np.arange(first, first + per_month)[rng.random(per_month) < SCORED_SHARE]
        _copy_batch(url, month_end.isoformat(), loaded_at,
                    {"lesson_manifest": [_lessons(first, per_month, days, rng)],
                     "rubric_scores": [_scores(scored, rng, month_end)],
                     "behaviour_codes": _point_chunks(first, per_month, rng)})
        first += per_month
        print(f"    {month_end}: {first:,} lessons", flush=True)
    return first


def _load_night(url: str, first: int) -> None:
    rng = np.random.default_rng(3)
    scored = rng.choice(np.arange(first, first + NIGHT_LESSONS), NIGHT_SCORES // (OBSERVERS * LEAVES), replace=False)
    _copy_batch(url, NIGHT.isoformat(), None,
                {"lesson_manifest": [_lessons(first, NIGHT_LESSONS, [NIGHT], rng)],
                 "rubric_scores": [_scores(np.sort(scored), rng, NIGHT)],
                 "behaviour_codes": _point_chunks(first, NIGHT_LESSONS, rng)})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import Report

    bench = Report("dbt")
    run(bench)
    print(f"  -> {bench.save()}")
