"""Shared fixtures. Integration tests run against a real PostgreSQL: the project's
local cluster (or the configured warehouse), in a separate database ``jiaoyan_test_<pid>``
created for each session and dropped after it, so tests never touch the demo warehouse and
two sessions running at once never share a database."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from jiaoyan.settings import get_settings, reset_settings_cache

TEST_DATABASE = os.environ.get("JIAOYAN_TEST_DATABASE", f"jiaoyan_test_{os.getpid()}")
URL_VARIABLES = ("JIAOYAN_WAREHOUSE_URL", "JIAOYAN_LOADER_URL", "JIAOYAN_TRANSFORMER_URL", "JIAOYAN_READER_URL")
# Airflow reads its configuration once, when first imported by anything in this process: point it at a
# throw-away home for the whole session before any test module can import it (never the demo's .data/airflow)
AIRFLOW_TEST_HOME = Path(tempfile.gettempdir()) / f"jiaoyan-airflow-test-{os.getpid()}"


def _configure_airflow() -> None:
    from jiaoyan.pipeline import airflow_env

    for key in [k for k in os.environ if k.startswith("AIRFLOW__")]:
        os.environ.pop(key)  # a developer's own Airflow settings must not leak into the tests
    airflow_env.apply(AIRFLOW_TEST_HOME)


_configure_airflow()


@pytest.fixture(scope="session")
def airflow_home() -> Iterator[Path]:
    """The session's Airflow: metadata database migrated, pools created; removed afterwards."""
    from jiaoyan.pipeline import airflow_env

    airflow_env.init(AIRFLOW_TEST_HOME)
    yield AIRFLOW_TEST_HOME
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def warehouse() -> Iterator[dict[str, str]]:
    """A freshly migrated test database; yields the URLs by role (also exported to the environment)."""
    from jiaoyan.warehouse.cli import up
    from jiaoyan.warehouse.migrate import migrate

    up()
    settings = get_settings()
    admin = settings.warehouse_url or ""
    with psycopg.connect(_with_database(admin, "postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {TEST_DATABASE} with (force)")
        conn.execute(f"create database {TEST_DATABASE}")
    saved = {name: os.environ.get(name) for name in URL_VARIABLES}
    urls = {
        "owner": _with_database(admin, TEST_DATABASE),
        "loader": _with_database(settings.loader_url or "", TEST_DATABASE),
        "transformer": _with_database(settings.transformer_url or "", TEST_DATABASE),
        "reader": _with_database(settings.reader_url or "", TEST_DATABASE),
    }
    for name, role in zip(URL_VARIABLES, ("owner", "loader", "transformer", "reader"), strict=True):
        os.environ[name] = urls[role]
    reset_settings_cache()
    migrate(get_settings())
    yield urls
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings_cache()
    with psycopg.connect(_with_database(admin, "postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {TEST_DATABASE} with (force)")
