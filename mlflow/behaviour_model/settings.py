"""MLflow settings (prefix ``JIAOYAN_MLFLOW_``): an embedded SQLite tracking and registry store with
an artifact folder under ``.data/mlflow/`` by default; an MLflow server in production
(``JIAOYAN_MLFLOW_TRACKING_URI=http://mlflow:5000``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jiaoyan.settings import JiaoyanSettings, data_dir


def _default_tracking() -> str:
    return f"sqlite:///{data_dir() / 'mlflow' / 'mlflow.db'}"


def _default_artifacts() -> str:
    return (data_dir() / "mlflow" / "artifacts").as_uri()


class MlflowSettings(JiaoyanSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYAN_MLFLOW_")

    tracking_uri: str = Field(default_factory=_default_tracking, description="tracking store (sqlite:///… or a "
                              "server URL)")
    registry_uri: str | None = Field(default=None, description="model registry (default: the tracking store)")
    artifact_location: str = Field(default_factory=_default_artifacts, description="where new experiments keep "
                                   "artifacts")
    experiment: str = Field(default="behaviour-model", description="experiment of the training runs")
    model_name: str = Field(default="jiaoyan-behaviour", description="registered model name")


def configure(settings: MlflowSettings | None = None) -> MlflowSettings:
    """Point the MLflow client at the configured stores (creating the local folder for SQLite)."""
    import mlflow

    settings = settings or MlflowSettings()
    if settings.tracking_uri.startswith("sqlite:///"):
        from pathlib import Path

        Path(settings.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri or settings.tracking_uri)
    return settings
