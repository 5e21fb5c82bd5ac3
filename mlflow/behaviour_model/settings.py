"""MLflow settings (prefix ``JIAOYAN_MLFLOW_``).

Two ways to run tracking and the registry, chosen by ``JIAOYAN_MLFLOW_TRACKING_URI``:

- **embedded** (the default, one machine): a SQLite store at ``.data/mlflow/mlflow.db`` and an
  artifact folder ``.data/mlflow/artifacts`` — no server;
- **server**: an MLflow tracking server, e.g. ``http://mlflow:5000`` (``docker/``: PostgreSQL
  backend store, artifacts in MinIO ``s3://mlflow``). Leave ``JIAOYAN_MLFLOW_ARTIFACT_LOCATION``
  unset and the server chooses where artifacts go (proxied ``mlflow-artifacts:`` when it runs
  with ``--serve-artifacts``, so clients need no object-store credentials); set it to e.g.
  ``s3://mlflow/behaviour-model`` to write to the object store directly (then the client needs
  ``MLFLOW_S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``).

The artifact location only applies when the experiment is created; an existing experiment keeps
its own.

The promotion gate's thresholds live here too (see :mod:`behaviour_model.registry`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jiaoyan.settings import JiaoyanSettings, data_dir


def _default_tracking() -> str:
    return f"sqlite:///{data_dir() / 'mlflow' / 'mlflow.db'}"


def _default_artifacts() -> str:
    return (data_dir() / "mlflow" / "artifacts").as_uri()


class MlflowSettings(JiaoyanSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYAN_MLFLOW_")

    tracking_uri: str = Field(default_factory=_default_tracking, description="tracking store: sqlite:///… "
                              "(embedded) or a server URL such as http://mlflow:5000")
    registry_uri: str | None = Field(default=None, description="model registry (default: the tracking store)")
    artifact_location: str | None = Field(default=None, description="artifact root of a new experiment; default: "
                                          ".data/mlflow/artifacts for an embedded store, the server's own for a "
                                          "server; s3://… writes to an object store directly")
    experiment: str = Field(default="behaviour-model", description="experiment of the training runs")
    model_name: str = Field(default="jiaoyan-behaviour", description="registered model name")
    holdout_share: float = Field(default=0.2, ge=0.0, lt=1.0, description="share of teachers held out for scoring")
    split_salt: str = Field(default="jiaoyan-holdout-v1", description="salt of the teacher hash that decides the "
                            "hold-out side; change it only to draw a new split on purpose")
    promotion_margin: float = Field(default=0.01, description="a challenger must reach the champion's macro-F1 plus "
                                    "this on the same hold-out lessons")
    promotion_max_f1_drop: float = Field(default=0.05, ge=0.0, description="refuse when any teacher behaviour's F1 "
                                         "falls by more than this")
    promotion_max_share_mae_rise: float = Field(default=0.01, ge=0.0, description="refuse when the student-share MAE "
                                                "rises by more than this")

    @property
    def embedded(self) -> bool:
        """Whether tracking runs in this process (a database or folder), not on a server."""
        return not self.tracking_uri.startswith(("http://", "https://", "databricks"))

    def experiment_artifacts(self) -> str | None:
        """The artifact location to give a new experiment (None: the server decides)."""
        if self.artifact_location:
            return self.artifact_location
        return _default_artifacts() if self.embedded else None


def configure(settings: MlflowSettings | None = None) -> MlflowSettings:
    """Point the MLflow client at the configured stores (creating the local folder for SQLite)."""
    import mlflow

    settings = settings or MlflowSettings()
    if settings.tracking_uri.startswith("sqlite:///"):
        Path(settings.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri or settings.tracking_uri)
    return settings


def experiment_id(settings: MlflowSettings) -> str:
    """The training experiment's id, created (with the configured artifact location) if missing."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(settings.experiment)
    if experiment is not None:
        return experiment.experiment_id
    return mlflow.create_experiment(settings.experiment, artifact_location=settings.experiment_artifacts())
