"""Shared fixtures. Integration tests run against a real PostgreSQL: the project's
local cluster (or the configured warehouse), in a separate database ``jiaoyan_test_<pid>``
created for each session and dropped after it, so tests never touch the demo warehouse and
two sessions running at once never share a database."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from jiaoyan.db import with_database
from jiaoyan.settings import Settings, apply_environ, get_settings, reset_settings_cache

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


@contextmanager
def _database(server: dict[str, str], name: str) -> Iterator[dict[str, str]]:
    """A new, empty database ``name`` on the server of ``server`` (URLs by role), replacing any left over;
    yields its URLs by role and drops it on exit."""
    maintenance = with_database(server["owner"], "postgres")
    drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield {role: with_database(url, name) for role, url in server.items()}
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(drop)


@pytest.fixture(scope="session")
def warehouse() -> Iterator[dict[str, str]]:
    """A freshly migrated test database; yields the URLs by role (also exported to the environment)."""
    from jiaoyan.warehouse.cli import up
    from jiaoyan.warehouse.migrate import migrate

    up()
    settings = get_settings()
    server = {"owner": settings.warehouse_url or "", "loader": settings.loader_url or "",
              "transformer": settings.transformer_url or "", "reader": settings.reader_url or ""}
    with _database(server, TEST_DATABASE) as urls:
        roles = ("owner", "loader", "transformer", "reader")
        saved = apply_environ({name: urls[role] for name, role in zip(URL_VARIABLES, roles, strict=True)})
        reset_settings_cache()
        migrate(get_settings())
        yield urls
        apply_environ(saved)
        reset_settings_cache()


def _set_env(values: dict[str, str | None]) -> dict[str, str | None]:
    from expectations import project
    from expectations.settings import reset_gate_settings_cache

    saved = apply_environ(values)
    reset_settings_cache()
    reset_gate_settings_cache()
    project.reset()
    return saved


@pytest.fixture(scope="session")
def set_env() -> Callable[[dict[str, str | None]], dict[str, str | None]]:
    """``set_env(values)``: sets the environment variables (``None`` removes one), resets the settings caches
    (the project's, the gates' and the Great Expectations project) and returns the previous values, which
    ``set_env(saved)`` restores."""
    return _set_env


@pytest.fixture(scope="session")
def sibling_database(warehouse: dict[str, str]) -> Callable[[str], AbstractContextManager[dict[str, str]]]:
    """``with sibling_database(name) as urls``: a migrated database ``name`` beside the session's test database
    (same server and roles), its URLs by role; dropped on exit."""
    from jiaoyan.warehouse.migrate import migrate

    @contextmanager
    def sibling(name: str) -> Iterator[dict[str, str]]:
        with _database(warehouse, name) as urls:
            migrate(Settings(warehouse_url=urls["owner"], loader_url=urls["loader"],
                             transformer_url=urls["transformer"], reader_url=urls["reader"]))
            yield urls

    return sibling
