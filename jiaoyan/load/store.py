"""Write parts to the warehouse: raw rows, quarantine and bookkeeping, all or nothing.

Idempotency: a batch's rows of a raw table are *replaced* — ``delete … where _batch_id``
then ``COPY`` — in the same transaction as that batch's quarantine rows and bookkeeping
for the table. A rerun, or a rerun after a crash (the transaction rolled back), leaves
exactly one copy. Lake datasets partitioned by day replace their partitions instead
(see :mod:`jiaoyan.load.activity`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from jiaoyan.load import copy
from jiaoyan.load.parts import Part, RejectedFile
from jiaoyan.load.report import TableLoad, top_reasons

BATCH_COLUMN = "_batch_id"


@dataclass(frozen=True)
class Partitions:
    """Replace these values of ``field`` instead of the batch's rows (day-partitioned lake datasets)."""

    field: str
    values: list[str]
    sql_type: str = "text"  # the field's column type: the values are sent as text


def raw_rows(part: Part, batch_id: str) -> pa.Table:
    """Good rows with the provenance columns the raw table carries (``_loaded_at`` defaults to now())."""
    n = part.good.num_rows
    batch = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([batch_id]))
    return part.good.append_column(BATCH_COLUMN, batch)


def commit(conn: psycopg.Connection, batch_id: str, load_id: int, parts: list[Part],
           method: copy.Method = copy.DEFAULT_METHOD, partitions: Partitions | None = None) -> list[TableLoad]:
    """Replace the batch's rows, quarantine and bookkeeping of each part's table, in one transaction."""
    results = []
    with conn.transaction():
        for part in parts:
            started = time.perf_counter()
            target = f"raw.{part.contract.name}"
            if partitions is None:
                copy.replace_batch(conn, target, batch_id, raw_rows(part, batch_id), method)
            else:
                _replace_partitions(conn, target, partitions, raw_rows(part, batch_id), method)
            copy_seconds = time.perf_counter() - started
            replace_quarantine(conn, batch_id, part)
            result = _table_load(part, copy_seconds)
            _record(conn, batch_id, load_id, part, result)
            results.append(result)
    return results


def _replace_partitions(conn: psycopg.Connection, target: str, partitions: Partitions, table: pa.Table,
                        method: copy.Method) -> None:
    conn.execute(sql.SQL("delete from {} where {} = any(%s::{}[])").format(
        copy.qualified(target), sql.Identifier(partitions.field), sql.SQL(partitions.sql_type)),
        (partitions.values,))
    copy.copy_table(conn, target, table, method)


def replace_quarantine(conn: psycopg.Connection, batch_id: str, part: Part) -> None:
    """The batch's quarantined rows and files of this contract, replacing any earlier run's."""
    name = part.contract.name
    conn.execute("delete from quarantine.rejected_rows where batch_id = %s and contract = %s", (batch_id, name))
    rejects = part.rejects
    n = rejects.num_rows
    tagged = pa.table({"batch_id": pa.array([batch_id] * n, pa.string()),
                       "contract": pa.array([name] * n, pa.string()),
                       **{column: rejects[column] for column in rejects.column_names}})
    copy.copy_table(conn, "quarantine.rejected_rows", tagged)
    names = sorted({f.contract for f in part.rejected_files} | {name})
    conn.execute("delete from quarantine.rejected_files where batch_id = %s and contract = any(%s)",
                 (batch_id, names))
    insert_rejected_files(conn, batch_id, part.rejected_files)


def insert_rejected_files(conn: psycopg.Connection, batch_id: str, files: list[RejectedFile]) -> None:
    unique = {f.source_file: f for f in reversed(files)}  # one row per file (the first reason wins)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into quarantine.rejected_files (batch_id, contract, source_file, reason) values (%s, %s, %s, %s) "
            "on conflict (batch_id, source_file) do update set contract = excluded.contract, "
            "reason = excluded.reason, quarantined_at = now()",
            [(batch_id, f.contract, f.source_file, f.reason) for f in unique.values()])


def _table_load(part: Part, copy_seconds: float) -> TableLoad:
    return TableLoad(
        contract=part.contract.name,
        files=len(part.files),
        files_rejected=len({f.source_file for f in part.rejected_files}),
        rows_loaded=part.good.num_rows,
        rows_rejected=part.rejects.num_rows,
        seconds=part.seconds + copy_seconds,
        copy_seconds=copy_seconds,
        top_reasons=top_reasons(part.rejects),
    )


def _record(conn: psycopg.Connection, batch_id: str, load_id: int, part: Part, result: TableLoad) -> None:
    name = part.contract.name
    conn.execute("delete from ops.load_tables where batch_id = %s and contract = %s", (batch_id, name))
    conn.execute("delete from ops.load_files where batch_id = %s and contract = %s", (batch_id, name))
    if not part.files and not result.rows_loaded and not result.rows_rejected:
        return  # nothing arrived for this table tonight
    conn.execute(
        "insert into ops.load_tables (batch_id, contract, load_id, files, files_rejected, rows_loaded, "
        "rows_rejected, seconds, copy_seconds) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (batch_id, name, load_id, result.files, result.files_rejected, result.rows_loaded, result.rows_rejected,
         result.seconds, result.copy_seconds))
    good, bad = part.rows_by_file()
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ops.load_files (batch_id, contract, source_file, status, rows_read, rows_loaded, "
            "rows_rejected, seconds, reason) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (batch_id, contract, source_file) do nothing",
            [(batch_id, name, f.source_file, "rejected" if f.rejected else "loaded", f.rows, good[f.source_file],
              bad[f.source_file], f.seconds, f.rejected) for f in part.files])

