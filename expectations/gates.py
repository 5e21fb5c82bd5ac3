"""The gates the nightly DAG calls: raw before dbt, marts after it, then publication.

    from expectations import gates

    gates.run_raw_gate("2026-03-02").raise_for_status()      # stop here on a blocking failure
    dbt_runner.run(["build", *gates.DBT_BUILD_ARGS])          # dbt builds into staging_next … marts_next
    gates.run_marts_gate("2026-03-02").raise_for_status()     # checks the build, publishes it when it passes

Each returns a :class:`~expectations.verdict.GateVerdict` (``passed``, ``status``, ``findings``, ``render()``);
``raise_for_status()`` raises :class:`~expectations.verdict.GateFailed` when a blocking expectation failed.
A failed batch stays in raw (and in the unpublished build) with its results in ``ops.gate_results``; fix it,
reload, and run the gates again, or accept it with a reason (:func:`accept`).
"""

from __future__ import annotations

import psycopg

from expectations import drift, mart_suites, raw_suites, runner
from expectations.project import BUILD_SCHEMA, MART_TABLES, raw_tables
from expectations.suites import Suite
from expectations.verdict import GateFailed, GateVerdict
from jiaoyan.errors import UserError

# dbt builds staging, intermediate and marts into their audit copies (staging_next, intermediate_next,
# marts_next); dbt/macros/generate_schema_name.sql reads this var, ops.publish_marts() swaps the copies in
BUILD_SUFFIX = "_next"
DBT_BUILD_VARS = {"build_schema_suffix": BUILD_SUFFIX}
DBT_BUILD_ARGS = ["--vars", "{build_schema_suffix: %s}" % BUILD_SUFFIX]  # noqa: UP031 (dbt's YAML, not Python)

__all__ = ["DBT_BUILD_ARGS", "DBT_BUILD_VARS", "GateFailed", "GateVerdict", "accept", "publish", "run_marts_gate",
           "run_raw_gate"]


def run_raw_gate(batch_id: str) -> GateVerdict:
    """Validate the rows of ``batch_id`` in every raw table (and the batch as a whole) before dbt runs."""
    present: list[str] = []

    def record(conn: psycopg.Connection, _run_id: int) -> None:
        _require_loaded(conn, batch_id)
        # statistics first: the loader refreshes them at the end of a load (migration 0014's function, which
        # analyzes only stale tables); asked again here for rows that reached raw another way
        conn.execute("select ops.analyze_raw(%s)", (list(raw_tables()),))
        present.extend(tables_with_rows(conn, batch_id))
        raw_suites.record_point_runs(conn, batch_id, present)  # the per-lesson-run aggregates the point rules read
        drift.record_behaviour_shares(conn, batch_id)

    def suites(_conn: psycopg.Connection, _run_id: int) -> list[Suite]:
        return [*(raw_suites.raw_suite(t, batch_id) for t in present), raw_suites.batch_suite(batch_id)]

    return runner.run(runner.RAW, batch_id, suites, record)


def run_marts_gate(batch_id: str, *, publish: bool = True) -> GateVerdict:
    """Validate the marts build (``marts_next``) after dbt; publish it (swap with ``marts``) when it passes."""
    def record(conn: psycopg.Connection, _run_id: int) -> None:
        if not marts_built(conn):
            raise UserError(f"no marts build in {BUILD_SCHEMA}: run dbt with {' '.join(DBT_BUILD_ARGS)} first")
        for table in MART_TABLES:  # tables dbt just created have no statistics yet; the transformer owns them
            if _exists(conn, f"{BUILD_SCHEMA}.{table}"):
                conn.execute(f"analyze {BUILD_SCHEMA}.{table}")
        drift.record_mode_mix(conn, batch_id, BUILD_SCHEMA)

    def suites(conn: psycopg.Connection, run_id: int) -> list[Suite]:
        present = {t for t in MART_TABLES if _exists(conn, f"{BUILD_SCHEMA}.{t}")}
        return [*mart_suites.mart_suites(present), mart_suites.build_suite(batch_id, run_id)]

    verdict = runner.run(runner.MARTS, batch_id, suites, record)
    if publish and verdict.passed:
        verdict.publication_id = publish_marts(batch_id)
    return verdict


def publish_marts(batch_id: str) -> int:
    """Swap the checked build in: readers see it at once, whole. Refused unless the batch's gates passed."""
    with runner.connect(runner.MARTS) as conn:
        try:
            return conn.execute("select ops.publish_marts(%s)", (batch_id,)).fetchone()[0]
        except psycopg.errors.RaiseException as exc:
            raise UserError(str(exc).splitlines()[0]) from exc


def accept(batch_id: str, gate: str, reason: str) -> int:
    """Release a batch a gate held, with the reason (e.g. a mode-mix move that is real)."""
    if gate not in (runner.RAW, runner.MARTS):
        raise UserError(f"gate must be raw or marts, not {gate!r}")
    return runner.accept(gate, batch_id, reason)


publish = publish_marts


def tables_with_rows(conn: psycopg.Connection, batch_id: str) -> list[str]:
    """Raw tables holding rows of the batch (the others have nothing to validate tonight)."""
    return [t for t in raw_tables()
            if conn.execute(f"select exists (select 1 from raw.{t} where _batch_id = %s)", (batch_id,)).fetchone()[0]]


def marts_built(conn: psycopg.Connection) -> bool:
    return any(_exists(conn, f"{BUILD_SCHEMA}.{t}") for t in MART_TABLES)


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _require_loaded(conn: psycopg.Connection, batch_id: str) -> None:
    if conn.execute("select 1 from ops.batches where batch_id = %s", (batch_id,)).fetchone() is None:
        raise UserError(f"batch {batch_id} is not in ops.batches: load it first (jiaoyan load batch)")
