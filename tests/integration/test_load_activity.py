"""The Spark job's lake datasets: the days a run rewrote replace those days in raw; Spark's quarantine loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from jiaoyan.load import load_batch
from jiaoyan.load.sample import SampleBatch, fact_row, write_spark_output

pytestmark = pytest.mark.integration
D1, D2, D3 = dt.date(2033, 6, 1), dt.date(2033, 6, 2), dt.date(2033, 6, 3)


def member_days(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select fact_date, member_id, events, _batch_id from raw.member_day "
                            "where fact_date between %s and %s order by 1, 2", (D1, D3)).fetchall()


def test_rewritten_days_replace_raw_days_and_late_events_move_them(warehouse: dict[str, str], tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    first = SampleBatch(D2)
    first.write(landing)
    write_spark_output(lake, first.batch_id, {
        "member_day": {D2: [fact_row("member_day", D2, member_id="T1", events=3),
                            fact_row("member_day", D2, member_id="T2", events=1)]},
        "vtro_day": {D2: [fact_row("vtro_day", D2, vtro_id="V1")]},
    })
    for _ in range(2):  # a rerun leaves one copy
        report = load_batch(str(landing / first.batch_id), lake_uri=str(lake))
        assert member_days(warehouse["owner"]) == [(D2, "T1", 3, "2033-06-02"), (D2, "T2", 1, "2033-06-02")]
    assert {t.contract: t.rows_loaded for t in report.tables} == {"member_day": 2, "vtro_day": 1}

    late = SampleBatch(D3)  # late events for D2 arrive with D3: the run rewrites D2 and writes D3; D1 emptied
    late.write(landing)
    write_spark_output(lake, late.batch_id, {
        "member_day": {D2: [fact_row("member_day", D2, member_id="T1", events=5)],
                       D3: [fact_row("member_day", D3, member_id="T1", events=2)], D1: []},
    })
    load_batch(str(landing / late.batch_id), lake_uri=str(lake))
    assert member_days(warehouse["owner"]) == [(D2, "T1", 5, "2033-06-03"), (D3, "T1", 2, "2033-06-03")]


def test_fact_rows_that_break_the_contract_are_quarantined(warehouse: dict[str, str], tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    batch = SampleBatch(dt.date(2033, 7, 1))
    batch.write(landing)
    day = batch.day
    write_spark_output(lake, batch.batch_id, {"member_day": {day: [
        fact_row("member_day", day, member_id="T1"), fact_row("member_day", day, member_id="T1"),
        fact_row("member_day", day, member_id="T2", events=-1),
        fact_row("member_day", day + dt.timedelta(days=1), member_id="T3")]}})
    report = load_batch(str(landing / batch.batch_id), lake_uri=str(lake))
    table = next(t for t in report.tables if t.contract == "member_day")
    assert (table.rows_loaded, table.rows_rejected) == (1, 3)
    assert {r.reason.split(" (")[0] for r in table.top_reasons} == {
        "below the minimum 0", "duplicate key", "row outside the day folders it was read from"}


def test_big_logs_leave_events_to_spark_and_load_its_quarantine(warehouse: dict[str, str], tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    batch = SampleBatch.small(dt.date(2033, 8, 1))
    batch.write(landing, lake)
    day = batch.day
    write_spark_output(lake, batch.batch_id, {
        "activity_events_clean": {day: [fact_row("activity_events_clean", day, event_id="E1", event_type="logged_in",
                                                 kind=None)]},
        "member_day": {day: [fact_row("member_day", day, member_id="T1")]},
    }, rejects=[{"source_file": "activity/events.jsonl", "line": 7, "field": None, "value": None,
                 "reason": "not a JSON object", "raw": "[1]"}])
    report = load_batch(str(landing / batch.batch_id), lake_uri=str(lake), event_rows_limit=2)
    loaded = {t.contract: (t.rows_loaded, t.rows_rejected) for t in report.tables}
    assert loaded["activity_events"] == (0, 1) and loaded["member_day"] == (1, 0)
    assert "activity_events_clean" not in loaded
    with psycopg.connect(warehouse["owner"]) as conn:
        assert conn.execute("select source_file, line, reason from quarantine.rejected_rows where batch_id = %s "
                            "and contract = 'activity_events'", (batch.batch_id,)).fetchall() == [
            ("activity/events.jsonl", 7, "not a JSON object")]

    report = load_batch(str(landing / batch.batch_id), lake_uri=str(lake))  # small: the loader reads the log
    loaded = {t.contract: (t.rows_loaded, t.rows_rejected) for t in report.tables}
    assert loaded["activity_events"] == (3, 0) and loaded["activity_events_clean"] == (1, 0)
