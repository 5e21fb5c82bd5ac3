"""The Spark activity job in local mode against batches whose defects are known exactly.

One SparkSession for the module (start-up ≈ 20 s). The demo world (``jiaoyan demo-data``)
records every broken line, duplicate and late event it delivers, and the distinct valid
events per day and type; the job's counts, quarantine and lake must match that truth,
every file must conform to its lake contract, and rerunning a night must change nothing.
Hand-built batches cover what the demo world does not: lines the reference reader and
Spark's JSON parser read differently, split files, a late attendance, an earlier copy.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jiaoyan.contracts import ACTIVITY_EVENTS
from jiaoyan.contracts import validate as v
from jiaoyan.contracts.lake import LAKE_CONTRACTS, PARTITION_COLUMN
from spark_jobs.activity import research
from spark_jobs.activity.job import RunReport, run_batch
from spark_jobs.activity.read import LogFile, read_lines
from spark_jobs.activity.validate import check_lines, reject_rows, valid_rows
from spark_jobs.session import SparkSettings, build_session

pytestmark = pytest.mark.integration

LAST = dt.date(2026, 11, 20)
NIGHTS = 2
SETTINGS = SparkSettings(shuffle_partitions=2, lookback_days=3, files_per_day=1)
REASONS = {"truncated_json": "not valid JSON", "not_an_object": "not a JSON object",
           "missing_required_field": "missing value", "bad_timestamp": "timestamp has no UTC offset",
           "unknown_event_type": "not an allowed value"}


@pytest.fixture(scope="module")
def spark() -> Iterator:
    session = build_session(SETTINGS)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory) -> dict:
    """Two nights of the demo world (``jiaoyan demo-data``, no videos) run in order."""
    from jiaoyan.demo_world import scales
    from jiaoyan.demo_world import world as demo

    root = tmp_path_factory.mktemp("spark-activity")
    knobs = scales.knobs("demo", 0, end=LAST, days=NIGHTS, video_days=0, lessons_per_night=0, gold_lessons=0,
                         workers=1)
    demo.generate(knobs, str(root / "landing"))
    nights = [LAST - dt.timedelta(days=NIGHTS - 1 - i) for i in range(NIGHTS)]
    reports = [run_batch(spark, night, str(root / "landing"), str(root / "lake"), SETTINGS) for night in nights]
    defects = pd.read_csv(root / "landing" / "_truth" / "activity_defects.csv", dtype=str)
    counts = pd.read_csv(root / "landing" / "_truth" / "activity_counts.csv", dtype={"events": int})
    return {"landing": root / "landing", "lake": root / "lake", "nights": nights, "reports": reports,
            "defects": defects, "counts": counts}


def _lines(landing: Path, night: dt.date) -> int:
    return sum(sum(1 for line in gzip.decompress(path.read_bytes()).split(b"\n") if line.strip())
               for path in (landing / night.isoformat() / "activity").glob("*.jsonl*"))


def test_counts_match_the_demo_worlds_truth(world: dict) -> None:
    defects = world["defects"]
    for night, report in zip(world["nights"], world["reports"], strict=True):
        arrived = defects[defects["arrival_date"] == night.isoformat()]
        broken = arrived[arrived["kind"] == "broken"]
        repeats = arrived[arrived["kind"] == "duplicate"]
        late = arrived[arrived["kind"] == "late"]
        assert report.lines_read == _lines(world["landing"], night)
        assert report.quarantined == len(broken)
        assert report.valid == report.lines_read - len(broken)
        assert report.duplicates_in_batch == int((repeats["detail"] == "same file").sum())
        assert report.duplicates_of_earlier == int((repeats["detail"] != "same file").sum())
        assert report.new_events == report.valid - report.duplicates
        assert report.late_by_day == late.groupby("event_date").size().to_dict()
        assert report.changed_days == sorted({night.isoformat(), *late["event_date"]})


def test_quarantine_has_every_broken_line_with_file_line_and_reason(world: dict) -> None:
    defects = world["defects"]
    for night in world["nights"]:
        broken = defects[(defects["arrival_date"] == night.isoformat()) & (defects["kind"] == "broken")]
        rejects = pq.read_table(world["lake"] / "quarantine" / "activity" / night.isoformat()).to_pylist()
        expected = {(f.split("/", 1)[1], int(line)): detail
                    for f, line, detail in zip(broken["file"], broken["line"], broken["detail"], strict=True)}
        assert {(r["source_file"], r["line"]) for r in rejects} == set(expected)
        for reject in rejects:
            assert reject["reason"].startswith(REASONS[expected[(reject["source_file"], reject["line"])]]), reject
            assert reject["raw"]


def test_clean_events_hold_each_event_once_on_the_day_it_happened(world: dict) -> None:
    clean = _rows(world["lake"], "activity_events_clean")
    ids = [r["event_id"] for r in clean]
    assert len(ids) == len(set(ids))
    found = Counter((r["fact_date"].isoformat(), r["event_type"]) for r in clean)
    counts = world["counts"]
    expected = {(d, t): n for d, t, n in zip(counts["event_date"], counts["event_type"], counts["events"],
                                             strict=True)}
    assert found == expected
    for row in clean:  # the CST day of ts
        assert (row["ts"] + dt.timedelta(hours=8)).date() == row["fact_date"]


def test_every_lake_file_conforms_to_its_contract(world: dict) -> None:
    for contract in LAKE_CONTRACTS:
        files = sorted((world["lake"] / "activity" / contract.name).glob(f"{PARTITION_COLUMN}=*/*.parquet"))
        assert files, contract.name
        for path in files:
            result = v.conform(contract, pq.read_table(path), str(path))
            assert result.n_rejected == 0, (contract.name, result.rejects.slice(0, 3).to_pylist())
            day = path.parent.name.split("=", 1)[1]
            assert {d.isoformat() for d in result.good["fact_date"].to_pylist()} == {day}


def test_run_file_lists_counts_changed_days_and_partitions(world: dict) -> None:
    report: RunReport = world["reports"][-1]
    run = json.loads((world["lake"] / "activity" / "_runs" / f"{report.batch_id}.json").read_text())
    assert run["changed_days"] == report.changed_days
    assert run["partitions"]["member_day"] == report.changed_days
    assert run["late_by_day"] == report.late_by_day
    assert "seconds" not in run


def test_day_facts_add_up_to_the_clean_events(world: dict) -> None:
    clean = _rows(world["lake"], "activity_events_clean")
    member_day = _rows(world["lake"], "member_day")
    assert sum(r["events"] for r in member_day) == len(clean)
    assert sum(r["logins"] for r in member_day) == sum(r["event_type"] == "logged_in" for r in clean)
    sessions = _rows(world["lake"], "member_sessions")
    assert sum(r["events"] for r in sessions) == len(clean)
    assert sum(r["sessions"] for r in member_day) == len(sessions)
    kinds = _rows(world["lake"], "member_day_kinds")
    assert sum(r["events"] for r in kinds) == sum(r["event_type"] in ("activity_created", "activity_attended",
                                                                         "resource_published") for r in clean)


def test_term_scores_follow_the_documented_formula(world: dict) -> None:
    rows = _rows(world["lake"], "member_term_research")
    assert rows
    for row in rows:
        term = next(p for p in research.periods() if p.term_code == row["term_code"])
        elapsed = -(-((row["computed_through"] - term.start).days + 1) // 7)
        contributions = row["activities_created"] + row["resources_published"] + row["lessons_scored"]
        expected = research.score(row["actions"], row["action_types"], contributions, row["active_weeks"],
                                  elapsed, row["median_gap_days"])
        assert row["research_potential"] == pytest.approx(expected["research_potential"], abs=0.051)
        assert row["continuity_score"] == pytest.approx(expected["continuity"])


def test_rerunning_a_batch_changes_nothing(spark, world: dict) -> None:
    before = _snapshot(world["lake"])
    report = run_batch(spark, LAST, str(world["landing"]), str(world["lake"]), SETTINGS)
    assert report.to_json() == world["reports"][-1].to_json()
    assert _snapshot(world["lake"]) == before


def test_verdicts_equal_the_reference_reader_even_for_split_files(spark, tmp_path: Path) -> None:
    payload = _tricky_lines() * 40  # ~20 KB: split in pieces below
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "b.jsonl").write_bytes(payload)
    files = [LogFile(str(tmp_path / name), name, (tmp_path / name).stat().st_size)
             for name in ("a.jsonl.gz", "b.jsonl")]
    reference = v.read_jsonl(ACTIVITY_EVENTS, payload, "x")
    saved = {k: spark.conf.get(k) for k in ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")}
    try:
        for key in saved:
            spark.conf.set(key, "4096")  # the plain file is read in ~5 splits
        checked = check_lines(read_lines(spark, files)).cache()
        for name in ("activity/a.jsonl.gz", "activity/b.jsonl"):
            good = valid_rows(checked).where(f"source_file = '{name}'").orderBy("line").collect()
            rejects = reject_rows(checked).where(f"source_file = '{name}'").orderBy("line").collect()
            assert [(r["line"], r["event_id"], r["member_id"], r["ts"].replace(tzinfo=dt.UTC),
                     None if r["attrs"] is None else sorted(r["attrs"].items())) for r in good] == [
                (r[v.LINE], r["event_id"], r["member_id"], r["ts"], None if r["attrs"] is None else sorted(r["attrs"]))
                for r in reference.good.to_pylist()]
            assert [(r["line"], r["field"], r["value"], r["reason"], r["raw"]) for r in rejects] == [
                (r["line"], r["field"], r["value"], r["reason"], r["raw"]) for r in reference.rejects.to_pylist()]
        checked.unpersist()
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)


def test_late_attendance_updates_its_activity_and_an_earlier_copy_replaces_the_stored_one(
        spark, tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    day1, day3 = dt.date(2026, 11, 10), dt.date(2026, 11, 12)
    teachers = ("teacher_id,teacher_name,gender,birth_year,title,subject,grade,school_id,university_id,valid_from\n"
                "T1,甲,F,1980,professor,,,,U1,2020-01-01\nT2,乙,M,1980,professor,,,,U1,2020-01-01\n"
                "T3,丙,M,1980,professor,,,,U2,2020-01-01\nT3,丙,M,1980,professor,,,,U3,2026-11-11\n")
    _batch(landing, day1, [
        _event("c1", "2026-11-10T09:00:00+08:00", "T1", "activity_created", "A1", "lesson_polishing"),
        _event("a1", "2026-11-10T10:00:00+08:00", "T2", "activity_attended", "A1", "lesson_polishing"),
        _event("x1", "2026-11-10T23:30:00+08:00", "T2", "discussion_posted", "D1"),
    ], teachers)
    _batch(landing, day3, [
        # arrives two days late: T3 (university U2 on day 1; U3 only from 11-11) attended on day 1
        _event("a2", "2026-11-10T11:00:00+08:00", "T3", "activity_attended", "A1", "lesson_polishing"),
        # the same event x1 re-sent with an earlier ts: the copy on 11-09 wins, 11-10 loses it
        _event("x1", "2026-11-09T23:30:00+08:00", "T2", "discussion_posted", "D1"),
        _event("l1", "2026-11-12T08:00:00+08:00", "T3", "logged_in"),
    ])
    run_batch(spark, day1, str(landing), str(lake), SETTINGS)
    report = run_batch(spark, day3, str(landing), str(lake), SETTINGS)
    assert report.changed_days == ["2026-11-09", "2026-11-10", "2026-11-12"]
    assert report.replaced == 1 and report.duplicates_of_earlier == 0 and report.new_events == 3
    assert report.late_by_day == {"2026-11-09": 1, "2026-11-10": 1}
    assert report.partitions["activities"] == ["2026-11-10"]
    activity = _rows(lake, "activities")
    assert len(activity) == 1
    assert activity[0]["participants"] == 2 and activity[0]["attendances"] == 2
    assert activity[0]["participant_universities"] == 2 and activity[0]["cross_university"]
    assert activity[0]["creator_id"] == "T1" and activity[0]["kind"] == "lesson_polishing"
    clean = {r["event_id"]: r for r in _rows(lake, "activity_events_clean")}
    assert clean["x1"]["fact_date"] == dt.date(2026, 11, 9) and clean["x1"]["batch_id"] == "2026-11-12"
    trajectory = [r for r in _rows(lake, "research_trajectory") if r["member_id"] == "T2"]
    assert [r["event_id"] for r in sorted(trajectory, key=lambda r: r["ts"])] == ["x1", "a1"]
    assert sorted(trajectory, key=lambda r: r["ts"])[1]["gap_days"] == pytest.approx(10.5 / 24)


# helpers ------------------------------------------------------------------------------


def _rows(lake: Path, name: str) -> list[dict]:
    files = sorted((lake / "activity" / name).glob(f"{PARTITION_COLUMN}=*/*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []


def _snapshot(lake: Path) -> dict[str, object]:
    """Every dataset's rows (order-free), the run files and the quarantine."""
    snap: dict[str, object] = {}
    for contract in LAKE_CONTRACTS:
        snap[contract.name] = sorted(json.dumps(r, default=str, sort_keys=True) for r in _rows(lake, contract.name))
    for path in sorted((lake / "activity" / "_runs").glob("*.json")):
        snap[path.name] = path.read_text()
    for folder in sorted((lake / "quarantine" / "activity").iterdir()):
        snap[f"q/{folder.name}"] = sorted(json.dumps(r, default=str) for r in pq.read_table(folder).to_pylist())
    return snap


