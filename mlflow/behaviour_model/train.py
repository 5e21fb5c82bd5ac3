"""Train the behaviour model from gold lessons, track it in MLflow, register it.

1. features per point from the inference code, joined to the gold codes (:mod:`.dataset`);
2. a deterministic hold-out split **by teacher**, hence by lesson (:func:`split`): all lessons of a
   teacher on one side, the side decided by a salted hash of the teacher id — so the same teacher
   is held out in every retraining and a champion never trained on a challenger's hold-out;
3. the training lessons once more with their sound removed (audio features NaN), so the
   model knows what to do with a video without sound;
4. fit (:class:`.model.BehaviourEstimator`), score the hold-out (:mod:`.metrics`);
5. log to MLflow: parameters, the data version (hash of the labelled points, plus the warehouse
   snapshot marker) and code version (:mod:`.provenance`), hold-out metrics (per-behaviour
   precision/recall/F1, macro-F1, kappa, share MAE), a confusion-matrix figure, the lesson lists,
   the hold-out lessons and their gold codes (what the promotion gate scores on), and the model
   (pyfunc from code, with signature, input example and the feature set in its metadata);
6. register a new version: ``champion`` if the model has none, else ``challenger`` — promotion
   is :func:`behaviour_model.registry.promote`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from behaviour_model import dataset, metrics, provenance
from behaviour_model.model import DEFAULT_PARAMS, BehaviourEstimator
from behaviour_model.settings import MlflowSettings, configure, experiment_id
from jiaoyan import codes, log

LOG = log.get(__name__)
DEFAULT_EXTRACTORS = ("scene", "board", "speech")
CHAMPION = "champion"
CHALLENGER = "challenger"
HOLDOUT_LESSONS = "holdout/lessons.csv"  # the gate's hold-out: lesson, teacher, video
HOLDOUT_GOLD = "holdout/gold.parquet"  # and their gold codes, as trained against


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
    alias: str = ""  # champion, challenger, or "" when not registered
    data_version: str = ""
    code_version: str = ""
    data_snapshot: str = ""


def teacher_draw(teacher_id: str, salt: str) -> float:
    """A teacher's fixed draw in [0, 1): the hold-out side never depends on which other teachers exist."""
    digest = hashlib.sha256(f"{salt}\x00{teacher_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def holdout_teachers(teachers: Sequence[str], holdout: float, salt: str) -> set[str]:
    """Teachers whose draw is below ``holdout``; at least one held out and one kept when there are two or more."""
    unique = sorted(set(teachers))
    if holdout <= 0 or len(unique) < 2:
        return set()
    draws = {t: teacher_draw(t, salt) for t in unique}
    held = {t for t, u in draws.items() if u < holdout}
    if not held:
        held = {min(unique, key=draws.__getitem__)}
    if len(held) == len(unique):
        held.discard(max(unique, key=draws.__getitem__))
    return held


def split(ts: dataset.TrainingSet, holdout: float, salt: str = "jiaoyan-holdout-v1") -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, hold-out): a teacher's lessons all on one side, chosen by :func:`teacher_draw`.

    Lessons are unique in a training set (:func:`unique_lessons`), so no lesson and no teacher is on both sides.
    """
    held = holdout_teachers(ts.teacher_id.tolist(), holdout, salt)
    test = np.isin(ts.teacher_id, list(held)) if held else np.zeros(len(ts.lesson), bool)
    return ~test, test


def unique_lessons(lessons: Sequence[dataset.GoldLesson]) -> list[dataset.GoldLesson]:
    """One entry per lesson id (the first); a lesson listed twice would otherwise be on both sides of a split."""
    seen: dict[str, dataset.GoldLesson] = {}
    for g in lessons:
        if g.lesson_id in seen:
            LOG.warning("lesson %s listed more than once; keeping the first (teacher %s)", g.lesson_id,
                        seen[g.lesson_id].teacher_id)
            continue
        seen[g.lesson_id] = g
    return list(seen.values())


def shuffled(ts: dataset.TrainingSet, seed: int) -> dataset.TrainingSet:
    """The same points with their labels permuted (a negative control: a model that can learn nothing)."""
    order = np.random.default_rng(seed).permutation(len(ts.lesson))
    return dataset.TrainingSet(ts.features, ts.teacher[order], ts.shares[order], ts.lesson, ts.teacher_id,
                               ts.feature_set, ts.quarantined)


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
          params: dict[str, Any] | None = None, holdout: float | None = None, seed: int = 0, workers: int = 2,
          cache_dir: str | None = None, register: bool = True, settings: MlflowSettings | None = None,
          source: str = "", log_fn: Callable[[str], None] | None = None, data_snapshot: str = "",
          shuffle_labels: bool = False) -> TrainResult:
    """Build the training set, fit, score the hold-out, log and register the model.

    ``holdout``: share of teachers held out (default ``JIAOYAN_MLFLOW_HOLDOUT_SHARE``).
    ``data_snapshot``: the source's snapshot marker (the warehouse's), logged with the data version.
    ``shuffle_labels``: permute the training labels (never the hold-out's) — a negative control that
    the promotion gate must refuse.
    """
    from ray_inference.features import audio_feature_names, build
    from ray_inference.settings import InferenceSettings

    ms = settings or MlflowSettings()
    holdout = ms.holdout_share if holdout is None else holdout
    lessons = unique_lessons(lessons)
    options = InferenceSettings().decode_options()  # frames per point and analysis size define the features
    ts = dataset.build_training_set(lessons, extractors, options, workers=workers,
                                    cache_dir=cache_dir or dataset.default_cache_dir(), log_fn=log_fn)
    audio_names = audio_feature_names(build(list(extractors)))
    train_mask, test_mask = split(ts, holdout, ms.split_salt)
    if not train_mask.any():
        from jiaoyan.errors import UserError

        raise UserError("no training lesson left after the hold-out split")
    training = ts.subset(train_mask)
    if shuffle_labels:
        training = shuffled(training, seed)
    estimator = fit(training, audio_names, params, seed=seed)
    held = evaluate(estimator, ts.subset(test_mask)) if test_mask.any() else {}
    if log_fn and held:
        log_fn(f"hold-out: teacher macro-F1 {held['teacher_macro_f1']:.3f}, kappa {held['teacher_kappa']:.3f}, "
               f"share MAE {held['share_mae']:.3f} on {held['points']} points")
    run = RunInputs(ts, train_mask, test_mask, held, options, source, data_snapshot, holdout, seed, shuffle_labels,
                    [g for g in lessons if g.lesson_id in set(ts.lesson[test_mask].tolist())])
    return _log(estimator, run, register, ms)


def train_from_warehouse(landing_uri: str | None = None, *, role: str = "transformer", **kwargs: Any) -> TrainResult:
    """:func:`train` on every gold-coded lesson in the warehouse (``raw.gold_codes`` joined to
    ``raw.lesson_manifest``), logging the warehouse snapshot marker; ``kwargs`` go to :func:`train`."""
    lessons, snapshot = dataset.from_warehouse(landing_uri, role=role)
    log_fn = kwargs.get("log_fn")
    if log_fn:
        log_fn(f"warehouse: {snapshot.lessons} gold lessons, {snapshot.rows} points ({snapshot.marker()})")
    kwargs.setdefault("source", f"warehouse:raw.gold_codes (landing {landing_uri or 'JIAOYAN_LANDING_URI'})")
    return train(lessons, data_snapshot=snapshot.marker(), **kwargs)


@dataclass
class RunInputs:
    ts: dataset.TrainingSet
    train_mask: np.ndarray
    test_mask: np.ndarray
    held: dict[str, Any]
    options: Any
    source: str
    data_snapshot: str
    holdout: float
    seed: int
    shuffle_labels: bool
    holdout_lessons: list[dataset.GoldLesson]


def _log(estimator: BehaviourEstimator, r: RunInputs, register: bool, ms: MlflowSettings) -> TrainResult:
    import joblib
    from mlflow.models import infer_signature

    import mlflow
    from behaviour_model import pyfunc_model, registry

    configure(ms)
    ts, held = r.ts, r.held
    train_lessons = sorted(set(ts.lesson[r.train_mask].tolist()))
    test_lessons = sorted(set(ts.lesson[r.test_mask].tolist()))
    data_version = provenance.data_version(ts.lesson, ts.teacher_id, ts.teacher, ts.shares)
    code_version = provenance.code_version()
    example = _example(ts.features)
    tags = {"jiaoyan.data_version": data_version, "jiaoyan.code_version": code_version,
            "jiaoyan.source": r.source[:5000], "jiaoyan.data_snapshot": r.data_snapshot or "none"}
    if code_version.startswith("git:"):
        tags["mlflow.source.git.commit"] = code_version.removeprefix("git:").removesuffix("+dirty")
    with mlflow.start_run(experiment_id=experiment_id(ms), tags=tags) as run, \
            tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({"feature_set": ts.feature_set, "n_features": ts.features.shape[1],
                           "train_lessons": len(train_lessons), "holdout_lessons": len(test_lessons),
                           "train_teachers": len(set(ts.teacher_id[r.train_mask].tolist())),
                           "holdout_teachers": len(set(ts.teacher_id[r.test_mask].tolist())),
                           "train_points": int(r.train_mask.sum()), "holdout_points": int(r.test_mask.sum()),
                           "holdout_share": r.holdout, "split": f"teacher-hash:{ms.split_salt}", "seed": r.seed,
                           "shuffle_labels": r.shuffle_labels, "data_version": data_version,
                           "data_snapshot": r.data_snapshot or "none", "code_version": code_version,
                           "source": r.source[:500], **{f"model_{k}": v for k, v in estimator.params.items()},
                           **{f"decode_{k}": v for k, v in vars(r.options).items()}})
        if held:
            mlflow.log_metrics({f"holdout_{k}": v for k, v in metrics.numeric(held).items()})
            mlflow.log_dict(held, "holdout_metrics.json")
            figure = metrics.confusion_figure(held)
            mlflow.log_figure(figure, "holdout_confusion.png")
            _close(figure)
            _log_holdout(r.holdout_lessons, Path(tmp))
        mlflow.log_dict({"train": train_lessons, "holdout": test_lessons, "quarantined": ts.quarantined},
                        "lessons.json")
        path = Path(tmp) / "estimator.joblib"
        joblib.dump(estimator.bundle, path)
        signature = infer_signature(example, estimator.predict(example))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=pyfunc_model.__file__, artifacts={pyfunc_model.ESTIMATOR_ARTIFACT: str(path)},
            signature=signature, input_example=example,
            metadata={"feature_set": ts.feature_set, "sampling": json.dumps(r.options.sampling())},
            pip_requirements=_requirements(), registered_model_name=ms.model_name if register else None)
        version, alias = "", ""
        if register:
            version = str(info.registered_model_version)
            alias = registry.register_new(ms, version, ts.feature_set, held, data_version, code_version)
    return TrainResult(run.info.run_id, ms.model_name, version,
                       f"models:/{ms.model_name}/{version}" if version else info.model_uri, alias == CHAMPION, held,
                       train_lessons, test_lessons, ts.quarantined, alias, data_version, code_version,
                       r.data_snapshot)


def _log_holdout(lessons: Sequence[dataset.GoldLesson], tmp: Path) -> None:
    """The hold-out lessons (id, teacher, video) and their gold codes: the gate scores every model on these."""
    import mlflow

    folder = tmp / "holdout"
    folder.mkdir()
    pd.DataFrame([{"lesson_id": g.lesson_id, "teacher_id": g.teacher_id, "video_uri": g.video_uri,
                   "gold_uri": g.gold_uri} for g in lessons]).to_csv(folder / "lessons.csv", index=False)
    frames = []
    for g in lessons:
        gold = g.codes()[["teacher_behaviour", *codes.share_columns()]].reset_index()
        gold.insert(0, "lesson_id", g.lesson_id)
        frames.append(gold)
    pd.concat(frames, ignore_index=True).to_parquet(folder / "gold.parquet", index=False)
    mlflow.log_artifacts(str(folder), "holdout")


def _close(figure: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(figure)


def _example(features: pd.DataFrame) -> pd.DataFrame:
    """Two complete rows (JSON has no NaN) as the input example."""
    complete = features.dropna()
    return (complete if len(complete) >= 2 else features.fillna(0.0)).head(2).astype(np.float32)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "scikit-learn", "pandas", "numpy", "joblib")]
