"""Load a small generated demo world and check the quarantine against the defects the generator injected."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from jiaoyan import landing
from jiaoyan.cli import main
from jiaoyan.load import load_batch, rules

pytestmark = pytest.mark.integration
END = "2025-12-19"  # batch ids of their own in the shared test database (other worlds end 2026-11-20)
CROSS_REASONS = {"lesson_manifest": rules.UNKNOWN_TEACHER, "rubric_scores": rules.ABOVE_MAX}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "landing"
    assert main(["demo-data", "--days", "6", "--end", END, "--video-days", "0", "--gold-lessons", "0",
                 "--events-per-day", "3000", "--out", str(out)]) == 0
    return out


def test_the_quarantine_is_exactly_the_injected_defects(warehouse: dict[str, str], world: Path) -> None:
    truth = world / "_truth"
    defects = list(csv.DictReader((truth / "defects.csv").open()))
    broken = [r for r in csv.DictReader((truth / "activity_defects.csv").open()) if r["kind"] == "broken"]
    assert {d["level"] for d in defects} == {"row", "cross"} and broken  # the world exercises every path
    batches = [d.isoformat() for d in landing.list_batches(str(world))]
    reports = [load_batch(str(world / b), lake_uri=str(world.parent / "lake")) for b in batches]

    with psycopg.connect(warehouse["owner"]) as conn:
        rows = conn.execute("select batch_id, contract, source_file, line, field, reason from "
                            "quarantine.rejected_rows where batch_id = any(%s)", (batches,)).fetchall()
        files = conn.execute("select source_file from quarantine.rejected_files where batch_id = any(%s)",
                             (batches,)).fetchall()
    expected = {(d["batch"], d["source"], d["file"], int(d["line"])) for d in defects}
    expected |= {(b["arrival_date"], "activity_events", b["file"].split("/", 1)[1], int(b["line"])) for b in broken}
    assert {r[:4] for r in rows} == expected and len(rows) == len(expected)
    assert files == []
    reasons = {(r[0], r[2], r[3]): r[5] for r in rows}
    for d in defects:
        if d["level"] == "cross":
            assert reasons[(d["batch"], d["file"], int(d["line"]))] == CROSS_REASONS[d["source"]], d

    world_rows = json.loads((truth / "world.json").read_text())["rows"]
    seen: Counter[str] = Counter()
    for report in reports:
        assert report.status == "succeeded"
        for table in report.tables:
            seen[table.contract] += table.rows_loaded + table.rows_rejected
    assert {k: seen[k] for k in world_rows} == world_rows
