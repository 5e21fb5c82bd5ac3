"""The work on one lesson, and the two Ray actors that do it.

:func:`featurize` reads a lesson (keyframe-aware, see :mod:`ray_inference.video`) and turns
it into one feature row per point; training calls it directly, the pipeline through
:class:`Featurizer`. A bad video never raises out of here: it becomes a quarantined
:class:`~ray_inference.output.LessonRun` with the reason.

Rows between the stages (Ray Data batches, numpy format): ``lesson_id``, ``point_index``
(-1 on the one *lesson row* per lesson, which carries the run as JSON in ``run``),
``features`` (a fixed-width float32 tensor), ``students_seen``, ``audio_present``.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jiaoyan import codes, log
from ray_inference.features import Extractor, ExtractorConfig, LessonInput, build, extract, feature_names
from ray_inference.output import LessonRun
from ray_inference.video import DecodeOptions, VideoError, read_lesson

LOG = log.get(__name__)
STUDENTS_SEEN = "scene.students_seen"


@dataclass
class Featurized:
    run: LessonRun
    features: np.ndarray  # (n_points, n_features) float32; empty when quarantined
    students_seen: np.ndarray  # (n_points,)
    audio_present: np.ndarray  # (n_points,) bool


def featurize(lesson_id: str, video_uri: str, extractors: list[Extractor], options: DecodeOptions,
              model: tuple[str, str] = ("", "")) -> Featurized:
    """Decode a lesson and extract its features; quarantine it with the reason if that fails."""
    t0 = time.perf_counter()
    run = LessonRun(lesson_id=lesson_id, model_name=model[0], model_version=model[1], status="coded",
                    video_uri=video_uri)
    width = len(feature_names(extractors))
    empty = Featurized(run, np.zeros((0, width), np.float32), np.zeros(0, np.float32), np.zeros(0, bool))
    try:
        lesson = read_lesson(video_uri, options)
    except VideoError as exc:
        return _quarantine(empty, str(exc), t0)
    except Exception as exc:  # a decoder failure we did not foresee must not stop the batch
        LOG.warning("%s: decoding failed\n%s", lesson_id, traceback.format_exc())
        return _quarantine(empty, f"decoding failed: {type(exc).__name__}: {exc}", t0)
    p, frames = lesson.probe, lesson.frames
    run.duration_s, run.n_points, run.fps = round(p.duration_s, 3), p.n_points, round(p.fps, 3)
    h, w = (p.height, p.width) if p.quarter_turns % 2 == 0 else (p.width, p.height)
    run.width, run.height = w, h
    run.audio_present = p.audio is not None
    run.decode_seconds = round(p.seconds + frames.seconds, 3)
    item = LessonInput(lesson_id=lesson_id, n_points=p.n_points, interval_s=options.interval_s, images=frames.images,
                       times=frames.times, points=frames.points, slots=frames.slots,
                       frames_per_point=options.frames_per_point, audio=p.audio, audio_rate=p.audio_rate)
    try:
        features = extract(extractors, item)
    except Exception as exc:
        LOG.warning("%s: feature extraction failed\n%s", lesson_id, traceback.format_exc())
        return _quarantine(empty, f"feature extraction failed: {type(exc).__name__}: {exc}", t0)
    names = feature_names(extractors)
    seen = features[:, names.index(STUDENTS_SEEN)] if STUDENTS_SEEN in names else np.zeros(p.n_points)
    run.total_seconds = round(time.perf_counter() - t0, 3)
    return Featurized(run, features, np.nan_to_num(seen).astype(np.float32), item.audio_present())


def _quarantine(empty: Featurized, reason: str, t0: float) -> Featurized:
    empty.run.status, empty.run.reason = "quarantined", reason
    empty.run.total_seconds = round(time.perf_counter() - t0, 3)
    return empty


def rows(f: Featurized) -> dict[str, np.ndarray]:
    """The lesson row followed by one row per point."""
    n, width = f.features.shape
    return {
        "lesson_id": np.array([f.run.lesson_id] * (n + 1), dtype=object),
        "point_index": np.arange(-1, n, dtype=np.int32),
        "features": np.concatenate([np.zeros((1, width), np.float32), f.features]).astype(np.float32),
        "students_seen": np.concatenate([[0.0], f.students_seen]).astype(np.float32),
        "audio_present": np.concatenate([[False], f.audio_present]).astype(bool),
        "run": np.array([f.run.to_json()] + [""] * n, dtype=object),
    }


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


class Featurizer:
    """Ray actor: decodes lessons and extracts their features (network extractors load once here,
    on the actor's GPU when it has one)."""

    def __init__(self, extractors: list[str], config: dict[str, Any], options: dict[str, Any],
                 model: tuple[str, str]) -> None:
        self.extractors = build(extractors, ExtractorConfig(**config))
        self.options = DecodeOptions(**options)
        self.model = model

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        parts = [rows(featurize(str(lid), str(uri), self.extractors, self.options, self.model))
                 for lid, uri in zip(batch["lesson_id"], batch["video_uri"], strict=True)]
        return _concat(parts)


class Coder:
    """Ray actor: loads the registered model once and codes points in batches."""

    def __init__(self, model_uri: str, tracking: dict[str, str], names: list[str], model: tuple[str, str]) -> None:
        import mlflow

        mlflow.set_tracking_uri(tracking["tracking_uri"])
        mlflow.set_registry_uri(tracking["registry_uri"])
        self.model = mlflow.pyfunc.load_model(model_uri)
        self.names = names
        self.model_name, self.model_version = model

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        points = batch["point_index"] >= 0
        n = len(points)
        out: dict[str, np.ndarray] = {key: batch[key] for key in ("lesson_id", "point_index", "students_seen",
                                                                   "audio_present", "run")}
        out["teacher_behaviour"] = np.array([""] * n, dtype=object)
        out["teacher_prob"] = np.zeros(n, np.float32)
        for col in codes.share_columns():
            out[col] = np.zeros(n, np.float32)
        if points.any():
            frame = pd.DataFrame(np.asarray(batch["features"])[points], columns=self.names)
            pred = self.model.predict(frame)
            out["teacher_behaviour"][points] = pred["teacher_behaviour"].to_numpy(dtype=object)
            out["teacher_prob"][points] = pred["teacher_prob"].to_numpy(np.float32)
            for col in codes.share_columns():
                out[col][points] = pred[col].to_numpy(np.float32)
        return out
