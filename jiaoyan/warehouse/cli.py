"""``jiaoyan warehouse up|down|status|migrate|env``."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import click
from dotenv import dotenv_values

from jiaoyan import log
from jiaoyan.db import with_database
from jiaoyan.settings import get_settings, project_root, reset_settings_cache
from jiaoyan.warehouse import cluster as local
from jiaoyan.warehouse.migrate import migrate

LOG = log.get(__name__)


def configured_externally() -> bool:
    """True when the operator points us at a warehouse (environment or .env), so no local cluster."""
    if os.environ.get("JIAOYAN_WAREHOUSE_URL"):
        return True
    env = project_root() / ".env"
    return env.exists() and bool(dotenv_values(env).get("JIAOYAN_WAREHOUSE_URL"))


def up() -> str:
    """Make the warehouse ready: start the local cluster when needed, then migrate. Returns a description."""
    if not configured_externally():
        bindir = local.ensure_bindir()
        cluster = local.default_cluster()
        if not cluster.initialised():
            LOG.info("creating the local PostgreSQL cluster in %s", cluster.root)
            local.init(cluster, bindir)
        local.start(cluster, bindir)
        reset_settings_cache()
        local.ensure_database(with_database(get_settings().warehouse_url or "", "postgres"))
    settings = get_settings()
    applied = migrate(settings)
    where = urlsplit(settings.warehouse_url or "").hostname, urlsplit(settings.warehouse_url or "").port
    kind = "external" if configured_externally() else "local"
    return f"warehouse ready ({kind}, {where[0]}:{where[1]}); migrations applied now: {applied or 'none'}"


@click.group()
def warehouse() -> None:
    """Start, stop and migrate the warehouse."""


@warehouse.command("up")
def up_command() -> None:
    """Start the project-local cluster if no URL is configured, and apply migrations (idempotent)."""
    click.echo(up())


@warehouse.command("down")
def down_command() -> None:
    """Stop the project-local cluster (its data stays in .data/postgres)."""
    if configured_externally():
        click.echo("an external warehouse is configured; nothing to stop")
        return
    cluster = local.default_cluster()
    bindir = local.find_bindir()
    if bindir is None or not cluster.initialised():
        click.echo("no local cluster")
        return
    click.echo("local cluster stopped" if local.stop(cluster, bindir) else "local cluster was not running")


@warehouse.command("status")
def status_command() -> None:
    """Say which warehouse is configured and whether the local cluster runs."""
    if configured_externally():
        parts = urlsplit(get_settings().warehouse_url or "")
        click.echo(f"external warehouse at {parts.hostname}:{parts.port}{parts.path}")
        return
    cluster = local.default_cluster()
    bindir = local.find_bindir()
    running = bool(bindir) and local.is_running(cluster, bindir)  # type: ignore[arg-type]
    state = "running" if running else ("stopped" if cluster.initialised() else "not created")
    port = cluster.port if cluster.initialised() else "-"
    click.echo(f"local cluster {state} ({cluster.root}, port {port})")


@warehouse.command("migrate")
def migrate_command() -> None:
    """Apply pending migrations and sync raw tables with the contracts."""
    applied = migrate(get_settings())
    click.echo(f"migrations applied: {applied or 'none pending'}")


@warehouse.command("env")
@click.option("--role", type=click.Choice(["owner", "loader", "transformer", "reader"]), default="owner")
def env_command(role: str) -> None:
    """Print libpq variables for a role, e.g. `eval $(jiaoyan warehouse env)` then `psql`."""
    from jiaoyan.db import url_for

    parts = urlsplit(url_for(role))  # type: ignore[arg-type]
    click.echo(f"export PGHOST={parts.hostname} PGPORT={parts.port} PGDATABASE={Path(parts.path).name} "
               f"PGUSER={parts.username} PGPASSWORD={parts.password}")
