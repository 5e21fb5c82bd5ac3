"""Run a gate's checkpoint on a batch, record what it found, and (marts) publish.

A run, raw or marts:

1. takes the gate's advisory lock (runs of one gate go one at a time: they rewrite the same suites), opens a
   row in ``ops.gate_runs``, records the night's distributions (:mod:`expectations.drift`);
2. builds the suites from code for this batch and saves them with their validation definitions and the
   checkpoint (GX's JSON under ``gx/uncommitted/`` is output, the Python is the source);
3. runs the checkpoint with ``BOOLEAN_ONLY`` results — one aggregate query per table and no sampling when all
   is well — then runs only the failed expectations again for their details: SUMMARY for column
   expectations (the values, with ``_source_file`` and ``_line`` in raw), COMPLETE for SQL rules (their
   unexpected rows, at most 200); both runs go to Data Docs;
4. writes every outcome to ``ops.gate_results``, the failures to ``ops.gate_alerts`` (replacing the batch's
   earlier alerts of this gate), and the verdict to ``ops.gate_runs``.

Rerunning a gate on the same data gives the same verdict and the same alerts: it is idempotent.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg

from expectations import project
from expectations.checks import RULE_TYPES, check_name, is_blocking
from expectations.settings import get_gate_settings
from expectations.suites import Suite
from expectations.verdict import ACCEPTED, Finding, GateVerdict
from jiaoyan import log

if TYPE_CHECKING:
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.data_context import FileDataContext

LOG = log.get(__name__)
RAW, MARTS = "raw", "marts"
_INDEX_COLUMNS = {RAW: ["_source_file", "_line"], MARTS: None}


def connect(gate: str) -> psycopg.Connection:
    """The gate's own role: the loader for raw, the transformer for the marts (it owns the build)."""
    project.export_connection_urls()
    variable = project.RAW_URL_VARIABLE if gate == RAW else project.MARTS_URL_VARIABLE
    url = os.environ[variable].replace("postgresql+psycopg://", "postgresql://", 1)
    return psycopg.connect(url, autocommit=True, application_name=f"jiaoyan-gate-{gate}")


