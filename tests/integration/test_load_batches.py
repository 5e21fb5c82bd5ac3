"""Bulk loads against the real PostgreSQL: exact counts, idempotency, crashes, late data, quarantine, report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from jiaoyan.errors import UserError
from jiaoyan.load import copy as load_copy
from jiaoyan.load import from_warehouse, load_all, load_batch, rules
from jiaoyan.load.sample import SampleBatch, points, run

pytestmark = pytest.mark.integration

TABLES = ("regions", "schools", "universities", "teachers", "vtros", "vtro_members", "lesson_manifest",
          "rubric_indicators", "rubric_bands", "rubric_scores", "gold_codes", "lesson_runs", "behaviour_codes",
          "activity_events")
SMALL_COUNTS = {"regions": 3, "schools": 1, "universities": 1, "teachers": 4, "vtros": 1, "vtro_members": 1,
                "lesson_manifest": 2, "rubric_indicators": 5, "rubric_bands": 3, "rubric_scores": 3, "gold_codes": 45,
                "lesson_runs": 1, "behaviour_codes": 65, "activity_events": 3}


def counts(url: str, batch_id: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"select count(*) from raw.{t} where _batch_id = %s", (batch_id,)).fetchone()[0]
                for t in TABLES}


def quarantined(url: str, batch_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select contract, source_file, line, field, value, reason from quarantine.rejected_rows "
                            "where batch_id = %s order by contract, source_file, line", (batch_id,)).fetchall()


def rejected_files(url: str, batch_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select contract, source_file, reason from quarantine.rejected_files where batch_id = %s "
                            "order by source_file", (batch_id,)).fetchall()


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "landing", tmp_path / "lake"


def test_a_batch_loads_with_provenance(warehouse: dict[str, str], dirs: tuple[Path, Path]) -> None:
    landing, lake = dirs
    batch = SampleBatch.small(dt.date(2031, 1, 5))
    report = load_batch(str(batch.write(landing, lake)), lake_uri=str(lake))
    assert report.status == "succeeded" and report.rows_rejected == 0 and not report.rejected_files
    assert counts(warehouse["owner"], batch.batch_id) == SMALL_COUNTS
    with psycopg.connect(warehouse["owner"]) as conn:
        assert conn.execute("select _source_file, _line from raw.gold_codes where _batch_id = %s and point_index = 3",
                            (batch.batch_id,)).fetchone() == ("gold/gold.csv", 5)
        sources = {r[0] for r in conn.execute("select distinct _source_file from raw.behaviour_codes "
                                              "where _batch_id = %s", (batch.batch_id,))}
        assert sources == {"behaviour_codes/precoded.parquet", f"lake:inference/{batch.batch_id}/behaviour_codes/"
                           "L1.parquet"}
        assert conn.execute("select producer from ops.batches where batch_id = %s",
                            (batch.batch_id,)).fetchone() == ("jiaoyan.load.sample",)
        assert conn.execute("select status, rows_loaded from ops.loads where batch_id = %s",
                            (batch.batch_id,)).fetchall() == [("succeeded", sum(SMALL_COUNTS.values()))]


def test_loading_twice_leaves_one_copy(warehouse: dict[str, str], dirs: tuple[Path, Path]) -> None:
    landing, lake = dirs
    batch = SampleBatch.small(dt.date(2031, 1, 6))
    batch.rows["rubric_scores"].append(dict(batch.rows["rubric_scores"][0], score=99))  # one quarantined row
    folder = str(batch.write(landing, lake))
    load_batch(folder, lake_uri=str(lake))
    second = load_batch(folder, lake_uri=str(lake))
    assert counts(warehouse["owner"], batch.batch_id) == SMALL_COUNTS
    assert len(quarantined(warehouse["owner"], batch.batch_id)) == 1
    assert second.rows_rejected == 1
    with psycopg.connect(warehouse["owner"]) as conn:
        assert conn.execute("select count(*) from ops.load_tables where batch_id = %s",
                            (batch.batch_id,)).fetchone()[0] == len(SMALL_COUNTS)


def test_a_crash_mid_load_then_a_rerun_leaves_one_copy(warehouse: dict[str, str], dirs: tuple[Path, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    landing, lake = dirs
    batch = SampleBatch.small(dt.date(2031, 1, 7))
    folder = str(batch.write(landing, lake))
    real_copy = load_copy.copy_table

    def crash_in_codes(conn, target, table, method="binary"):  # type: ignore[no-untyped-def]
        written = real_copy(conn, target, table, method)
        if target == "raw.behaviour_codes":
            raise RuntimeError("simulated crash after the COPY, before the commit")
        return written

    monkeypatch.setattr(load_copy, "copy_table", crash_in_codes)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_batch(folder, lake_uri=str(lake))
    partial = counts(warehouse["owner"], batch.batch_id)
    assert partial["behaviour_codes"] == 0 and partial["lesson_runs"] == 0  # rolled back together
    assert partial["gold_codes"] == 45  # earlier tables committed
    with psycopg.connect(warehouse["owner"]) as conn:
        assert conn.execute("select status from ops.loads where batch_id = %s",
                            (batch.batch_id,)).fetchall() == [("failed",)]
    monkeypatch.setattr(load_copy, "copy_table", real_copy)
    report = load_batch(folder, lake_uri=str(lake))
    assert report.status == "succeeded"
    assert counts(warehouse["owner"], batch.batch_id) == SMALL_COUNTS


def test_late_data_lands_in_its_own_period(warehouse: dict[str, str], dirs: tuple[Path, Path]) -> None:
    landing, lake = dirs
    first = SampleBatch.small(dt.date(2031, 2, 1))
    load_batch(str(first.write(landing, lake)), lake_uri=str(lake))
    late = SampleBatch(dt.date(2031, 2, 4))  # scores and codes for the lesson of Feb 1, three days later
    late.rows["rubric_scores"] = [dict(s, observer_id="T2", scored_at="2031-02-04T09:00:00+08:00")
                                  for s in first.rows["rubric_scores"]]
    late.lake_codes = points("L1", 45, ("behaviour-net", "2"))
    late.lake_runs = [dict(run("L1", 45), model_version="2")]
    report = load_batch(str(late.write(landing, lake)), lake_uri=str(lake))
    assert report.rows_rejected == 0
    with psycopg.connect(warehouse["owner"]) as conn:
        rows = conn.execute(
            "select s._batch_id, m.lesson_date, count(*) from raw.rubric_scores s join raw.lesson_manifest m "
            "using (lesson_id) where s._batch_id = %s and m._batch_id = %s group by 1, 2",
            (late.batch_id, first.batch_id)).fetchall()
        assert rows == [(late.batch_id, dt.date(2031, 2, 1), 3)]
        assert conn.execute("select count(*) from raw.behaviour_codes where _batch_id = %s",
                            (late.batch_id,)).fetchone()[0] == 45


def test_a_batch_without_its_marker_is_refused(warehouse: dict[str, str], dirs: tuple[Path, Path]) -> None:
    landing, lake = dirs
    folder = SampleBatch.small(dt.date(2031, 1, 8)).write(landing, lake)
    (folder / "_batch.json").unlink()
    with pytest.raises(UserError, match=r"no _batch\.json"):
        load_batch(str(folder), lake_uri=str(lake))


def test_load_all_loads_pending_batches_oldest_first(warehouse: dict[str, str], dirs: tuple[Path, Path]) -> None:
    landing, lake = dirs
    days = [dt.date(2031, 3, d) for d in (3, 1, 2)]
    for day in days:
        SampleBatch.small(day).write(landing, lake)
    (landing / "2031-03-04").mkdir(parents=True)  # incomplete: no marker yet
    reports = load_all(str(landing), lake_uri=str(lake))
    assert [r.batch_id for r in reports] == ["2031-03-01", "2031-03-02", "2031-03-03"]
    assert load_all(str(landing), lake_uri=str(lake)) == []


def test_the_report_read_back_equals_the_one_printed(warehouse: dict[str, str], dirs: tuple[Path, Path]) -> None:
    landing, lake = dirs
    batch = SampleBatch.small(dt.date(2031, 1, 9))
    batch.rows["rubric_scores"] += [dict(batch.rows["rubric_scores"][0], lesson_id="NOPE"),
                                    dict(batch.rows["rubric_scores"][1], score=11)]
    batch.rubrics.append({"rubric_id": "BROKEN"})
    report = load_batch(str(batch.write(landing, lake)), lake_uri=str(lake))
    with psycopg.connect(warehouse["loader"]) as conn:
        again = from_warehouse(conn, batch.batch_id)
    assert again is not None
    for table in report.tables:
        table.seconds = table.copy_seconds = 0.0
    for table in again.tables:
        table.seconds = table.copy_seconds = 0.0
    again.seconds = report.seconds
    assert again == report
    assert "unknown lesson" in report.render() and "rubrics/rubrics.json#BROKEN" in report.render()


def test_each_kind_of_defect_is_quarantined_and_the_rest_loads(warehouse: dict[str, str],
                                                               dirs: tuple[Path, Path]) -> None:
    landing, lake = dirs
    batch = SampleBatch.small(dt.date(2031, 4, 1))
    rows = batch.rows
    rows["teachers"].append(dict(rows["teachers"][0], teacher_id="T5", gender="X"))  # line 6
    rows["lesson_manifest"].append(dict(rows["lesson_manifest"][0], lesson_id="L3", teacher_id="T404"))  # line 4
    score = rows["rubric_scores"][0]
    rows["rubric_scores"] += [dict(score, lesson_id="L404"),  # line 5
                              dict(score, observer_id="T2", score=10.5),  # line 6
                              dict(score, observer_id="T2", indicator_id="B"),  # line 7
                              dict(score, observer_id="T2", rubric_id="R9"),  # line 8: R9 is broken below
                              dict(score, observer_id="T1", scored_at="2031-04-01 10:00")]  # line 9
    rows["gold_codes"][0]["share_listening"] = "0.4"  # line 2
    rows["gold_codes"].append(dict(rows["gold_codes"][7]))  # line 47 repeats line 9's key
    rows["behaviour_codes"] += points("L2", 21, ("observer-import", "1"), start=20)  # row 21: L2 has 20 points
    batch.lake_codes += points("L1", 46, start=45)  # row 46: the run coded 45 points
    batch.lake_runs.append(dict(run("L2", 0, "quarantined", "no video stream")))
    batch.rubrics.append({"rubric_id": "R9", "kind": "classroom_teaching"})
    batch.extra_lines["schools"] = ["S2,短行"]  # line 3
    batch.extra_lines["activity_events"] = ['{"event_id": "E9", ', "[1, 2]"]  # lines 4, 5
    batch.overrides["universities"] = b"university_id,university_name\nU1,x\n"
    folder = batch.write(landing, lake)
    (folder / "reference/vtros.csv").write_text("vtro_id,vtro_name\nV1,x\n")  # changed after the marker
    (folder / "reference/vtro_members.csv").unlink()  # listed, missing
    (folder / "gold/extra.csv").write_text("lesson_id\n")  # present, not listed
    report = load_batch(str(folder), lake_uri=str(lake))

    lake_codes = f"lake:inference/{batch.batch_id}/behaviour_codes/L1.parquet"
    got = {(c, f, line, field, reason[:30]) for c, f, line, field, _, reason in
           quarantined(warehouse["owner"], batch.batch_id)}
    expected = {
        ("teachers", "reference/teachers.csv", 6, "gender", "not an allowed value (allowed: F, M)"),
        ("schools", "reference/schools.csv", 3, None, "malformed CSV line: expected 7 fields"),
        ("lesson_manifest", "lessons/manifest.csv", 4, "teacher_id", rules.UNKNOWN_TEACHER),
        ("rubric_scores", "rubric_scores/scores.csv", 5, "lesson_id", rules.UNKNOWN_LESSON),
        ("rubric_scores", "rubric_scores/scores.csv", 6, "score", rules.ABOVE_MAX),
        ("rubric_scores", "rubric_scores/scores.csv", 7, "indicator_id", rules.NOT_A_LEAF),
        ("rubric_scores", "rubric_scores/scores.csv", 8, "rubric_id", rules.UNKNOWN_RUBRIC),
        ("rubric_scores", "rubric_scores/scores.csv", 9, "scored_at", "timestamp has no UTC offset (e.g. +08:00)"),
        ("gold_codes", "gold/gold.csv", 2, "share_*", "student shares do not sum to 1"),
        ("gold_codes", "gold/gold.csv", 47, "lesson_id,point_index", "duplicate key (lesson_id, point_index) in"),
        ("behaviour_codes", "behaviour_codes/precoded.parquet", 21, "point_index", rules.BEYOND_DURATION),
        ("behaviour_codes", lake_codes, 46, "point_index", rules.BEYOND_RUN),
        ("activity_events", "activity/events.jsonl", 4, None, "not valid JSON: unexpected end of data"),
        ("activity_events", "activity/events.jsonl", 5, None, "not a JSON object"),
    }
    assert got == {(c, f, line, field, reason[:30]) for c, f, line, field, reason in expected}
    files = {(c, f, r.split(" (")[0]) for c, f, r in rejected_files(warehouse["owner"], batch.batch_id)}
    assert files == {
        ("universities", "reference/universities.csv", "required column(s) missing: province_code, region_group"),
        ("vtros", "reference/vtros.csv", "checksum differs from _batch.json"),
        ("vtro_members", "reference/vtro_members.csv", "listed in _batch.json but missing"),
        ("rubric_indicators", "rubrics/rubrics.json#R9", "invalid rubric: rubric_name: Field required"),
        ("lesson_runs", "lessons/videos/L2.mp4", "video quarantined by inference"),
        ("gold_codes", "gold/extra.csv", "not listed in _batch.json"),
    }
    assert counts(warehouse["owner"], batch.batch_id) == SMALL_COUNTS | {
        "universities": 0, "vtros": 0, "vtro_members": 0, "gold_codes": 44, "lesson_runs": 2}
    assert report.rows_rejected == len(got) and len(report.rejected_files) == len(files)
    scores = next(t for t in report.tables if t.contract == "rubric_scores")
    assert (scores.rows_loaded, scores.rows_rejected, len(scores.top_reasons)) == (3, 5, 5)
    with psycopg.connect(warehouse["owner"]) as conn:
        per_file = conn.execute("select source_file, status, rows_read, rows_loaded, rows_rejected from "
                                "ops.load_files where batch_id = %s and contract in ('gold_codes', 'vtros') "
                                "order by source_file", (batch.batch_id,)).fetchall()
    assert per_file == [("gold/extra.csv", "rejected", 0, 0, 0), ("gold/gold.csv", "loaded", 46, 44, 2),
                        ("reference/vtros.csv", "rejected", 0, 0, 0)]
    load_batch(str(folder), lake_uri=str(lake))  # quarantine is replaced, not doubled
    assert len(quarantined(warehouse["owner"], batch.batch_id)) == len(got)
    assert len(rejected_files(warehouse["owner"], batch.batch_id)) == len(files)
