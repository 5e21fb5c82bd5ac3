"""Loading: COPY rows per second for a region-scale day, against baselines measured in the same run.

A region-scale night (DESIGN.md): ≈ 10,000 lessons of 45 minutes = 4.5 million behaviour
points, and ≈ 100,000 rubric scores. The rows are generated here with NumPy in the
contracts' schemas, into a fresh, migrated ``jiaoyan_bench`` database, and written as
the loader writes them (delete the batch's rows, COPY, in one transaction, as the
loader role). Baselines: psycopg's binary ``write_row``, CSV text COPY, and
``executemany`` INSERTs on a slice. The end-to-end figure runs the loader's own path
(read thousands of per-lesson Parquet files from the lake, validate against the
contract, cross-source rules, COPY) on the same rows.

Run: ``python tests/benchmarks/run.py load`` (``LOAD_BENCH_LESSONS`` changes the scale,
``LOAD_BENCH_PARTS=copy`` or ``end_to_end`` runs one half).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from jiaoyan import codes, lake
from jiaoyan.contracts import BEHAVIOUR_CODES, RUBRIC_SCORES
from jiaoyan.db import with_database
from jiaoyan.load import copy, rules, store
from jiaoyan.load.lookups import StaticLookups
from jiaoyan.load.read import read_parquet_part
from jiaoyan.load.runner import lake_refs
from jiaoyan.settings import get_settings, reset_settings_cache

if TYPE_CHECKING:
    from run import Report  # tests/benchmarks/run.py loads this module beside it

LESSONS = int(os.environ.get("LOAD_BENCH_LESSONS", "10000"))
POINTS = 450  # 45 minutes at one point every 6 s
SCORES = 100_000
INSERT_SLICE = 20_000
DATABASE = "jiaoyan_bench"
BATCH = "2026-03-02"
URL_VARIABLES = {"owner": "JIAOYAN_WAREHOUSE_URL", "loader": "JIAOYAN_LOADER_URL",
                 "transformer": "JIAOYAN_TRANSFORMER_URL", "reader": "JIAOYAN_READER_URL"}


def run(report: Report) -> None:
    urls = _fresh_database()
    points, scores = behaviour_points(LESSONS), rubric_scores(SCORES)
    parts = os.environ.get("LOAD_BENCH_PARTS", "copy,end_to_end").split(",")
    with psycopg.connect(urls["loader"], autocommit=True) as conn:
        if "copy" in parts:
            _copy_figures(report, conn, urls["owner"], "raw.behaviour_codes", points, "behaviour points")
            _copy_figures(report, conn, urls["owner"], "raw.rubric_scores", scores, "rubric scores")
        if "end_to_end" in parts:
            _end_to_end(report, conn, urls["owner"], points)


# Data ---------------------------------------------------------------------------


def behaviour_points(lessons: int, seed: int = 7) -> pa.Table:
    """``lessons`` × 450 behaviour-code rows in the contract's schema, with the raw table's provenance."""
    rng = np.random.default_rng(seed)
    n = lessons * POINTS
    lesson = np.repeat(np.arange(lessons), POINTS)
    point = np.tile(np.arange(POINTS, dtype=np.int32), lessons)
    shares = rng.dirichlet(np.full(5, 0.7), size=n).astype(np.float32)
    shares[:, 0] = np.maximum(1 - shares[:, 1:].sum(axis=1), 0)  # float32 rounding must not go below 0
    teacher = rng.integers(0, 4, n)
    columns = {
        "lesson_id": _ids("L", lessons).take(pa.array(lesson)),
        "point_index": point,
        "t_start_s": point * codes.SAMPLING_INTERVAL_S,
        "teacher_behaviour": pa.array(codes.teacher_codes()).take(pa.array(teacher)),
        "teacher_prob": rng.uniform(0.4, 1, n).astype(np.float32),
        **{c: shares[:, i] for i, c in enumerate(codes.share_columns())},
        "students_seen": rng.integers(20, 50, n).astype(np.int16),
        "st_code": pa.array(codes.st_codes(teacher, shares)),
        "model_name": _constant("behaviour-net", n),
        "model_version": _constant("3", n),
        "audio_present": rng.random(n) > 0.05,
    }
    return _with_provenance(pa.table(columns).cast(BEHAVIOUR_CODES.schema), "lake:inference/…/L.parquet", point + 1)


def rubric_scores(n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-03-02T02:00:00", "us")
    columns = {
        "lesson_id": _ids("L", n // 10).take(pa.array(np.arange(n) // 10)),
        "rubric_id": _constant("R1", n),
        "indicator_id": pa.array([f"A.{i}" for i in range(1, 11)]).take(pa.array(np.arange(n) % 10)),
        "observer_id": _ids("T", 5000).take(pa.array(rng.integers(0, 5000, n))),
        "observer_role": pa.array(codes.seed_codes("observer_roles")).take(pa.array(rng.integers(0, 3, n))),
        "score": np.round(rng.uniform(0, 10, n), 1),
        "scored_at": pa.array(start + rng.integers(0, 86_400_000_000, n).astype("timedelta64[us]"),
                              pa.timestamp("us", tz="UTC")),
    }
    return _with_provenance(pa.table(columns).cast(RUBRIC_SCORES.schema), "rubric_scores/scores.csv",
                            np.arange(n) + 2)


def _ids(prefix: str, n: int) -> pa.Array:
    return pa.array([f"{prefix}{i:07d}" for i in range(n)])


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value])).dictionary_decode()


def _with_provenance(table: pa.Table, source: str, lines: np.ndarray) -> pa.Table:
    n = table.num_rows
    return (table.append_column("_line", pa.array(np.asarray(lines, np.int64)))
            .append_column("_source_file", _constant(source, n))
            .append_column("_batch_id", _constant(BATCH, n)))


# Figures ------------------------------------------------------------------------


def _copy_figures(report: Report, conn: psycopg.Connection, owner: str, target: str, table: pa.Table,
                  what: str) -> None:
    n = table.num_rows
    timed = {}
    for method in ("binary", "rows", "csv"):
        timed[method] = _timed(owner, target, lambda m=method: _replace(conn, target, table, m))
        _check_count(conn, target, n)
    sliced = table.slice(0, min(INSERT_SLICE, n))
    insert = _timed(owner, target, lambda: _insert(conn, target, sliced))
    fast = n / timed["binary"]
    load = f"; 1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    report.figure(f"COPY binary (NumPy encoder) of {n:,} {what}, delete + COPY in one transaction", fast,
                  "rows/s", baseline=sliced.num_rows / insert, target=">= 5",
                  note=f"baseline: executemany INSERT of {sliced.num_rows:,} rows in one transaction{load}")
    report.figure(f"COPY binary (NumPy encoder) vs psycopg write_row, {what}", fast, "rows/s",
                  baseline=n / timed["rows"], target=">= 1",
                  note="baseline: binary COPY with cursor.copy().write_row and set_types" + load)
    report.figure(f"COPY binary (NumPy encoder) vs CSV text COPY, {what}", fast, "rows/s",
                  baseline=n / timed["csv"], target=">= 1",
                  note="baseline: Arrow's CSV writer, COPY … (format csv)" + load)


def _timed(owner: str, target: str, action: Callable[[], object]) -> float:
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f"truncate {target}")
        conn.execute("checkpoint")  # every run starts from the same WAL state
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _replace(conn: psycopg.Connection, target: str, table: pa.Table, method: str) -> None:
    with conn.transaction():
        copy.replace_batch(conn, target, BATCH, table, method)  # type: ignore[arg-type]


def _insert(conn: psycopg.Connection, target: str, table: pa.Table) -> None:
    names = table.column_names
    statement = f"insert into {target} ({', '.join(names)}) values ({', '.join(['%s'] * len(names))})"
    rows = list(zip(*(table[c].to_pylist() for c in names), strict=True))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(statement, rows)


def _check_count(conn: psycopg.Connection, target: str, n: int) -> None:
    got = conn.execute(f"select count(*) from {target} where _batch_id = %s", (BATCH,)).fetchone()
    assert got is not None and got[0] == n, f"{target}: {got} rows, expected {n}"


def _end_to_end(report: Report, conn: psycopg.Connection, owner: str, points: pa.Table) -> None:
    """The loader's own path for a night of inference output: one Parquet file per lesson in the lake."""
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        lake_root = str(Path(tmp) / "lake")
        folder = Path(lake.behaviour_codes_dir(BATCH, lake_root))
        folder.mkdir(parents=True)
        contract_columns = list(BEHAVIOUR_CODES.field_names)
        for i, offset in enumerate(range(0, points.num_rows, POINTS)):
            pq.write_table(points.slice(offset, POINTS).select(contract_columns), folder / f"L{i:07d}.parquet")
        lookups = StaticLookups(lesson_durations={f"L{i:07d}": POINTS * 6.0 for i in range(LESSONS)})
        with psycopg.connect(owner, autocommit=True) as admin:
            admin.execute("truncate raw.behaviour_codes")
            admin.execute("checkpoint")
        started = time.perf_counter()
        part = read_parquet_part(BEHAVIOUR_CODES, lake_refs(lake_root, str(folder)))
        read = time.perf_counter()
        rules.check_codes(part, lookups, None)
        checked = time.perf_counter()
        store.commit(conn, BATCH, _load_id(conn), [part])
        done = time.perf_counter()
    assert part.rejects.num_rows == 0 and part.good.num_rows == points.num_rows
    report.figure(f"loader end to end: {LESSONS:,} lake files, {points.num_rows:,} behaviour points "
                  "(read + validate + rules + COPY)", points.num_rows / (done - started), "rows/s",
                  note=f"read+validate {read - started:.1f} s, rules {checked - read:.1f} s, "
                       f"COPY+quarantine+bookkeeping {done - checked:.1f} s; 1-min load average "
                       f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def _load_id(conn: psycopg.Connection) -> int:
    row = conn.execute("insert into ops.loads (batch_id, batch_uri, status) values (%s, 'bench', 'running') "
                       "returning load_id", (BATCH,)).fetchone()
    assert row is not None
    return int(row[0])


def _fresh_database() -> dict[str, str]:
    """A new, migrated ``jiaoyan_bench`` database; its URLs by role, also exported to the environment."""
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
