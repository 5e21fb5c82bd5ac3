"""The annual report's documents (``dags/annual_report.py``): the year's figures frozen from the published marts.

The figures themselves are defined once, in dbt (``mart_annual_report`` and its companions, rebuilt and gated every
night); this writes the year's edition for the report's authors — CSV files per table and a Markdown summary —
read as the read-only role, so the documents can only contain what readers may see (office leaders are
pseudonymised in the marts).
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg import sql

from jiaoyan import db, log
from jiaoyan.errors import UserError
from jiaoyan.pipeline.settings import get_pipeline_settings
from jiaoyan.settings import data_dir

LOG = log.get(__name__)
TABLES = ("mart_annual_report", "mart_annual_report_breakdown", "mart_exemplary_offices", "mart_offices_to_remind")
SUMMARY_COLUMNS = ("report_unit_name", "n_offices", "n_members", "n_active_members", "n_activities",
                   "n_participant_times", "share_cross_university_activities", "n_training_sessions")


def report_year(logical_date: dt.datetime | None, requested: int | str | None) -> int:
    """The year asked for, else the year before the run (the report follows the year it covers)."""
    if requested not in (None, ""):
        year = int(str(requested))
        if not 2000 <= year <= 2100:
            raise UserError(f"not a report year: {requested}")
        return year
    if logical_date is None:
        raise UserError("a run without a logical date needs the year parameter")
    return logical_date.year - 1


def coverage(year: int) -> dict[str, Any]:
    """What the published marts hold for the year: its reference date and whether the year is complete."""
    with db.connect("reader") as conn:
        row = conn.execute("select max(reference_date), bool_or(is_running_year), count(*) "
                           "from marts.mart_annual_report where report_year = %s", (year,)).fetchone()
    if not row or not row[2]:
        raise UserError(f"the published marts have no annual figures for {year}: has a night of {year} been "
                        "published?")
    info = {"year": year, "reference_date": row[0].isoformat(), "running_year": bool(row[1]), "rows": row[2]}
    if info["running_year"]:
        LOG.warning("%s is not over in the data (as of %s): this edition is provisional", year, info["reference_date"])
    return info


def export(year: int, out_dir: str | None = None) -> dict[str, Any]:
    """Write the year's tables as CSV and a Markdown summary; returns the folder and row counts."""
    folder = Path(out_dir or get_pipeline_settings().reports_dir or data_dir() / "reports") / "annual" / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    with db.connect("reader") as conn:
        for table in TABLES:
            cur = conn.execute(sql.SQL("select * from marts.{} where report_year = %s order by 1, 2, 3").format(
                sql.Identifier(table)), (year,))
            rows = cur.fetchall()
            columns = [d.name for d in cur.description or []]
            _write_csv(folder / f"{table}.csv", columns, rows)
            counts[table] = len(rows)
        nation = _rows(conn, "where report_year = %s and report_level = 'nation'", year)
        provinces = _rows(conn, "where report_year = %s and report_level = 'province' order by report_unit_name",
                          year)
    (folder / "annual_report.md").write_text(_markdown(year, nation, provinces, counts), encoding="utf-8")
    LOG.info("annual report %s written to %s: %s", year, folder, counts)
    return {"year": year, "folder": str(folder), "rows": counts}


def _rows(conn: Any, where: str, year: int) -> list[dict[str, Any]]:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in SUMMARY_COLUMNS)
    cur = conn.execute(sql.SQL("select {} from marts.mart_annual_report ").format(cols) + sql.SQL(where), (year,))
    return [dict(zip(SUMMARY_COLUMNS, r, strict=True)) for r in cur.fetchall()]


def _write_csv(path: Path, columns: list[str], rows: list[tuple]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    tmp.replace(path)  # a reader never sees half a file


def _markdown(year: int, nation: list[dict], provinces: list[dict], counts: dict[str, int]) -> str:
    def cell(v: Any) -> str:
        v = float(v) if isinstance(v, Decimal) else v
        return f"{v:.1%}" if isinstance(v, float) and v <= 1 else f"{v:,}" if isinstance(v, int) else str(v)

    header = "| " + " | ".join(SUMMARY_COLUMNS) + " |\n|" + "---|" * len(SUMMARY_COLUMNS) + "\n"
    body = "".join("| " + " | ".join(cell(r[c]) for c in SUMMARY_COLUMNS) + " |\n" for r in nation + provinces)
    files = "".join(f"- `{t}.csv`: {n:,} rows\n" for t, n in counts.items())
    return (f"# 虚拟教研室年度报告 {year} — annual report figures\n\nFrom the published marts (one definition per "
            f"figure, in dbt). Nation first, then provinces.\n\n{header}{body}\nFiles:\n\n{files}")
