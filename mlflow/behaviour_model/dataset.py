"""Training data: gold-coded lessons, their features per point, joined to the gold codes.

Where gold lessons come from:

- a **landing zone** (:func:`from_landing`): every batch's ``gold/*.csv`` (contract
  ``gold_codes``), with the video and teacher from the manifest of whichever batch listed the
  lesson (gold codes arrive days after their video);
- a **lesson list** (:func:`from_list`): a CSV with ``lesson_id, teacher_id, video_uri,
  gold_uri`` (paths relative to the list), as written by :mod:`ray_inference.synthetic`;
- the **warehouse** (:func:`from_warehouse`): the gold codes the loader put in
  ``raw.gold_codes``, with teacher and video from ``raw.lesson_manifest`` (the same
  latest-delivery-wins rules as dbt's ``stg_jiaoyan__gold_codes`` and ``stg_jiaoyan__lessons``),
  read as the transformer role (the role that may read ``raw``; the reader role sees the marts
  only). The codes are read once, in memory; videos are resolved against the landing zone.

Features are computed by the inference code itself (:func:`ray_inference.worker.featurize`),
in parallel processes, and cached per video and feature set under
``.data/inference/feature-cache/`` so retraining does not decode again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jiaoyan import codes, log
from jiaoyan.contracts.sources import GOLD_CODES, LESSON_MANIFEST
from jiaoyan.contracts.validate import read_csv
from jiaoyan.errors import UserError
from jiaoyan.landing import batch_uri, filesystem, join, list_batches
from jiaoyan.settings import data_dir

LOG = log.get(__name__)


@dataclass(frozen=True)
class GoldLesson:
    lesson_id: str
    teacher_id: str
    video_uri: str
    gold_uri: str  # a gold_codes CSV, or ``warehouse:raw.gold_codes#<lesson>`` when ``gold`` carries the codes
    gold: pd.DataFrame | None = field(default=None, compare=False, hash=False, repr=False)

    def codes(self) -> pd.DataFrame:
        """The lesson's gold codes indexed by point (from memory, else read from ``gold_uri``)."""
        return self.gold if self.gold is not None else read_gold(self.gold_uri)


@dataclass(frozen=True)
class WarehouseSnapshot:
    """What the warehouse held when gold lessons were read: the marker logged with a training run."""

    lessons: int
    rows: int
    max_batch_id: str
    max_loaded_at: str

    def marker(self) -> str:
        return f"raw.gold_codes@{self.max_batch_id}/{self.max_loaded_at}"


@dataclass
class TrainingSet:
    features: pd.DataFrame  # one row per point, the model's feature columns
    teacher: np.ndarray  # behaviour code per point
    shares: np.ndarray  # (n, 5) in codes.share_columns() order
    lesson: np.ndarray  # lesson id per point (for grouped splits)
    teacher_id: np.ndarray  # teacher per point (for grouped splits)
    feature_set: str
    quarantined: dict[str, str]  # lessons whose video could not be used, with the reason

    @property
    def n_lessons(self) -> int:
        return len(set(self.lesson.tolist()))

    def subset(self, mask: np.ndarray) -> TrainingSet:
        return TrainingSet(self.features[mask].reset_index(drop=True), self.teacher[mask], self.shares[mask],
                           self.lesson[mask], self.teacher_id[mask], self.feature_set, self.quarantined)


def from_list(list_uri: str) -> list[GoldLesson]:
    """Lessons from a CSV list: lesson_id, teacher_id, video_uri, gold_uri (relative to the list's folder)."""
    fs, path = filesystem(list_uri)
    with fs.open(path, "rb") as handle:
        frame = pd.read_csv(handle, dtype=str)
    need = {"lesson_id", "teacher_id", "video_uri", "gold_uri"}
    if not need <= set(frame.columns):
        raise UserError(f"{list_uri}: a lesson list needs the columns {', '.join(sorted(need))}")
    root = list_uri.rsplit("/", 1)[0] if "/" in list_uri else "."
    return [GoldLesson(r.lesson_id, r.teacher_id, _under(root, r.video_uri), _under(root, r.gold_uri))
            for r in frame.itertuples()]


def _under(root: str, uri: str) -> str:
    return uri if "://" in uri or uri.startswith("/") else join(root, uri)


