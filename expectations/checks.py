"""Expectations with a severity: how every suite states whether a failure holds the batch or only alerts.

Each expectation carries GX's own ``severity`` (``critical`` = blocking, ``warning`` = publish and alert) and a
``meta`` with the check's stable name, the same verdict as a boolean, and why it has that severity — the
reasoning ``docs/quality-gates.md`` summarises. Nothing else decides what blocks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from great_expectations.expectations import UnexpectedRowsExpectation
from great_expectations.expectations.metadata_types import FailureSeverity

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

BATCH_PLACEHOLDER = "{batch}"
TOTAL = "_unexpected_total"
ROW_LIMIT = 200  # unexpected rows a rule returns (GX's own cap for COMPLETE results)
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


class SqlRuleExpectation(UnexpectedRowsExpectation):
    """GX's custom-SQL expectation, run as one query instead of two.

    ``UnexpectedRowsExpectation`` executes its query twice, once for the rows and once for ``count(*)``; on a
    region night's points each execution is a scan. Here the query carries its own total (a window count) and
    at most ``ROW_LIMIT`` rows, so the rows metric alone gives both. Rendering is inherited.
    """

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict:
        rows = metrics["unexpected_rows_query.table"]
        total = int(rows[0][TOTAL]) if rows else 0
        fmt = self._get_result_format(runtime_configuration=runtime_configuration)
        fmt = fmt.get("result_format", "SUMMARY") if isinstance(fmt, dict) else fmt
        if str(getattr(fmt, "value", fmt)) == "BOOLEAN_ONLY":
            return {"success": total == 0}
        result: dict[str, Any] = {"observed_value": total}
        if str(getattr(fmt, "value", fmt)) == "COMPLETE":
            result["details"] = {"unexpected_rows": [{k: v for k, v in r.items() if k != TOTAL} for r in rows]}
        return {"success": total == 0, "result": result}


RULE_TYPES = frozenset({UnexpectedRowsExpectation.expectation_type, SqlRuleExpectation.expectation_type})


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
    counted = f"select q.*, count(*) over () as {TOTAL} from ({escaped}\n) as q limit {ROW_LIMIT}"
    expectation = SqlRuleExpectation(unexpected_rows_query=counted, description=description)
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
