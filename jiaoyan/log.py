"""Logging: one format for every command and job, level from ``JIAOYAN_LOG_LEVEL``."""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup(level: str | None = None) -> None:
    """Configure the root logger once (idempotent; later calls only change the level)."""
    level = (level or os.environ.get("JIAOYAN_LOG_LEVEL", "INFO")).upper()
    root = logging.getLogger()
    if not any(getattr(h, "_jiaoyan", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        handler._jiaoyan = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def get(name: str) -> logging.Logger:
    return logging.getLogger(name)
