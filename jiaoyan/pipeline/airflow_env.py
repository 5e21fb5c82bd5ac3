"""A project-local Airflow for development, tests and ``make demo``: metadata in SQLite under ``.data/airflow``.

Production runs Airflow from ``docker/`` (PostgreSQL metadata, Celery workers); both read the same ``dags/``.
Airflow reads its configuration when first imported, so :func:`environment` must be applied before that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jiaoyan import log
from jiaoyan.pipeline.settings import get_pipeline_settings
from jiaoyan.settings import data_dir, project_root

LOG = log.get(__name__)


def environment(home: Path | None = None) -> dict[str, str]:
    """The variables of the local Airflow (existing ``AIRFLOW__*`` settings in the environment win)."""
    home = home or data_dir() / "airflow"
    values = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_root() / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }
    return {k: os.environ.get(k, v) if k.startswith("AIRFLOW__") else v for k, v in values.items()}


def apply(home: Path | None = None) -> dict[str, str]:
    values = environment(home)
    os.environ.update(values)
    Path(values["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return values


def airflow_cli(*args: str) -> None:
    executable = Path(sys.executable).with_name("airflow")
    subprocess.run([str(executable), *args], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL if "pools" in args else None)


def init(home: Path | None = None) -> Path:
    """Migrate the metadata database and create the pools (both idempotent); returns AIRFLOW_HOME."""
    values = apply(home)
    airflow_cli("db", "migrate")
    s = get_pipeline_settings()
    airflow_cli("pools", "set", s.ray_pool, str(s.ray_pool_slots), "Ray cluster: inference chunks at once")
    airflow_cli("pools", "set", s.warehouse_pool, str(s.warehouse_pool_slots), "warehouse-heavy steps at once")
    LOG.info("Airflow ready in %s", values["AIRFLOW_HOME"])
    return Path(values["AIRFLOW_HOME"])