def _event(event_id: str, ts: str, member: str, event_type: str, obj: str | None = None,
           kind: str | None = None) -> dict:
    event = {"event_id": event_id, "ts": ts, "member_id": member, "vtro_id": "V1", "event_type": event_type}
    if obj:
        event["object_id"] = obj
    if kind:
        event["attrs"] = {"kind": kind}
    return event


def _batch(landing: Path, day: dt.date, events: list[dict], teachers: str | None = None) -> None:
    folder = landing / day.isoformat()
    (folder / "activity").mkdir(parents=True)
    (folder / "activity" / "events.jsonl.gz").write_bytes(
        gzip.compress("\n".join(json.dumps(e) for e in events).encode()))
    if teachers:
        (folder / "reference").mkdir()
        (folder / "reference" / "teachers.csv").write_text(teachers, encoding="utf-8")


def _tricky_lines() -> bytes:
    ok = '"ts":"2026-11-19T09:00:00+08:00","member_id":"T1"'
    lines = [
        '{"event_id":"e1",' + ok + ',"vtro_id":"V1","event_type":"activity_created","object_id":"A1",'
        '"attrs":{"kind":"training"}}',
        '{"event_id":"e2",' + ok + ',"event_type":"logged_in"}',
        '{"event_id":"e3",' + ok + ',"event_type":"resource_published","attrs":{"kind":"spaceship"}}',
        '{"event_id":"e4","ts":"2026-11-19T09:0',
        "[1, 2]",
        "",
        "   ",
        '{"event_id":"e5",' + ok + ',"event_type":"teleported"}',
        '{"event_id":"e6",' + ok + ',"event_type":"logged_in"}{"a":1}',
        '{"event_id":"e7",' + ok + ',"event_type":"logged_in"}}',
        '{"event_id":" e8 ",' + ok + ',"event_type":"logged_in"}',
        '{"event_id":"e9","ts":"2026-11-19 09:00:00+08:00","member_id":"T1","event_type":"logged_in"}',
        '{"event_id":"e10","ts":"2026-11-19T09:00:00","member_id":"T1","event_type":"logged_in"}',
        '{"event_id":"e11","ts":1763500000,"member_id":"T1","event_type":"logged_in"}',
        '{"event_id":"e12","ts":"2026-11-19T09:00:00+08:00","member_id":true,"event_type":"logged_in"}',
        '{"event_id":"e13",' + ok + ',"event_type":"logged_in","attrs":{"x":null,"y":1.5,"z":{"a":1}}}',
        '{"event_id":"e15",' + ok + ',"event_type":"activity_attended","object_id":"A1",'
        '"attrs":"{\\"kind\\":\\"training\\"}"}',
        '{"event_id":"e16",' + ok + ',"event_type":"activity_attended","object_id":"A1"}',
        '{"event_id":"e17","ts":"2026-02-30T09:00:00+08:00","member_id":"T1","event_type":"logged_in"}',
        '{"event_id":"e18","ts":"2026-11-19T09:00:00.5Z","member_id":"T1","event_type":"logged_in","vtro_id":""}',
        "{}",
        '{"event_id":"e19",' + ok + ',"event_type":"logged_in"}\r',
        '{"event_id":"e20",' + ok + ',"event_type":"logged_in","object_id":"讨论区"}',
        '{"event_id":"e22\\n",' + ok + ',"event_type":"logged_in","object_id":"x\\u2028"}',
        '{"event_id":"e23",' + ok + ',"event_type":"logged_in","object_id":"y\u2029"}',
        '{"event_id":"e24",' + ok + ',"event_type":"logged_in","attrs":[1,2]}',
        '{"event_id":"e25",' + ok + ',"event_type":"logged_in","attrs":7}',
        '{"event_id":"e26",' + ok + ',"event_type":"logged_in","attrs":null}',
        '{"event_id":"e27","ts":"2026-11-19T09:00:00.123456+05:30","member_id":"T1","event_type":"logged_in"}',
        '{"event_id":"e28","ts":"2026-11-19T24:00:00+08:00","member_id":"T1","event_type":"logged_in"}',
    ]
    encoded = [line.encode() for line in lines]
    encoded.append(b'{"event_id":"e14",' + ok.encode() + b',"event_type":"logged_in","object_id":"a\xffb"}')
    encoded.append(b'{"event_id":"e21",' + ok.encode() + b',"event_type":"logged_in","object_id":"\xe8\xae')
    return b"\n".join(encoded) + b"\n"
