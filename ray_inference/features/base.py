"""Feature extractors: pluggable, named, versioned; each turns a lesson's sampled pictures and
sound into one feature row per 6-second point.

An extractor is registered under a name (``@register("scene")``) and chosen by settings
(``JIAOYAN_INFER_EXTRACTORS=scene,board,speech``); an operator adds one — say a pose
network whose weights they provide — by naming ``package.module:factory`` there, without
touching the pipeline. Missing values are NaN (the model handles them natively), e.g.
every audio feature of a video without sound.

The *feature set* is the ordered list of ``name@version`` of the extractors; it is stored
with the model, and the pipeline refuses a model trained on a different feature set.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class LessonInput:
    """What an extractor sees of one lesson: upright pictures at the analysis size, and the sound."""

    lesson_id: str
    n_points: int
    interval_s: float
    images: np.ndarray  # (n, H, W, 3) uint8 BGR
    times: np.ndarray  # (n,) seconds
    points: np.ndarray  # (n,) point index of each picture
    slots: np.ndarray  # (n,) slot within its point (0 .. frames_per_point - 1)
    frames_per_point: int
    audio: np.ndarray | None  # mono float32, t = 0 at the first picture; None without sound
    audio_rate: int
    cache: dict[str, object] = field(default_factory=dict)  # shared work between extractors of one lesson

    def by_slot(self) -> np.ndarray:
        """Picture index per (point, slot): pictures come in point-major order."""
        return np.arange(len(self.images)).reshape(self.n_points, self.frames_per_point)

    def audio_present(self) -> np.ndarray:
        """Per point: whether the sound covers the whole window."""
        if self.audio is None:
            return np.zeros(self.n_points, bool)
        ends = (np.arange(self.n_points) + 1) * self.interval_s * self.audio_rate
        return ends <= len(self.audio) + 1


@dataclass(frozen=True)
class ExtractorConfig:
    device: str = "cpu"  # "cpu" or "cuda"; extractors with a network pick their runtime provider from it
    batch_size: int = 32  # pictures per network call, for extractors that batch
    options: dict[str, str] = field(default_factory=dict)  # free-form, e.g. {"pose_model": "/models/pose.onnx"}


class Extractor(Protocol):
    name: str
    version: int
    modality: str  # "video" or "audio": audio extractors give NaN for points without sound

    def feature_names(self) -> list[str]: ...

    def extract(self, lesson: LessonInput) -> np.ndarray:
        """(n_points, len(feature_names())) float32; NaN where a value is missing."""
        ...


Factory = Callable[[ExtractorConfig], Extractor]
REGISTRY: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    def wrap(factory: Factory) -> Factory:
        REGISTRY[name] = factory
        return factory

    return wrap


def _factory(spec: str) -> Factory:
    if ":" in spec:  # an operator's own extractor: "package.module:factory"
        module, attribute = spec.split(":", 1)
        return getattr(importlib.import_module(module), attribute)
    _load_builtins()
    try:
        return REGISTRY[spec]
    except KeyError:
        raise ValueError(f"unknown feature extractor {spec!r}; known: {', '.join(sorted(REGISTRY))} "
                         "(or package.module:factory)") from None


def _load_builtins() -> None:
    from ray_inference.features import audio, pose, vision  # noqa: F401  (they register themselves)


def build(specs: Sequence[str], config: ExtractorConfig | None = None) -> list[Extractor]:
    config = config or ExtractorConfig()
    return [_factory(spec.strip())(config) for spec in specs if spec.strip()]


def feature_set(extractors: Sequence[Extractor]) -> str:
    """The feature set's identity, recorded with the model: ``scene@1+board@1+speech@1``."""
    return "+".join(f"{e.name}@{e.version}" for e in extractors)


def audio_feature_names(extractors: Sequence[Extractor]) -> list[str]:
    """Features that are NaN where a point has no sound (training blanks them to learn that case)."""
    return [f"{e.name}.{n}" for e in extractors if getattr(e, "modality", "video") == "audio"
            for n in e.feature_names()]


def feature_names(extractors: Sequence[Extractor]) -> list[str]:
    return [f"{e.name}.{n}" for e in extractors for n in e.feature_names()]


def extract(extractors: Sequence[Extractor], lesson: LessonInput) -> np.ndarray:
    """All extractors' features side by side, (n_points, total features) float32."""
    parts = []
    for e in extractors:
        values = np.asarray(e.extract(lesson), np.float32)
        expected = (lesson.n_points, len(e.feature_names()))
        if values.shape != expected:
            raise ValueError(f"extractor {e.name} returned {values.shape}, expected {expected}")
        parts.append(values)
    return np.concatenate(parts, axis=1) if parts else np.zeros((lesson.n_points, 0), np.float32)
