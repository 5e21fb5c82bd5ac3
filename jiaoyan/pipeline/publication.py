"""The publication manifest: what readers see after a night, as row counts and checksums per mart.

Written right after ``ops.publish_marts`` swaps the checked build in, into ``ops.publication_marts``. The
checksum of a relation is the sum of a 60-bit hash of each row's JSON (keys sorted by PostgreSQL's jsonb, so
column order does not matter; the sum, so row order does not either), leaving out the columns that only say
*when* rows were loaded: reloading the same data gives the same manifest, different data a different one.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from jiaoyan import db

AUDIT_COLUMNS = ("loaded_at", "_loaded_at", "published_at")  # the load time, not the data
_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view"}


@dataclass(frozen=True)
class MartChecksum:
    relation: str
    kind: str
    row_count: int
    checksum: str


def relations(conn: psycopg.Connection, schema: str = "marts") -> list[tuple[str, str]]:
    """(name, kind) of every table and view in ``schema``, by name."""
    rows = conn.execute(
        "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') order by c.relname", (schema,)).fetchall()
    return [(name, _KINDS[kind]) for name, kind in rows]


def checksum(conn: psycopg.Connection, relation: str, kind: str, schema: str = "marts") -> MartChecksum:
    query = sql.SQL(
        "select count(*), coalesce(sum(('x' || left(md5((to_jsonb(t) - %s::text[])::text), 15))::bit(60)::bigint), 0)"
        " from {}.{} as t").format(sql.Identifier(schema), sql.Identifier(relation))
    count, total = conn.execute(query, (list(AUDIT_COLUMNS),)).fetchone()
    return MartChecksum(relation, kind, int(count), f"{int(total):x}")


def manifest(conn: psycopg.Connection, schema: str = "marts") -> list[MartChecksum]:
    return [checksum(conn, name, kind, schema) for name, kind in relations(conn, schema)]


def record(publication_id: int, schema: str = "marts") -> list[MartChecksum]:
    """Compute the published marts' manifest and store it under ``publication_id`` (idempotent)."""
    with db.connect("transformer") as conn:
        conn.execute("set local statement_timeout = 0")
        marts = manifest(conn, schema)
        conn.execute("delete from ops.publication_marts where publication_id = %s", (publication_id,))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.publication_marts (publication_id, relation, kind, row_count, checksum) "
                "values (%s, %s, %s, %s, %s)",
                [(publication_id, m.relation, m.kind, m.row_count, m.checksum) for m in marts])
    return marts


def read(conn: psycopg.Connection, publication_id: int) -> dict[str, tuple[int, str]]:
    """relation -> (row count, checksum) of a recorded publication."""
    rows = conn.execute("select relation, row_count, checksum from ops.publication_marts where publication_id = %s "
                        "order by relation", (publication_id,)).fetchall()
    return {r[0]: (int(r[1]), r[2]) for r in rows}


def latest(conn: psycopg.Connection, batch_id: str | None = None) -> int | None:
    """The latest publication (of ``batch_id`` when given)."""
    if batch_id is None:
        row = conn.execute("select max(publication_id) from ops.publications").fetchone()
    else:
        row = conn.execute("select max(publication_id) from ops.publications where batch_id = %s",
                           (batch_id,)).fetchone()
    return row[0] if row else None
