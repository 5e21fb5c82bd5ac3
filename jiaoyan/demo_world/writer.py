"""Writing batch files: deterministic CSV/Parquet bytes, atomic writes, the ``_batch.json`` marker."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from jiaoyan import landing
from jiaoyan.contracts import BatchFile, BatchManifest
from jiaoyan.contracts.batch import BATCH_MARKER


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 CSV with ``\\n`` line ends, quoting only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def parquet_bytes(table: pa.Table) -> bytes:
    """Parquet with plain string columns (dictionary-encoded on disk, not in the Arrow schema)."""
    plain = table.cast(pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                  for f in table.schema]))
    strings = [f.name for f in plain.schema if pa.types.is_string(f.type)]  # numbers do not repeat enough
    buffer = io.BytesIO()
    pq.write_table(plain, buffer, compression="zstd", use_dictionary=strings, row_group_size=1 << 20)
    return buffer.getvalue()


def fmt(value: object) -> str:
    """A CSV cell: '' for missing, true/false, ISO dates, numbers without float noise."""
    if value is None or value is pa.NA:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "" if text in ("<NA>", "nan", "NaT", "None") else text


class Batch:
    """The files of one night's folder, written atomically and listed for the marker."""

    def __init__(self, landing_uri: str, day: dt.date) -> None:
        self.landing_uri = landing_uri
        self.day = day
        self.uri = landing.batch_uri(landing_uri, day)
        self.files: list[BatchFile] = []

    def put(self, path: str, data: bytes, contract: str, rows: int | None) -> BatchFile:
        landing.write_bytes(landing.join(self.uri, path), data)
        entry = BatchFile(path=path, contract=contract, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data),
                          rows=rows)
        self.files.append(entry)
        return entry

    def finish(self, producer: str, extra: Iterable[BatchFile] = ()) -> None:
        """Write ``_batch.json`` last, listing every file in path order."""
        files = sorted([*self.files, *extra], key=lambda f: f.path)
        marker = BatchManifest(batch_id=self.day.isoformat(), batch_date=self.day, producer=producer, files=files)
        landing.write_bytes(landing.join(self.uri, BATCH_MARKER),
                            (marker.model_dump_json(indent=2) + "\n").encode("utf-8"))
