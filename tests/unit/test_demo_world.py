"""The demo world: deterministic, valid against every contract, rejects exactly the injected
defects, a consistent ground truth, the national VTRO figures, one-line CLI errors."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from jiaoyan import codes
from jiaoyan.cli import main
from jiaoyan.contracts import BatchManifest, RubricFile, sources
from jiaoyan.contracts import validate as v
from jiaoyan.demo_world import activity, lessons, reference, rubrics, scales, truth, world
from jiaoyan.demo_world.randomness import stream

END = dt.date(2026, 11, 20)


def small_knobs(seed: int = 11, **overrides: object) -> scales.Knobs:
    """A shrunken demo world: 8 nights, a smaller population, two short rendered lessons and a gold one."""
    settings = {"end": END, "days": 8, "events_per_day": 3000, "video_days": 1, "lessons_per_night": 2,
                "gold_lessons": 1, "workers": 2, **overrides}
    k = scales.knobs("demo", seed, **settings)  # type: ignore[arg-type]
    return scales.with_scale(k, school_teachers=320, schools=14, memberships=320, distinct_university_members=260,
                             school_teacher_members=30, vtros=10, new_vtros=1, lesson_points=(20, 23))


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "landing"
    world.generate(small_knobs(), str(out))
    return out


def batches(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name[0].isdigit())


def conform(contract: sources.Contract, data: bytes, path: Path, name: str) -> v.Conformed:
    if contract.format == "csv":
        return v.read_csv(contract, data, name)
    if contract.format == "jsonl":
        return v.read_jsonl(contract, data, name)
    table = pq.read_table(path)
    return v.conform(contract, table, name, np.arange(1, table.num_rows + 1))  # Parquet rows count from 1


# --- determinism ----------------------------------------------------------------------------------------
def test_rerun_gives_identical_bytes_and_another_seed_differs(demo: Path, tmp_path: Path) -> None:
    before = tree_hashes(demo)
    world.generate(small_knobs(), str(demo))  # the same folder again: regenerated identically
    assert tree_hashes(demo) == before
    other = tmp_path / "other"
    world.generate(small_knobs(seed=12, video_days=0, gold_lessons=0), str(other))
    theirs = tree_hashes(other)
    common = [p for p in before if p in theirs and p.endswith((".csv", ".gz", ".parquet"))]
    assert common and sum(before[p] != theirs[p] for p in common) > 0.8 * len(common)


def test_worker_count_does_not_change_the_output(tmp_path: Path) -> None:
    k = scales.knobs("demo", 11, end=END, days=3, events_per_day=2000, video_days=0, gold_lessons=0, workers=1)
    world.generate(k, str(tmp_path / "one"))
    world.generate(scales.knobs("demo", 11, end=END, days=3, events_per_day=2000, video_days=0, gold_lessons=0,
                                workers=2), str(tmp_path / "two"))
    assert tree_hashes(tmp_path / "one") == tree_hashes(tmp_path / "two")


# --- contracts ------------------------------------------------------------------------------------------
def test_every_file_is_listed_and_validates_with_exactly_the_injected_rejects(demo: Path) -> None:
    rejects: Counter = Counter()
    for batch in batches(demo):
        marker = BatchManifest.model_validate_json((batch / "_batch.json").read_bytes())
        assert marker.batch_id == batch.name and marker.producer.startswith(world.PRODUCER_PREFIX)
        on_disk = {str(p.relative_to(batch)) for p in batch.rglob("*") if p.is_file() and p.name != "_batch.json"}
        assert {f.path for f in marker.files} == on_disk
        for f in marker.files:
            data = (batch / f.path).read_bytes()
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (f.sha256, f.bytes)
            if f.contract == "video":
                continue
            if f.path == sources.RUBRIC_INDICATORS.location:
                assert len(RubricFile.model_validate_json(data).rubrics) >= 1
                continue
            result = conform(sources.by_name(f.contract), data, batch / f.path, f"{batch.name}/{f.path}")
            assert result.n_good + result.n_rejected == f.rows
            for r in result.rejects.to_pylist():
                rejects[(f.contract, r["source_file"], r["line"])] += 1
    injected = truth.table(str(demo), "defects")
    row_level = injected[injected["level"] == "row"]
    broken = truth.table(str(demo), "activity_defects").query("kind == 'broken'")
    expected = Counter({(s, f"{b}/{f}", int(n)): 1 for s, b, f, n in row_level[["source", "batch", "file",
                                                                                  "line"]].itertuples(index=False)})
    expected.update({("activity_events", f, int(n)): 1 for f, n in broken[["file", "line"]].itertuples(index=False)})
    assert rejects == expected
    assert {"lesson_manifest", "rubric_scores", "behaviour_codes"} <= set(injected["source"])
    assert len(broken) > 0 and set(broken["detail"]) == set(activity.BROKEN_KINDS)


def test_cross_source_defects_are_what_the_truth_says(demo: Path) -> None:
    injected = truth.table(str(demo), "defects")
    teachers = set(pd.read_csv(batches(demo)[0] / "reference/teachers.csv")["teacher_id"])
    maxima = rubrics.build(small_knobs()).leaves.set_index(["rubric_id", "indicator_id"])["max_score"].to_dict()
    cross = injected[injected["level"] == "cross"]
    assert len(cross) > 0
    for row in cross.itertuples():
        data = pd.read_csv(demo / row.batch / row.file, dtype=str, keep_default_na=False)
        line = data.iloc[int(row.line) - 2]
        if row.kind == "unknown_teacher":
            assert line["teacher_id"] not in teachers
        else:
            assert row.kind == "score_above_max"
            assert float(line["score"]) > maxima[(line["rubric_id"], line["indicator_id"])]


def test_reference_snapshot_first_then_changes(demo: Path) -> None:
    first, *later = batches(demo)
    assert all((first / f"reference/{c.name}.csv").exists() for c in sources.REFERENCE_CONTRACTS)
    assert not any((b / "reference/regions.csv").exists() for b in later)
    regions = pd.read_csv(first / "reference/regions.csv", dtype=str, keep_default_na=False)
    districts = regions[regions["level"] == "district"]
    assert (districts["region_code"].str[:4] == districts["parent_code"].str[:4]).all()
    assert set(regions.loc[regions["level"] == "province", "region_code"]) == set(codes.seed_codes(
        "provinces", "province_code"))
    schools = pd.read_csv(first / "reference/schools.csv")
    assert 0.05 < schools["is_weak"].mean() < 0.35
    assert schools.groupby("urban_rural")["is_weak"].mean()["rural"] > schools.groupby("urban_rural")[
        "is_weak"].mean()["urban"]


# --- ground truth -----------------------------------------------------------------------------------------
def test_lesson_truth_matches_manifest_codes_and_points(demo: Path) -> None:
    out = str(demo)
    lessons_truth = truth.lessons(out)
    manifest = pd.concat([pd.read_csv(b / "lessons/manifest.csv", dtype={"start_time": str})
                          for b in batches(demo) if (b / "lessons/manifest.csv").exists()])
    real = manifest[manifest["lesson_id"].isin(lessons_truth["lesson_id"])]
    assert len(real) == len(lessons_truth)
    merged = real.merge(lessons_truth, on="lesson_id", suffixes=("", "_truth"))
    assert (np.floor(merged["duration_s"] / 6).astype(int) == merged["n_points"]).all()
    assert ((merged["video_uri"].fillna("") != "") == (merged["delivery"] != "precoded")).all()
    for day in sorted(set(lessons_truth["lesson_date"])):
        points = truth.points(out, day=day)
        shares = np.column_stack([points[c].to_numpy() for c in codes.share_columns()])
        assert np.allclose(shares.sum(1), 1.0, atol=1e-5)
        per_lesson = Counter(points["lesson_id"].to_pylist())
        day_truth = lessons_truth[lessons_truth["lesson_date"] == day]
        assert all(per_lesson[lid] == n for lid, n in zip(day_truth["lesson_id"], day_truth["n_points"],
                                                          strict=True))
        codes_file = demo / day / world.CODES_FILE
        if codes_file.exists():
            coded = Counter(pq.read_table(codes_file)["lesson_id"].to_pylist())
            pre = day_truth[day_truth["delivery"] == "precoded"]
            assert coded == dict(zip(pre["lesson_id"], pre["n_points"], strict=True))
            assert set(pq.read_table(codes_file)["model_name"].to_pylist()) == {"simulated-coder"}


def test_rendered_videos_last_as_long_as_their_scripts(demo: Path) -> None:
    out = str(demo)
    videos = truth.lessons(out).query("delivery != 'precoded'")
    assert len(videos) == 3 and videos["corrupt"].sum() == 1  # two video lessons (one corrupt) and a gold one
    for row in videos.itertuples():
        path = demo / row.lesson_date / world.video_path(row.lesson_id)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.video_sha256
        if row.corrupt:
            continue
        with av.open(str(path)) as box:
            stream_ = box.streams.video[0]
            frames = sum(1 for _ in box.decode(stream_))
            seconds = frames / float(stream_.average_rate)
        assert abs(seconds - row.n_points * codes.SAMPLING_INTERVAL_S) < 0.2
        script = truth.points(out, row.lesson_id)
        assert script.num_rows == row.n_points


def test_gold_codes_are_the_truth(demo: Path) -> None:
    out = str(demo)
    gold = truth.lessons(out).query("delivery == 'gold'")
    files = {p.stem: p for b in batches(demo) for p in (b / "gold").glob("*.csv")}
    assert set(files) == set(gold["lesson_id"])
    planned = world.build(small_knobs())
    for lesson_id, path in files.items():
        coded = pd.read_csv(path)
        points = truth.points(out, lesson_id).to_pandas()
        assert (coded["teacher_behaviour"].to_numpy() == points["teacher_behaviour"].astype(str).to_numpy()).all()
        assert np.allclose(coded["share_listening"], points["share_listening"], atol=1e-5)
        script = world.lesson_script(planned, lesson_id)  # the API other components use: the same truth
        names = np.array(codes.teacher_codes())[script.teacher]
        assert (names == coded["teacher_behaviour"].to_numpy()).all()
        assert np.allclose(script.shares[:, 0], coded["share_listening"], atol=1e-5)


def test_the_styles_give_the_intended_teaching_modes() -> None:
    n = 200
    frame = pd.DataFrame({
        "n_points": np.full(4 * n, 450), "class_size": np.full(4 * n, 45), "style": np.repeat(lessons.STYLES, n),
        "trend": "stable", "trend_step": 0.05, "terms_on": 0, "engagement": 0.93, "participation": 1.0,
    })
    points = lessons.generate_points(stream(5, "test"), frame)
    rt, ch = lessons.rt_ch(points)
    modes = pd.crosstab(frame["style"], lessons.teaching_mode(rt, ch), normalize="index")
    for style in lessons.STYLES:  # each style's own mode dominates
        assert modes.loc[style].idxmax() == style and modes.loc[style, style] > 0.6
    assert rt[frame["style"] == "lecture"].mean() > 0.7 > rt[frame["style"] == "dialogue"].mean()
    assert rt[frame["style"] == "practice"].mean() < 0.3


def test_improving_teachers_move_toward_dialogue() -> None:
    style = np.array(["lecture"] * 3)
    mix = lessons.style_mix(style, np.array(["improving"] * 3), np.full(3, 0.06), np.arange(3))
    lecture, dialogue = lessons.KINDS.index("lecture"), lessons.KINDS.index("dialogue")
    assert (np.diff(mix[:, lecture]) < 0).all() and (np.diff(mix[:, dialogue]) > 0).all()


def test_activity_truth_counts_match_the_files(demo: Path) -> None:
    out = str(demo)
    seen: dict[str, tuple[str, str]] = {}
    lines_by_file: Counter = Counter()
    for batch in batches(demo):
        for path in sorted((batch / "activity").glob("*.jsonl.gz")):
            result = v.read_jsonl(sources.ACTIVITY_EVENTS, path.read_bytes(), f"{batch.name}/activity/{path.name}")
            lines_by_file[f"{batch.name}/activity/{path.name}"] = result.n_good + result.n_rejected
            local = pc.add(result.good["ts"], pc.cast(8 * 3600 * 1_000_000, "duration[us]"))
            days = pc.strftime(local, format="%Y-%m-%d").to_pylist()
            for event_id, day, kind in zip(result.good["event_id"].to_pylist(), days,
                                           result.good["event_type"].to_pylist(), strict=True):
                seen.setdefault(event_id, (day, kind))
    counts = Counter(seen.values())
    expected = truth.table(out, "activity_counts")
    assert counts == {(d, t): n for d, t, n in expected.itertuples(index=False)}
    defects = truth.table(out, "activity_defects")
    late = defects[defects["kind"] == "late"]
    assert len(late) > 0 and (pd.to_datetime(late["arrival_date"]) > pd.to_datetime(late["event_date"])).all()
    assert set(late["file"].str.contains("/late-")) == {True}
    dups = defects[defects["kind"] == "duplicate"]
    assert len(dups) > 0 and dups["event_id"].isin(list(seen)).all()
    total = sum(lines_by_file.values())
    assert total == len(seen) + len(dups) + (defects["kind"] == "broken").sum()
    assert set(codes.seed_codes("event_types")) <= {t for _, t in counts}


def test_offices_to_remind_and_cross_university_attendance(demo: Path) -> None:
    offices = truth.table(str(demo), "offices")
    assert offices["dormant"].any() or offices["quiet_from"].notna().any()


# --- national figures -----------------------------------------------------------------------------------------
def test_national_offices_universities_and_members() -> None:
    k = scales.knobs("national", 3)
    ref = reference.build(k)
    assert len(ref.vtros) == 787 and ref.vtros["university_id"].nunique() == 282 == len(ref.universities)
    assert ref.members["teacher_id"].nunique() >= 70_000
    assert set(ref.vtros["scope"]) == set(codes.seed_codes("vtro_scopes"))
    assert set(ref.vtros["content_type"]) == set(codes.seed_codes("vtro_content_types"))
    start = ref.members[ref.members["delivered_on"] == k.start]
    sizes = start.groupby("vtro_id").size()
    assert (sizes < 10).sum() == ref.vtros["rule_small"].sum() > 0
    group = start["teacher_id"].map(ref.university_teachers().set_index("teacher_id")["university_id"]).map(
        ref.universities.set_index("university_id")["region_group"])
    has_cw = group.isin(["central", "western"]).groupby(start["vtro_id"]).any()
    national = ref.vtros[ref.vtros["scope"] == "national"]["vtro_id"]
    breaking = national[~has_cw.reindex(national).fillna(False).to_numpy()]
    assert 0 < len(breaking) == ref.vtros["rule_east_only"].sum()
    assert set(ref.vtros["region_group"]) == {"east", "central", "western"}


# --- command line ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, fragment", [
    (["--scale", "planet"], "unknown scale 'planet'"),
    (["--seed", "-1"], "--seed must be a non-negative integer"),
    (["--days", "0"], "--days must be between"),
    (["--end", "2026-13-01"], "--end must be a date"),
])
def test_cli_bad_arguments_are_one_line_errors(args: list[str], fragment: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jiaoyan: error: ") and fragment in err and err.count("\n") == 1


def test_cli_refuses_foreign_and_unwritable_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["demo-data", "--out", str(foreign), "--days", "1"]) == 2
    assert "not a demo world" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "mine"
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["demo-data", "--out", str(blocker / "sub"), "--days", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jiaoyan: error: ") and err.count("\n") == 1


def test_cli_writes_a_tiny_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["demo-data", "--out", str(out), "--days", "2", "--video-days", "0", "--gold-lessons", "0",
                 "--events-per-day", "500", "--workers", "1", "--no-defects"]) == 0
    assert "2 nights" in capsys.readouterr().out
    assert truth.world_info(str(out))["status"] == "complete"
    assert truth.table(str(out), "defects").empty


def test_the_generator_uses_the_seed_code_lists() -> None:
    assert set(activity.ACTIVITY_KIND_WEIGHT) == set(sources.ACTIVITY_KINDS)
    assert set(activity.RESOURCE_KIND_WEIGHT) == set(sources.RESOURCE_KINDS)
    assert set(rubrics.ROLE_OFFSET) == set(sources.OBSERVER_ROLES)
    assert set(reference.K12_TITLES) | set(reference.UNI_TITLES) == set(sources.TITLES)
    assert set(reference.SUBJECT_WEIGHT) == set(sources.SUBJECTS)
    assert set(reference.SCOPE_SHARE) == set(sources.VTRO_SCOPES)
    assert set(reference.CONTENT_SHARE) == set(sources.VTRO_CONTENT_TYPES)
    assert set(lessons.STYLES) == set(codes.seed_codes("teaching_modes"))  # a style is named after its mode
