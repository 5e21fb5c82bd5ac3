"""The landing zone: nightly batch folders on a local disk or any fsspec URI.

Layout: ``<landing>/<YYYY-MM-DD>/`` per batch, written by the source systems (or the
demo-world generator), complete once ``_batch.json`` is present. Writers here are
atomic: a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import fsspec

from jiaoyan.contracts.batch import BATCH_MARKER, BatchManifest

BATCH_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of ``uri`` and the path within it."""
    fs, path = fsspec.core.url_to_fs(uri)
    return fs, path


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *[p.strip("/") for p in parts]])


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def list_batches(landing_uri: str, complete_only: bool = True) -> list[dt.date]:
    """Dates of the batch folders in the landing zone, oldest first."""
    fs, root = filesystem(landing_uri)
    if not fs.exists(root):
        return []
    dates = []
    for entry in fs.ls(root, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if not BATCH_NAME.match(name):
            continue
        if complete_only and not fs.exists(f"{entry.rstrip('/')}/{BATCH_MARKER}"):
            continue
        dates.append(dt.date.fromisoformat(name))
    return sorted(dates)


def batch_uri(landing_uri: str, batch_date: dt.date) -> str:
    return join(landing_uri, batch_date.isoformat())


def read_manifest(batch: str) -> BatchManifest:
    fs, path = filesystem(batch)
    marker = f"{path.rstrip('/')}/{BATCH_MARKER}"
    if not fs.exists(marker):
        raise FileNotFoundError(f"{batch}: no {BATCH_MARKER}; the batch is incomplete or missing")
    with fs.open(marker, "rb") as handle:
        return BatchManifest.model_validate_json(handle.read())


@contextmanager
def atomic_local_file(path: Path, mode: str = "wb") -> Iterator[IO]:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(uri: str, data: bytes) -> None:
    """Write a whole file atomically (rename locally; object stores publish whole objects)."""
    if is_local(uri):
        with atomic_local_file(Path(uri.removeprefix("file://"))) as handle:
            handle.write(data)
        return
    fs, path = filesystem(uri)
    with fs.open(path, "wb") as handle:
        handle.write(data)


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        return handle.read()


def sha256_of(uri: str, chunk: int = 1 << 20) -> str:
    fs, path = filesystem(uri)
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
