"""Settings from the environment, ``.env``, and the generated local-cluster file.

Precedence, highest first: environment variables, ``.env`` in the project root,
``.data/warehouse.env`` (written by ``jiaoyan warehouse up`` for the project-local
cluster, with generated passwords; ignored by git). Nothing secret is in the repo.

Components define their own settings classes on :class:`JiaoyanSettings` with their
own prefix (e.g. ``JIAOYAN_RAY_``), so each reads the same files the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def project_root() -> Path:
    """The repository root (``JIAOYAN_HOME`` overrides)."""
    home = os.environ.get("JIAOYAN_HOME")
    return Path(home).resolve() if home else Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Where local state lives: cluster, landing zone, lake, MLflow, Airflow (ignored by git)."""
    configured = os.environ.get("JIAOYAN_DATA_DIR")
    return Path(configured).resolve() if configured else project_root() / ".data"


LOCAL_ENV_FILE = "warehouse.env"


def env_files() -> tuple[Path, ...]:
    # pydantic-settings gives later files priority
    return (data_dir() / LOCAL_ENV_FILE, project_root() / ".env")


class JiaoyanSettings(BaseSettings):
    """Base for every settings class: same sources, unknown keys ignored."""

    model_config = SettingsConfigDict(env_file_encoding="utf-8", extra="ignore")

    def __init__(self, **values: object) -> None:
        super().__init__(_env_file=env_files(), **values)  # type: ignore[call-arg]


class Settings(JiaoyanSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYAN_")

    landing_uri: str = Field(default_factory=lambda: str(data_dir() / "landing"),
                             description="where nightly batches arrive (folder or fsspec URI)")
    lake_uri: str = Field(default_factory=lambda: str(data_dir() / "lake"),
                          description="intermediate outputs: behaviour codes, Spark facts, quarantine")
    warehouse_url: str | None = Field(default=None, description="owner role: migrations and administration")
    loader_url: str | None = Field(default=None, description="loader role: writes raw and quarantine")
    transformer_url: str | None = Field(default=None, description="transformer role: dbt")
    reader_url: str | None = Field(default=None, description="read-only role on the marts (Superset)")
    timezone: str = Field(default="Asia/Shanghai", description="the platform's local time zone")


@cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (after the local cluster writes its env file, or in tests)."""
    get_settings.cache_clear()


def apply_environ(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Set (or, for None, remove) environment variables; returns their previous values, which
    ``apply_environ`` takes back to restore them."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return saved
