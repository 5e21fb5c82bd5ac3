"""Feature extractors (see :mod:`ray_inference.features.base`)."""

from ray_inference.features.base import (
    REGISTRY,
    Extractor,
    ExtractorConfig,
    LessonInput,
    audio_feature_names,
    build,
    extract,
    feature_names,
    feature_set,
    register,
)

__all__ = ["REGISTRY", "Extractor", "ExtractorConfig", "LessonInput", "audio_feature_names", "build", "extract",
           "feature_names", "feature_set", "register"]
