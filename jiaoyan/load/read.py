"""Read a contract's files (batch or lake) into a :class:`Part`, through the contract validator.

A file that cannot be used at all — missing, unreadable, a required column missing, a
checksum that differs from ``_batch.json`` — is rejected whole; its neighbours load.
Parquet files of one contract are validated together (inference writes one file per
lesson, thousands a night), with each row's file and row number kept for quarantine.
Line numbers: CSV and JSON Lines count lines from 1 with the header as line 1, as the
validator does; Parquet counts rows from 1.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jiaoyan import landing
from jiaoyan.contracts import Contract, ContractError
from jiaoyan.contracts import validate as v
from jiaoyan.load.parts import SOURCE, FileStat, Part, good_schema, with_source


@dataclass(frozen=True)
class FileRef:
    """A file to load: the name recorded with its rows, where it is, and its expected checksum."""

    source: str  # batch-relative path, or "lake:<path below the lake root>"
    uri: str
    sha256: str | None = None  # from _batch.json; lake files have none


def fetch(ref: FileRef) -> bytes:
    """The file's bytes, checked against ``_batch.json``; ContractError when unusable."""
    try:
        data = landing.read_bytes(ref.uri)
    except FileNotFoundError as exc:
        raise ContractError(ref.source, "listed in _batch.json but missing") from exc
    except OSError as exc:
        raise ContractError(ref.source, f"not readable: {exc}") from exc
    if ref.sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != ref.sha256.lower():
            raise ContractError(ref.source, f"checksum differs from _batch.json (expected {ref.sha256[:12]}…, "
                                f"got {actual[:12]}…): truncated or changed after the marker was written")
    return data


def file_reason(exc: ContractError) -> str:
    """The reason without the ``<source>:`` prefix the error message carries."""
    text = str(exc)
    return text.removeprefix(f"{exc.source}: ")


def read_text_part(contract: Contract, refs: Iterable[FileRef]) -> Part:
    """CSV or JSON Lines files, one validator call each."""
    reader = v.read_csv if contract.format == "csv" else v.read_jsonl
    part = Part.empty(contract)
    goods, rejects = [part.good], [part.rejects]
    for ref in refs:
        started = time.perf_counter()
        try:
            result = reader(contract, fetch(ref), ref.source)
        except ContractError as exc:
            part.reject_file(ref.source, file_reason(exc), time.perf_counter() - started)
            continue
        except (UnicodeDecodeError, pa.ArrowException, OSError, EOFError) as exc:  # e.g. binary or bad gzip
            part.reject_file(ref.source, f"not readable as {contract.format}: {exc}", time.perf_counter() - started)
            continue
        goods.append(with_source(result.good, np.zeros(result.n_good, np.int32), [ref.source]))
        rejects.append(result.rejects)
        part.files.append(_stat(ref, result.n_good + result.n_rejected, started))
    part.good = pa.concat_tables(goods)
    part.rejects = pa.concat_tables(rejects)
    return part


def _stat(ref: FileRef, rows: int, started: float) -> FileStat:
    return FileStat(ref.source, rows, time.perf_counter() - started)


def read_parquet_part(contract: Contract, refs: Iterable[FileRef]) -> Part:
    """Parquet files, validated in one call when their columns cast cleanly to the contract."""
    part = Part.empty(contract)
    together: list[tuple[FileRef, pa.Table]] = []
    alone: list[tuple[FileRef, pa.Table]] = []
    for ref in refs:
        started = time.perf_counter()
        try:
            table = _read_parquet(contract, ref)
        except ContractError as exc:
            part.reject_file(ref.source, file_reason(exc), time.perf_counter() - started)
            continue
        typed = _to_contract_types(contract, table)
        (together if typed is not None else alone).append((ref, typed if typed is not None else table))
        part.files.append(_stat(ref, table.num_rows, started))
    goods, rejects = [part.good], [part.rejects]
    if together:
        good, bad = _conform_many(contract, together)
        goods.append(good)
        rejects.append(bad)
    for ref, table in alone:
        result = v.conform(contract, table, ref.source, np.arange(1, table.num_rows + 1))
        goods.append(with_source(result.good, np.zeros(result.n_good, np.int32), [ref.source]))
        rejects.append(result.rejects)
    part.good = pa.concat_tables(goods)
    part.rejects = pa.concat_tables(rejects)
    return part


def _read_parquet(contract: Contract, ref: FileRef) -> pa.Table:
    data = fetch(ref)
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise ContractError(ref.source, f"not readable as Parquet: {exc}") from exc
    missing = [f.name for f in contract.fields if f.required and f.name not in table.column_names]
    if missing:
        raise ContractError(ref.source, f"required column(s) missing: {', '.join(missing)}")
    return table


def _to_contract_types(contract: Contract, table: pa.Table) -> pa.Table | None:
    """The contract's columns in its types (absent optional columns as NULLs); None if a cast fails."""
    columns = []
    for spec in contract.fields:
        if spec.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, spec.type))
            continue
        column = table[spec.name]
        if column.type != spec.type:
            try:
                column = pc.cast(column, spec.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
        columns.append(column)
    return pa.table(columns, names=list(contract.field_names))


def _conform_many(contract: Contract, files: list[tuple[FileRef, pa.Table]]) -> tuple[pa.Table, pa.Table]:
    """Validate several files at once: the validator sees a global row number, mapped back after."""
    sources = [ref.source for ref, _ in files]
    sizes = np.array([t.num_rows for _, t in files], np.int64)
    file_of = np.repeat(np.arange(len(files), dtype=np.int32), sizes)
    row_of = np.arange(len(file_of), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    table = pa.concat_tables([t for _, t in files])
    result = v.conform(contract, table, "", np.arange(table.num_rows, dtype=np.int64))
    index = result.good[v.LINE].to_numpy()
    good = result.good.set_column(result.good.schema.get_field_index(v.LINE), pa.field(v.LINE, pa.int64(), False),
                                  pa.array(row_of[index]))
    good = with_source(good, file_of[index], sources)
    bad_index = result.rejects["line"].to_numpy()
    rejects = result.rejects.set_column(0, "source_file", pa.array(np.array(sources, object)[file_of[bad_index]],
                                                                   pa.string()))
    rejects = rejects.set_column(1, "line", pa.array(row_of[bad_index]))
    return good.cast(good_schema(contract)), rejects


__all__ = ["SOURCE", "FileRef", "fetch", "read_parquet_part", "read_text_part"]
