"""Schema migrations: roles, schemas, bookkeeping, and raw tables derived from the contracts.

SQL migrations in ``migrations/`` run once each, in order, and are recorded with a
checksum in ``ops.schema_migrations``; editing an applied file is refused. Raw tables
are generated from :mod:`jiaoyan.contracts` on every run (create if missing, add new
columns), so a contract change reaches the warehouse without a hand-written migration.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pyarrow as pa
from psycopg import sql

from jiaoyan import log
from jiaoyan.contracts import ALL_CONTRACTS, LAKE_CONTRACTS, Contract
from jiaoyan.errors import UserError
from jiaoyan.settings import Settings

LOG = log.get(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
OWNER_ROLE = "jiaoyan_owner"
LOGIN_ROLE_SETTINGS = {
    "jiaoyan_loader": "loader_url",
    "jiaoyan_transformer": "transformer_url",
    "jiaoyan_reader": "reader_url",
}
RAW_SYSTEM_COLUMNS = (
    ("_batch_id", "text not null"),
    ("_source_file", "text not null"),
    ("_line", "bigint"),
    ("_loaded_at", "timestamptz not null default now()"),
)


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def migrations() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        found.append(Migration(version, name, path))
    return found


def migrate(settings: Settings, manage_roles: bool = True) -> list[str]:
    """Apply pending migrations and sync raw tables; returns the versions applied."""
    if not settings.warehouse_url:
        raise UserError("JIAOYAN_WAREHOUSE_URL is not set: run `make warehouse` or set it in .env")
    database = urlsplit(settings.warehouse_url).path.lstrip("/")
    with psycopg.connect(settings.warehouse_url, autocommit=True) as conn:
        if manage_roles:
            ensure_roles(conn, settings)
        # membership lets the migrating user set default privileges for these roles
        conn.execute(f"grant {OWNER_ROLE}, jiaoyan_transformer to current_user")
        _ensure_migration_table(conn)
        applied = _apply_pending(conn, database)
        sync_raw_tables(conn)
    return applied


def ensure_roles(conn: psycopg.Connection, settings: Settings) -> None:
    """Create the owner and login roles; set login passwords from the configured URLs."""
    _create_role(conn, OWNER_ROLE, login=False)
    for role, field in LOGIN_ROLE_SETTINGS.items():
        url = getattr(settings, field)
        if not url:
            raise UserError(f"JIAOYAN_{field.upper()} is not set; every login role needs its URL")
        parts = urlsplit(url)
        if parts.username != role:
            raise UserError(f"JIAOYAN_{field.upper()} must connect as {role!r}, not {parts.username!r}")
        _create_role(conn, role, login=True)
        if parts.password:
            conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role),
                                                                     sql.Literal(parts.password)))


def _create_role(conn: psycopg.Connection, role: str, login: bool) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if not exists:
        LOG.info("creating role %s", role)
        conn.execute(sql.SQL("create role {} {}").format(sql.Identifier(role),
                                                        sql.SQL("login" if login else "nologin")))


def _ensure_migration_table(conn: psycopg.Connection) -> None:
    conn.execute(f"create schema if not exists ops authorization {OWNER_ROLE}")
    conn.execute(
        """
        create table if not exists ops.schema_migrations (
            version text primary key,
            name text not null,
            checksum text not null,
            applied_at timestamptz not null default now()
        )
        """
    )
    conn.execute(f"alter table ops.schema_migrations owner to {OWNER_ROLE}")


def _apply_pending(conn: psycopg.Connection, database: str) -> list[str]:
    done = dict(conn.execute("select version, checksum from ops.schema_migrations").fetchall())
    applied = []
    for migration in migrations():
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise UserError(f"migration {migration.path.name} was edited after it was applied; "
                                "add a new migration instead")
            continue
        LOG.info("applying migration %s", migration.path.name)
        text = migration.text.replace("{{database}}", sql.Identifier(database).as_string(conn))
        with conn.transaction():
            conn.execute(text)
            conn.execute("insert into ops.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                         (migration.version, migration.name, migration.checksum))
        applied.append(migration.version)
    return applied


# Raw tables from contracts -----------------------------------------------------------

_PG_TYPES = (
    (pa.types.is_string, "text"),
    (pa.types.is_boolean, "boolean"),
    (lambda t: pa.types.is_int8(t) or pa.types.is_int16(t), "smallint"),
    (pa.types.is_int32, "integer"),
    (pa.types.is_int64, "bigint"),
    (pa.types.is_float32, "real"),
    (pa.types.is_float64, "double precision"),
    (pa.types.is_date, "date"),
    (pa.types.is_timestamp, "timestamptz"),
    (pa.types.is_map, "jsonb"),
)


def pg_type(arrow_type: pa.DataType) -> str:
    for test, name in _PG_TYPES:
        if test(arrow_type):
            return name
    raise TypeError(f"no PostgreSQL type for {arrow_type}")


def raw_table_ddl(contract: Contract) -> sql.Composed:
    columns = [
        sql.SQL("{} {}{}").format(sql.Identifier(f.name), sql.SQL(pg_type(f.type)),
                                  sql.SQL(" not null" if f.required else ""))
        for f in contract.fields
    ]
    columns += [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(ddl)) for name, ddl in RAW_SYSTEM_COLUMNS]
    return sql.SQL("create table if not exists raw.{} ({})").format(sql.Identifier(contract.name),
                                                                  sql.SQL(", ").join(columns))


def sync_raw_tables(conn: psycopg.Connection) -> None:
    """Create each contract's raw table and add columns a contract gained since."""
    with conn.transaction():
        conn.execute(f"set local role {OWNER_ROLE}")
        for contract in ALL_CONTRACTS + LAKE_CONTRACTS:
            conn.execute(raw_table_ddl(contract))
            conn.execute(sql.SQL("comment on table raw.{} is {}").format(
                sql.Identifier(contract.name), sql.Literal(f"{contract.description} ({contract.location})")))
            nullable = dict(conn.execute(
                "select column_name, is_nullable = 'YES' from information_schema.columns "
                "where table_schema = 'raw' and table_name = %s", (contract.name,)).fetchall())
            for f in contract.fields:
                if f.name not in nullable:
                    conn.execute(sql.SQL("alter table raw.{} add column {} {}").format(
                        sql.Identifier(contract.name), sql.Identifier(f.name), sql.SQL(pg_type(f.type))))
                if f.required and nullable.get(f.name, True):
                    _require(conn, contract.name, f.name)  # a column added since the table was created
            conn.execute(sql.SQL("create index if not exists {} on raw.{} (_batch_id)").format(
                sql.Identifier(f"{contract.name}_batch"), sql.Identifier(contract.name)))


def _require(conn: psycopg.Connection, table: str, column: str) -> None:
    """NOT NULL on a required column added to an existing table: possible while its rows (if any) all have a
    value; otherwise the table keeps the column nullable and the raw gate's ``column_types`` check says so."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("alter table raw.{} alter column {} set not null").format(
                sql.Identifier(table), sql.Identifier(column)))
    except psycopg.errors.NotNullViolation:
        LOG.warning("raw.%s.%s is required by its contract but older rows have no value: left nullable "
                    "(reload those batches, then run `jiaoyan warehouse migrate` again)", table, column)
