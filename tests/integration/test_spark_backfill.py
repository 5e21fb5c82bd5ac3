"""The activity job's backfill (``run_batches``) against the same nights run one by one.

Three nights of the demo world with hand-built events added to them (a late attendance, a
re-sent copy with an earlier ts that replaces the stored one, another beyond the
look-back window, a teacher whose backdated move arrives between two nights that touch
the same activity), processed into two lakes: night by night with ``run_batch`` and in
one backfill. Every dataset's rows, every
quarantine folder and every run file must be the same, and rerunning the backfill
must change nothing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jiaoyan.contracts.lake import LAKE_CONTRACTS, PARTITION_COLUMN
from jiaoyan.errors import UserError
from spark_jobs.activity.backfill import run_batches
from spark_jobs.activity.job import run_batch
from spark_jobs.session import SparkSettings, build_session

pytestmark = pytest.mark.integration

LAST = dt.date(2026, 11, 20)
NIGHTS = 3
SETTINGS = SparkSettings(shuffle_partitions=2, lookback_days=2, files_per_day=1)


@pytest.fixture(scope="module")
def spark() -> Iterator:
    session = build_session(SETTINGS)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def demo(spark, tmp_path_factory) -> dict:
    """Three nights of the demo world plus hand-built events, one by one and as one backfill."""
    from jiaoyan.demo_world import scales
    from jiaoyan.demo_world import world as demo_world

    root = tmp_path_factory.mktemp("spark-backfill")
    knobs = scales.knobs("demo", 3, end=LAST, days=NIGHTS, events_per_day=500, video_days=0,
                         lessons_per_night=0, gold_lessons=0, workers=1)
    demo_world.generate(knobs, str(root / "landing"))
    nights = [LAST - dt.timedelta(days=NIGHTS - 1 - i) for i in range(NIGHTS)]
    _hand_built(root / "landing", nights)
    return _both(spark, root, nights)


def test_backfill_equals_the_nights_run_one_by_one(demo: dict) -> None:
    _same(demo)
    reports = demo["backfill"]
    assert sum(r.duplicates_of_earlier for r in reports) > 0 and sum(r.duplicates_in_batch for r in reports) > 0
    assert any(r.late_by_day for r in reports) and reports[1].replaced == 1 and reports[2].replaced == 0


def test_hand_built_cases_come_out_as_the_nights_left_them(demo: dict) -> None:
    d0 = demo["nights"][0]
    clean = _rows(demo["lake_backfill"], "activity_events_clean")
    # x1: the copy of night 1 (a day earlier) replaced night 0's; night 2's, two days earlier still, found
    # no stored copy in its look-back window, so both stay
    assert sorted(r["fact_date"] for r in clean if r["event_id"] == "x1") == [d0 - dt.timedelta(days=2),
                                                                              d0 - dt.timedelta(days=1)]
    found = {r["activity_id"]: r for r in _rows(demo["lake_backfill"], "activities")}
    # A1 was last touched on night 1, before T3 moved to U1 (backdated, delivered on night 2)
    assert found["A1"]["participant_universities"] == 2 and found["A1"]["participants"] == 2
    # A2 was last touched on night 2, after the move, and is filed under its late attendance's day
    assert found["A2"]["participant_universities"] == 1 and found["A2"]["fact_date"] == d0 - dt.timedelta(days=3)


def test_rerunning_the_backfill_changes_nothing(spark, demo: dict) -> None:
    before = _snapshot(demo["lake_backfill"])
    reports = run_batches(spark, demo["nights"], str(demo["landing"]), str(demo["lake_backfill"]), SETTINGS)
    assert [r.to_json() for r in reports] == [r.to_json() for r in demo["backfill"]]
    assert _snapshot(demo["lake_backfill"]) == before


def test_a_backfill_before_stored_nights_is_refused(spark, demo: dict) -> None:
    with pytest.raises(UserError, match="after"):
        run_batches(spark, demo["nights"][:1], str(demo["landing"]), str(demo["lake_backfill"]), SETTINGS)


# helpers ------------------------------------------------------------------------------


def _both(spark, root: Path, nights: list[dt.date]) -> dict:
    landing = root / "landing"
    nightly = [run_batch(spark, night, str(landing), str(root / "lake_nightly"), SETTINGS) for night in nights]
    backfill = run_batches(spark, nights, str(landing), str(root / "lake_backfill"), SETTINGS)
    return {"landing": landing, "nights": nights, "nightly": nightly, "backfill": backfill,
            "lake_nightly": root / "lake_nightly", "lake_backfill": root / "lake_backfill"}


def _same(both: dict) -> None:
    assert [r.to_json() for r in both["backfill"]] == [r.to_json() for r in both["nightly"]]
    nightly, backfill = _snapshot(both["lake_nightly"]), _snapshot(both["lake_backfill"])
    assert nightly.keys() == backfill.keys()
    for name in nightly:
        assert backfill[name] == nightly[name], name


def _snapshot(lake: Path) -> dict[str, object]:
    """Every dataset's rows per day (order-free), the run files and the quarantine."""
    snap: dict[str, object] = {}
    for contract in LAKE_CONTRACTS:
        for folder in sorted((lake / "activity" / contract.name).glob(f"{PARTITION_COLUMN}=*")):
            rows = [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
            snap[f"{contract.name}/{folder.name}"] = sorted(json.dumps(r, default=str, sort_keys=True) for r in rows)
    for path in sorted((lake / "activity" / "_runs").glob("*.json")):
        snap[path.name] = path.read_text()
    for folder in sorted((lake / "quarantine" / "activity").iterdir()):
        snap[f"q/{folder.name}"] = [json.dumps(r, default=str) for r in pq.read_table(folder).to_pylist()]
    return snap


def _hand_built(landing: Path, nights: list[dt.date]) -> None:
    """Extra events on each night (their own file) and teacher rows: late attendance, replaced and
    look-back-blind copies, repeats, a backdated move of a teacher, a broken line."""
    d0 = nights[0]

    def at(days: int, hhmm: str) -> str:
        return f"{(d0 + dt.timedelta(days=days)).isoformat()}T{hhmm}:00+08:00"

    header = "teacher_id,teacher_name,gender,birth_year,title,subject,grade,school_id,university_id,valid_from\n"
    _extra(landing, nights[0], [
        # A1 on a day before the world's first: no later night changes it
        _event("c1", at(-5, "09:00"), "T1", "activity_created", "A1", "lesson_polishing"),
        _event("a1", at(-5, "10:00"), "T2", "activity_attended", "A1", "lesson_polishing"),
        _event("x1", at(0, "23:30"), "T2", "discussion_posted", "D1"),
    ], "T1,甲,F,1980,professor,,,,U1,2020-01-01\nT2,乙,M,1980,professor,,,,U1,2020-01-01\n"
       "T3,丙,M,1980,professor,,,,U2,2020-01-01\n", header)
    _extra(landing, nights[1], [
        _event("a2", at(-5, "11:00"), "T3", "activity_attended", "A1", "lesson_polishing"),  # late
        _event("x1", at(-1, "23:30"), "T2", "discussion_posted", "D1"),  # an earlier copy: replaces night 0's
        _event("c2", at(1, "09:00"), "T3", "activity_created", "A2", "training"),
        _event("l1", at(1, "08:00"), "T3", "logged_in"),
        _event("l1", at(1, "08:00"), "T3", "logged_in"),  # repeated in the batch
    ])
    _extra(landing, nights[2], [
        _event("x1", at(-2, "23:30"), "T2", "discussion_posted", "D1"),  # night 1's copy is beyond the look-back
        _event("a3", at(1, "10:00"), "T1", "activity_attended", "A2", "training"),
        _event("c2", at(1, "09:00"), "T3", "activity_created", "A2", "training"),  # repeat of an earlier night's
        _event("a4", at(-3, "10:00"), "T3", "activity_attended", "A2", "training"),  # files A2 earlier
        _event("b1", at(2, "09:00"), "T1", "lesson_observed", "L1"),
        '{"event_id":"bad","ts":"2026-11-15T10:00:00"}',
    ], f"T3,丙,M,1980,professor,,,,U1,{(d0 - dt.timedelta(days=16)).isoformat()}\n", header)


def _event(event_id: str, ts: str, member: str, event_type: str, obj: str | None = None,
           kind: str | None = None) -> dict:
    event = {"event_id": event_id, "ts": ts, "member_id": member, "vtro_id": "V1", "event_type": event_type}
    if obj:
        event["object_id"] = obj
    if kind:
        event["attrs"] = {"kind": kind}
    return event


def _extra(landing: Path, day: dt.date, events: list[dict | str], teachers: str | None = None,
           header: str = "") -> None:
    folder = landing / day.isoformat()
    lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
    (folder / "activity" / "zz-extra.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    if teachers:
        path = folder / "reference" / "teachers.csv"
        path.parent.mkdir(exist_ok=True)
        text = path.read_text(encoding="utf-8") if path.exists() else header
        path.write_text(text + ("" if text.endswith("\n") else "\n") + teachers, encoding="utf-8")


def _rows(lake: Path, name: str) -> list[dict]:
    return [r for f in sorted((lake / "activity" / name).glob(f"{PARTITION_COLUMN}=*/*.parquet"))
            for r in pq.read_table(f).to_pylist()]