def from_landing(landing_uri: str) -> list[GoldLesson]:
    """Every gold-coded lesson of a landing zone whose video some batch's manifest lists."""
    videos: dict[str, tuple[str, str]] = {}
    gold: dict[str, str] = {}
    for day in list_batches(landing_uri):
        root = batch_uri(landing_uri, day)
        fs, path = filesystem(root)
        manifest = f"{path}/{LESSON_MANIFEST.location}"
        if fs.exists(manifest):
            with fs.open(manifest, "rb") as handle:
                rows = read_csv(LESSON_MANIFEST, handle.read(), manifest).good.to_pylist()
            for row in rows:
                if row["video_uri"]:
                    videos[row["lesson_id"]] = (_under(root, row["video_uri"]), row["teacher_id"])
        for file in sorted(fs.glob(f"{path}/gold/*.csv")):
            gold[Path(file).stem] = file if "://" not in root else f"{root.split('://', 1)[0]}://{file}"
    lessons = [GoldLesson(lid, videos[lid][1], videos[lid][0], uri) for lid, uri in sorted(gold.items())
               if lid in videos]
    if not lessons:
        raise UserError(f"{landing_uri}: no gold-coded lesson with a video")
    return lessons


GOLD_SQL = """
select distinct on (lesson_id, point_index)
       lesson_id, point_index, teacher_behaviour, {shares}, _batch_id, _loaded_at
from raw.gold_codes
order by lesson_id, point_index, coded_at desc nulls last, _loaded_at desc, _batch_id desc, _line desc nulls last
"""
MANIFEST_SQL = """
select distinct on (lesson_id) lesson_id, teacher_id, video_uri, _batch_id
from raw.lesson_manifest
where lesson_id = any(%s)
order by lesson_id, _loaded_at desc, _batch_id desc, _line desc nulls last
"""


def from_warehouse(landing_uri: str | None = None, role: str = "transformer"
                   ) -> tuple[list[GoldLesson], WarehouseSnapshot]:
    """Every gold-coded lesson in the warehouse whose manifest row has a video, with the snapshot marker.

    A relative ``video_uri`` is resolved against the batch folder that delivered the manifest row
    (``<landing>/<batch_id>/``), as inference does; the landing zone defaults to ``JIAOYAN_LANDING_URI``.
    """
    from jiaoyan import db
    from jiaoyan.settings import get_settings

    landing_uri = landing_uri or get_settings().landing_uri
    shares = ", ".join(codes.share_columns())
    with db.connect(role) as conn:  # type: ignore[arg-type]
        gold = pd.DataFrame(conn.execute(GOLD_SQL.format(shares=shares)).fetchall(),
                            columns=["lesson_id", "point_index", "teacher_behaviour", *codes.share_columns(),
                                     "_batch_id", "_loaded_at"])
        if gold.empty:
            raise UserError("the warehouse has no gold codes (raw.gold_codes is empty): load a batch with gold/ "
                            "files first (`jiaoyan load`)")
        manifest = {r[0]: r[1:] for r in conn.execute(MANIFEST_SQL, (sorted(gold["lesson_id"].unique()),))}
    lessons, used = [], []
    for lesson_id, frame in gold.groupby("lesson_id", sort=True):
        row = manifest.get(str(lesson_id))
        if row is None or not row[1]:
            continue
        teacher_id, video_uri, batch_id = row
        video = video_uri if "://" in video_uri or video_uri.startswith("/") else join(
            join(landing_uri, batch_id), video_uri)
        frame = frame.sort_values("point_index").set_index("point_index")
        lessons.append(GoldLesson(str(lesson_id), teacher_id, video, f"warehouse:raw.gold_codes#{lesson_id}",
                                  frame[["teacher_behaviour", *codes.share_columns()]].astype(
                                      dict.fromkeys(codes.share_columns(), np.float32))))
        used.append(frame)
    if not lessons:
        raise UserError(f"the warehouse has gold codes for {gold['lesson_id'].nunique()} lesson(s) but none has a "
                        "video in raw.lesson_manifest")
    rows = pd.concat(used)
    snapshot = WarehouseSnapshot(len(lessons), len(rows), str(rows["_batch_id"].max()),
                                 pd.Timestamp(rows["_loaded_at"].max()).isoformat())
    return lessons, snapshot


def read_gold(uri: str) -> pd.DataFrame:
    """A lesson's gold codes (rows breaking the contract are dropped), by point."""
    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        conformed = read_csv(GOLD_CODES, handle.read(), uri)
    frame = conformed.good.to_pandas()
    return frame.sort_values("point_index").drop_duplicates("point_index").set_index("point_index")


