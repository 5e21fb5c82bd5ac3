"""Run dbt against the warehouse as the transformer role: ``jiaoyan dbt <dbt args…>``.

The committed ``dbt/profiles.yml`` reads its connection from ``JIAOYAN_DBT_*`` variables;
this module derives them from ``JIAOYAN_TRANSFORMER_URL`` (so dbt always runs with the
least privilege it needs and no password is written anywhere) and points dbt at the
project with absolute paths, so it works from any working directory — an Airflow task
included (a relative path is the usual cause of "can't find dbt_project.yml").

Two ways to run, same arguments and exit codes:

- in process (default): ``dbtRunner().invoke`` — no second interpreter start, but dbt's
  import (≈ 2–3 s) and its global state live in the caller's process;
- ``subprocess=True``: the ``dbt`` executable beside this interpreter, with the variables
  in the child's environment only — what a long-lived process (a scheduler) should use.

``docs/benchmarks.md`` ("dbt build") has the measured start-up of both.
"""

from __future__ import annotations

import os
import shutil
import subprocess as sp
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import click

from jiaoyan import log
from jiaoyan.errors import UserError
from jiaoyan.settings import apply_environ, project_root

LOG = log.get(__name__)

# dbt subcommands that take --project-dir / --profiles-dir
_PROJECT_COMMANDS = frozenset({
    "build", "clean", "clone", "compile", "debug", "deps", "docs", "list", "ls", "parse", "retry",
    "run", "run-operation", "seed", "show", "snapshot", "source", "test",
})
_DEFAULT_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",  # no telemetry calls from an offline warehouse host
    "DBT_VERSION_CHECK": "false",
}
# Session settings for dbt's connections (libpq reads PGOPTIONS): PostgreSQL's JIT compiles the big analytic
# queries for seconds each (≈ 3 s per point-level model measured here) and never pays back on two cores.
# JIAOYAN_DBT_PGOPTIONS replaces the default.
DEFAULT_PGOPTIONS = "-c jit=off"


def project_dir() -> Path:
    """The dbt project; ``JIAOYAN_DBT_DIR`` overrides the repository layout (as in :mod:`jiaoyan.codes`)."""
    configured = os.environ.get("JIAOYAN_DBT_DIR")
    return Path(configured).resolve() if configured else project_root() / "dbt"


def profile_env(url: str) -> dict[str, str]:
    """The ``JIAOYAN_DBT_*`` variables ``dbt/profiles.yml`` reads, from a PostgreSQL URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        raise UserError(f"JIAOYAN_TRANSFORMER_URL must be a postgresql:// URL, not {parts.scheme}://…")
    database = parts.path.lstrip("/")
    if not (parts.hostname and parts.username and database):
        raise UserError("JIAOYAN_TRANSFORMER_URL needs a host, a user and a database: "
                        "postgresql://jiaoyan_transformer:PASSWORD@HOST:PORT/DATABASE")
    env = {
        "JIAOYAN_DBT_HOST": parts.hostname,
        "JIAOYAN_DBT_PORT": str(parts.port or 5432),
        "JIAOYAN_DBT_USER": unquote(parts.username),
        "JIAOYAN_DBT_PASSWORD": unquote(parts.password or ""),
        "JIAOYAN_DBT_DBNAME": unquote(database),
    }
    sslmode = parse_qs(parts.query).get("sslmode")
    if sslmode:
        env["JIAOYAN_DBT_SSLMODE"] = sslmode[0]
    return env


def dbt_arguments(args: Sequence[str], project: Path | None = None) -> list[str]:
    """``args`` with absolute ``--project-dir`` and ``--profiles-dir`` added where dbt takes them."""
    args = list(args)
    project = project or project_dir()
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in _PROJECT_COMMANDS:
        return args
    if "--project-dir" not in args:
        args += ["--project-dir", str(project)]
    if "--profiles-dir" not in args:
        args += ["--profiles-dir", str(project)]
    return args


@dataclass(frozen=True)
class DbtResult:
    exit_code: int  # 0 success, 1 a node failed, 2 dbt could not run (dbt's own convention)
    seconds: float
    results: object | None = None  # dbtRunnerResult.result when run in process

    @property
    def success(self) -> bool:
        return self.exit_code == 0


def run(args: Sequence[str], *, url: str | None = None, subprocess: bool = False,
        env: Mapping[str, str] | None = None) -> DbtResult:
    """Run dbt with ``args`` (e.g. ``["build", "--select", "staging"]``) as the transformer role."""
    if url is None:
        from jiaoyan.db import url_for

        url = url_for("transformer")
    pgoptions = os.environ.get("JIAOYAN_DBT_PGOPTIONS", DEFAULT_PGOPTIONS)
    variables = {**_DEFAULT_ENV, "PGOPTIONS": f"{os.environ.get('PGOPTIONS', '')} {pgoptions}".strip(),
                 **profile_env(url), **(env or {})}
    arguments = dbt_arguments(args)
    LOG.info("dbt %s", " ".join(args))
    started = time.perf_counter()
    if subprocess:
        code = _run_subprocess(arguments, variables)
        return DbtResult(code, time.perf_counter() - started)
    code, results = _run_in_process(arguments, variables)
    return DbtResult(code, time.perf_counter() - started, results)


def _dbt_executable() -> str:
    beside = Path(sys.executable).with_name("dbt")
    found = str(beside) if beside.exists() else shutil.which("dbt")
    if not found:
        raise UserError("the dbt executable is not installed in this environment (`make setup`)")
    return found


def _run_subprocess(arguments: list[str], variables: Mapping[str, str]) -> int:
    completed = sp.run([_dbt_executable(), *arguments], env={**os.environ, **variables}, check=False)
    return completed.returncode


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = apply_environ(variables)
    try:
        yield
    finally:
        apply_environ(saved)


def _run_in_process(arguments: list[str], variables: Mapping[str, str]) -> tuple[int, object | None]:
    from dbt.cli.main import dbtRunner

    with _environment(variables):
        outcome = dbtRunner().invoke(arguments)
    if outcome.exception is not None:
        LOG.error("dbt could not run: %s", outcome.exception)
        return 2, None
    return (0 if outcome.success else 1), outcome.result


class DbtFailed(click.ClickException):
    def __init__(self, exit_code: int) -> None:
        super().__init__(f"dbt exited with code {exit_code}")
        self.exit_code = exit_code


@click.command(
    "dbt",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.option("--subprocess", "use_subprocess", is_flag=True,
              help="run the dbt executable in a child process instead of in this one")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dbt_command(use_subprocess: bool, args: tuple[str, ...]) -> None:
    """Run dbt on the warehouse model as the transformer role, e.g. `jiaoyan dbt build`.

    Every argument is passed to dbt; --project-dir and --profiles-dir are added. `jiaoyan dbt --help` shows dbt's
    own help.
    """
    result = run(args or ["--help"], subprocess=use_subprocess)
    if not result.success:
        raise DbtFailed(result.exit_code)
