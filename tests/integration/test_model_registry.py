"""The retraining loop against a real MLflow (throw-away SQLite store and artifact folder): train and
register, the promotion gate (a better challenger is promoted, one trained on shuffled labels is
refused with its reasons and leaves the champion alone), rollback, the listing and the CLI, the
pipeline loading the new ``@champion``, and training from the warehouse's gold codes.

One set of 16 short synthetic lessons (10–14 points, 8 teachers) and one feature cache for the
module; models are small (a few boosting iterations)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from behaviour_model import registry
from behaviour_model.dataset import from_list
from behaviour_model.settings import MlflowSettings
from behaviour_model.train import CHALLENGER, CHAMPION, TrainResult, train, train_from_warehouse

from jiaoyan import codes
from jiaoyan.cli import main
from ray_inference import synthetic

pytestmark = pytest.mark.integration

WEAK = {"max_iter": 2, "learning_rate": 0.05, "random_state": 0}
GOOD = {"max_iter": 30, "random_state": 0}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowSettings]:
    root = tmp_path_factory.mktemp("mlflow")
    mp = pytest.MonkeyPatch()
    mp.setenv("JIAOYAN_MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("JIAOYAN_MLFLOW_ARTIFACT_LOCATION", (root / "artifacts").as_uri())
    mp.setenv("JIAOYAN_MLFLOW_HOLDOUT_SHARE", "0.3")
    for name in ("MARGIN", "MAX_F1_DROP", "MAX_SHARE_MAE_RISE"):
        mp.delenv(f"JIAOYAN_MLFLOW_PROMOTION_{name}", raising=False)
    yield MlflowSettings()
    mp.undo()


@pytest.fixture(scope="module")
def lesson_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lessons")
    synthetic.lesson_set(folder, 5, "mreg", 16, points=(10, 14))
    return folder


@pytest.fixture(scope="module")
def cache(lesson_dir: Path) -> str:
    return str(lesson_dir / "cache")


def _train(lesson_dir: Path, cache: str, store: MlflowSettings, params: dict, **kwargs: object) -> TrainResult:
    return train(from_list(str(lesson_dir / "manifest.csv")), params=params, workers=2, cache_dir=cache,
                 settings=store, source="lessons:test", **kwargs)


@pytest.fixture(scope="module")
def first(lesson_dir: Path, cache: str, store: MlflowSettings) -> TrainResult:
    """A weak first model: the champion, since the registry is empty."""
    return _train(lesson_dir, cache, store, WEAK)


@pytest.fixture(scope="module")
def second(first: TrainResult, lesson_dir: Path, cache: str, store: MlflowSettings) -> TrainResult:
    return _train(lesson_dir, cache, store, GOOD)


@pytest.fixture(scope="module")
def promoted(second: TrainResult, cache: str, store: MlflowSettings) -> registry.PromotionDecision:
    return registry.promote(settings=store, cache_dir=cache)


@pytest.fixture(scope="module")
def shuffled(promoted: registry.PromotionDecision, lesson_dir: Path, cache: str,
             store: MlflowSettings) -> tuple[TrainResult, registry.PromotionDecision]:
    result = _train(lesson_dir, cache, store, GOOD, shuffle_labels=True)
    return result, registry.promote(settings=store, cache_dir=cache)


def _client(store: MlflowSettings):
    from mlflow import MlflowClient

    return MlflowClient(store.tracking_uri)


def test_first_model_is_champion_and_the_run_is_fully_logged(first: TrainResult, store: MlflowSettings) -> None:
    assert first.alias == CHAMPION and first.champion and first.version == "1"
    run = _client(store).get_run(first.run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["data_version"] == first.data_version and first.data_version.startswith("sha256:")
    assert params["code_version"] == tags["jiaoyan.code_version"] == first.code_version
    assert first.code_version.startswith(("git:", "jiaoyan==")) and params["split"].startswith("teacher-hash:")
    assert params["model_max_iter"] == "2" and params["shuffle_labels"] == "False"
    for code in codes.teacher_codes():
        assert {f"holdout_f1_{code}", f"holdout_precision_{code}", f"holdout_recall_{code}"} <= set(metrics)
    assert {"holdout_teacher_macro_f1", "holdout_teacher_kappa", "holdout_share_mae"} <= set(metrics)
    artifacts = {a.path for a in _client(store).list_artifacts(first.run_id)}
    assert {"holdout_confusion.png", "holdout_metrics.json", "lessons.json", "holdout"} <= artifacts
    held = {a.path for a in _client(store).list_artifacts(first.run_id, "holdout")}
    assert held == {"holdout/lessons.csv", "holdout/gold.parquet"}


def test_split_keeps_teachers_and_lessons_on_one_side(first: TrainResult, lesson_dir: Path) -> None:
    manifest = pd.read_csv(lesson_dir / "manifest.csv", dtype=str).set_index("lesson_id")["teacher_id"]
    assert first.holdout_lessons and first.train_lessons
    assert not set(first.holdout_lessons) & set(first.train_lessons)
    assert not set(manifest[first.holdout_lessons]) & set(manifest[first.train_lessons])


def test_second_model_is_challenger_with_the_same_data_version(first: TrainResult, second: TrainResult) -> None:
    assert second.alias == CHALLENGER and not second.champion and second.version == "2"
    assert second.data_version == first.data_version
    assert second.holdout_lessons == first.holdout_lessons  # the teacher-hash split is stable across retrains


def test_a_better_challenger_is_promoted(promoted: registry.PromotionDecision, second: TrainResult,
                                         store: MlflowSettings) -> None:
    assert promoted.promoted, promoted.reasons
    assert promoted.challenger_version == "2" and promoted.champion_version == "1"
    assert promoted.lessons == len(second.holdout_lessons) and not promoted.excluded_lessons
    # the gate re-scores the registered pyfunc on the recorded hold-out: the training run's figures come back
    assert promoted.challenger["teacher_macro_f1"] == pytest.approx(second.holdout["teacher_macro_f1"])
    assert promoted.challenger["teacher_macro_f1"] >= promoted.champion["teacher_macro_f1"] + 0.01
    assert promoted.line().startswith("promoted jiaoyan-behaviour v2 to champion (was v1)")
    client = _client(store)
    assert registry.alias_version(client, store.model_name, CHAMPION) == "2"
    assert registry.alias_version(client, store.model_name, CHALLENGER) is None
    tags = client.get_run(second.run_id).data.tags
    assert tags["promotion.decision"] == "promoted" and tags["promotion.champion_version"] == "1"


def test_a_challenger_trained_on_shuffled_labels_is_refused(shuffled: tuple[TrainResult, registry.PromotionDecision],
                                                            store: MlflowSettings) -> None:
    result, decision = shuffled
    assert result.alias == CHALLENGER and result.version == "3"
    assert not decision.promoted and decision.champion_version == "2"
    failed = [r for r in decision.reasons if r.startswith("FAIL")]
    assert any("macro-F1" in r and "< champion" in r for r in failed), decision.reasons
    assert decision.line().startswith("refused jiaoyan-behaviour v3 (champion stays v2): macro-F1")
    client = _client(store)
    assert registry.alias_version(client, store.model_name, CHAMPION) == "2"  # untouched
    run = client.get_run(result.run_id)
    assert run.data.tags["promotion.decision"] == "refused" and "FAIL" in run.data.tags["promotion.reasons"]
    assert run.data.metrics["gate_challenger_teacher_macro_f1"] < run.data.metrics["gate_champion_teacher_macro_f1"]
    logged = [a.path for a in client.list_artifacts(result.run_id, "promotion")]
    assert len(logged) == 1
    saved = json.loads(Path(client.download_artifacts(result.run_id, logged[0])).read_text())
    assert saved["decision"] == "refused" and saved["reasons"] == decision.reasons
    assert client.get_model_version(store.model_name, "3").tags["promotion_decision"].startswith("refused")


def test_the_pipeline_loads_the_new_champion(promoted: registry.PromotionDecision, store: MlflowSettings,
                                             lesson_dir: Path) -> None:
    import mlflow
    from ray_inference.pipeline import resolve_model
    from ray_inference.settings import InferenceSettings

    resolved = resolve_model(InferenceSettings(), store)
    assert resolved.version == registry.alias_version(_client(store), store.model_name, CHAMPION)
    model = mlflow.pyfunc.load_model(resolved.uri)  # as the pipeline's model actor does
    frame = pd.DataFrame(np.zeros((3, len(resolved.feature_names)), np.float32), columns=resolved.feature_names)
    out = model.predict(frame)
    assert len(out) == 3 and set(out["teacher_behaviour"]) <= set(codes.teacher_codes())


def test_rollback_and_roll_forward(shuffled: tuple[TrainResult, registry.PromotionDecision],
                                   store: MlflowSettings) -> None:
    client = _client(store)
    assert registry.champion_history(client, store.model_name) == ["1", "2"]
    back = registry.rollback(settings=store, reason="test")
    assert (back.from_version, back.to_version) == ("2", "1") and back.history == ["1"]
    assert registry.alias_version(client, store.model_name, CHAMPION) == "1"
    assert client.get_model_version(store.model_name, "2").tags["rollback_reason"] == "test"
    from jiaoyan.errors import UserError

    with pytest.raises(UserError, match="no earlier champion"):
        registry.rollback(settings=store)
    forward = registry.rollback("2", settings=store)
    assert forward.to_version == "2" and forward.history == ["1", "2"]
    assert registry.alias_version(client, store.model_name, CHAMPION) == "2"


def test_list_and_the_cli(shuffled: tuple[TrainResult, registry.PromotionDecision], store: MlflowSettings,
                          cache: str, lesson_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = {r.version: r for r in registry.list_versions(store)}
    assert set(rows) == {"1", "2", "3"} and CHALLENGER in rows["3"].aliases
    assert rows["2"].feature_set == "scene@1+board@1+speech@2" and rows["2"].macro_f1 is not None
    assert main(["model", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["version", "aliases"] and len(out) == 4
    assert main(["model", "promote", "--version", "99"]) == 2
    assert "has no version 99" in capsys.readouterr().err
    assert main(["model", "promote", "--cache-dir", cache]) == 0  # the shuffled challenger again: refused, one line
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("refused jiaoyan-behaviour v3")
    assert main(["model", "score", "--lessons", str(lesson_dir / "manifest.csv"), "--version", "2",
                 "--cache-dir", cache]) == 0
    assert capsys.readouterr().out.startswith("v2 on 16 lessons (lessons:")


@pytest.fixture()
def gold_batch(warehouse: dict[str, str], lesson_dir: Path, tmp_path: Path) -> Path:
    """A landing batch whose manifest lists 8 of the synthetic lessons (videos in the batch folder, relative
    paths) with their gold codes, loaded into the test warehouse."""
    from jiaoyan.load import load_batch
    from jiaoyan.load.sample import SampleBatch, _lesson

    day = dt.date(2031, 6, 1)
    batch = SampleBatch.small(day)
    manifest = pd.read_csv(lesson_dir / "manifest.csv", dtype=str).head(8)
    teacher = batch.rows["teachers"][0]
    batch.rows["teachers"] += [teacher | {"teacher_id": t} for t in sorted(set(manifest["teacher_id"]))]
    folder = tmp_path / "landing"
    batch.rows["lesson_manifest"] = [
        _lesson(r.lesson_id, r.teacher_id, day, duration=float(r.duration_s), video=f"lessons/videos/{r.lesson_id}.mp4")
        for r in manifest.itertuples()]
    gold = pd.concat([pd.read_csv(lesson_dir / r.gold_uri, dtype=str) for r in manifest.itertuples()])
    batch.rows["gold_codes"] = gold.assign(coder_id="T3").to_dict("records")
    batch.lake_codes, batch.lake_runs, batch.rows["rubric_scores"] = [], [], []
    batch.rows["behaviour_codes"] = []
    written = batch.write(folder, tmp_path / "lake")
    for r in manifest.itertuples():
        (written / "lessons" / "videos").mkdir(parents=True, exist_ok=True)
        shutil.copy(lesson_dir / r.video_uri, written / "lessons" / "videos" / f"{r.lesson_id}.mp4")
    report = load_batch(str(written), lake_uri=str(tmp_path / "lake"))
    assert report.status == "succeeded" and report.rows_rejected == 0, report
    # the session's warehouse also holds gold codes that other test modules loaded, whose videos are gone with
    # their temporary folders: this test trains on its own eight lessons only
    with psycopg.connect(warehouse["owner"], autocommit=True) as conn:
        conn.execute("delete from raw.gold_codes where _batch_id <> %s", (day.isoformat(),))
    return folder


def test_training_from_the_warehouse(gold_batch: Path, store: MlflowSettings, cache: str, lesson_dir: Path) -> None:
    result = train_from_warehouse(str(gold_batch), params=GOOD, workers=2, cache_dir=cache, settings=store,
                                  register=False, holdout=0.3)
    assert not result.quarantined and result.alias == "" and result.version == ""
    assert len(result.train_lessons) + len(result.holdout_lessons) == 8
    assert result.data_snapshot.startswith("raw.gold_codes@2031-06-01/")
    run = _client(store).get_run(result.run_id)
    assert run.data.params["data_snapshot"] == result.data_snapshot
    assert run.data.params["source"].startswith("warehouse:raw.gold_codes")
    # the same lessons read from their files give the same data version: it hashes the codes, not where they live
    from behaviour_model.dataset import build_training_set
    from behaviour_model.provenance import data_version

    lessons = [g for g in from_list(str(lesson_dir / "manifest.csv"))
               if g.lesson_id in {*result.train_lessons, *result.holdout_lessons}]
    ts = build_training_set(lessons, ["scene", "board", "speech"], _options(), workers=2, cache_dir=cache)
    assert data_version(ts.lesson, ts.teacher_id, ts.teacher, ts.shares) == result.data_version


def _options():
    from ray_inference.settings import InferenceSettings

    return InferenceSettings().decode_options()
