"""The reference verdict for the lines Spark's native checks doubt, run in Python workers.

Spark decides most lines natively (:mod:`spark_jobs.activity.validate`), strictly: any
line it is not sure of goes here and is read by the reference reader,
:func:`jiaoyan.contracts.validate.read_jsonl` — the same code the small-volume path
uses — which gives the final verdict, the typed row of a good line, and the exact
field, value and reason of a bad one. Doubtful lines are few (broken lines and odd
values), so the Python cost stays small.

Executors may lack the repository's ``dbt/seeds`` (e.g. a ``--py-files`` zip), and the
contracts read their code lists from there at import time; the driver therefore ships
the seed files' text and this module writes them to a temporary folder when needed,
before importing the contracts. Keep top-level imports light for the same reason.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc

OUTPUT_DDL = (
    "status string, source_file string, line long, event_id string, ts timestamp, member_id string, "
    "vtro_id string, event_type string, object_id string, attrs_json string, "
    "field string, value string, reason string, raw string"
)
STRING_FIELDS = ("event_id", "member_id", "vtro_id", "event_type", "object_id")
REJECT_FIELDS = ("field", "value", "reason", "raw")


def seed_texts() -> dict[str, str]:
    """The seed files the contracts read, to ship to executors (driver side)."""
    from jiaoyan import codes

    return {path.name: path.read_text(encoding="utf-8") for path in sorted(codes.seeds_dir().glob("*.csv"))}


def _ensure_seeds(seeds: dict[str, str]) -> None:
    from jiaoyan import codes

    if (codes.seeds_dir() / "event_types.csv").exists():
        return
    folder = Path(tempfile.mkdtemp(prefix="jiaoyan-seeds-")) / "seeds"
    folder.mkdir()
    for name, text in seeds.items():
        (folder / name).write_text(text, encoding="utf-8")
    os.environ["JIAOYAN_DBT_DIR"] = str(folder.parent)


def reference_verdicts(batches: Iterator[pa.RecordBatch], seeds: dict[str, str]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` function: (source_file, line, value) → verdict rows (``OUTPUT_DDL``)."""
    _ensure_seeds(seeds)
    for batch in batches:
        if batch.num_rows:
            yield verdicts(pa.Table.from_batches([batch]))


def verdicts(table: pa.Table) -> pa.RecordBatch:
    """Verdict rows for doubtful lines, one per line, each file read as one payload."""
    from jiaoyan.contracts import validate as v
    from jiaoyan.contracts.sources import ACTIVITY_EVENTS

    raw = pc.cast(table["value"], pa.binary()).to_pylist()  # the exact bytes, even invalid UTF-8
    sources = table["source_file"].to_pylist()
    lines = table["line"].to_pylist()
    rows: list[dict] = []
    for source in dict.fromkeys(sources):
        picked = [i for i, s in enumerate(sources) if s == source]
        result = v.read_jsonl(ACTIVITY_EVENTS, b"\n".join(raw[i] for i in picked), source)
        real_line = {k + 1: lines[i] for k, i in enumerate(picked)}
        rows.extend(_good_rows(result.good, source, real_line))
        rows.extend(_reject_rows(result.rejects, source, real_line))
    return _to_batch(rows)


def _good_rows(good: pa.Table, source: str, real_line: dict[int, int]) -> Iterator[dict]:
    from jiaoyan.contracts import validate as v

    for row in good.to_pylist():
        attrs = row.pop("attrs")
        yield {
            **{name: row[name] for name in STRING_FIELDS},
            "status": "good",
            "source_file": source,
            "line": real_line[row[v.LINE]],
            "ts": row["ts"],
            "attrs_json": None if attrs is None else orjson.dumps(dict(attrs)).decode(),
        }


def _reject_rows(rejects: pa.Table, source: str, real_line: dict[int, int]) -> Iterator[dict]:
    for row in rejects.to_pylist():
        yield {"status": "reject", "source_file": source, "line": real_line[row["line"]],
               **{name: row[name] for name in REJECT_FIELDS}}


def output_schema() -> pa.Schema:
    """``OUTPUT_DDL`` in Arrow."""
    strings = ("member_id", "vtro_id", "event_type", "object_id", "attrs_json")
    return pa.schema([
        ("status", pa.string()), ("source_file", pa.string()), ("line", pa.int64()), ("event_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")), *((name, pa.string()) for name in strings),
        *((name, pa.string()) for name in REJECT_FIELDS),
    ])


def _to_batch(rows: list[dict]) -> pa.RecordBatch:
    schema = output_schema()
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.RecordBatch.from_pydict(columns, schema=schema)