# --- features ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureJob:
    lesson_id: str
    video_uri: str
    extractors: tuple[str, ...]
    feature_set: str  # with versions: a new extractor version never reads an old cache entry
    options: dict
    cache_dir: str | None


def _cache_file(job: FeatureJob) -> Path | None:
    if job.cache_dir is None:
        return None
    fs, path = filesystem(job.video_uri)
    info = fs.info(path)
    key = json.dumps([job.video_uri, info.get("size"), str(info.get("mtime", info.get("LastModified", ""))),
                      job.extractors, job.feature_set, job.options], sort_keys=True, default=str)
    return Path(job.cache_dir) / f"{job.lesson_id}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def _featurize_job(job: FeatureJob) -> tuple[str, np.ndarray | None, str | None]:
    """Features of one lesson (from the cache when possible); runs in a worker process."""
    from ray_inference.features import build
    from ray_inference.video import DecodeOptions
    from ray_inference.worker import featurize

    cached = _cache_file(job)
    if cached is not None and cached.exists():
        return job.lesson_id, np.load(cached)["features"], None
    result = featurize(job.lesson_id, job.video_uri, build(list(job.extractors)), DecodeOptions(**job.options))
    if result.run.status != "coded":
        return job.lesson_id, None, result.run.reason
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, features=result.features)
        tmp.replace(cached)
    return job.lesson_id, result.features, None


def default_cache_dir() -> str:
    return str(data_dir() / "inference" / "feature-cache")


def build_training_set(lessons: Sequence[GoldLesson], extractors: Sequence[str], options: object | None = None,
                       workers: int = 2, cache_dir: str | None = None,
                       log_fn: Callable[[str], None] | None = None) -> TrainingSet:
    """Features per point of every lesson joined to its gold codes (points without gold are dropped)."""
    from ray_inference.features import build, feature_names, feature_set
    from ray_inference.video import DecodeOptions

    opts = options if isinstance(options, DecodeOptions) else DecodeOptions()
    built = build(list(extractors))
    names, fset = feature_names(built), feature_set(built)
    jobs = [FeatureJob(g.lesson_id, g.video_uri, tuple(extractors), fset, asdict(opts), cache_dir) for g in lessons]
    results = _run_jobs(jobs, workers, log_fn)
    parts, quarantined = [], {}
    for g in lessons:
        features, reason = results[g.lesson_id]
        if features is None:
            quarantined[g.lesson_id] = reason or "unknown"
            continue
        parts.append(_join(g, features, names))
    if not parts:
        raise UserError("no gold lesson could be featurized: " + "; ".join(f"{k}: {v}" for k, v in quarantined.items()))
    frame = pd.concat(parts, ignore_index=True)
    return TrainingSet(frame[names], frame["_teacher"].to_numpy(), frame[list(codes.share_columns())].to_numpy(
        np.float32), frame["_lesson"].to_numpy(), frame["_teacher_id"].to_numpy(), fset, quarantined)


def _run_jobs(jobs: list[FeatureJob], workers: int, log_fn: Callable[[str], None] | None
              ) -> dict[str, tuple[np.ndarray | None, str | None]]:
    out: dict[str, tuple[np.ndarray | None, str | None]] = {}

    def note(i: int, lid: str) -> None:
        if log_fn and (i % 10 == 0 or i == len(jobs)):
            log_fn(f"features: {i}/{len(jobs)} lessons ({lid})")

    if workers <= 1:
        for i, job in enumerate(jobs, 1):
            lid, features, reason = _featurize_job(job)
            out[lid] = (features, reason)
            note(i, lid)
        return out
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for i, (lid, features, reason) in enumerate(pool.map(_featurize_job, jobs), 1):
            out[lid] = (features, reason)
            note(i, lid)
    return out


def _join(g: GoldLesson, features: np.ndarray, names: list[str]) -> pd.DataFrame:
    gold = g.codes()
    points = [k for k in gold.index if 0 <= k < len(features)]
    frame = pd.DataFrame(features[points], columns=names)
    frame["_teacher"] = gold.loc[points, "teacher_behaviour"].to_numpy()
    for col in codes.share_columns():
        frame[col] = gold.loc[points, col].to_numpy(np.float32)
    frame["_lesson"] = g.lesson_id
    frame["_teacher_id"] = g.teacher_id
    return frame
