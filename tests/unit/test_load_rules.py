"""Row-level (contract) and cross-source rules on small hand-written batches, without a database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from jiaoyan.contracts import BEHAVIOUR_CODES, GOLD_CODES, LESSON_MANIFEST, RUBRIC_SCORES, Contract, by_name
from jiaoyan.contracts.validate import conform
from jiaoyan.load import rules
from jiaoyan.load.lookups import StaticLookups
from jiaoyan.load.parts import Part, with_source
from jiaoyan.load.plan import plan_batch
from jiaoyan.load.read import FileRef, read_parquet_part, read_text_part
from jiaoyan.load.sample import SampleBatch, parquet_bytes, points, run

LOOKUPS = StaticLookups(
    teachers={"T1", "T2", "T3", "T4"},
    lesson_durations={"L1": 270.0, "L2": 120.0, "L3": None},
    rubric_indicators={("R1", "A"): None, ("R1", "A.1"): 10.0, ("R1", "A.2"): 10.0, ("R1", "B"): None,
                       ("R1", "B.1"): 5.0},
)


def read(batch: SampleBatch, tmp_path: Path, contract: str) -> Part:
    plan = plan_batch(str(batch.write(tmp_path / "landing", tmp_path / "lake")))
    spec = by_name(contract)
    if spec.format == "parquet":
        return read_parquet_part(spec, plan.refs(contract))
    return read_text_part(spec, plan.refs(contract))


def rejected(part: Part) -> list[tuple]:
    return [(r["source_file"], r["line"], r["field"], r["value"], r["reason"]) for r in part.rejects.to_pylist()]


@pytest.fixture()
def batch() -> SampleBatch:
    return SampleBatch.small(dt.date(2026, 3, 2))


def test_clean_rows_pass_every_rule(batch: SampleBatch, tmp_path: Path) -> None:
    for name in ("lesson_manifest", "rubric_scores", "gold_codes", "behaviour_codes"):
        part = read(batch, tmp_path, name)
        rules.check(part, LOOKUPS)
        assert part.rejects.num_rows == 0, name


def test_unknown_teacher_in_the_manifest(batch: SampleBatch, tmp_path: Path) -> None:
    batch.rows["lesson_manifest"][1]["teacher_id"] = "T404"
    part = read(batch, tmp_path, "lesson_manifest")
    rules.check(part, LOOKUPS)
    assert rejected(part) == [("lessons/manifest.csv", 3, "teacher_id", "T404", rules.UNKNOWN_TEACHER)]
    assert part.good["lesson_id"].to_pylist() == ["L1"]


def test_scores_unknown_lesson_observer_rubric_indicator_non_leaf_and_above_max(batch: SampleBatch,
                                                                                 tmp_path: Path) -> None:
    base = batch.rows["rubric_scores"][0]
    batch.rows["rubric_scores"] += [
        dict(base, lesson_id="L404"),  # line 5
        dict(base, observer_id="T404", indicator_id="A.2"),  # line 6
        dict(base, rubric_id="R404"),  # line 7
        dict(base, indicator_id="C.9"),  # line 8
        dict(base, indicator_id="A"),  # line 9
        dict(base, indicator_id="B.1", observer_id="T1", score=5.5),  # line 10
        dict(base, indicator_id="B.1", observer_id="T2", score=5),  # line 11: exactly the maximum is fine
    ]
    part = read(batch, tmp_path, "rubric_scores")
    rules.check(part, LOOKUPS)
    assert rejected(part) == [
        ("rubric_scores/scores.csv", 5, "lesson_id", "L404", rules.UNKNOWN_LESSON),
        ("rubric_scores/scores.csv", 6, "observer_id", "T404", rules.UNKNOWN_TEACHER),
        ("rubric_scores/scores.csv", 7, "rubric_id", "R404", rules.UNKNOWN_RUBRIC),
        ("rubric_scores/scores.csv", 8, "indicator_id", "C.9", rules.UNKNOWN_INDICATOR),
        ("rubric_scores/scores.csv", 9, "indicator_id", "A", rules.NOT_A_LEAF),
        ("rubric_scores/scores.csv", 10, "score", "5.5", rules.ABOVE_MAX),
    ]
    assert part.good.num_rows == 4


def test_duplicate_keys_keep_the_first_row_and_say_where_it_is(batch: SampleBatch, tmp_path: Path) -> None:
    batch.rows["rubric_scores"].append(dict(batch.rows["rubric_scores"][1], score=1))
    part = read(batch, tmp_path, "rubric_scores")
    rules.check(part, LOOKUPS)
    assert rejected(part) == [("rubric_scores/scores.csv", 5, "lesson_id,rubric_id,indicator_id,observer_id",
                               "L1|R1|A.2|T3 (first at rubric_scores/scores.csv:3)",
                               "duplicate key (lesson_id, rubric_id, indicator_id, observer_id) in the batch")]


def test_gold_points_beyond_the_manifest_duration(batch: SampleBatch, tmp_path: Path) -> None:
    batch.rows["gold_codes"][-1]["point_index"] = 45  # L1 has 270 s = 45 points: 0..44
    batch.rows["gold_codes"][0]["coder_id"] = "T404"
    part = read(batch, tmp_path, "gold_codes")
    rules.check(part, LOOKUPS)
    assert rejected(part) == [("gold/gold.csv", 2, "coder_id", "T404", rules.UNKNOWN_TEACHER),
                              ("gold/gold.csv", 46, "point_index", "45", rules.BEYOND_DURATION)]


def test_codes_are_bounded_by_their_lesson_run_else_by_the_manifest(tmp_path: Path) -> None:
    codes = pa.Table.from_pylist(points("L1", 46) + points("L2", 21, ("import", "1")) + points("L3", 3),
                                 schema=pa.schema([pa.field(f.name, f.type) for f in BEHAVIOUR_CODES.fields]))
    part = _part(BEHAVIOUR_CODES, codes)
    runs = pa.Table.from_pylist([run("L1", 40)], schema=by_name("lesson_runs").schema)
    rules.check_codes(part, LOOKUPS, runs)
    assert [(r["value"], r["reason"]) for r in part.rejects.to_pylist()] == (
        [(str(i), rules.BEYOND_RUN) for i in range(40, 46)] + [("20", rules.BEYOND_DURATION)])
    assert part.good.num_rows == 40 + 20 + 3  # L3 has no duration: no bound


def test_codes_of_an_unknown_lesson(tmp_path: Path) -> None:
    codes = pa.Table.from_pylist(points("L404", 2), schema=pa.schema(
        [pa.field(f.name, f.type) for f in BEHAVIOUR_CODES.fields]))
    part = _part(BEHAVIOUR_CODES, codes)
    rules.check_codes(part, LOOKUPS, None)
    assert [(r["line"], r["reason"]) for r in part.rejects.to_pylist()] == [(1, rules.UNKNOWN_LESSON),
                                                                            (2, rules.UNKNOWN_LESSON)]


def test_contract_rules_shares_and_timestamps_reject_with_line_and_field(batch: SampleBatch, tmp_path: Path) -> None:
    batch.rows["gold_codes"][2]["share_listening"] = "0.5"  # the five shares now sum to 0.5
    batch.rows["gold_codes"][3]["coded_at"] = "2026-03-02 10:00:00"  # no UTC offset
    batch.rows["gold_codes"][4]["coded_at"] = "yesterday"
    batch.rows["gold_codes"][5]["share_answering"] = "1.5"
    part = read(batch, tmp_path, "gold_codes")
    rows = [(line, field, reason.split(" (")[0]) for _, line, field, _, reason in rejected(part)]
    assert rows == [(4, "share_*", "student shares do not sum to 1"),
                    (5, "coded_at", "timestamp has no UTC offset"),
                    (6, "coded_at", "timestamp has no UTC offset"),
                    (7, "share_answering", "above the maximum 1")]


def test_manifest_point_bound_uses_floor_of_duration() -> None:
    assert rules.points_of(270.0) == 45 and rules.points_of(275.9) == 45 and rules.points_of(5.9) == 0
    assert rules.points_of(None) != rules.points_of(None)  # NaN: no bound


def _part(contract: Contract, table: pa.Table) -> Part:
    result = conform(contract, table, "codes.parquet", np.arange(1, table.num_rows + 1))
    part = Part.empty(contract)
    part.good = with_source(result.good, np.zeros(result.n_good, np.int32), ["codes.parquet"])
    return part


def test_every_rule_set_is_registered() -> None:
    assert set(rules.CHECKS) == {LESSON_MANIFEST.name, RUBRIC_SCORES.name, GOLD_CODES.name, "lesson_runs",
                                 BEHAVIOUR_CODES.name}


def test_duplicates_across_files_point_at_the_first_file(tmp_path: Path) -> None:
    refs = []
    for name, rows in (("own", points("L1", 3, ("m", "1"))), ("lake", points("L1", 5, ("m", "1"), start=1))):
        path = tmp_path / f"{name}.parquet"
        path.write_bytes(parquet_bytes("behaviour_codes", rows))
        refs.append(FileRef(f"{name}.parquet", str(path)))
    part = read_parquet_part(BEHAVIOUR_CODES, refs)
    assert rules.reject_duplicates(part) == 2
    assert [(r["source_file"], r["line"], r["value"]) for r in part.rejects.to_pylist()] == [
        ("lake.parquet", 1, "L1|m|1|1 (first at own.parquet:2)"),
        ("lake.parquet", 2, "L1|m|1|2 (first at own.parquet:3)")]
    assert part.good["point_index"].to_pylist() == [0, 1, 2, 3, 4]
