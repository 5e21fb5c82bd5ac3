"""Whole-file failures, Parquet row numbers across files, the rubric document, the batch plan, the report."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jiaoyan.contracts import ACTIVITY_EVENTS, BEHAVIOUR_CODES, RUBRIC_SCORES, TEACHERS
from jiaoyan.contracts.validate import REJECT_SCHEMA
from jiaoyan.errors import UserError
from jiaoyan.load.plan import plan_batch
from jiaoyan.load.read import FileRef, read_parquet_part, read_text_part
from jiaoyan.load.report import BatchLoad, TableLoad, top_reasons
from jiaoyan.load.rubrics import read_rubrics
from jiaoyan.load.sample import SampleBatch, parquet_bytes, points, rubric

DAY = dt.date(2026, 3, 2)


def write(tmp_path: Path, batch: SampleBatch | None = None) -> Path:
    return (batch or SampleBatch.small(DAY)).write(tmp_path / "landing", tmp_path / "lake")


def test_checksum_mismatch_rejects_the_file(tmp_path: Path) -> None:
    folder = write(tmp_path)
    with (folder / "rubric_scores/scores.csv").open("a") as handle:
        handle.write("L1,R1,B.1,T2,peer,3,2026-03-02T10:00:00+08:00\n")  # appended after the marker
    part = read_text_part(RUBRIC_SCORES, plan_batch(str(folder)).refs("rubric_scores"))
    assert part.good.num_rows == 0
    assert [(f.source_file, f.reason.split(" (")[0]) for f in part.rejected_files] == [
        ("rubric_scores/scores.csv", "checksum differs from _batch.json")]


def test_missing_required_column_and_missing_file_reject_whole_files(tmp_path: Path) -> None:
    folder = write(tmp_path)
    refs = plan_batch(str(folder)).refs("teachers")
    text = (folder / "reference/teachers.csv").read_text().replace("teacher_name", "name")
    broken = tmp_path / "teachers_renamed.csv"
    broken.write_text(text)
    part = read_text_part(TEACHERS, [*refs, FileRef("reference/renamed.csv", str(broken),
                                                    hashlib.sha256(text.encode()).hexdigest()),
                                     FileRef("reference/gone.csv", str(tmp_path / "gone.csv"), "0" * 64)])
    assert part.good.num_rows == 4
    assert [(f.source_file, f.reason) for f in part.rejected_files] == [
        ("reference/renamed.csv", "required column(s) missing: teacher_name"),
        ("reference/gone.csv", "listed in _batch.json but missing")]
    assert [f.rejected for f in part.files] == [None, "required column(s) missing: teacher_name",
                                               "listed in _batch.json but missing"]


def test_malformed_csv_line_is_quarantined_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    path = folder / "scores.csv"
    path.write_text("lesson_id,rubric_id,indicator_id,observer_id,observer_role,score,scored_at\n"
                    "L1,R1,A.1,T3,peer,8,2026-03-02T10:00:00+08:00\n"
                    "L1,R1,A.2,T3\n"
                    "L1,R1,B.1,T3,peer,4,2026-03-02T10:00:00+08:00\n")
    part = read_text_part(RUBRIC_SCORES, [FileRef("scores.csv", str(path))])
    assert part.good["_line"].to_pylist() == [2, 4]
    assert [(r["line"], r["reason"]) for r in part.rejects.to_pylist()] == [
        (3, "malformed CSV line: expected 7 fields")]


def test_parquet_files_validated_together_keep_their_file_and_row(tmp_path: Path) -> None:
    rows_a, rows_b = points("L1", 3), points("L2", 4)
    rows_b[2]["share_listening"] = 0.2  # shares no longer sum to 1
    paths = []
    for name, rows in (("a", rows_a), ("b", rows_b)):
        path = tmp_path / f"{name}.parquet"
        path.write_bytes(parquet_bytes("behaviour_codes", rows))
        paths.append(FileRef(f"lake:{name}.parquet", str(path)))
    odd = tmp_path / "c.parquet"  # students_seen as text: cast per value, validated on its own
    table = pa.Table.from_pylist(points("L3", 2))
    table = table.set_column(table.schema.get_field_index("students_seen"), "students_seen", pa.array(["30", "many"]))
    pq.write_table(table, odd)
    part = read_parquet_part(BEHAVIOUR_CODES, [*paths, FileRef("lake:c.parquet", str(odd))])
    good = list(zip(part.good["_source_file"].cast(pa.string()).to_pylist(), part.good["_line"].to_pylist(),
                    strict=True))
    assert good == [("lake:a.parquet", 1), ("lake:a.parquet", 2), ("lake:a.parquet", 3), ("lake:b.parquet", 1),
                    ("lake:b.parquet", 2), ("lake:b.parquet", 4), ("lake:c.parquet", 1)]
    assert [(r["source_file"], r["line"], r["field"]) for r in part.rejects.to_pylist()] == [
        ("lake:b.parquet", 3, "share_*"), ("lake:c.parquet", 2, "students_seen")]


def test_rubrics_flatten_and_a_broken_rubric_is_rejected_whole(tmp_path: Path) -> None:
    batch = SampleBatch.small(DAY)
    leafless = rubric("R2")
    leafless["indicators"][1] = dict(leafless["indicators"][1], max_score=None)
    batch.rubrics += [leafless, rubric("R3", subject="astrology"), {"oops": 1}, rubric("R1")]
    folder = write(tmp_path, batch)
    indicators, bands = read_rubrics(plan_batch(str(folder)).refs("rubric_indicators"))
    assert indicators.good["rubric_id"].to_pylist() == ["R1"] * 5
    assert bands.good["rank"].to_pylist() == [1, 2, 3]
    assert indicators.good.filter(pa.compute.equal(indicators.good["indicator_id"], "A"))["max_score"].to_pylist() \
        == [None]
    reasons = {f.source_file: f.reason for f in indicators.rejected_files}
    assert set(reasons) == {"rubrics/rubrics.json#R2", "rubrics/rubrics.json#R3", "rubrics/rubrics.json#4",
                            "rubrics/rubrics.json#R1"}
    assert "a leaf needs max_score and weight" in reasons["rubrics/rubrics.json#R2"]
    assert "subject" in reasons["rubrics/rubrics.json#R3"]
    assert "appears twice" in reasons["rubrics/rubrics.json#R1"]


def test_a_rubric_document_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rubrics.json"
    path.write_bytes(b"{not json")
    indicators, _ = read_rubrics([FileRef("rubrics/rubrics.json", str(path))])
    assert indicators.rejected_files[0].reason.startswith("not valid JSON")


def test_plan_refuses_a_folder_without_marker_and_flags_unlisted_files(tmp_path: Path) -> None:
    folder = write(tmp_path)
    (folder / "gold/late.csv").write_text("lesson_id\n")
    (folder / "gold/.late.csv.tmp").write_text("partial")
    marker = json.loads((folder / "_batch.json").read_text())
    marker["files"].append({"path": "extra/thing.bin", "contract": "telemetry", "sha256": "0" * 64, "bytes": 1})
    (folder / "_batch.json").write_text(json.dumps(marker))
    plan = plan_batch(str(folder))
    assert [(f.contract, f.source_file) for f in plan.unlisted] == [("gold_codes", "gold/late.csv")]
    assert [(f.contract, f.source_file) for f in plan.unknown] == [("telemetry", "extra/thing.bin")]
    (folder / "_batch.json").unlink()
    with pytest.raises(UserError, match=r"no _batch\.json"):
        plan_batch(str(folder))
    (folder / "_batch.json").write_bytes(orjson.dumps({"batch_id": "x"}))
    with pytest.raises(UserError, match="not a valid batch marker"):
        plan_batch(str(folder))


def test_report_counts_top_reasons_with_the_first_example() -> None:
    rejects = pa.Table.from_pylist([
        {"source_file": "b.csv", "line": 9, "field": "score", "value": "11", "reason": "above", "raw": "{}"},
        {"source_file": "a.csv", "line": 7, "field": "score", "value": "12", "reason": "above", "raw": "{}"},
        {"source_file": "a.csv", "line": 3, "field": None, "value": None, "reason": "malformed", "raw": "x"},
    ], schema=REJECT_SCHEMA)
    reasons = top_reasons(rejects)
    assert [(r.field, r.reason, r.rows, r.example) for r in reasons] == [
        ("score", "above", 2, "a.csv:7"), (None, "malformed", 1, "a.csv:3")]
    report = BatchLoad("2026-03-02", "/landing/2026-03-02", "succeeded", 2.0,
                       [TableLoad("rubric_scores", 2, 0, 97, 3, 1.0, 0.5, reasons)])
    text = report.render()
    assert "97 rows loaded, 3 quarantined" in text and "50 rows/s" in text
    assert "2 × score: above (e.g. a.csv:7)" in text


def test_a_binary_file_where_text_is_expected_is_rejected_whole(tmp_path: Path) -> None:
    garbage = tmp_path / "scores.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x01" * 50)
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00truncated")
    part = read_text_part(RUBRIC_SCORES, [FileRef("rubric_scores/scores.csv", str(garbage))])
    assert part.rejected_files[0].reason.startswith("not readable as csv")
    part = read_text_part(ACTIVITY_EVENTS, [FileRef("activity/events.jsonl.gz", str(gz))])
    assert part.rejected_files[0].reason.startswith("not readable as jsonl")
