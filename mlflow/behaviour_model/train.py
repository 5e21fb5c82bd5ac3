"""Train the behaviour model from gold lessons, track it in MLflow, register it.

1. features per point from the inference code, joined to the gold codes (:mod:`.dataset`);
2. a hold-out split **by teacher** (all lessons of a teacher on one side, so the score says
   how the model does on lessons — and people — it never saw);
3. the training lessons once more with their sound removed (audio features NaN), so the
   model knows what to do with a video without sound;
4. fit (:class:`.model.BehaviourEstimator`), score the hold-out (:mod:`.metrics`);
5. log parameters, metrics and the model (pyfunc from code, with signature, input example
   and the feature set in its metadata) to MLflow, register a new version, and give it the
   ``champion`` alias if the model has none yet. Promotion of later versions (a gate against
   the champion, rollback) belongs to the retraining workflow.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from behaviour_model import dataset, metrics
from behaviour_model.model import DEFAULT_PARAMS, BehaviourEstimator
from behaviour_model.settings import MlflowSettings, configure
from jiaoyan import log

LOG = log.get(__name__)
DEFAULT_EXTRACTORS = ("scene", "board", "speech")
CHAMPION = "champion"


@dataclass
class TrainResult:
    run_id: str
    model_name: str
    version: str
    model_uri: str
    champion: bool  # whether this version got the champion alias
    holdout: dict[str, Any]
    train_lessons: list[str]
    holdout_lessons: list[str]
    quarantined: dict[str, str] = field(default_factory=dict)


def split(ts: dataset.TrainingSet, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, hold-out): grouped by teacher, hence also by lesson."""
    if holdout <= 0 or len(set(ts.teacher_id.tolist())) < 2:
        return np.ones(len(ts.lesson), bool), np.zeros(len(ts.lesson), bool)
    splitter = GroupShuffleSplit(n_splits=1, test_size=holdout, random_state=seed)
    train_idx, _ = next(splitter.split(ts.features, groups=ts.teacher_id))
    train = np.zeros(len(ts.lesson), bool)
    train[train_idx] = True
    return train, ~train


def without_sound(ts: dataset.TrainingSet, audio_names: Sequence[str], share: float, seed: int) -> dataset.TrainingSet:
    """A copy of some lessons with every audio feature blanked, as a video without sound gives them."""
    lessons = sorted(set(ts.lesson.tolist()))
    rng = np.random.default_rng(seed)
    picked = set(rng.choice(lessons, size=max(1, round(share * len(lessons))), replace=False).tolist())
    mask = np.isin(ts.lesson, list(picked))
    copy = ts.subset(mask)
    copy.features.loc[:, list(audio_names)] = np.nan
    return copy


def concat(a: dataset.TrainingSet, b: dataset.TrainingSet) -> dataset.TrainingSet:
    return dataset.TrainingSet(pd.concat([a.features, b.features], ignore_index=True),
                               np.concatenate([a.teacher, b.teacher]), np.concatenate([a.shares, b.shares]),
                               np.concatenate([a.lesson, b.lesson]), np.concatenate([a.teacher_id, b.teacher_id]),
                               a.feature_set, a.quarantined)


def fit(ts: dataset.TrainingSet, audio_names: Sequence[str], params: dict[str, Any] | None = None,
        no_sound_share: float = 0.25, seed: int = 0) -> BehaviourEstimator:
    data = concat(ts, without_sound(ts, audio_names, no_sound_share, seed)) if audio_names else ts
    estimator = BehaviourEstimator(list(ts.features.columns), ts.feature_set, dict(params or DEFAULT_PARAMS))
    return estimator.fit(data.features, data.teacher, data.shares)


def evaluate(estimator: BehaviourEstimator, ts: dataset.TrainingSet) -> dict[str, Any]:
    pred = estimator.predict(ts.features)
    shares = pred[[c for c in pred.columns if c.startswith("share_")]].to_numpy()
    return metrics.score(ts.teacher, pred["teacher_behaviour"].to_numpy(), ts.shares, shares)


