"""Contracts: definitions are coherent, the validator rejects exactly what breaks them, the docs are current."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from jiaoyan import codes
from jiaoyan.contracts import (
    ACTIVITY_EVENTS,
    ALL_CONTRACTS,
    BEHAVIOUR_CODES,
    LESSON_MANIFEST,
    RUBRIC_SCORES,
    TEACHERS,
    ContractError,
    Rubric,
)
from jiaoyan.contracts import validate as v
from jiaoyan.contracts.cli import render_docs

ROOT = Path(__file__).resolve().parents[2]


def test_every_contract_has_unique_fields_and_a_key() -> None:
    names = [c.name for c in ALL_CONTRACTS]
    assert len(names) == len(set(names))
    for contract in ALL_CONTRACTS:
        assert len(contract.field_names) == len(set(contract.field_names)), contract.name
        assert contract.key and all(k in contract.field_names for k in contract.key)


def test_behaviour_code_list_and_st_mapping() -> None:
    assert len(codes.teacher_codes()) == 4 and len(codes.student_codes()) == 5
    # patrolling makes a point S; lecturing with listening students is T
    teacher = [codes.teacher_codes().index("patrolling"), codes.teacher_codes().index("lecturing"),
               codes.teacher_codes().index("lecturing")]
    shares = [[1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0.2, 0, 0, 0.8, 0]]
    import numpy as np

    assert list(codes.st_codes(np.array(teacher), np.array(shares))) == ["S", "T", "S"]


def test_csv_rejects_carry_line_field_value_and_reason() -> None:
    text = (
        "teacher_id,teacher_name,gender,birth_year,title,subject,grade,school_id,university_id,valid_from\n"
        "T1,张伟,F,1980,teacher_level_1,mathematics,7,S1,,2025-09-01\n"
        "T2,李娜,X,1980,teacher_level_1,mathematics,7,S1,,2025-09-01\n"
        "T3,王芳,M,19x0,teacher_level_1,mathematics,7,S1,,2025-09-01\n"
        "T4,赵磊,M,1975,teacher_level_1,mathematics,7,S1,,2025-02-30\n"
        "T5,钱,M\n"
        "T6,孙,M,1975,professor,,,,U2,2025-09-01\n"
        "T7,周,M,1975,professor,,,S3,U2,2025-09-01\n"
    ).encode()
    result = v.read_csv(TEACHERS, text, "reference/teachers.csv")
    assert result.good["teacher_id"].to_pylist() == ["T1", "T6"]
    assert result.good[v.LINE].to_pylist() == [2, 7]
    rejects = {r["line"]: r for r in result.rejects.to_pylist()}
    assert rejects[3]["field"] == "gender" and rejects[3]["value"] == "X"
    assert rejects[4]["field"] == "birth_year" and rejects[4]["value"] == "19x0"
    assert rejects[5]["field"] == "valid_from" and "date" in rejects[5]["reason"]
    assert "malformed" in rejects[6]["reason"]
    assert rejects[8]["reason"].startswith("exactly one of school_id")
    assert all(r["source_file"] == "reference/teachers.csv" for r in rejects.values())


def test_timestamps_need_an_offset_and_scores_a_valid_role() -> None:
    text = (
        b"lesson_id,rubric_id,indicator_id,observer_id,observer_role,score,scored_at\n"
        b"L1,R1,1.1,T2,peer,8.5,2026-11-19T10:00:00+08:00\n"
        b"L1,R1,1.2,T2,peer,-1,2026-11-19T10:00:00+08:00\n"
        b"L1,R1,1.3,T2,peer,5,2026-11-19 10:00:00\n"
        b"L1,R1,1.4,T2,boss,5,2026-11-19T10:00:00+08:00\n"
    )
    result = v.read_csv(RUBRIC_SCORES, text, "scores.csv")
    assert result.n_good == 1
    assert result.good["scored_at"][0].as_py() == dt.datetime(2026, 11, 19, 2, tzinfo=dt.UTC)
    reasons = [r["reason"] for r in result.rejects.to_pylist()]
    assert reasons[0] == "below the minimum 0" and "UTC offset" in reasons[1] and "allowed" in reasons[2]


def test_jsonl_broken_lines_and_unknown_kinds_are_rejected_with_line_numbers() -> None:
    text = (
        b'{"event_id":"e1","ts":"2026-11-19T09:00:00+08:00","member_id":"T1","vtro_id":"V1",'
        b'"event_type":"activity_created","object_id":"A1","attrs":{"kind":"training"}}\n'
        b'{"event_id":"e2","ts":"2026-11-19T09:00:00+08:00","member_id":"T1","event_type":"logged_in"}\n'
        b'{"event_id":"e3","ts":"2026-11-19T09:00:00+08:00","member_id":"T1",'
        b'"event_type":"resource_published","attrs":{"kind":"spaceship"}}\n'
        b'{"event_id":"e4","ts":"2026-11-19T09:0\n'
        b"[1, 2]\n"
        b'{"event_id":"e5","ts":"2026-11-19T09:00:00+08:00","member_id":"T1","event_type":"teleported"}\n'
    )
    result = v.read_jsonl(ACTIVITY_EVENTS, text, "activity/events.jsonl")
    assert result.good["event_id"].to_pylist() == ["e1", "e2"]
    assert {r["line"]: r["field"] for r in result.rejects.to_pylist()} == {
        3: "attrs.kind", 4: None, 5: None, 6: "event_type"}


def test_shares_must_sum_to_one() -> None:
    row = {"lesson_id": "L1", "point_index": 0, "t_start_s": 0.0, "teacher_behaviour": "lecturing",
           "teacher_prob": 0.9, "share_listening": 0.5, "share_hand_raising": 0.1, "share_answering": 0.1,
           "share_reading_writing": 0.1, "share_student_interaction": 0.1, "students_seen": 30,
           "st_code": "T", "model_name": "m", "model_version": "1", "audio_present": True}
    good = dict(row, share_listening=0.6)
    table = pa.Table.from_pylist([row, good], schema=BEHAVIOUR_CODES.schema)
    result = v.conform(BEHAVIOUR_CODES, table, "codes.parquet")
    assert result.n_good == 1 and result.rejects["reason"][0].as_py() == "student shares do not sum to 1"


def test_missing_required_column_rejects_the_whole_file() -> None:
    with pytest.raises(ContractError, match="lesson_date"):
        v.read_csv(LESSON_MANIFEST, b"lesson_id,teacher_id\nL1,T1\n", "lessons/manifest.csv")


def test_rubric_tree_rules() -> None:
    base = {"rubric_id": "R1", "rubric_name": "课堂教学评价量规", "kind": "classroom_teaching", "version": 1,
            "published_on": "2026-09-01",
            "bands": [{"band": "excellent", "label_zh": "优秀", "min_ratio": 0.9},
                      {"band": "other", "label_zh": "待改进", "min_ratio": 0}],
            "indicators": [{"indicator_id": "1", "level": 1, "name": "目标达成", "position": 1},
                           {"indicator_id": "1.1", "parent_id": "1", "level": 2, "name": "目标明确",
                            "position": 1, "max_score": 10, "weight": 1}]}
    rubric = Rubric.model_validate(base)
    assert [i.indicator_id for i in rubric.leaves()] == ["1.1"] and rubric.band_of(0.95) == "excellent"
    broken = dict(base, indicators=[base["indicators"][0], dict(base["indicators"][1], max_score=None)])
    with pytest.raises(ValueError, match="leaf needs max_score"):
        Rubric.model_validate(broken)


def test_generated_docs_are_current() -> None:
    committed = (ROOT / "docs" / "data-contracts.md").read_text(encoding="utf-8")
    assert committed == render_docs(), "run `make docs` to regenerate docs/data-contracts.md"
