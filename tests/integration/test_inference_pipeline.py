"""Behaviour inference end to end on real Ray: a batch folder of short rendered lessons and one
video of every defective kind, a tiny model trained and registered in a throw-away MLflow
store, the codes in the lake checked against the contract; a rerun changes nothing; bad videos
are handled or quarantined while the rest of the batch is coded; the DAG's chunk API.

One Ray instance and one trained model for the module; lessons are 5–8 points long."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from behaviour_model.settings import MlflowSettings
from behaviour_model.train import train

from jiaoyan import codes
from jiaoyan.contracts.sources import BEHAVIOUR_CODES, LESSON_MANIFEST, LESSON_RUNS
from jiaoyan.contracts.validate import conform
from jiaoyan.demo_world import bad_videos
from jiaoyan.errors import UserError
from ray_inference import synthetic
from ray_inference.output import codes_path, quarantine_path
from ray_inference.pipeline import InferenceSummary, infer_chunk, plan_chunks, run_inference
from ray_inference.settings import InferenceSettings

pytestmark = pytest.mark.integration

BATCH = "2026-03-02"
GOOD = 3
# defective kind -> expected outcome: "coded" or a piece of the quarantine reason
BAD = {
    "unreadable": "unreadable video",
    "zero_length": "unreadable video",
    "truncated": "truncated",
    "tiny": "below the minimum",
    "no_audio": "coded",
    "variable_frame_rate": "coded",
    "unusual_resolution": "coded",
    "rotated": "coded",
    "portrait": "coded",
}
TIMING = ("decode_seconds", "total_seconds")


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowSettings]:
    root = tmp_path_factory.mktemp("mlflow")
    mp = pytest.MonkeyPatch()
    mp.setenv("JIAOYAN_MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("JIAOYAN_MLFLOW_ARTIFACT_LOCATION", (root / "artifacts").as_uri())
    yield MlflowSettings()
    mp.undo()


@pytest.fixture(scope="module")
def lessons(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[synthetic.SyntheticLesson]]:
    folder = tmp_path_factory.mktemp("lessons")
    return folder, synthetic.lesson_set(folder, 12, "igood", GOOD, points=(5, 7))


@pytest.fixture(scope="module")
def model(lessons: tuple[Path, list[synthetic.SyntheticLesson]], mlflow_store: MlflowSettings) -> str:
    """A tiny model trained on the short synthetic gold lessons, registered as champion (these tests check
    the pipeline's mechanics, not its accuracy: the model may see the lessons it codes)."""
    from behaviour_model.dataset import from_list

    folder, _ = lessons
    result = train(from_list(str(folder / "manifest.csv")), params={"max_iter": 10, "random_state": 0},
                   holdout=0.0, workers=1, cache_dir=str(folder / "cache"), settings=mlflow_store)
    assert result.champion
    return result.model_uri


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, lessons: tuple[Path, list[synthetic.SyntheticLesson]]) -> Path:
    """A landing-zone batch: three good lessons and one of every defective kind, plus a missing file."""
    root = tmp_path_factory.mktemp("landing") / BATCH
    videos = root / "lessons" / "videos"
    _, good = lessons
    rows = []
    for item in good:
        target = videos / f"{item.lesson_id}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.video.read_bytes())
        rows.append((item.lesson_id, f"lessons/videos/{item.lesson_id}.mp4"))
    for kind in BAD:
        lesson_id = f"bad-{kind.replace('_', '-')}"
        bad_videos.make_bad_video(kind, videos / f"{lesson_id}.mp4", good=good[0].video, script=good[0].script)
        rows.append((lesson_id, f"lessons/videos/{lesson_id}.mp4"))
    rows.append(("bad-missing", "lessons/videos/nowhere.mp4"))
    rows.append(("precoded-1", ""))  # arrives already coded: not for inference
    with (root / "lessons" / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LESSON_MANIFEST.field_names)
        for lesson_id, uri in rows:
            writer.writerow([lesson_id, "T001", "S001", "mathematics", 7, "2026-03-02", "08:00:00", uri, 40, ""])
    return root


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    import ray

    from ray_inference.pipeline import ensure_ray

    started = ensure_ray(InferenceSettings())
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def first(batch: Path, model: str, ray_session: None, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[InferenceSummary, Path]:
    lake = tmp_path_factory.mktemp("lake")
    return run_inference(str(batch), lake_uri=str(lake), settings=InferenceSettings()), lake


def _runs(lake: Path) -> dict[str, dict]:
    rows = [pq.read_table(p).to_pylist()[0] for p in sorted((lake / "inference" / BATCH / "lesson_runs").glob("*"))]
    return {r["lesson_id"]: r for r in rows}


def test_every_lesson_with_a_video_gets_a_run_row(first: tuple[InferenceSummary, Path]) -> None:
    summary, lake = first
    runs = _runs(lake)
    assert summary.batch_id == BATCH
    assert set(runs) == {f"igood-{i:04d}" for i in range(GOOD)} | {f"bad-{k.replace('_', '-')}" for k in BAD} | {
        "bad-missing"}
    table = pq.read_table(lake / "inference" / BATCH / "lesson_runs" / "igood-0000.parquet")
    assert conform(LESSON_RUNS, table, "runs").n_rejected == 0
    assert summary.coded + summary.quarantined == len(runs)


def test_codes_follow_the_contract_one_row_per_point(first: tuple[InferenceSummary, Path]) -> None:
    summary, lake = first
    for lesson_id, run in _runs(lake).items():
        if run["status"] != "coded":
            continue
        table = pq.read_table(codes_path(str(lake), BATCH, lesson_id))
        result = conform(BEHAVIOUR_CODES, table, lesson_id)
        assert result.n_rejected == 0, result.rejects.to_pylist()[:2]
        n = math.floor(run["duration_s"] / codes.SAMPLING_INTERVAL_S + 1e-6)
        assert run["n_points"] == n
        assert table["point_index"].to_pylist() == list(range(n))
        assert table["t_start_s"].to_pylist() == [6.0 * k for k in range(n)]
        frame = table.to_pandas()
        teacher = frame["teacher_behaviour"].map(codes.teacher_codes().index).to_numpy()
        shares = frame[list(codes.share_columns())].to_numpy()
        assert np.allclose(shares.sum(axis=1), 1.0, atol=0.01)
        assert (frame["st_code"].to_numpy() == codes.st_codes(teacher, shares)).all()
        assert set(frame["model_version"]) == {summary.model_version}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_videos_are_handled_or_quarantined(first: tuple[InferenceSummary, Path], kind: str) -> None:
    _, lake = first
    lesson_id = f"bad-{kind.replace('_', '-')}"
    run = _runs(lake)[lesson_id]
    expected = BAD[kind]
    if expected == "coded":
        assert run["status"] == "coded", run["reason"]
        assert run["width"] > run["height"]  # upright landscape, whatever the file stored
        codes_file = pq.read_table(codes_path(str(lake), BATCH, lesson_id)).to_pandas()
        assert len(codes_file) == run["n_points"] > 0
        assert codes_file["audio_present"].all() == (kind != "no_audio")
    else:
        assert run["status"] == "quarantined" and expected in run["reason"]
        assert Path(quarantine_path(str(lake), BATCH, lesson_id)).exists()
        assert not Path(codes_path(str(lake), BATCH, lesson_id)).exists()


def test_a_missing_file_is_quarantined_and_the_rest_is_coded(first: tuple[InferenceSummary, Path]) -> None:
    summary, lake = first
    runs = _runs(lake)
    assert runs["bad-missing"]["status"] == "quarantined"
    assert "not found" in runs["bad-missing"]["reason"] or "unreadable" in runs["bad-missing"]["reason"]
    assert all(runs[f"igood-{i:04d}"]["status"] == "coded" for i in range(GOOD))
    assert summary.coded == GOOD + sum(v == "coded" for v in BAD.values())


def test_a_rerun_through_the_dag_chunks_gives_identical_output(first: tuple[InferenceSummary, Path],
                                                             batch: Path) -> None:
    """The DAG's API: plan chunks, code each; the codes are byte for byte those of the first run."""
    _, lake = first
    before_codes = {p.name: p.read_bytes() for p in (lake / "inference" / BATCH / "behaviour_codes").glob("*")}
    before_runs = {k: {c: v for c, v in r.items() if c not in TIMING} for k, r in _runs(lake).items()}
    chunks = plan_chunks(str(batch), lessons_per_chunk=5)
    flat = [lesson for chunk in chunks for lesson in chunk]
    assert len(flat) == GOOD + len(BAD) + 1 and all(len(c) <= 5 for c in chunks)
    assert "precoded-1" not in flat
    result = infer_chunk(str(batch), flat, lake_uri=str(lake), settings=InferenceSettings(featurizers=1))
    assert result["lessons"] == len(flat) and result["batch_id"] == BATCH
    after_codes = {p.name: p.read_bytes() for p in (lake / "inference" / BATCH / "behaviour_codes").glob("*")}
    after_runs = {k: {c: v for c, v in r.items() if c not in TIMING} for k, r in _runs(lake).items()}
    assert after_codes == before_codes
    assert after_runs == before_runs
    assert not list(lake.rglob("*.tmp"))  # no half-written files left behind


def test_a_chunk_with_an_unknown_lesson_is_refused(batch: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not in"):
        infer_chunk(str(batch), ["igood-0001", "nobody"], lake_uri=str(tmp_path))


def test_extractors_that_do_not_match_the_model_are_refused(batch: Path, model: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="do not make the features"):
        run_inference(str(batch), lake_uri=str(tmp_path), settings=InferenceSettings(extractors="scene,board"))


def test_an_unknown_alias_says_how_to_get_a_model(batch: Path, model: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found in the registry"):
        run_inference(str(batch), lake_uri=str(tmp_path), settings=InferenceSettings(model_alias="nobody"))
