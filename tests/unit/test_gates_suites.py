"""The gates' suite builders, without a database: what the contracts and seeds turn into, and the rules of
severity, naming and SQL that every expectation follows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from jiaoyan import codes
from jiaoyan.contracts import ALL_CONTRACTS, BEHAVIOUR_CODES, LAKE_CONTRACTS, Field

ROOT = Path(__file__).resolve().parents[2]
BATCH = "2026-03-02"


@pytest.fixture(scope="module")
def gx_modules() -> tuple:
    from expectations import checks, drift, mart_suites, raw_suites

    return checks, drift, mart_suites, raw_suites


def _checks(suite: object) -> dict[str, object]:
    return {e.meta["check"]: e for e in suite.expectations}


def test_behaviour_codes_suite_follows_the_contract_and_the_seed(gx_modules: tuple) -> None:
    _, _, _, raw_suites = gx_modules
    suite = raw_suites.raw_suite("behaviour_codes", BATCH)
    checks = _checks(suite)
    assert checks["teacher_behaviour.allowed"].value_set == list(codes.teacher_codes())
    for column in codes.share_columns():
        assert (checks[f"{column}.range"].min_value, checks[f"{column}.range"].max_value) == (0, 1)
    assert set(checks["columns"].column_set) >= set(BEHAVIOUR_CODES.field_names) | {"_batch_id", "_line"}
    for name in ("key.unique", "shares.sum_to_one", "points.contiguous", "points.complete",
                 "lesson_id.references", "column_types"):
        assert checks[name].severity.value == "critical", name
    assert checks["st_code_matches_scheme"].severity.value == "warning"
    # every column expectation is narrowed to the night's batch
    assert all(f"'{BATCH}'" in str(e.row_condition) or BATCH in str(e.row_condition)
               for e in suite.expectations if getattr(e, "row_condition", None) is not None)


def test_every_raw_table_gets_a_suite_with_named_reasoned_checks(gx_modules: tuple) -> None:
    checks_module, _, _, raw_suites = gx_modules
    for contract in (*ALL_CONTRACTS, *LAKE_CONTRACTS):
        suite = raw_suites.raw_suite(contract.name, BATCH)
        names = suite.checks()
        assert len(names) == len(set(names)), f"{contract.name}: duplicate check names"
        for e in suite.expectations:
            assert e.meta["why"] and isinstance(e.meta["blocking"], bool), (contract.name, e.meta)
            assert checks_module.is_blocking(e) == (e.severity.value == "critical")
        has_key_check = "key.unique" in names
        assert has_key_check == (contract.name not in raw_suites.KEYS_MAY_REPEAT)
        for f in contract.fields:
            assert (f"{f.name}.allowed" in names) == bool(f.allowed)
            assert (f"{f.name}.range" in names) == (f.min is not None or f.max is not None)


def test_a_contract_change_flows_into_the_gate(gx_modules: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, _, raw_suites = gx_modules
    manifest = next(c for c in ALL_CONTRACTS if c.name == "lesson_manifest")
    changed = dataclasses.replace(manifest, fields=(
        *manifest.fields, Field("camera", pa.string(), "camera position", allowed=("front", "back"))))
    monkeypatch.setattr(raw_suites, "contract_of", lambda _name: changed)
    checks = _checks(raw_suites.raw_suite("lesson_manifest", BATCH))
    assert checks["camera.allowed"].value_set == ["front", "back"]
    assert "camera" in checks["columns"].column_set
    assert "('camera', 'text', 'yes')" in checks["column_types"].unexpected_rows_query


def test_lake_references_alert_while_source_references_block(gx_modules: tuple) -> None:
    _, _, _, raw_suites = gx_modules
    assert _checks(raw_suites.raw_suite("lesson_manifest", BATCH))["school_id.references"].severity.value == "critical"
    assert _checks(raw_suites.raw_suite("member_day", BATCH))["member_id.references"].severity.value == "warning"
    # a table never references itself through its own key
    assert "teacher_id.references" not in _checks(raw_suites.raw_suite("teachers", BATCH))


def test_rules_read_the_batch_with_a_predictable_alias_and_escape_braces(gx_modules: tuple) -> None:
    checks, _, _, _ = gx_modules
    e = checks.rule("x", "select b.a from {batch} as b where b.a ~ '^[0-9]{6}$'", "d", "w")
    assert e.expectation_type == "sql_rule_expectation"  # one query for rows and total, not GX's two
    assert ("select b.a from {batch} as b cross join (select) as _one where b.a ~ '^[0-9]{{6}}$'"
            in e.unexpected_rows_query)
    rendered = e.unexpected_rows_query.format(batch="raw.t")
    assert "'^[0-9]{6}$'" in rendered and rendered.startswith("select q.*, count(*) over () as _unexpected_total")
    assert rendered.endswith(f"limit {checks.ROW_LIMIT}")
    with pytest.raises(ValueError, match="as <alias>"):
        checks.rule("x", "select 1 from raw.t", "d", "w")
    with pytest.raises(ValueError, match="not a batch id"):
        checks.literal("2026-03-02'; drop table raw.teachers; --")
    assert checks.literal("2026-03-02") == "'2026-03-02'"


def test_batch_suite_and_drift_thresholds_come_from_settings(gx_modules: tuple,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from expectations.settings import reset_gate_settings_cache

    _, _, mart_suites, raw_suites = gx_modules
    monkeypatch.setenv("JIAOYAN_GATE_MODE_MIX_BLOCK", "0.42")
    monkeypatch.setenv("JIAOYAN_GATE_BASELINE_NIGHTS", "3")
    reset_gate_settings_cache()
    try:
        batch = _checks(raw_suites.batch_suite(BATCH))
        assert {"batch.loaded", "batch.reconciled", "batch.codes_present", "batch.lessons_coded",
                "batch.no_earlier_batch_held", "model.shift", "behaviour_share.drift"} == set(batch)
        assert batch["model.shift"].severity.value == "critical"
        assert batch["behaviour_share.drift"].severity.value == "warning"
        assert batch["batch.lessons_coded"].severity.value == "warning"
        assert "limit 3" in batch["model.shift"].unexpected_rows_query
        build = _checks(mart_suites.build_suite(BATCH, 7))
        assert ">= 0.42" in build["mode_mix.jump"].unexpected_rows_query
        assert build["mode_mix.jump"].severity.value == "critical"
        assert build["mode_mix.drift"].severity.value == "warning"
        assert "r.run_id = 7" in build["marts_present"].unexpected_rows_query
    finally:
        monkeypatch.undo()
        reset_gate_settings_cache()


def test_mart_rules_name_columns_the_dbt_models_have(gx_modules: tuple) -> None:
    _, _, mart_suites, _ = gx_modules
    documented: dict[str, set[str]] = {}
    for path in (ROOT / "dbt" / "models" / "marts").rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            documented[model["name"]] = {c["name"] for c in model.get("columns", [])}
    annual = documented["mart_annual_report"]
    assert set(mart_suites.ADDITIVE_FIGURES) | set(mart_suites.DISTINCT_FIGURES) <= annual
    models = {p.stem for p in (ROOT / "dbt" / "models").rglob("*.sql")}
    from expectations.project import MART_TABLES

    assert set(MART_TABLES) <= models
    assert codes.seed_codes("teaching_modes") == mart_suites.MODES
    suites = {s.name: _checks(s) for s in mart_suites.mart_suites(set(MART_TABLES))}
    assert suites["marts.fct_lesson_behaviour_metrics"]["teaching_mode.allowed"].value_set == list(
        codes.seed_codes("teaching_modes"))
    assert "portrait_per_teacher_term" in suites["marts.mart_teacher_portrait"]
    assert "figures_add_up" in suites["marts.mart_annual_report"]


def test_the_committed_gx_project_holds_no_secret_and_every_asset(gx_modules: tuple) -> None:
    from expectations import project

    config = yaml.safe_load((ROOT / "expectations" / "gx" / "great_expectations.yml").read_text())
    sources = config["fluent_datasources"]
    assert sources["raw"]["connection_string"] == "${" + project.RAW_URL_VARIABLE + "}"
    assert sources["marts"]["connection_string"] == "${" + project.MARTS_URL_VARIABLE + "}"
    missing = (set(project.raw_tables()) | {project.BATCH_ASSET}) - set(sources["raw"]["assets"])
    missing |= (set(project.MART_TABLES) | {project.RUN_ASSET}) - set(sources["marts"]["assets"])
    assert not missing, (f"assets {sorted(missing)} are not in expectations/gx/great_expectations.yml: run a gate "
                         "once against a warehouse (it adds them) and commit the file")
    assert all(asset["schema_name"] == project.BUILD_SCHEMA for name, asset in sources["marts"]["assets"].items()
               if name != project.RUN_ASSET)
    for store in config["stores"].values():
        assert store["store_backend"]["base_directory"].startswith("uncommitted/")
    site = config["data_docs_sites"]["local_site"]["store_backend"]["base_directory"]
    assert site.rstrip("/") == project.DATA_DOCS_DIR


def test_dbt_builds_into_the_schemas_the_gate_reads_and_publishes() -> None:
    from expectations import gates
    from expectations.project import BUILD_SCHEMA

    macro = (ROOT / "dbt" / "macros" / "generate_schema_name.sql").read_text()
    assert "build_schema_suffix" in macro and gates.DBT_BUILD_VARS == {"build_schema_suffix": gates.BUILD_SUFFIX}
    assert BUILD_SCHEMA == "marts" + gates.BUILD_SUFFIX
    migration = (ROOT / "jiaoyan" / "warehouse" / "migrations" / "0012_publish_all_built_schemas.sql").read_text()
    for layer in ("staging", "intermediate", "marts"):
        assert layer in migration


def test_a_verdict_blocks_on_blocking_failures_only() -> None:
    from expectations.verdict import Finding, GateFailed, GateVerdict

    ok = Finding("raw.t", "a.range", "expect_column_values_to_be_between", blocking=True, success=True)
    warn = Finding("raw.t", "b.references", "unexpected_rows_expectation", blocking=False, success=False,
                   unexpected_count=2, sample=[{"b": "x", "_source_file": "f.csv", "_line": 7}])
    verdict = GateVerdict("raw", BATCH, 1, [ok, warn])
    assert verdict.status == "warned" and verdict.passed and verdict.raise_for_status() is verdict
    bad = Finding("raw.t", "key.unique", "unexpected_rows_expectation", blocking=True, success=False,
                  unexpected_count=1, sample=[{"k": 1, "rows": "a.csv:2, b.csv:9"}])
    verdict.findings.append(bad)
    assert verdict.status == "failed" and not verdict.passed and verdict.failed("key.unique", "raw.t")
    text = verdict.render()
    assert "[BLOCKING] raw.t · key.unique: 1 unexpected" in text and "a.csv:2, b.csv:9" in text
    assert "[WARNING] raw.t · b.references" in text and '"_line": 7' in text
    with pytest.raises(GateFailed, match="FAILED"):
        verdict.raise_for_status()
    assert GateVerdict("raw", BATCH, 2, [ok], error="boom").status == "error"


def test_the_cli_is_registered() -> None:
    from click.testing import CliRunner

    from jiaoyan.cli import COMMANDS, cli

    assert COMMANDS["gate"][0] == "expectations.cli:gate"
    result = CliRunner().invoke(cli, ["gate", "--help"])
    assert result.exit_code == 0
    for command in ("raw", "marts", "publish", "accept", "docs"):
        assert command in result.output


def test_a_sql_rule_reads_its_total_from_its_rows(gx_modules: tuple) -> None:
    checks, _, _, _ = gx_modules
    e = checks.rule("x", "select b.a from {batch} as b", "d", "w")
    rows = [{"a": 1, checks.TOTAL: 250}, {"a": 2, checks.TOTAL: 250}]
    metrics = {"unexpected_rows_query.table": rows}
    assert e._validate(metrics, {"result_format": "BOOLEAN_ONLY"}) == {"success": False}
    complete = e._validate(metrics, {"result_format": {"result_format": "COMPLETE"}})
    assert complete["result"]["observed_value"] == 250  # the total, not the 200 rows fetched
    assert complete["result"]["details"]["unexpected_rows"] == [{"a": 1}, {"a": 2}]
    assert e._validate({"unexpected_rows_query.table": []}, {"result_format": "SUMMARY"}) == {
        "success": True, "result": {"observed_value": 0}}


def test_session_options_are_added_to_gate_urls_once() -> None:
    from expectations.project import with_session_options

    options = "-c jit=off -c work_mem=128MB"
    assert with_session_options("postgresql://u@h:5/db", options) == \
        "postgresql://u@h:5/db?options=-c%20jit%3Doff%20-c%20work_mem%3D128MB"
    assert with_session_options("postgresql://u@h:5/db?sslmode=require", options).startswith(
        "postgresql://u@h:5/db?sslmode=require&options=-c%20jit")
    assert with_session_options("postgresql://u@h/db?options=-c%20x%3D1", options) == \
        "postgresql://u@h/db?options=-c%20x%3D1"  # the operator's own options win
    assert with_session_options("postgresql://u@h/db", "") == "postgresql://u@h/db"