@contextmanager
def gate_lock(conn: psycopg.Connection, gate: str) -> Iterator[None]:
    key = f"jiaoyan.gate.{gate}"
    if not conn.execute("select pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0]:
        LOG.info("another %s gate is running; waiting for it", gate)
        conn.execute("select pg_advisory_lock(hashtext(%s))", (key,))
    try:
        yield
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", (key,))


def run(gate: str, batch_id: str, suites_for: Callable[[psycopg.Connection, int], list[Suite]],
        record: Callable[[psycopg.Connection, int], object]) -> GateVerdict:
    """Validate ``batch_id`` with the suites ``suites_for(conn, run_id)`` gives, after ``record(conn, run_id)``."""
    started = time.perf_counter()
    ctx = project.context(gate)
    with connect(gate) as conn, gate_lock(conn, gate):
        run_id = conn.execute("insert into ops.gate_runs (batch_id, gate, status) values (%s, %s, 'running') "
                              "returning run_id", (batch_id, gate)).fetchone()[0]
        verdict = GateVerdict(gate, batch_id, run_id)
        try:
            mark = time.perf_counter()
            record(conn, run_id)
            suites = suites_for(conn, run_id)
            verdict.timings["prepare"] = time.perf_counter() - mark
            verdict.findings = validate(ctx, gate, batch_id, run_id, suites, verdict.timings)
            verdict.data_docs = project.data_docs_index() if get_gate_settings().data_docs else None
        except Exception as exc:  # recorded, then raised: an error must never pass for a verdict
            verdict.error = f"{type(exc).__name__}: {exc}"
            verdict.seconds = time.perf_counter() - started
            finish(conn, verdict)
            raise
        verdict.seconds = time.perf_counter() - started
        finish(conn, verdict)
    log_verdict(verdict)
    return verdict


# --- validation -------------------------------------------------------------------------------------------
def validate(ctx: FileDataContext, gate: str, batch_id: str, run_id: int, suites: list[Suite],
             timings: dict[str, float] | None = None) -> list[Finding]:
    """Pass 1 for every expectation (booleans only), pass 2 for the failures' details; then Data Docs."""
    timings = {} if timings is None else timings
    name = f"{gate} {batch_id} #{run_id}"
    mark = time.perf_counter()
    checkpoint = _checkpoint(ctx, gate, suites, "BOOLEAN_ONLY")
    timings["save"] = time.perf_counter() - mark
    mark = time.perf_counter()
    first = checkpoint.run(run_id=_run_id(name))  # type: ignore[attr-defined]
    timings["validate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    results = list(first.run_results)
    findings = {f.key: f for f in _findings(first)}
    failed = [f for f in findings.values() if not f.success and not f.exception]
    if failed:
        details, detail_results = _details(ctx, gate, suites, failed, name)
        results += detail_results
        for detail in details:
            if detail.key in findings:
                detail.success = False  # a details pass never turns a failure into a pass
                findings[detail.key] = detail
    timings["details"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if get_gate_settings().data_docs:
        project.build_data_docs(ctx, results)
    timings["data_docs"] = time.perf_counter() - mark
    return list(findings.values())


def _run_id(name: str) -> object:
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=name)


def _checkpoint(ctx: FileDataContext, name: str, suites: list[Suite], result_format: str,
                index_columns: list[str] | None = None) -> object:
    import great_expectations as gx

    definitions = [_validation_definition(ctx, suite) for suite in suites]
    fmt: dict[str, object] = {"result_format": result_format}
    if result_format == "SUMMARY":
        fmt["partial_unexpected_count"] = get_gate_settings().sample_rows
        if index_columns:
            fmt["unexpected_index_column_names"] = index_columns
    # the checkpoint lists tonight's suites (tables without rows have none); replacing it is cheaper than
    # GX's add_or_update, which compares every nested object. No Data Docs action: it rebuilds the site once
    # per suite; the run builds it once (project.build_data_docs).
    if name in {c.name for c in ctx.checkpoints.all()}:
        ctx.checkpoints.delete(name)
    return ctx.checkpoints.add(gx.Checkpoint(name=name, validation_definitions=definitions, result_format=fmt,
                                             actions=[]))


def _validation_definition(ctx: FileDataContext, suite: Suite) -> object:
    """Save the suite's expectations under a stable suite id, so its validation definition never changes."""
    import great_expectations as gx

    try:
        saved = ctx.suites.get(suite.name)
    except Exception:  # GX raises its own not-found errors, which differ by store
        saved = ctx.suites.add(gx.ExpectationSuite(name=suite.name))
    for expectation in suite.expectations:
        expectation.id = None
    saved.expectations = list(suite.expectations)  # GX's add_expectation compares each with every other: O(n²)
    saved.save()
    try:
        return ctx.validation_definitions.get(suite.name)
    except Exception:
        return ctx.validation_definitions.add(gx.ValidationDefinition(
            name=suite.name, data=project.batch_definition(ctx, suite.source, suite.asset), suite=saved))


def _details(ctx: FileDataContext, gate: str, suites: list[Suite], failed: list[Finding],
             name: str) -> tuple[list[Finding], list[object]]:
    """Run the failed expectations again with their details: values for columns, rows for SQL rules."""
    wanted = {f.key for f in failed}
    columns: list[Suite] = []
    rules: list[Suite] = []
    for suite in suites:
        chosen = [e for e in suite.expectations if (suite.name, check_name(e)) in wanted]
        if not chosen:
            continue
        for kind, target in (("values", columns), ("rows", rules)):
            picked = [_copy(e) for e in chosen if (e.expectation_type in RULE_TYPES) == (kind == "rows")]
            if picked:
                target.append(Suite(f"{suite.name}.{kind}", suite.source, suite.asset, picked))
    found: list[Finding] = []
    results: list[object] = []
    for kind, group, result_format in (("values", columns, "SUMMARY"), ("rows", rules, "COMPLETE")):
        if group:
            checkpoint = _checkpoint(ctx, f"{gate}.{kind}", group, result_format, _INDEX_COLUMNS[gate])
            result = checkpoint.run(run_id=_run_id(f"{name} {kind}"))  # type: ignore[attr-defined]
            found += [_rename(f, f.suite.rsplit(".", 1)[0]) for f in _findings(result)]
            results += list(result.run_results)
    return found, results


def _copy(expectation: object) -> object:
    fresh = expectation.configuration.to_domain_obj()  # type: ignore[attr-defined]
    fresh.id = None
    return fresh


def _rename(finding: Finding, suite: str) -> Finding:
    finding.suite = suite
    return finding


def _findings(result: CheckpointResult) -> list[Finding]:
    found = []
    for suite_result in result.run_results.values():
        for r in suite_result.results:
            found.append(_finding(suite_result.suite_name, r))
    return found


def _finding(suite: str, r: object) -> Finding:
    config = r.expectation_config  # type: ignore[attr-defined]
    result = r.result or {}  # type: ignore[attr-defined]
    info = r.exception_info or {}  # type: ignore[attr-defined]
    exception = info.get("exception_message") if info.get("raised_exception") else None
    details = (result.get("details") or {}) if isinstance(result, dict) else {}
    sample_size = get_gate_settings().sample_rows
    rows = details.get("unexpected_rows") or result.get("partial_unexpected_index_list") or \
        [{"value": v} for v in result.get("partial_unexpected_list") or []]
    is_rule = config.type in RULE_TYPES
    count = result.get("unexpected_count")
    if count is None and is_rule:
        count = result.get("observed_value")
    observed = None if is_rule else result.get("observed_value")
    meta = config.meta or {}
    return Finding(
        suite=suite, check=check_name(config), expectation_type=config.type, blocking=is_blocking(config),
        success=bool(r.success) and exception is None,  # type: ignore[attr-defined]
        column=config.kwargs.get("column"), unexpected_count=count, element_count=result.get("element_count"),
        observed=None if observed is None else json.dumps(observed, ensure_ascii=False, default=str),
        sample=[_plain(row) for row in rows[:sample_size]], description=config.description or _describe(config),
        why=meta.get("why"), exception=exception)


def _plain(row: object) -> dict:
    return json.loads(json.dumps(row if isinstance(row, dict) else {"value": row}, default=str))


def _describe(config: object) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("row_condition", "condition_parser", "batch_id")}  # type: ignore[attr-defined]
    return f"{config.type} {json.dumps(kwargs, ensure_ascii=False, default=str)[:200]}"  # type: ignore[attr-defined]


# --- bookkeeping --------------------------------------------------------------------------------------------
def finish(conn: psycopg.Connection, verdict: GateVerdict) -> None:
    """The run's outcomes, its alerts (replacing the batch's earlier ones for this gate) and its verdict."""
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.gate_results (run_id, batch_id, gate, suite, check_name, expectation_type, "
                "column_name, severity, success, unexpected_count, element_count, observed, sample, description, "
                "exception) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s) "
                "on conflict do nothing",
                [(verdict.run_id, verdict.batch_id, verdict.gate, f.suite, f.check, f.expectation_type, f.column,
                  f.severity, f.success, f.unexpected_count, f.element_count, f.observed, f.sample_json(),
                  f.description, f.exception) for f in verdict.findings])
            cur.execute("delete from ops.gate_alerts where batch_id = %s and gate = %s",
                        (verdict.batch_id, verdict.gate))
            cur.executemany(
                "insert into ops.gate_alerts (batch_id, gate, suite, check_name, run_id, severity, message, "
                "unexpected_count, sample) values (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                [(verdict.batch_id, verdict.gate, f.suite, f.check, verdict.run_id, f.severity,
                  (f.description or f.check)[:500], f.unexpected_count, f.sample_json())
                 for f in (*verdict.failed_blocking, *verdict.failed_warning)])
        conn.execute(
            "update ops.gate_runs set status = %s, finished_at = now(), seconds = %s, expectations = %s, "
            "failed_blocking = %s, failed_warning = %s, gx_run_name = %s, data_docs = %s, error = %s "
            "where run_id = %s",
            (verdict.status, round(verdict.seconds, 3), len(verdict.findings), len(verdict.failed_blocking),
             len(verdict.failed_warning), f"{verdict.gate} {verdict.batch_id} #{verdict.run_id}",
             str(verdict.data_docs) if verdict.data_docs else None, verdict.error, verdict.run_id))


def log_verdict(verdict: GateVerdict) -> None:
    for f in verdict.failed_blocking:
        LOG.error("batch %s: %s gate: blocking %s · %s failed (%s unexpected)", verdict.batch_id, verdict.gate,
                  f.suite, f.check, f.unexpected_count)
    for f in verdict.failed_warning:
        LOG.warning("batch %s: %s gate: ALERT %s · %s (%s unexpected)", verdict.batch_id, verdict.gate, f.suite,
                    f.check, f.unexpected_count)
    LOG.info(verdict.headline())
    LOG.info("%s gate %s: %s", verdict.gate, verdict.batch_id,
             ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in verdict.timings.items()))


def accept(gate: str, batch_id: str, reason: str) -> int:
    """Release a held batch without rerunning its gate: a person looked and accepts it (recorded)."""
    if not reason.strip():
        raise ValueError("an acceptance needs a reason")
    with connect(gate) as conn:
        return conn.execute("insert into ops.gate_runs (batch_id, gate, status, finished_at, seconds, error) "
                            "values (%s, %s, %s, now(), 0, %s) returning run_id",
                            (batch_id, gate, ACCEPTED, f"accepted: {reason.strip()}")).fetchone()[0]

