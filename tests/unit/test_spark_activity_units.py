"""Pure parts of the Spark activity job, without a SparkSession: the score, the term periods,
the reference verdicts of doubtful lines, the lake schemas and the teacher reference."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from pathlib import Path

import pyarrow as pa
import pytest

from jiaoyan import codes
from jiaoyan.contracts import LAKE_CONTRACTS
from jiaoyan.contracts.lake import FACT_DATE, KIND_EVENT_TYPES, RESEARCH_EVENT_TYPES
from spark_jobs import lake_io
from spark_jobs.activity import check, research
from spark_jobs.activity.reference import teacher_rows


def test_score_components_and_weights() -> None:
    assert math.isclose(sum(research.WEIGHTS.values()), 1.0)
    assert research.score(0, 0, 0, 0, 10, None)["research_potential"] == 0.0
    full = research.score(60, len(RESEARCH_EVENT_TYPES), 30, 10, 10, 0.0)
    assert full["research_potential"] == 100.0
    steady = research.score(20, 4, 6, 8, 10, 3.0)
    bursty = research.score(20, 4, 6, 2, 10, 0.1)
    assert steady["continuity"] > bursty["continuity"]
    # contribution saturates when half of the actions give something back
    assert research.score(10, 3, 5, 1, 1, None)["contribution"] == 1.0
    assert research.score(10, 3, 2, 1, 1, None)["contribution"] == pytest.approx(0.4)


def test_score_is_monotone_in_volume() -> None:
    values = [research.score(n, 3, n // 3, 4, 10, 5.0)["volume"] for n in range(1, 100)]
    assert values == sorted(values) and values[-1] == 1.0


def test_research_periods_are_contiguous_and_end_with_their_term() -> None:
    periods = research.periods()
    terms = codes.seed_rows("terms")
    assert [p.term_code for p in periods] == [r["term_code"] for r in sorted(terms, key=lambda r: r["term_start"])]
    assert periods[0].start == periods[0].term_start
    for before, after in itertools.pairwise(periods):
        assert after.start == before.end + dt.timedelta(days=1)  # the holiday counts towards the next term
        assert after.start <= after.term_start <= after.end
    assert research.affected_periods(dt.date(2026, 8, 1), dt.date(2026, 8, 2))[0].term_code == "2026-autumn"


def test_reference_verdicts_keep_the_real_line_numbers() -> None:
    lines = [b'{"event_id":"e1","ts":"2026-11-19T09:00:00+08:00","member_id":"T1","event_type":"logged_in",'
             b'"attrs":{"x":null}}',
             b'{"event_id":"e2","ts":"2026-11-19T09:0',
             b'{"event_id":"e3","ts":"2026-11-19T09:00:00+08:00","member_id":true,"event_type":"logged_in"}',
             b'{"event_id":"e4","ts":"2026-11-19T09:00:00+08:00","member_id":"T1","event_type":"teleported"}']
    table = pa.table({"source_file": ["activity/a.jsonl"] * 3 + ["activity/b.jsonl"],
                      "line": [7, 19, 40, 3], "value": pa.array(lines, pa.binary()).cast(pa.string())})
    rows = check.verdicts(table).to_pylist()
    by_line = {(r["source_file"], r["line"]): r for r in rows}
    assert by_line[("activity/a.jsonl", 7)]["status"] == "good"
    assert json.loads(by_line[("activity/a.jsonl", 7)]["attrs_json"]) == {"x": "None"}  # as the reference reads it
    assert by_line[("activity/a.jsonl", 19)]["reason"].startswith("not valid JSON")
    assert by_line[("activity/a.jsonl", 40)]["member_id"] == "True"
    assert by_line[("activity/b.jsonl", 3)]["field"] == "event_type"
    assert len(rows) == 4


def test_lake_contracts_carry_their_day_and_map_to_spark_types() -> None:
    for contract in LAKE_CONTRACTS:
        assert contract.field(FACT_DATE).type == pa.date32(), contract.name
        schema = lake_io.spark_schema(contract)
        assert [f.name for f in schema.fields] == list(contract.field_names)
    lists = {r["code"]: r for r in codes.seed_rows("event_types")}
    assert set(KIND_EVENT_TYPES) == {c for c, r in lists.items() if r["needs_kind"] == "true"}
    assert "logged_in" not in RESEARCH_EVENT_TYPES and "activity_attended" in RESEARCH_EVENT_TYPES


def test_spark_paths() -> None:
    assert lake_io.spark_path("s3://bucket/lake") == "s3a://bucket/lake"
    assert lake_io.spark_path("/data/lake") == "file:///data/lake"
    assert lake_io.spark_path("hdfs://nn/lake") == "hdfs://nn/lake"


def test_teacher_reference_keeps_the_latest_delivery_of_each_version(tmp_path: Path) -> None:
    header = "teacher_id,teacher_name,gender,birth_year,title,subject,grade,school_id,university_id,valid_from\n"
    t1, t2 = "T1,甲,F,1980,professor,,,,", "T2,乙,M,1980,lecturer,,,,"
    for day, body in (("2026-11-01", f"{t1}U1,2020-01-01\n{t2}U2,2020-01-01\n"),
                      ("2026-11-05", f"{t1}U9,2020-01-01\n{t2}U3,2026-11-04\n"),
                      ("2026-11-09", f"{t2}U4,2026-11-08\n")):
        (tmp_path / day / "reference").mkdir(parents=True)
        (tmp_path / day / "reference" / "teachers.csv").write_text(header + body, encoding="utf-8")
    rows = teacher_rows(str(tmp_path), dt.date(2026, 11, 6)).to_pylist()
    assert [(r["teacher_id"], r["university_id"]) for r in rows] == [("T1", "U9"), ("T2", "U2"), ("T2", "U3")]
