"""A ``Part``: one contract's rows of a batch, split into good rows and rejects.

Readers build parts from files (through :mod:`jiaoyan.contracts.validate`), the
cross-source rules move good rows to the rejects, and the store writes both in one
transaction. Good rows carry the contract's fields plus ``_source_file`` and ``_line``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from jiaoyan.contracts import Contract
from jiaoyan.contracts.validate import LINE, REJECT_SCHEMA

SOURCE = "_source_file"
SOURCE_TYPE = pa.dictionary(pa.int32(), pa.string())  # one copy of each file name, not one per row


@dataclass(frozen=True)
class RejectedFile:
    contract: str
    source_file: str
    reason: str


@dataclass
class FileStat:
    """What one file gave: rows read, and how long reading and validating took."""

    source_file: str
    rows: int = 0
    seconds: float = 0.0
    rejected: str | None = None  # reason, when the whole file was rejected


@dataclass
class Part:
    contract: Contract
    good: pa.Table
    rejects: pa.Table
    rejected_files: list[RejectedFile] = field(default_factory=list)
    files: list[FileStat] = field(default_factory=list)
    seconds: float = 0.0  # reading, validating and checking

    @classmethod
    def empty(cls, contract: Contract) -> Part:
        return cls(contract, empty_good(contract), pa.Table.from_batches([], schema=REJECT_SCHEMA))

    def reject_file(self, source_file: str, reason: str, seconds: float = 0.0) -> None:
        self.rejected_files.append(RejectedFile(self.contract.name, source_file, reason))
        self.files.append(FileStat(source_file, 0, seconds, rejected=reason))

    def reject_rows(self, mask: np.ndarray, field_name: str, reason: str | list[str],
                    values: list[str | None] | None = None) -> int:
        """Move the good rows where ``mask`` holds to the rejects, with field, value and reason."""
        mask = np.asarray(mask, bool)
        count = int(mask.sum())
        if not count:
            return 0
        bad = self.good.filter(pa.array(mask))
        if values is None:
            values = _as_text(bad[field_name]) if field_name in bad.column_names else [None] * count
        reasons = reason if isinstance(reason, list) else [reason] * count
        rejects = pa.table(
            {
                "source_file": bad[SOURCE].cast(pa.string()),
                "line": bad[LINE],
                "field": pa.array([field_name] * count, pa.string()),
                "value": pa.array(values, pa.string()),
                "reason": pa.array(reasons, pa.string()),
                "raw": pa.array(_raw_json(bad.drop_columns([SOURCE, LINE])), pa.string()),
            },
            schema=REJECT_SCHEMA,
        )
        self.rejects = pa.concat_tables([self.rejects, rejects])
        self.good = self.good.filter(pa.array(~mask))
        return count

    def rows_by_file(self) -> tuple[Counter[str], Counter[str]]:
        """(good rows, rejected rows) per source file."""
        good = Counter(dict(_value_counts(self.good[SOURCE]))) if self.good.num_rows else Counter()
        bad = Counter(dict(_value_counts(self.rejects["source_file"]))) if self.rejects.num_rows else Counter()
        return good, bad


def empty_good(contract: Contract) -> pa.Table:
    return pa.Table.from_batches([], schema=good_schema(contract))  # (empty_table() imports pandas)


def good_schema(contract: Contract) -> pa.Schema:
    """Good rows: the contract's fields as ``validate.conform`` types them, then line and file."""
    return pa.schema([*contract.schema, pa.field(LINE, pa.int64(), nullable=False), pa.field(SOURCE, SOURCE_TYPE)])


def with_source(table: pa.Table, source_index: np.ndarray, sources: list[str]) -> pa.Table:
    """Add ``_source_file``: ``sources[source_index[i]]`` for row i, as a dictionary column."""
    column = pa.DictionaryArray.from_arrays(pa.array(source_index, pa.int32()), pa.array(sources, pa.string()))
    return table.append_column(pa.field(SOURCE, SOURCE_TYPE), column)


def _value_counts(column: pa.ChunkedArray | pa.Array) -> list[tuple[str, int]]:
    counts = pc.value_counts(column.cast(pa.string()))
    return [(str(v["values"]), int(v["counts"])) for v in counts.to_pylist()]


def _as_text(column: pa.ChunkedArray) -> list[str | None]:
    return [None if v is None else str(v) for v in column.to_pylist()]


def _raw_json(table: pa.Table) -> list[str]:
    return [orjson.dumps(row, default=str).decode() for row in table.to_pylist()]