def train(lessons: Sequence[dataset.GoldLesson], extractors: Sequence[str] = DEFAULT_EXTRACTORS,
          params: dict[str, Any] | None = None, holdout: float = 0.2, seed: int = 0, workers: int = 2,
          cache_dir: str | None = None, register: bool = True, settings: MlflowSettings | None = None,
          source: str = "", log_fn: Callable[[str], None] | None = None) -> TrainResult:
    """Build the training set, fit, score the hold-out, log and register the model."""
    from ray_inference.features import audio_feature_names, build
    from ray_inference.settings import InferenceSettings

    options = InferenceSettings().decode_options()  # frames per point and analysis size define the features
    ts = dataset.build_training_set(lessons, extractors, options, workers=workers,
                                    cache_dir=cache_dir or dataset.default_cache_dir(), log_fn=log_fn)
    audio_names = audio_feature_names(build(list(extractors)))
    train_mask, test_mask = split(ts, holdout, seed)
    estimator = fit(ts.subset(train_mask), audio_names, params, seed=seed)
    held = evaluate(estimator, ts.subset(test_mask)) if test_mask.any() else {}
    if log_fn and held:
        log_fn(f"hold-out: teacher macro-F1 {held['teacher_macro_f1']:.3f}, kappa {held['teacher_kappa']:.3f}, "
               f"share MAE {held['share_mae']:.3f} on {held['points']} points")
    return _log(estimator, ts, train_mask, test_mask, held, options, source, register, settings or MlflowSettings())


def _log(estimator: BehaviourEstimator, ts: dataset.TrainingSet, train_mask: np.ndarray, test_mask: np.ndarray,
         held: dict[str, Any], options: object, source: str, register: bool, ms: MlflowSettings) -> TrainResult:
    import joblib
    from mlflow.models import infer_signature

    import mlflow
    from behaviour_model import pyfunc_model

    configure(ms)
    experiment = mlflow.get_experiment_by_name(ms.experiment)
    experiment_id = experiment.experiment_id if experiment else mlflow.create_experiment(
        ms.experiment, artifact_location=ms.artifact_location)
    train_lessons = sorted(set(ts.lesson[train_mask].tolist()))
    test_lessons = sorted(set(ts.lesson[test_mask].tolist()))
    example = _example(ts.features)
    with mlflow.start_run(experiment_id=experiment_id) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({"feature_set": ts.feature_set, "n_features": ts.features.shape[1],
                           "train_lessons": len(train_lessons), "holdout_lessons": len(test_lessons),
                           "train_points": int(train_mask.sum()), "holdout_points": int(test_mask.sum()),
                           "source": source[:500], **{f"model_{k}": v for k, v in estimator.params.items()},
                           **{f"decode_{k}": v for k, v in vars(options).items()}})
        if held:
            mlflow.log_metrics({f"holdout_{k}": v for k, v in metrics.numeric(held).items()})
            mlflow.log_dict(held, "holdout_metrics.json")
        mlflow.log_dict({"train": train_lessons, "holdout": test_lessons, "quarantined": ts.quarantined},
                        "lessons.json")
        path = Path(tmp) / "estimator.joblib"
        joblib.dump(estimator.bundle, path)
        signature = infer_signature(example, estimator.predict(example))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=pyfunc_model.__file__, artifacts={pyfunc_model.ESTIMATOR_ARTIFACT: str(path)},
            signature=signature, input_example=example,
            metadata={"feature_set": ts.feature_set, "sampling": json.dumps(options.sampling())},
            pip_requirements=_requirements(), registered_model_name=ms.model_name if register else None)
        version, champion = _register(ms, info, ts.feature_set, held) if register else ("", False)
    return TrainResult(run.info.run_id, ms.model_name, version,
                       f"models:/{ms.model_name}/{version}" if version else info.model_uri, champion, held,
                       train_lessons, test_lessons, ts.quarantined)


def _example(features: pd.DataFrame) -> pd.DataFrame:
    """Two complete rows (JSON has no NaN) as the input example."""
    complete = features.dropna()
    return (complete if len(complete) >= 2 else features.fillna(0.0)).head(2).astype(np.float32)


def _register(ms: MlflowSettings, info: Any, feature_set: str, held: dict[str, Any]) -> tuple[str, bool]:
    from mlflow.exceptions import MlflowException

    from mlflow import MlflowClient

    client = MlflowClient()
    version = str(info.registered_model_version)
    client.set_model_version_tag(ms.model_name, version, "feature_set", feature_set)
    if held:
        client.set_model_version_tag(ms.model_name, version, "holdout_teacher_macro_f1",
                                     f"{held['teacher_macro_f1']:.4f}")
        client.set_model_version_tag(ms.model_name, version, "holdout_share_mae", f"{held['share_mae']:.4f}")
    try:
        client.get_model_version_by_alias(ms.model_name, CHAMPION)
        return version, False
    except MlflowException:
        client.set_registered_model_alias(ms.model_name, CHAMPION, version)
        return version, True


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "scikit-learn", "pandas", "numpy", "joblib")]
