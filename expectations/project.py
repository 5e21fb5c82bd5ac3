"""The file-mode Great Expectations project under ``expectations/gx/``: context, data sources, assets.

Two data sources, each a ``${…}`` reference to the environment (never a URL in a file): ``raw`` reads the
raw tables as the loader role, ``marts`` reads the marts build (``marts_next``) as the transformer role.
Every asset is a whole table; a gate narrows an expectation to the night's batch itself (a row condition on
``_batch_id``, or the batch id in its SQL), so the committed configuration never changes from night to night.
Assets follow the contracts: a new contract gets its asset the next time a gate runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg

from expectations.settings import COMMITTED_ROOT, get_gate_settings, gx_project_root
from jiaoyan import log
from jiaoyan.contracts import ALL_CONTRACTS, LAKE_CONTRACTS
from jiaoyan.db import url_for

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.data_context import FileDataContext
    from great_expectations.datasource.fluent import PostgresDatasource

LOG = log.get(__name__)
RAW_SOURCE, MARTS_SOURCE = "raw", "marts"
RAW_URL_VARIABLE, MARTS_URL_VARIABLE = "JIAOYAN_GATE_RAW_URL", "JIAOYAN_GATE_MARTS_URL"
BUILD_SCHEMA = "marts_next"  # where dbt builds the marts for the gate (migrations 0010, 0012)
PUBLISHED_SCHEMA = "marts"
BATCH_DEFINITION = "whole"
DATA_DOCS_DIR = "uncommitted/data_docs/local_site"  # as in gx/great_expectations.yml
BATCH_ASSET = "batches"  # ops.batches: the raw gate's batch-level suite (one row per batch)
RUN_ASSET = "gate_runs"  # ops.gate_runs: the marts gate's build-level suite (one row per gate run)
# the marts the gate reads (assets on the build schema)
MART_TABLES = (
    "fct_lesson_runs", "fct_lessons", "fct_lesson_behaviour_metrics", "mart_lesson_report",
    "mart_teacher_portrait", "mart_region_portrait", "mart_annual_report", "dim_vtros",
)


def raw_tables() -> tuple[str, ...]:
    """Every raw table: one per contract, sources and lake datasets."""
    return tuple(c.name for c in (*ALL_CONTRACTS, *LAKE_CONTRACTS))


def export_connection_urls() -> None:
    """Put the two connection strings where the project's ``${…}`` references find them."""
    settings = get_gate_settings()
    for variable, configured, role in ((RAW_URL_VARIABLE, settings.raw_url, "loader"),
                                       (MARTS_URL_VARIABLE, settings.marts_url, "transformer")):
        url = with_session_options(configured or url_for(role), settings.session_options)  # type: ignore[arg-type]
        os.environ[variable] = url.replace("postgresql://", "postgresql+psycopg://", 1)


def with_session_options(url: str, options: str) -> str:
    """The URL with libpq ``options`` (session settings) added, unless it sets its own."""
    if not options or "options=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}options={quote(options)}"


@cache
def _context() -> FileDataContext:
    started = time.perf_counter()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO is per-asset noise
    import great_expectations as gx

    root = gx_project_root()
    config = root / "gx" / "great_expectations.yml"
    if not config.exists():  # a project of its own elsewhere starts from the committed configuration
        config.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(COMMITTED_ROOT / "gx" / "great_expectations.yml", config)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    LOG.debug("Great Expectations context in %.1f s", time.perf_counter() - started)
    return context  # type: ignore[return-value]


def reset() -> None:
    """Forget the cached context (after the project folder or the settings changed, e.g. in tests)."""
    _context.cache_clear()


def context(gate: str) -> FileDataContext:
    """The project's context (one per process: creating it is slow), with the gate's assets in place."""
    export_connection_urls()
    ctx = _context()
    sync_assets(ctx, gate)
    return ctx


def sync_assets(ctx: FileDataContext, gate: str) -> None:
    """Add the data source and assets a gate needs that the project lacks (GX writes the yml only then)."""
    if gate == "raw":
        raw = _source(ctx, RAW_SOURCE, RAW_URL_VARIABLE)
        _tables(raw, "raw", raw_tables(), os.environ[RAW_URL_VARIABLE])
        _tables(raw, "ops", (BATCH_ASSET,), os.environ[RAW_URL_VARIABLE])
    else:
        marts = _source(ctx, MARTS_SOURCE, MARTS_URL_VARIABLE)
        _tables(marts, BUILD_SCHEMA, MART_TABLES, os.environ[MARTS_URL_VARIABLE])
        _tables(marts, "ops", (RUN_ASSET,), os.environ[MARTS_URL_VARIABLE])


def _source(ctx: FileDataContext, name: str, variable: str) -> PostgresDatasource:
    try:
        return ctx.data_sources.get(name)  # type: ignore[return-value]
    except KeyError:
        LOG.info("adding data source %s to the Great Expectations project", name)
        return ctx.data_sources.add_postgres(name, connection_string="${" + variable + "}")


def _tables(source: PostgresDatasource, schema: str, tables: Iterable[str], url: str) -> None:
    """Declare an asset for each table that exists and has none (GX tests the table when it is added)."""
    missing = [t for t in tables if t not in {asset.name for asset in source.assets}]
    if not missing:
        return
    with psycopg.connect(url.replace("+psycopg", "", 1)) as conn:
        present = {t for t in missing
                   if conn.execute("select to_regclass(%s)", (f"{schema}.{t}",)).fetchone()[0] is not None}
    for table in missing:
        if table in present:
            LOG.info("adding asset %s.%s to the Great Expectations project", schema, table)
            source.add_table_asset(table, table_name=table, schema_name=schema).add_batch_definition_whole_table(
                BATCH_DEFINITION)


def batch_definition(ctx: FileDataContext, source: str, asset: str) -> BatchDefinition:
    return ctx.data_sources.get(source).get_asset(asset).get_batch_definition(BATCH_DEFINITION)


def data_docs_index() -> Path:
    """The static Data Docs site's index page (the local_site of great_expectations.yml)."""
    return gx_project_root() / "gx" / DATA_DOCS_DIR / "index.html"


def build_data_docs(ctx: FileDataContext, results: list[object]) -> None:
    """Add this run's validation pages to the static site, after dropping pages past the retention."""
    prune_outputs(get_gate_settings().docs_keep_days)
    ctx.build_data_docs(resource_identifiers=results)


def prune_outputs(keep_days: int) -> int:
    """Delete validation results and their Data Docs pages older than ``keep_days`` (the index lists the rest)."""
    root = gx_project_root() / "gx" / "uncommitted"
    cutoff = time.time() - keep_days * 86_400
    removed = 0
    for folder in (root / "validations", root / "data_docs" / "local_site" / "validations"):
        for path in folder.rglob("*") if folder.exists() else ():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
