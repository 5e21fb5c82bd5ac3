"""Flatten ``rubrics/rubrics.json`` into ``rubric_indicators`` and ``rubric_bands`` rows.

Each rubric is validated whole by :class:`jiaoyan.contracts.Rubric` and then row by row
by the two contracts; a rubric that fails either goes to ``quarantine.rejected_files``
as ``<file>#<rubric id or position>`` — never half of a rubric — and the others load.
``_line`` of a rubric's rows is the rubric's position (from 1) in the document.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import orjson
import pyarrow as pa
from pydantic import ValidationError

from jiaoyan.contracts import RUBRIC_BANDS, RUBRIC_INDICATORS, Contract, ContractError, Rubric
from jiaoyan.contracts import validate as v
from jiaoyan.load.parts import FileStat, Part, with_source
from jiaoyan.load.read import FileRef, fetch, file_reason

_RUBRIC_FIELDS = ("rubric_id", "rubric_name", "kind", "version", "published_on", "subject")


def read_rubrics(refs: Iterable[FileRef]) -> tuple[Part, Part]:
    """(indicators, bands) from the batch's rubric documents."""
    indicators, bands = Part.empty(RUBRIC_INDICATORS), Part.empty(RUBRIC_BANDS)
    for ref in refs:
        started = time.perf_counter()
        try:
            items = _rubric_items(ref)
        except ContractError as exc:
            indicators.reject_file(ref.source, file_reason(exc), time.perf_counter() - started)
            continue
        seen: set[str] = set()
        rows = 0
        for position, item in enumerate(items, start=1):
            rows += _add_rubric(ref.source, position, item, seen, indicators, bands)
        indicators.files.append(FileStat(ref.source, rows, time.perf_counter() - started))
    return indicators, bands


def _rubric_items(ref: FileRef) -> list:
    try:
        document = orjson.loads(fetch(ref))
    except orjson.JSONDecodeError as exc:
        raise ContractError(ref.source, f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("rubrics"), list):
        raise ContractError(ref.source, 'not a rubric document: expected {"rubrics": [...]}')
    return document["rubrics"]


def _add_rubric(source: str, position: int, item: object, seen: set[str], indicators: Part, bands: Part) -> int:
    """Validate one rubric and append its rows; returns the indicator rows added (0 if rejected)."""
    rubric_id = item.get("rubric_id") if isinstance(item, dict) else None
    name = f"{source}#{rubric_id if isinstance(rubric_id, str) and rubric_id else position}"
    try:
        rubric = Rubric.model_validate(item)
        if rubric.rubric_id in seen:
            raise ValueError(f"rubric {rubric.rubric_id} appears twice in the document")
        ind = _conform(RUBRIC_INDICATORS, _indicator_rows(rubric), source, position)
        bnd = _conform(RUBRIC_BANDS, _band_rows(rubric), source, position)
    except ValidationError as exc:
        indicators.reject_file(name, "invalid rubric: " + _first_error(exc))
        return 0
    except ValueError as exc:
        indicators.reject_file(name, f"invalid rubric: {exc}")
        return 0
    seen.add(rubric.rubric_id)
    indicators.good = pa.concat_tables([indicators.good, ind])
    bands.good = pa.concat_tables([bands.good, bnd])
    return ind.num_rows


def _indicator_rows(rubric: Rubric) -> list[dict]:
    head = {name: getattr(rubric, name) for name in _RUBRIC_FIELDS}
    return [head | indicator.model_dump() for indicator in rubric.indicators]


def _band_rows(rubric: Rubric) -> list[dict]:
    return [{"rubric_id": rubric.rubric_id, **band.model_dump(), "rank": rank}
            for rank, band in enumerate(rubric.bands, start=1)]


def _conform(contract: Contract, rows: list[dict], source: str, position: int) -> pa.Table:
    """The rows in the contract's types; ValueError with the first broken rule if any row breaks it."""
    schema = pa.schema([pa.field(f.name, f.type) for f in contract.fields])
    table = pa.Table.from_pylist(rows, schema=schema)
    result = v.conform(contract, table, source, np.full(table.num_rows, position, np.int64))
    if result.n_rejected:
        first = result.rejects.to_pylist()[0]
        raise ValueError(f"{contract.name}: field {first['field']} = {first['value']!r}: {first['reason']}")
    return with_source(result.good, np.zeros(result.n_good, np.int32), [source])


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error['msg']}" if where else error["msg"]
