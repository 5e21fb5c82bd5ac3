"""Database access by role: each component connects with the least privilege it needs."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg

from jiaoyan.errors import UserError
from jiaoyan.settings import get_settings

Role = Literal["owner", "loader", "transformer", "reader"]
_SETTING = {
    "owner": "warehouse_url",
    "loader": "loader_url",
    "transformer": "transformer_url",
    "reader": "reader_url",
}


def url_for(role: Role) -> str:
    field = _SETTING[role]
    url = getattr(get_settings(), field)
    if not url:
        raise UserError(f"JIAOYAN_{field.upper()} is not set: run `make warehouse` (jiaoyan warehouse up) to start "
                        "the local cluster, or set it in the environment or .env")
    return url


def connect(role: Role, autocommit: bool = False, **kwargs: object) -> psycopg.Connection:
    url = url_for(role)
    try:
        return psycopg.connect(url, autocommit=autocommit, application_name=f"jiaoyan-{role}", **kwargs)
    except psycopg.OperationalError as exc:
        host = url.rsplit("@", 1)[-1]
        raise UserError(f"cannot connect to the warehouse at {host} as the {role} role: "
                        f"{str(exc).strip().splitlines()[0]} (is it running? `make warehouse`)") from exc


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def sqlalchemy_url(role: Role) -> str:
    """The same URL for SQLAlchemy users (Great Expectations, MLflow, Airflow connections)."""
    return url_for(role).replace("postgresql://", "postgresql+psycopg://", 1)
