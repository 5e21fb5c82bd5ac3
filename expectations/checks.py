"""Expectations with a severity: how every suite states whether a failure holds the batch or only alerts.

Each expectation carries GX's own ``severity`` (``critical`` = blocking, ``warning`` = publish and alert) and a
``meta`` with the check's stable name, the same verdict as a boolean, and why it has that severity — the
reasoning ``docs/quality-gates.md`` summarises. Nothing else decides what blocks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from great_expectations.expectations import UnexpectedRowsExpectation
from great_expectations.expectations.metadata_types import FailureSeverity

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

BATCH_PLACEHOLDER = "{batch}"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_BATCH_ALIAS = re.compile(r"\{batch\} as (\w+)")


def mark(expectation: Expectation, check: str, why: str, *, blocking: bool) -> Expectation:
    """Give an expectation its check name, its severity and the reason for that severity."""
    expectation.severity = FailureSeverity.CRITICAL if blocking else FailureSeverity.WARNING
    expectation.meta = {"check": check, "blocking": blocking, "why": why}
    return expectation


def blocking(expectation: Expectation, check: str, why: str) -> Expectation:
    return mark(expectation, check, why, blocking=True)


def warning(expectation: Expectation, check: str, why: str) -> Expectation:
    return mark(expectation, check, why, blocking=False)


def rule(check: str, query: str, description: str, why: str, *, blocking: bool = True) -> Expectation:
    """A custom SQL expectation: ``query`` selects the unexpected rows (with their keys, file and line).

    ``{batch}`` in the query is the asset's table; every other brace is SQL's own and is escaped here, because
    GX fills the query with ``str.format``.
    """
    if not _BATCH_ALIAS.search(query):
        raise ValueError(f"rule {check}: the query must read {BATCH_PLACEHOLDER} as <alias>")
    escaped = query.replace("{", "{{").replace("}", "}}").replace("{{batch}}", BATCH_PLACEHOLDER)
    # GX aliases {batch} itself unless the query has a JOIN; a one-row join makes its rendering predictable
    escaped = _BATCH_ALIAS.sub(r"{batch} as \1 cross join (select) as _one", escaped)
    expectation = UnexpectedRowsExpectation(unexpected_rows_query=escaped, description=description)
    return mark(expectation, check, why, blocking=blocking)


def is_blocking(expectation_config: object) -> bool:
    """Whether a (configured) expectation blocks: its meta says so, else GX's severity does."""
    meta = getattr(expectation_config, "meta", None) or {}
    if "blocking" in meta:
        return bool(meta["blocking"])
    severity = getattr(expectation_config, "severity", FailureSeverity.CRITICAL)
    return str(getattr(severity, "value", severity)) == FailureSeverity.CRITICAL.value


def check_name(expectation_config: object) -> str:
    meta = getattr(expectation_config, "meta", None) or {}
    return str(meta.get("check") or getattr(expectation_config, "type", "expectation"))


def literal(value: str) -> str:
    """A batch id or run id as a SQL string literal (ids are checked, so no quoting can be smuggled in)."""
    if not _SAFE_ID.match(value):
        raise ValueError(f"not a batch id: {value!r}")
    return f"'{value}'"


def values_list(rows: list[tuple[str, ...]], names: tuple[str, ...]) -> str:
    """``(values ('a', 'b'), …) as t (x, y)`` from plain strings (code lists, column names)."""
    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    body = ", ".join("(" + ", ".join(quote(v) for v in row) + ")" for row in rows)
    return f"(values {body}) as t ({', '.join(names)})"
