"""The load report: per table, rows loaded and quarantined, the top reasons with an example.

Built in memory while a batch loads, and rebuilt from the warehouse (``ops.load_tables``,
``ops.loads``, ``quarantine.*``) by :func:`from_warehouse`, so ``jiaoyan load report``
prints the same report any time later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from jiaoyan.load.parts import RejectedFile

TOP_REASONS = 5


@dataclass(frozen=True)
class ReasonCount:
    field: str | None
    reason: str
    rows: int
    example: str  # file:line of the first such row

    def render(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.rows:>9,} × {where}{self.reason} (e.g. {self.example})"


@dataclass
class TableLoad:
    contract: str
    files: int
    files_rejected: int
    rows_loaded: int
    rows_rejected: int
    seconds: float  # reading, validating, checking and writing
    copy_seconds: float
    top_reasons: list[ReasonCount] = field(default_factory=list)


@dataclass
class BatchLoad:
    batch_id: str
    batch_uri: str
    status: str = "running"
    seconds: float = 0.0
    tables: list[TableLoad] = field(default_factory=list)
    rejected_files: list[RejectedFile] = field(default_factory=list)
    load_id: int | None = None
    error: str | None = None

    @property
    def rows_loaded(self) -> int:
        return sum(t.rows_loaded for t in self.tables)

    @property
    def rows_rejected(self) -> int:
        return sum(t.rows_rejected for t in self.tables)

    @property
    def rows_per_second(self) -> float:
        return (self.rows_loaded + self.rows_rejected) / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"batch {self.batch_id}: {self.status}; {self.rows_loaded:,} rows loaded, {self.rows_rejected:,} "
                f"quarantined, {len(self.rejected_files)} file(s) rejected in {self.seconds:.1f} s "
                f"({self.rows_per_second:,.0f} rows/s)")

    def render(self) -> str:
        lines = [self.summary(), f"  from {self.batch_uri}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.tables:
            lines.append(f"  {'table':<20}{'files':>6}{'loaded':>12}{'rejected':>10}{'seconds':>9}{'rows/s':>11}")
        for t in self.tables:
            rate = (t.rows_loaded + t.rows_rejected) / t.seconds if t.seconds > 0 else 0.0
            lines.append(f"  {t.contract:<20}{t.files:>6}{t.rows_loaded:>12,}{t.rows_rejected:>10,}"
                         f"{t.seconds:>9.2f}{rate:>11,.0f}")
            lines.extend(f"      {r.render()}" for r in t.top_reasons)
        if self.rejected_files:
            lines.append("  rejected files:")
            lines.extend(f"    {f.source_file} ({f.contract}): {f.reason}" for f in self.rejected_files)
        return "\n".join(lines)


def top_reasons(rejects: pa.Table, limit: int = TOP_REASONS) -> list[ReasonCount]:
    """The commonest (field, reason) pairs of a rejects table, each with its first file:line."""
    if rejects.num_rows == 0:
        return []
    ordered = rejects.select(["field", "reason", "source_file", "line"]).sort_by(
        [("source_file", "ascending"), ("line", "ascending")])
    ordered = ordered.set_column(0, "field", pc.fill_null(ordered["field"], ""))
    grouped = ordered.group_by(["field", "reason"], use_threads=False).aggregate(
        [("line", "count", pc.CountOptions(mode="all")), ("source_file", "first"), ("line", "first")])
    reasons = [ReasonCount(g["field"] or None, g["reason"], g["line_count"], _where(g["source_file_first"],
                                                                                     g["line_first"]))
               for g in grouped.to_pylist()]
    return sorted(reasons, key=lambda r: (-r.rows, r.field or "", r.reason))[:limit]


def _where(source_file: str, line: int | None) -> str:
    return f"{source_file}:{line}" if line is not None else source_file


def from_warehouse(conn: psycopg.Connection, batch_id: str) -> BatchLoad | None:
    """The report of the batch's latest load, from the bookkeeping and the quarantine."""
    attempt = conn.execute("select load_id, batch_uri, status, seconds, error from ops.loads where batch_id = %s "
                           "order by load_id desc limit 1", (batch_id,)).fetchone()
    if attempt is None:
        return None
    load_id, uri, status, seconds, error = attempt
    report = BatchLoad(batch_id, uri, status, seconds or 0.0, load_id=load_id, error=error)
    reasons: dict[str, list[ReasonCount]] = {}
    for contract, fld, reason, rows, source, line in conn.execute(
            "select contract, field, reason, rows, example_file, example_line from ops.quarantine_summary "
            "where batch_id = %s", (batch_id,)):
        reasons.setdefault(contract, []).append(ReasonCount(fld, reason, rows, _where(source, line)))
    for row in conn.execute(
            "select contract, files, files_rejected, rows_loaded, rows_rejected, seconds, copy_seconds "
            "from ops.load_tables where batch_id = %s", (batch_id,)):
        top = sorted(reasons.get(row[0], []), key=lambda r: (-r.rows, r.field or "", r.reason))[:TOP_REASONS]
        report.tables.append(TableLoad(*row, top_reasons=top))
    report.rejected_files = [RejectedFile(*r) for r in conn.execute(
        "select contract, source_file, reason from quarantine.rejected_files where batch_id = %s", (batch_id,))]
    order_tables(report)
    return report


def order_tables(report: BatchLoad) -> None:
    """Tables in load order, rejected files by contract then file, so reports compare equal."""
    from jiaoyan.load.runner import TABLE_ORDER

    rank = {name: i for i, name in enumerate(TABLE_ORDER)}
    report.tables.sort(key=lambda t: (rank.get(t.contract, len(rank)), t.contract))
    report.rejected_files.sort(key=lambda f: (f.contract, f.source_file))
