"""Bulk-write Arrow tables with PostgreSQL ``COPY``, and replace one batch's rows atomically.

Three encodings, all measured by ``tests/benchmarks/bench_load.py``: ``binary`` (the
NumPy encoder in :mod:`jiaoyan.load.binary`, the default and fastest here), ``rows``
(psycopg's binary ``write_row`` with ``set_types``) and ``csv`` (Arrow's CSV writer,
parsed by the server).
"""

from __future__ import annotations

import io
from typing import Literal

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from jiaoyan.load import binary
from jiaoyan.warehouse.migrate import pg_type

Method = Literal["binary", "rows", "csv"]
DEFAULT_METHOD: Method = "binary"
_CHUNK_ROWS = 65_536


def qualified(name: str) -> sql.Composed:
    """``schema.table`` as identifiers."""
    schema, _, table = name.partition(".")
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def copy_table(conn: psycopg.Connection, target: str, table: pa.Table, method: Method = DEFAULT_METHOD) -> int:
    """COPY every row of ``table`` into ``target`` (columns by name); returns the row count."""
    if table.num_rows == 0:
        return 0
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
    statement = sql.SQL("copy {} ({}) from stdin").format(qualified(target), columns)
    with conn.cursor() as cur:
        if method == "binary":
            with cur.copy(statement + sql.SQL(" (format binary)")) as copy:
                for chunk in binary.encode_stream(table, _CHUNK_ROWS):
                    copy.write(chunk)
        elif method == "rows":
            _copy_rows(cur, statement, table)
        elif method == "csv":
            _copy_csv(cur, statement, table)
        else:
            raise ValueError(f"unknown COPY method {method!r}")
    return table.num_rows


def _copy_rows(cur: psycopg.Cursor, statement: sql.Composed, table: pa.Table) -> None:
    types = [pg_type(pa.int16() if pa.types.is_int8(f.type) else f.type) for f in table.schema]
    with cur.copy(statement + sql.SQL(" (format binary)")) as copy:
        copy.set_types(types)
        for batch in table.to_batches(max_chunksize=_CHUNK_ROWS):
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                copy.write_row(row)


def _copy_csv(cur: psycopg.Cursor, statement: sql.Composed, table: pa.Table) -> None:
    # unquoted empty field = NULL, quoted "" = empty string: what Arrow writes with quoting "needed"
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with cur.copy(statement + sql.SQL(" (format csv)")) as copy:
        for batch in table.to_batches(max_chunksize=_CHUNK_ROWS):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getvalue())


def replace_batch(conn: psycopg.Connection, target: str, batch_id: str, table: pa.Table,
                  method: Method = DEFAULT_METHOD) -> int:
    """Delete ``batch_id``'s rows from ``target`` and COPY ``table`` in their place.

    Call inside a transaction: readers see the old rows until it commits, and a crash
    rolls both back, so a batch is never half in a table nor in it twice.
    """
    conn.execute(sql.SQL("delete from {} where _batch_id = %s").format(qualified(target)), (batch_id,))
    return copy_table(conn, target, table, method)
