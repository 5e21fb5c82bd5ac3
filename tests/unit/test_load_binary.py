"""The NumPy binary COPY encoder against a plain per-value reference encoder."""

from __future__ import annotations

import datetime as dt
import struct

import pyarrow as pa

from jiaoyan.load import binary

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _value(value: object, type_: pa.DataType) -> bytes:
    if value is None:
        return struct.pack("!i", -1)
    if pa.types.is_string(type_):
        data = value.encode()
    elif pa.types.is_boolean(type_):
        data = b"\x01" if value else b"\x00"
    elif pa.types.is_int8(type_) or pa.types.is_int16(type_):
        data = struct.pack("!h", value)
    elif pa.types.is_int32(type_):
        data = struct.pack("!i", value)
    elif pa.types.is_int64(type_):
        data = struct.pack("!q", value)
    elif pa.types.is_float32(type_):
        data = struct.pack("!f", value)
    elif pa.types.is_float64(type_):
        data = struct.pack("!d", value)
    elif pa.types.is_date32(type_):
        data = struct.pack("!i", (value - EPOCH.date()).days)
    elif pa.types.is_timestamp(type_):
        delta = value - EPOCH
        data = struct.pack("!q", (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
    else:
        raise TypeError(type_)
    return struct.pack("!i", len(data)) + data


def reference(table: pa.Table) -> bytes:
    out = bytearray()
    for row in table.to_pylist():
        out += struct.pack("!h", table.num_columns)
        for name, type_ in zip(table.column_names, table.schema.types, strict=True):
            out += _value(row[name], type_)
    return bytes(out)


TABLE = pa.table({
    "s": pa.array(["教研", None, "", "abc"], pa.string()),
    "b": pa.array([True, False, None, True]),
    "i8": pa.array([1, -2, None, 127], pa.int8()),
    "i16": pa.array([300, None, -300, 0], pa.int16()),
    "i32": pa.array([None, 2**31 - 1, -5, 0], pa.int32()),
    "i64": pa.array([2**40, -1, 0, None], pa.int64()),
    "f32": pa.array([0.25, None, 1.5, -0.0], pa.float32()),
    "f64": pa.array([3.141592653589793, 1e300, None, 2.5]),
    "d": pa.array([dt.date(2026, 3, 2), dt.date(1999, 12, 31), None, dt.date(2000, 1, 1)]),
    "ts": pa.array([dt.datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=dt.UTC), None,
                    dt.datetime(1990, 1, 1, tzinfo=dt.UTC), EPOCH], pa.timestamp("us", tz="UTC")),
})


def test_rows_match_the_reference_encoding() -> None:
    for batch in TABLE.to_batches():
        assert bytes(binary.encode_rows(batch)) == reference(pa.Table.from_batches([batch]))


def test_slices_and_dictionaries_encode_like_plain_arrays() -> None:
    sliced = TABLE.slice(1, 2)
    assert bytes(binary.encode_rows(sliced.combine_chunks().to_batches()[0])) == reference(sliced)
    names = pa.DictionaryArray.from_arrays(pa.array([1, 0, 1], pa.int32()), pa.array(["a.csv", "bé.csv"]))
    table = pa.table({"f": names})
    assert bytes(binary.encode_rows(table.to_batches()[0])) == reference(pa.table({"f": names.dictionary_decode()}))


def test_stream_has_header_chunks_and_trailer() -> None:
    chunks = [bytes(c) for c in binary.encode_stream(TABLE, rows_per_chunk=3)]
    assert chunks[0] == binary.HEADER and chunks[-1] == binary.TRAILER and len(chunks) == 4
    assert b"".join(chunks[1:-1]) == reference(TABLE)


def test_maps_become_jsonb() -> None:
    table = pa.table({"attrs": pa.array([[("kind", "training")], None], pa.map_(pa.string(), pa.string()))})
    encoded = bytes(binary.encode_rows(table.to_batches()[0]))
    body = b'\x01{"kind":"training"}'
    assert encoded == struct.pack("!hi", 1, len(body)) + body + struct.pack("!hi", 1, -1)
