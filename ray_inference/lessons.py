"""Which lessons to code: from a batch folder, a lesson manifest, a list of URIs, or a folder of videos.

- a **batch folder** (``<landing>/<YYYY-MM-DD>``, local or any fsspec URI): its
  ``lessons/manifest.csv``; the batch id is the folder's name;
- a **manifest** (``…/lessons/manifest.csv``, contract ``lesson_manifest``): rows with a
  ``video_uri`` (relative to the batch folder, or absolute / any fsspec URI); rows that
  break the contract are skipped here (the loader quarantines them);
- a **URI list** (``*.txt``): one video per line, optionally ``lesson_id<TAB or space>uri``;
- a **folder of videos**: every ``*.mp4`` / ``*.mov`` / ``*.mkv`` in it; the lesson id is the
  file name without its extension.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from jiaoyan import log
from jiaoyan.contracts.model import ID_PATTERN
from jiaoyan.contracts.sources import LESSON_MANIFEST
from jiaoyan.contracts.validate import read_csv
from jiaoyan.errors import UserError
from jiaoyan.landing import BATCH_NAME, filesystem, join

LOG = log.get(__name__)
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".m4v")
MANIFEST = LESSON_MANIFEST.location  # lessons/manifest.csv


@dataclass(frozen=True)
class LessonRef:
    lesson_id: str
    video_uri: str  # absolute path or fsspec URI
    declared_s: float | None = None  # duration the recorder reported, if any


@dataclass
class LessonSet:
    lessons: list[LessonRef]
    batch_id: str | None  # from the batch folder's name, when there is one
    source: str
    skipped: int = 0  # manifest rows that broke the contract


def resolve(videos: str | Sequence[str]) -> LessonSet:
    """The lessons behind ``--videos``: a folder, a manifest, a URI list file, or a list of URIs."""
    if not isinstance(videos, str):
        return LessonSet([_from_uri(v) for v in videos], None, "list")
    fs, path = filesystem(videos)
    if fs.isdir(path):
        if fs.exists(f"{path.rstrip('/')}/{MANIFEST}"):
            return from_manifest(join(videos, MANIFEST), batch_root=videos)
        return _from_folder(videos)
    if not fs.exists(path):
        raise UserError(f"--videos {videos}: no such folder or file")
    if path.endswith(".csv"):
        return from_manifest(videos)
    if path.endswith(".txt"):
        return _from_list(videos)
    return LessonSet([_from_uri(videos)], None, videos)


def from_manifest(manifest_uri: str, batch_root: str | None = None,
                  lesson_ids: Sequence[str] | None = None) -> LessonSet:
    """Manifest rows with a video; ``video_uri`` is relative to the batch folder (``…/lessons/..``)."""
    root = batch_root or _batch_root(manifest_uri)
    fs, path = filesystem(manifest_uri)
    with fs.open(path, "rb") as handle:
        conformed = read_csv(LESSON_MANIFEST, handle.read(), manifest_uri)
    wanted = set(lesson_ids) if lesson_ids is not None else None
    lessons = []
    for row in conformed.good.to_pylist():
        if not row["video_uri"] or (wanted is not None and row["lesson_id"] not in wanted):
            continue
        uri = row["video_uri"] if "://" in row["video_uri"] or row["video_uri"].startswith("/") else join(
            root, row["video_uri"])
        lessons.append(LessonRef(row["lesson_id"], uri, row["duration_s"]))
    if conformed.n_rejected:
        LOG.warning("%s: %d manifest row(s) break the contract and are not coded", manifest_uri, conformed.n_rejected)
    name = PurePosixPath(root.rstrip("/")).name
    return LessonSet(lessons, name if BATCH_NAME.match(name) else None, manifest_uri, conformed.n_rejected)


def _batch_root(manifest_uri: str) -> str:
    """``<batch>/lessons/manifest.csv`` → ``<batch>``; any other manifest → its folder."""
    parts = manifest_uri.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-2] == "lessons":
        return "/".join(parts[:-2])
    return "/".join(parts[:-1])


def _from_folder(folder: str) -> LessonSet:
    fs, path = filesystem(folder)
    files = sorted(p for p in fs.ls(path, detail=False) if p.lower().endswith(VIDEO_SUFFIXES))
    prefix = folder.split("://", 1)[0] + "://" if "://" in folder else ""
    return LessonSet([_from_uri(prefix + f if prefix and "://" not in f else f) for f in files], None, folder)


def _from_list(list_uri: str) -> LessonSet:
    fs, path = filesystem(list_uri)
    with fs.open(path, "r", encoding="utf-8") as handle:
        lines = [line.strip() for line in handle]
    lessons = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"[\t ]+", line, maxsplit=1)
        lessons.append(LessonRef(parts[0], parts[1]) if len(parts) == 2 else _from_uri(parts[0]))
    return LessonSet(lessons, None, list_uri)


def _from_uri(uri: str) -> LessonRef:
    stem = PurePosixPath(uri.split("?", 1)[0]).stem
    lesson_id = re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:40] or "lesson"
    if not re.match(ID_PATTERN, lesson_id):
        raise UserError(f"{uri}: cannot make a lesson id from the file name")
    return LessonRef(lesson_id, uri)
