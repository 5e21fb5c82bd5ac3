"""A project-local PostgreSQL cluster, used when no warehouse URL is configured.

The cluster lives in ``.data/postgres`` (ignored by git), listens on 127.0.0.1 on a
free port, and has generated passwords written to ``.data/warehouse.env`` (mode 0600).
PostgreSQL refuses to run as root, so when we are root the server runs as the
``postgres`` system user (created if missing).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jiaoyan import log
from jiaoyan.errors import UserError
from jiaoyan.settings import LOCAL_ENV_FILE, data_dir

LOG = log.get(__name__)
SERVER_USER = "postgres"
ADMIN_ROLE = "jiaoyan_admin"
DATABASE = "jiaoyan"
LOGIN_ROLES = ("jiaoyan_loader", "jiaoyan_transformer", "jiaoyan_reader")
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found. Install them with "
    "`apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql@15` (macOS), or set "
    "JIAOYAN_WAREHOUSE_URL to an existing server."
)
# Development settings: durable against corruption (fsync stays on) but quick.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "synchronous_commit": "off",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "max_connections": "100",
    "timezone": "'UTC'",
    "log_min_messages": "warning",
}


@dataclass(frozen=True)
class LocalCluster:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def env_file(self) -> Path:
        return self.root.parent / LOCAL_ENV_FILE

    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()


def default_cluster() -> LocalCluster:
    return LocalCluster(data_dir() / "postgres")


# Finding or installing the server ----------------------------------------------------


def find_bindir() -> Path | None:
    """The folder holding initdb/pg_ctl/postgres: pg_config, Debian's layout, then PATH."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version_key(p.parent.name),
                    reverse=True)
    candidates.extend(debian)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def ensure_bindir(allow_install: bool = True) -> Path:
    if (found := find_bindir()) is not None:
        return found
    if allow_install and os.geteuid() == 0 and shutil.which("apt-get"):
        LOG.info("PostgreSQL server not found; installing the Debian package 'postgresql'")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
            if subprocess.run(cmd, env=env, check=False).returncode != 0:
                raise UserError(f"`{' '.join(cmd)}` failed. {INSTALL_HINT}")
        if (found := find_bindir()) is not None:
            return found
    raise UserError(INSTALL_HINT)


# Running as an unprivileged user -------------------------------------------------------


def server_user() -> str | None:
    """The user the server runs as: ourselves, or ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        LOG.info("creating the system user %r to run PostgreSQL (it refuses to run as root)", SERVER_USER)
        subprocess.run(["useradd", "--system", "--home-dir", "/var/lib/postgresql", "--shell", "/bin/bash",
                        SERVER_USER], check=True)
    return SERVER_USER


def _run_as(user: str | None, cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    if user is None:
        return subprocess.run(cmd, check=False, **kwargs)  # type: ignore[call-overload]
    entry = pwd.getpwnam(user)
    env = {**os.environ, "HOME": entry.pw_dir, "USER": user, "LOGNAME": user}
    return subprocess.run(cmd, check=False, user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                          env=env, cwd="/", **kwargs)  # type: ignore[call-overload]


def _grant_traverse(path: Path, user: str) -> None:
    """Let ``user`` reach ``path``: add o+x (traverse only, not read) to ancestors lacking it."""
    for folder in reversed(path.resolve().parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            LOG.info("granting traverse permission (o+x) on %s so the %s user can reach the cluster", folder, user)
            folder.chmod(mode | stat.S_IXOTH)


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


# Lifecycle -------------------------------------------------------------------------------


def free_port(start: int = 54329, attempts: int = 200) -> int:
    for port in range(start, start + attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                try:
                    probe.close()
                    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bind_probe:
                        bind_probe.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise UserError(f"no free TCP port between {start} and {start + attempts} for the local PostgreSQL")


def init(cluster: LocalCluster, bindir: Path) -> dict[str, str]:
    """Create the cluster with generated passwords; returns the passwords by role."""
    user = server_user()
    cluster.root.mkdir(parents=True, exist_ok=True)
    passwords = {role: secrets.token_urlsafe(24) for role in (ADMIN_ROLE, *LOGIN_ROLES)}
    pwfile = cluster.root / ".pwfile"
    pwfile.write_text(passwords[ADMIN_ROLE] + "\n")
    pwfile.chmod(0o600)
    if user:
        _grant_traverse(cluster.root, user)
        _chown_tree(cluster.root, user)
    result = _run_as(user, [str(bindir / "initdb"), "-D", str(cluster.data), "-U", ADMIN_ROLE,
                            "--pwfile", str(pwfile), "--auth=scram-sha-256", "-E", "UTF8", "--no-locale"])
    pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise UserError(f"initdb failed in {cluster.data}: {result.stderr.strip().splitlines()[-1:]}")
    port = free_port()
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write("\n# jiaoyan local development cluster\n")
        conf.write(f"port = {port}\n")
        for key, value in SERVER_SETTINGS.items():
            conf.write(f"{key} = {value}\n")
    cluster.port_file.write_text(f"{port}\n")
    if user:
        _chown_tree(cluster.root, user)
    _write_env(cluster, passwords, port)
    return passwords


def _write_env(cluster: LocalCluster, passwords: dict[str, str], port: int) -> None:
    def url(role: str) -> str:
        return f"postgresql://{role}:{passwords[role]}@127.0.0.1:{port}/{DATABASE}"

    lines = [
        "# Generated by `jiaoyan warehouse up` for the project-local cluster. Do not commit.",
        f"JIAOYAN_WAREHOUSE_URL={url(ADMIN_ROLE)}",
        f"JIAOYAN_LOADER_URL={url('jiaoyan_loader')}",
        f"JIAOYAN_TRANSFORMER_URL={url('jiaoyan_transformer')}",
        f"JIAOYAN_READER_URL={url('jiaoyan_reader')}",
    ]
    cluster.env_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(cluster.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def is_running(cluster: LocalCluster, bindir: Path) -> bool:
    if not cluster.initialised():
        return False
    result = _run_as(server_user(), [str(bindir / "pg_ctl"), "status", "-D", str(cluster.data)])
    return result.returncode == 0


def start(cluster: LocalCluster, bindir: Path) -> None:
    if is_running(cluster, bindir):
        return
    user = server_user()
    if user:
        _grant_traverse(cluster.root, user)
        _chown_tree(cluster.root, user)
    if _port_taken(cluster.port):
        raise UserError(f"port {cluster.port} of the local cluster is taken by another program; stop it, or "
                        f"remove {cluster.root} to create a new cluster on a free port")
    result = _run_as(user, [str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(cluster.data),
                            "-l", str(cluster.logfile)])
    if result.returncode != 0:
        tail = cluster.logfile.read_text(errors="replace").strip().splitlines()[-5:] if cluster.logfile.exists() else []
        raise UserError(f"PostgreSQL did not start ({cluster.data}); last log lines: {' | '.join(tail)}")


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stop(cluster: LocalCluster, bindir: Path) -> bool:
    """Stop the cluster; returns whether it was running."""
    if not is_running(cluster, bindir):
        return False
    result = _run_as(server_user(), [str(bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(cluster.data)])
    if result.returncode != 0:
        raise UserError(f"pg_ctl stop failed: {result.stderr.strip()}")
    return True


def ensure_database(admin_url_for_postgres_db: str) -> None:
    """Create the ``jiaoyan`` database if missing (connecting to the maintenance database)."""
    import psycopg

    with psycopg.connect(admin_url_for_postgres_db, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'create database "{DATABASE}"')
