"""Shared fixtures. Integration tests run against a real PostgreSQL: the project's
local cluster (or the configured warehouse), in a separate database ``jiaoyan_test_<pid>``
created for each session and dropped after it, so tests never touch the demo warehouse and
two sessions running at once never share a database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from jiaoyan.settings import get_settings, reset_settings_cache

TEST_DATABASE = os.environ.get("JIAOYAN_TEST_DATABASE", f"jiaoyan_test_{os.getpid()}")
URL_VARIABLES = ("JIAOYAN_WAREHOUSE_URL", "JIAOYAN_LOADER_URL", "JIAOYAN_TRANSFORMER_URL", "JIAOYAN_READER_URL")


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
