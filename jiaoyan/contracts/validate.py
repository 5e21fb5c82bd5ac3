"""Conform a file to its contract: typed good rows, and rejects with their reasons.

Every rejected row keeps where it came from (file and line), the first field that
broke the contract, the offending value and the reason, so a quarantine table can say
exactly what was wrong. Parsing is vectorised with Arrow; the slow per-value path runs
only for columns that hold a bad value.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from jiaoyan import codes
from jiaoyan.contracts.model import Contract, ContractError, Field
from jiaoyan.contracts.sources import SHARE_SUM_TOLERANCE

LINE = "_line"  # column added to good rows: the source line of each row
REJECT_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line", pa.int64()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_NUMBER_PATTERNS = {
    "int": r"^\s*[-+]?\d+\s*$",
    "float": r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$",
}


@dataclass
class Conformed:
    good: pa.Table  # contract schema plus LINE
    rejects: pa.Table  # REJECT_SCHEMA

    @property
    def n_good(self) -> int:
        return self.good.num_rows

    @property
    def n_rejected(self) -> int:
        return self.rejects.num_rows


Values = Iterable[object] | Callable[[], Iterable[object]] | None


class _Failures:
    """The first failure of each row: field, value and reason."""

    def __init__(self, n: int) -> None:
        self.failed = np.zeros(n, dtype=bool)
        self.field = np.full(n, None, dtype=object)
        self.value = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)

    def add(self, mask: np.ndarray, field: str, values: Values, reason: str | Callable) -> None:
        """Record ``reason`` for rows in ``mask`` not failed yet. ``values`` may be a zero-argument
        callable: most files fail nowhere, so the Python lists are built only when a row fails."""
        new = mask & ~self.failed
        if not new.any():
            return
        idx = np.flatnonzero(new)
        if callable(values):
            values = values()
        vals = list(values) if values is not None else [None] * len(mask)
        self.failed[idx] = True
        self.field[idx] = field
        for i in idx:
            v = vals[i]
            self.value[i] = None if v is None else str(v)
            self.reason[i] = reason(v) if callable(reason) else reason


def conform(contract: Contract, table: pa.Table, source: str, lines: np.ndarray | None = None) -> Conformed:
    """Check ``table`` (strings as read from text, or typed) against ``contract``."""
    missing = [f.name for f in contract.fields if f.name not in table.column_names]
    required_missing = [name for name in missing if contract.field(name).required]
    if required_missing:
        raise ContractError(source, f"required column(s) missing: {', '.join(required_missing)}")
    n = table.num_rows
    lines = np.arange(2, n + 2, dtype=np.int64) if lines is None else np.asarray(lines, dtype=np.int64)
    failures = _Failures(n)
    columns = []
    for spec in contract.fields:
        raw = table[spec.name] if spec.name in table.column_names else pa.nulls(n, pa.string())
        columns.append(_conform_field(spec, raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw,
                                      failures))
    typed = pa.Table.from_arrays(columns, schema=pa.schema([pa.field(f.name, f.type) for f in contract.fields]))
    for rule in ROW_RULES.get(contract.name, ()):
        rule(typed, failures)
    keep = pa.array(~failures.failed)
    good = typed.filter(keep).append_column(LINE, pa.array(lines[~failures.failed]))
    raw_text = _raw_rows(table, failures.failed)
    rejects = pa.table(
        {
            "source_file": pa.array([source] * int(failures.failed.sum()), pa.string()),
            "line": pa.array(lines[failures.failed]),
            "field": pa.array(failures.field[failures.failed], pa.string()),
            "value": pa.array(failures.value[failures.failed], pa.string()),
            "reason": pa.array(failures.reason[failures.failed], pa.string()),
            "raw": pa.array(raw_text, pa.string()),
        },
        schema=REJECT_SCHEMA,
    )
    return Conformed(good=_restore_nullability(good, contract), rejects=rejects)


def _restore_nullability(table: pa.Table, contract: Contract) -> pa.Table:
    fields = [pa.field(f.name, f.type, nullable=not f.required) for f in contract.fields]
    return table.cast(pa.schema([*fields, pa.field(LINE, pa.int64(), nullable=False)]))


def _raw_rows(table: pa.Table, mask: np.ndarray) -> list[str]:
    if not mask.any():
        return []
    rows = table.filter(pa.array(mask)).to_pylist()
    return [orjson.dumps(row, default=str).decode() for row in rows]


def _conform_field(spec: Field, raw: pa.Array, failures: _Failures) -> pa.Array:
    values = raw.to_pylist  # evaluated only if a row of this column fails
    typed = _parse(spec, raw, failures, values)
    is_null = np.asarray(pc.is_null(typed).to_numpy(zero_copy_only=False), dtype=bool)
    if spec.required:
        failures.add(is_null & ~_raw_null(raw), spec.name, values, f"cannot be read as {typed.type}")
        failures.add(is_null & _raw_null(raw), spec.name, None, "missing value")
    else:
        failures.add(is_null & ~_raw_null(raw), spec.name, values, f"cannot be read as {typed.type}")
    present = ~is_null
    if spec.allowed is not None:
        ok = np.asarray(pc.is_in(typed, value_set=pa.array(spec.allowed, typed.type)).to_numpy(
            zero_copy_only=False), dtype=bool)
        failures.add(present & ~ok, spec.name, typed.to_pylist,
                     f"not an allowed value (allowed: {', '.join(spec.allowed)})")
    if spec.pattern is not None:
        ok = np.asarray(pc.fill_null(pc.match_substring_regex(typed, spec.pattern), True).to_numpy(
            zero_copy_only=False), dtype=bool)
        failures.add(present & ~ok, spec.name, typed.to_pylist, f"does not match {spec.pattern}")
    _check_range(spec, typed, present, failures)
    return typed


def _raw_null(raw: pa.Array) -> np.ndarray:
    null = pc.is_null(raw)
    if pa.types.is_string(raw.type):
        null = pc.or_(null, pc.equal(pc.utf8_trim_whitespace(raw), ""))
    return np.asarray(pc.fill_null(null, True).to_numpy(zero_copy_only=False), dtype=bool)


def _check_range(spec: Field, typed: pa.Array, present: np.ndarray, failures: _Failures) -> None:
    if spec.min is None and spec.max is None:
        return
    numbers = typed.to_numpy(zero_copy_only=False).astype(np.float64)
    numbers = np.where(present, numbers, np.nan)
    if spec.min is not None:
        failures.add(present & (numbers < spec.min), spec.name, typed.to_pylist, f"below the minimum {spec.min:g}")
    if spec.max is not None:
        failures.add(present & (numbers > spec.max), spec.name, typed.to_pylist, f"above the maximum {spec.max:g}")
    failures.add(present & ~np.isfinite(numbers), spec.name, typed.to_pylist, "not a finite number")


def _parse(spec: Field, raw: pa.Array, failures: _Failures, values: Values) -> pa.Array:
    target = spec.type
    if raw.type == target and not pa.types.is_string(target):
        return raw
    if not pa.types.is_string(raw.type):
        try:
            return pc.cast(raw, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pa.array([_parse_one(v, target) for v in raw.to_pylist()], target)
    text = pc.utf8_trim_whitespace(raw)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    if pa.types.is_string(target):
        return text
    if pa.types.is_timestamp(target):
        no_offset = np.asarray(pc.fill_null(pc.invert(pc.match_substring_regex(text, _OFFSET.pattern)), False)
                               .to_numpy(zero_copy_only=False), dtype=bool)
        failures.add(no_offset, spec.name, values, "timestamp has no UTC offset (e.g. +08:00)")
    try:
        return _fast_cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([_parse_one(v, target) for v in text.to_pylist()], target)


def _fast_cast(text: pa.Array, target: pa.DataType) -> pa.Array:
    if pa.types.is_boolean(target):
        lowered = pc.utf8_lower(text)
        ok = pc.is_in(lowered, value_set=pa.array(["true", "false"]))
        if not pc.all(pc.or_(ok, pc.is_null(lowered))).as_py():
            raise pa.ArrowInvalid("not a boolean")
        return pc.equal(lowered, "true")
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        kind = "int" if pa.types.is_integer(target) else "float"
        if not pc.all(pc.fill_null(pc.match_substring_regex(text, _NUMBER_PATTERNS[kind]), True)).as_py():
            raise pa.ArrowInvalid("not a number")
    return pc.cast(text, target)


def _parse_one(value: object, target: pa.DataType) -> object:
    """Parse one value; None when it cannot be read as ``target``."""
    if value is None:
        return None
    try:
        if pa.types.is_timestamp(target):
            text = str(value)
            if not _OFFSET.search(text):
                return None
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed.astimezone(dt.UTC)
        if pa.types.is_date(target):
            return dt.date.fromisoformat(str(value))
        if pa.types.is_boolean(target):
            return {"true": True, "false": False}.get(str(value).strip().lower())
        if pa.types.is_integer(target):
            number = int(str(value).strip())
            info = np.iinfo(target.to_pandas_dtype())
            return number if info.min <= number <= info.max else None
        if pa.types.is_floating(target):
            return float(str(value).strip())
        if pa.types.is_map(target):
            return list(value.items()) if isinstance(value, dict) else None
    except (ValueError, TypeError, OverflowError):
        return None
    return value


# Rules across fields of one row, per contract.
def _shares_sum_to_one(table: pa.Table, failures: _Failures) -> None:
    shares = np.column_stack([table[c].to_numpy(zero_copy_only=False).astype(np.float64)
                              for c in codes.share_columns()])
    total = shares.sum(axis=1)
    bad = np.isfinite(total) & (np.abs(total - 1.0) > SHARE_SUM_TOLERANCE)
    failures.add(bad, "share_*", lambda: [f"{t:.4f}" for t in total], "student shares do not sum to 1")


def _one_employer(table: pa.Table, failures: _Failures) -> None:
    school = np.asarray(pc.is_valid(table["school_id"]).to_numpy(zero_copy_only=False), dtype=bool)
    university = np.asarray(pc.is_valid(table["university_id"]).to_numpy(zero_copy_only=False), dtype=bool)
    failures.add(school == university, "school_id", table["school_id"].to_pylist,
                 "exactly one of school_id and university_id must be set")


def _leaf_fields_together(table: pa.Table, failures: _Failures) -> None:
    has_max = np.asarray(pc.is_valid(table["max_score"]).to_numpy(zero_copy_only=False), dtype=bool)
    has_weight = np.asarray(pc.is_valid(table["weight"]).to_numpy(zero_copy_only=False), dtype=bool)
    failures.add(has_max != has_weight, "weight", table["weight"].to_pylist,
                 "max_score and weight must both be set (leaf) or both be empty")


def _kind_when_needed(table: pa.Table, failures: _Failures) -> None:
    lists = {row["code"]: row["kind_list"] for row in codes.seed_rows("event_types") if row["needs_kind"] == "true"}
    allowed = {name: set(codes.seed_codes(name)) for name in set(lists.values())}
    kinds = [dict(a).get("kind") if a is not None else None for a in table["attrs"].to_pylist()]
    types = table["event_type"].to_pylist()
    bad = np.array([t in lists and k not in allowed[lists[t]] for t, k in zip(types, kinds, strict=True)], dtype=bool)
    failures.add(
        bad, "attrs.kind", kinds, lambda k: "missing kind" if k is None else "unknown kind for this event type"
    )


ROW_RULES: dict[str, tuple[Callable[[pa.Table, _Failures], None], ...]] = {
    "gold_codes": (_shares_sum_to_one,),
    "behaviour_codes": (_shares_sum_to_one,),
    "teachers": (_one_employer,),
    "rubric_indicators": (_leaf_fields_together,),
    "activity_events": (_kind_when_needed,),
}


# Readers ---------------------------------------------------------------------------


def read_csv(contract: Contract, data: bytes | str | Path, source: str | None = None) -> Conformed:
    """Read a CSV source as text and conform it; malformed lines become rejects."""
    source = source or str(data)
    payload = Path(data).read_bytes() if isinstance(data, (str, Path)) else data
    header = payload.split(b"\n", 1)[0].decode("utf-8-sig").strip().split(",")
    if not header or header == [""]:
        raise ContractError(source, "the file is empty (no header line)")
    bad_rows: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_rows.append((row.number or -1, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(payload),
            read_options=pacsv.ReadOptions(use_threads=False),  # so malformed lines report their line number
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                 strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        raise ContractError(source, f"not readable as CSV: {exc}") from exc
    bad_lines = {number for number, _ in bad_rows}
    lines = _data_lines(table.num_rows, bad_lines)
    result = conform(contract, table, source, lines)
    if bad_rows:
        malformed = pa.table(
            {
                "source_file": [source] * len(bad_rows),
                "line": [number for number, _ in bad_rows],
                "field": [None] * len(bad_rows),
                "value": [None] * len(bad_rows),
                "reason": [f"malformed CSV line: expected {len(header)} fields" for _ in bad_rows],
                "raw": [text for _, text in bad_rows],
            },
            schema=REJECT_SCHEMA,
        )
        result.rejects = pa.concat_tables([malformed, result.rejects]).sort_by("line")
    return result


def _data_lines(n_rows: int, skipped: set[int]) -> np.ndarray:
    """Line numbers of the rows pyarrow kept: data starts on line 2, skipped lines are gaps."""
    lines = []
    line = 2
    while len(lines) < n_rows:
        if line not in skipped:
            lines.append(line)
        line += 1
    return np.array(lines, dtype=np.int64)


def read_jsonl(contract: Contract, data: bytes | str | Path, source: str | None = None) -> Conformed:
    """Read JSON Lines (optionally gzip) and conform; lines that are not JSON objects become rejects.

    This is the reference reader for small volumes and tests; the Spark job reads the
    activity logs at scale against the same contract.
    """
    source = source or str(data)
    payload = Path(data).read_bytes() if isinstance(data, (str, Path)) else data
    if payload[:2] == b"\x1f\x8b":
        payload = gzip.decompress(payload)
    rows: list[dict] = []
    lines: list[int] = []
    broken: list[tuple[int, str, str]] = []
    for number, line in enumerate(payload.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            broken.append((number, line.decode("utf-8", "replace"), f"not valid JSON: {exc}"))
            continue
        if not isinstance(obj, dict):
            broken.append((number, line.decode("utf-8", "replace"), "not a JSON object"))
            continue
        rows.append(_jsonl_row(contract, obj))
        lines.append(number)
    columns = {f.name: [r.get(f.name) for r in rows] for f in contract.fields}
    table = pa.table({name: _jsonl_array(contract.field(name), values) for name, values in columns.items()})
    result = conform(contract, table, source, np.array(lines, dtype=np.int64))
    if broken:
        extra = pa.table(
            {
                "source_file": [source] * len(broken),
                "line": [b[0] for b in broken],
                "field": [None] * len(broken),
                "value": [None] * len(broken),
                "reason": [b[2] for b in broken],
                "raw": [b[1] for b in broken],
            },
            schema=REJECT_SCHEMA,
        )
        result.rejects = pa.concat_tables([extra, result.rejects]).sort_by("line")
    return result


def _jsonl_row(contract: Contract, obj: dict) -> dict:
    row = {}
    for spec in contract.fields:
        value = obj.get(spec.name)
        if pa.types.is_map(spec.type):
            row[spec.name] = {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None
        else:
            row[spec.name] = None if value is None else str(value) if not isinstance(value, str) else value
    return row


def _jsonl_array(spec: Field, values: list) -> pa.Array:
    if pa.types.is_map(spec.type):
        return pa.array([list(v.items()) if v is not None else None for v in values], spec.type)
    return pa.array(values, pa.string())
