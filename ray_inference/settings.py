"""Inference settings (prefix ``JIAOYAN_INFER_``), read like every Jiaoyan setting.

The defaults suit one small machine (2 cores, no GPU). On a GPU cluster, e.g.::

    JIAOYAN_INFER_FEATURIZERS=8 JIAOYAN_INFER_FEATURIZER_CPUS=1 JIAOYAN_INFER_FEATURIZER_GPUS=0.125
    JIAOYAN_INFER_EXTRACTOR_DEVICE=cuda JIAOYAN_INFER_EXTRACTORS=scene,board,speech,vad,pose
    JIAOYAN_INFER_EXTRACTOR_OPTIONS='{"pose_model": "/models/yolo11n-pose.onnx"}'
    JIAOYAN_INFER_DECODE_HWACCEL=cuda RAY_ADDRESS=ray://head:10001

(``docs/deployment.md`` explains the numbers).
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jiaoyan.settings import JiaoyanSettings
from ray_inference.video import STRATEGIES, DecodeOptions


class InferenceSettings(JiaoyanSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYAN_INFER_")

    # the model
    model_name: str | None = Field(default=None, description="registered model (default: JIAOYAN_MLFLOW_MODEL_NAME)")
    model_alias: str = Field(default="champion", description="registry alias to run")
    model_uri: str | None = Field(default=None, description="explicit model URI (models:/name/3, runs:/…); "
                                  "overrides name and alias")
    extractors: str = Field(default="", description="comma-separated feature extractors; empty: the model's "
                            "own feature set (a different set is refused)")
    extractor_device: str = Field(default="cpu", description="cpu | cuda: where network extractors run")
    extractor_batch_size: int = Field(default=32, ge=1, description="pictures per network call")
    extractor_options: dict[str, str] = Field(default_factory=dict, description="JSON: options for extractors, "
                                              "e.g. model weight paths")
    # decoding
    decode_strategy: str = Field(default="keyframes", description=f"one of {', '.join(STRATEGIES)}")
    frames_per_point: int = Field(default=1, ge=1, le=8, description="pictures per 6-second point (for training; "
                                  "inference uses the model's own sampling)")
    analysis_width: int = Field(default=384, ge=64, description="analysis picture width (for training, as above)")
    analysis_height: int = Field(default=216, ge=36, description="analysis picture height (for training, as above)")
    min_height: int = Field(default=144, ge=16, description="smaller videos are quarantined")
    decode_threads: int = Field(default=1, ge=0, description="decoder threads per lesson (0: FFmpeg's choice)")
    decode_hwaccel: str | None = Field(default=None, description="e.g. cuda: decode on the GPU")
    # Ray
    featurizers: int = Field(default=2, ge=1, description="actors that decode and extract features")
    featurizer_cpus: float = Field(default=0.875, gt=0, description="CPUs reserved per featurizer actor")
    featurizer_gpus: float = Field(default=0.0, ge=0, description="GPUs per featurizer actor (network extractors)")
    coders: int = Field(default=1, ge=1, description="actors that run the model")
    coder_cpus: float = Field(default=0.125, gt=0, description="CPUs reserved per model actor")
    coder_gpus: float = Field(default=0.0, ge=0, description="GPUs per model actor")
    batch_size: int = Field(default=0, ge=0, description="points per model call; 0: one lesson per call (each "
                            "lesson is written as soon as it is coded)")
    ray_address: str | None = Field(default=None, description="Ray cluster (default: RAY_ADDRESS, else a local "
                                    "instance)")
    ray_init_attempts: int = Field(default=4, ge=1, description="ray.init retries (slow or aborted under load)")

    def decode_options(self, sampling: dict[str, int] | None = None) -> DecodeOptions:
        """Decoding options; ``sampling`` (a model's frames per point and analysis size) wins over these."""
        values = {"frames_per_point": self.frames_per_point, "width": self.analysis_width,
                  "height": self.analysis_height} | (sampling or {})
        return DecodeOptions(strategy=self.decode_strategy, min_height=self.min_height, threads=self.decode_threads,
                             hwaccel=self.decode_hwaccel, **values)

    def extractor_list(self) -> list[str]:
        return [e.strip() for e in self.extractors.split(",") if e.strip()]

    def address(self) -> str | None:
        return self.ray_address or os.environ.get("RAY_ADDRESS") or None


@cache
def get_inference_settings() -> InferenceSettings:
    return InferenceSettings()
