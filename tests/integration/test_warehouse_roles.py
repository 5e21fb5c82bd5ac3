"""The warehouse's migrations and least-privilege roles, against the real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from jiaoyan.contracts import ALL_CONTRACTS, LAKE_CONTRACTS
from jiaoyan.settings import get_settings
from jiaoyan.warehouse.migrate import migrate

pytestmark = pytest.mark.integration


def _refused(url: str, statement: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_migrations_create_schemas_and_a_raw_table_per_contract(warehouse: dict[str, str]) -> None:
    with psycopg.connect(warehouse["owner"]) as conn:
        schemas = {r[0] for r in conn.execute("select schema_name from information_schema.schemata")}
        raw_tables = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'")}
        applied = [r[0] for r in conn.execute("select version from ops.schema_migrations order by version")]
    assert {"raw", "quarantine", "ops", "seeds", "staging", "intermediate", "snapshots", "marts"} <= schemas
    assert raw_tables == {c.name for c in (*ALL_CONTRACTS, *LAKE_CONTRACTS)}
    assert applied == sorted(applied) and applied


def test_migrations_are_idempotent(warehouse: dict[str, str]) -> None:
    assert migrate(get_settings()) == []


def test_reader_sees_only_marts(warehouse: dict[str, str]) -> None:
    with psycopg.connect(warehouse["transformer"], autocommit=True) as conn:
        conn.execute("create table marts.role_probe as select 1 as x")
    with psycopg.connect(warehouse["reader"]) as conn:
        assert conn.execute("select x from marts.role_probe").fetchone() == (1,)
    for statement in ("select * from raw.teachers", "select * from quarantine.rejected_rows",
                      "select * from ops.batches", "create table marts.reader_table (x int)"):
        assert _refused(warehouse["reader"], statement), statement


def test_loader_writes_raw_but_cannot_touch_marts(warehouse: dict[str, str]) -> None:
    with psycopg.connect(warehouse["transformer"], autocommit=True) as conn:
        conn.execute("create table if not exists marts.loader_probe as select 1 as x")
    with psycopg.connect(warehouse["loader"]) as conn:
        conn.execute("insert into raw.regions (region_code, region_name, level, _batch_id, _source_file) "
                     "values ('110000', '北京市', 'province', 'probe', 'probe.csv')")
        conn.rollback()
    for statement in ("drop table marts.loader_probe", "select * from marts.loader_probe",
                      "truncate marts.loader_probe", "drop table raw.regions", "create table raw.extra (x int)",
                      "create schema evil"):
        assert _refused(warehouse["loader"], statement), statement


def test_transformer_reads_inputs_but_cannot_write_them(warehouse: dict[str, str]) -> None:
    with psycopg.connect(warehouse["transformer"]) as conn:
        conn.execute("select count(*) from raw.teachers").fetchone()
    assert _refused(warehouse["transformer"], "insert into raw.regions (region_code, region_name, level, "
                    "_batch_id, _source_file) values ('1', 'x', 'province', 'b', 'f')")
    assert _refused(warehouse["transformer"], "delete from quarantine.rejected_rows")
