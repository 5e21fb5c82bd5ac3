"""Behaviour inference on Ray Data: lesson videos in, behaviour codes per 6-second point out.

Two actor stages, streamed by Ray Data::

    lessons ──► Featurizer actors ──────────────► Coder actors ─────────────► driver
    (from_items)  decode (keyframes) + features     registered model, once      per-lesson files,
                  num_cpus ≈ 1, GPU if extractors   per actor; fractional CPU   atomically, + progress
                  need one                          (GPU if the model needs it)

- the driver resolves ``models:/<name>@<alias>`` **once** to a version, so every actor codes
  with the same version even if the alias moves during the run, and checks that the
  configured extractors produce exactly the model's features;
- actors ask for fractional CPUs (featurizers 0.875, coders 0.125 by default) so that on a
  2-core machine two featurizers and the coder fit at once;
- a lesson that fails becomes a quarantined run row with the reason; a worker that dies is
  retried, and a lesson still without a result at the end is quarantined too — the rest of
  the batch always completes;
- ``ray.init`` is retried (it is slow, and has aborted, on a loaded machine); with
  ``RAY_ADDRESS`` (or ``JIAOYAN_INFER_RAY_ADDRESS``) the same code runs on a cluster.

Entry points: :func:`run_inference` (CLI and tests), :func:`infer_chunk` and
:func:`plan_chunks` (the Airflow DAG fans chunks of a batch out with dynamic task mapping).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from behaviour_model.settings import MlflowSettings, configure

from jiaoyan import codes, log
from jiaoyan.errors import UserError
from jiaoyan.landing import join
from jiaoyan.settings import get_settings
from ray_inference import lessons as lesson_io
from ray_inference.features import ExtractorConfig, build, feature_names, feature_set
from ray_inference.output import LessonRun, codes_table, write_lesson
from ray_inference.settings import InferenceSettings
from ray_inference.worker import Coder, Featurizer

LOG = log.get(__name__)


@dataclass(frozen=True)
class ResolvedModel:
    uri: str  # pinned: models:/<name>/<version>
    name: str
    version: str
    feature_set: str
    feature_names: list[str]
    sampling: dict[str, int]  # frames per point and analysis size the features were made with


@dataclass
class Progress:
    lessons_done: int
    lessons_total: int
    coded: int
    quarantined: int
    points: int
    seconds: float
    last: LessonRun | None = None

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else 0.0


@dataclass
class InferenceSummary:
    batch_id: str
    lake_uri: str
    model_name: str
    model_version: str
    feature_set: str
    lessons: int = 0
    coded: int = 0
    quarantined: int = 0
    points: int = 0
    seconds: float = 0.0  # processing, after Ray and the actors started
    startup_seconds: float = 0.0
    quarantine_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"points_per_second": round(self.points_per_second, 2)}


# --- the model ---------------------------------------------------------------------------------
def resolve_model(settings: InferenceSettings, mlflow_settings: MlflowSettings | None = None) -> ResolvedModel:
    """Pin the alias (or URI) to one registered version and read its feature set and features."""
    import mlflow
    from mlflow import MlflowClient

    ms = configure(mlflow_settings)
    client = MlflowClient()
    name = settings.model_name or ms.model_name
    if settings.model_uri and not settings.model_uri.startswith("models:/"):
        uri, version = settings.model_uri, settings.model_uri
    else:
        spec = settings.model_uri.removeprefix("models:/") if settings.model_uri else f"{name}@{settings.model_alias}"
        try:
            if "@" in spec:
                name, alias = spec.split("@", 1)
                mv = client.get_model_version_by_alias(name, alias)
            else:
                name, number = spec.split("/", 1)
                mv = client.get_model_version(name, number)
        except mlflow.exceptions.MlflowException as exc:
            raise UserError(f"model {spec!r} not found in the registry at {ms.tracking_uri}; train one with "
                            "`jiaoyan model train`") from exc
        version = str(mv.version)
        uri = f"models:/{name}/{version}"
    info = mlflow.models.get_model_info(uri)
    names = info.signature.inputs.input_names() if info.signature else []
    metadata = info.metadata or {}
    fset = metadata.get("feature_set", "")
    if not names or not fset or "sampling" not in metadata:
        raise UserError(f"model {uri} has no feature signature, feature set or sampling; it was not made by "
                        "behaviour_model")
    return ResolvedModel(uri, name, version, fset, list(names), json.loads(metadata["sampling"]))


def extractor_specs(settings: InferenceSettings, model: ResolvedModel) -> list[str]:
    """The configured extractors, or the model's own; refuse a set that does not make the model's features."""
    specs = settings.extractor_list() or [part.split("@", 1)[0] for part in model.feature_set.split("+")]
    extractors = build(specs, ExtractorConfig(device=settings.extractor_device,
                                              batch_size=settings.extractor_batch_size,
                                              options=settings.extractor_options))
    if feature_set(extractors) != model.feature_set or feature_names(extractors) != model.feature_names:
        raise UserError(f"extractors {feature_set(extractors)} do not make the features of model {model.uri} "
                        f"({model.feature_set}); retrain the model or set JIAOYAN_INFER_EXTRACTORS to match")
    return specs


# --- Ray -------------------------------------------------------------------------------------------
def ensure_ray(settings: InferenceSettings) -> bool:
    """Connect to ``RAY_ADDRESS`` or start a local instance, retrying; True if started here."""
    import ray

    if ray.is_initialized():
        return False
    address = settings.address()
    delay = 2.0
    for attempt in range(1, settings.ray_init_attempts + 1):
        try:
            ray.init(address=address, include_dashboard=False, configure_logging=False, log_to_driver=False)
            return True
        except Exception as exc:  # slow start-up under load raises several kinds of errors
            LOG.warning("ray.init attempt %d/%d failed: %s", attempt, settings.ray_init_attempts, exc)
            ray.shutdown()
            if attempt == settings.ray_init_attempts:
                raise UserError(f"could not start or reach Ray ({address or 'local'}): {exc}") from exc
            time.sleep(delay)
            delay *= 2
    return False


def _dataset(refs: list[lesson_io.LessonRef], settings: InferenceSettings, model: ResolvedModel,
             specs: list[str], ms: MlflowSettings) -> Any:
    import ray
    from ray.data import ActorPoolStrategy, DataContext

    ctx = DataContext.get_current()
    ctx.max_errored_blocks = len(refs)  # a lesson whose worker died is dropped here and quarantined below
    ctx.enable_progress_bars = False
    items = [{"lesson_id": r.lesson_id, "video_uri": r.video_uri} for r in refs]
    config = {"device": settings.extractor_device, "batch_size": settings.extractor_batch_size,
              "options": settings.extractor_options}
    options = asdict(settings.decode_options(model.sampling))
    tracking = {"tracking_uri": ms.tracking_uri, "registry_uri": ms.registry_uri or ms.tracking_uri}
    with warnings.catch_warnings():
        # Ray 2.60 deprecates ray_remote_args_fn (removal in 2.64; the project pins 2.60) and offers
        # no named parameter for bounded task retries yet
        warnings.simplefilter("ignore", DeprecationWarning)
        return (
            ray.data.from_items(items, override_num_blocks=len(items))
            .map_batches(Featurizer, batch_size=1, batch_format="numpy",
                         fn_constructor_kwargs={"extractors": specs, "config": config, "options": options,
                                                "model": (model.name, model.version)},
                         compute=ActorPoolStrategy(size=min(settings.featurizers, len(items))),
                         num_cpus=settings.featurizer_cpus, num_gpus=settings.featurizer_gpus,
                         ray_remote_args_fn=_featurizer_retries)
            .map_batches(Coder, batch_size=settings.batch_size or None, batch_format="numpy",
                         fn_constructor_kwargs={"model_uri": model.uri, "tracking": tracking,
                                                "names": model.feature_names, "model": (model.name, model.version)},
                         compute=ActorPoolStrategy(size=settings.coders),
                         num_cpus=settings.coder_cpus, num_gpus=settings.coder_gpus)
        )


def _featurizer_retries() -> dict[str, Any]:
    """A lesson that kills its worker (a decoder crash) is retried twice, then dropped — not retried forever."""
    return {"max_task_retries": 2}


# --- the driver ------------------------------------------------------------------------------------
class _Assembler:
    """Collects each lesson's rows as they stream in; writes a lesson the moment it is complete."""

    def __init__(self, refs: list[lesson_io.LessonRef], lake_uri: str, batch_id: str, model: ResolvedModel,
                 progress: Callable[[Progress], None] | None) -> None:
        self.pending = {r.lesson_id: r for r in refs}
        self.runs: dict[str, LessonRun] = {}
        self.parts: dict[str, list[pd.DataFrame]] = {}
        self.lake_uri, self.batch_id, self.model, self.progress = lake_uri, batch_id, model, progress
        self.state = Progress(0, len(refs), 0, 0, 0, 0.0)
        self.started = time.perf_counter()

    def add(self, batch: dict[str, np.ndarray]) -> None:
        frame = pd.DataFrame({k: list(v) if np.asarray(v).ndim > 1 else v for k, v in batch.items()})
        for lesson_id, rows in frame.groupby("lesson_id", sort=False):
            lid = str(lesson_id)
            if lid not in self.pending:
                continue
            lesson_rows = rows[rows["point_index"] < 0]
            if len(lesson_rows):
                self.runs[lid] = LessonRun.from_json(str(lesson_rows["run"].iloc[0]))
            points = rows[rows["point_index"] >= 0]
            if len(points):
                self.parts.setdefault(lid, []).append(points)
            self._maybe_finish(lid)

    def _maybe_finish(self, lid: str) -> None:
        run = self.runs.get(lid)
        if run is None:
            return
        have = sum(len(p) for p in self.parts.get(lid, []))
        if run.status == "coded" and have < (run.n_points or 0):
            return
        table = None
        if run.status == "coded":
            points = pd.concat(self.parts.pop(lid), ignore_index=True)
            preds = points[["teacher_behaviour", "teacher_prob", *codes.share_columns()]]
            table = codes_table(lid, points["point_index"].to_numpy(), preds, points["students_seen"].to_numpy(),
                                points["audio_present"].to_numpy(), self.model.name, self.model.version)
        self._done(write_lesson(self.lake_uri, self.batch_id, run, table))

    def _done(self, run: LessonRun) -> None:
        self.pending.pop(run.lesson_id, None)
        s = self.state
        s.lessons_done += 1
        s.coded += run.status == "coded"
        s.quarantined += run.status == "quarantined"
        s.points += (run.n_points or 0) if run.status == "coded" else 0
        s.seconds = time.perf_counter() - self.started
        s.last = run
        if self.progress:
            self.progress(s)

    def finish(self, error: str | None = None) -> None:
        """Lessons the workers never finished (a worker died on them, or the run failed) are quarantined."""
        for lid, ref in list(self.pending.items()):
            run = self.runs.get(lid) or LessonRun(lid, self.model.name, self.model.version, "quarantined",
                                                  ref.video_uri)
            run.status = "quarantined"
            run.reason = error or "no result from the workers (the worker processing it failed; see the Ray logs)"
            self.parts.pop(lid, None)
            self._done(write_lesson(self.lake_uri, self.batch_id, run, None))


def run_inference(videos: str | Sequence[str] | lesson_io.LessonSet, lake_uri: str | None = None,
                  batch_id: str | None = None, settings: InferenceSettings | None = None,
                  mlflow_settings: MlflowSettings | None = None,
                  progress: Callable[[Progress], None] | None = None, keep_ray: bool = True) -> InferenceSummary:
    """Code every lesson of ``videos`` and write the results to the lake; returns the summary."""
    t0 = time.perf_counter()
    settings = settings or InferenceSettings()
    ms = mlflow_settings or MlflowSettings()
    lesson_set = videos if isinstance(videos, lesson_io.LessonSet) else lesson_io.resolve(videos)
    batch_id = batch_id or lesson_set.batch_id
    if not batch_id:
        raise UserError("no batch id: give --batch-id (the videos do not come from a dated batch folder)")
    lake_uri = lake_uri or get_settings().lake_uri
    _check_unique(lesson_set.lessons)
    model = resolve_model(settings, ms)
    specs = extractor_specs(settings, model)
    summary = InferenceSummary(batch_id, lake_uri, model.name, model.version, model.feature_set,
                               lessons=len(lesson_set.lessons))
    if not lesson_set.lessons:
        return summary
    started_here = ensure_ray(settings)
    assembler = _Assembler(lesson_set.lessons, lake_uri, batch_id, model, progress)
    summary.startup_seconds = time.perf_counter() - t0
    error = None
    try:
        ds = _dataset(lesson_set.lessons, settings, model, specs, ms)
        assembler.started = time.perf_counter()
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            assembler.add(batch)
    except Exception as exc:  # the run as a whole failed: record it for every unfinished lesson, then re-raise
        error = f"inference run failed: {type(exc).__name__}: {str(exc)[:300]}"
        raise
    finally:
        assembler.finish(error)
        if started_here and not keep_ray:
            import ray

            ray.shutdown()
        _fill(summary, assembler)
    return summary


def _fill(summary: InferenceSummary, assembler: _Assembler) -> None:
    s = assembler.state
    summary.coded, summary.quarantined, summary.points = s.coded, s.quarantined, s.points
    summary.seconds = time.perf_counter() - assembler.started
    summary.quarantine_reasons = {lid: run.reason or "" for lid, run in assembler.runs.items()
                                  if run.status == "quarantined"}


def _check_unique(refs: list[lesson_io.LessonRef]) -> None:
    seen: set[str] = set()
    for r in refs:
        if r.lesson_id in seen:
            raise UserError(f"lesson id {r.lesson_id} appears twice in the input")
        seen.add(r.lesson_id)


# --- for the Airflow DAG -------------------------------------------------------------------------
def plan_chunks(batch_uri: str, lessons_per_chunk: int = 50) -> list[list[str]]:
    """The batch's lessons with a video, in chunks for dynamic task mapping (one task per chunk).

    Each task pays Ray's start-up (≈ 10–30 s on a loaded machine; an actor pool ≈ 6 s more), so a
    chunk should hold minutes of work: ≥ 20–50 lessons of 45 minutes on a CPU worker, a few hundred
    on a GPU cluster — a handful of chunks per night, not one task per lesson."""
    lesson_set = lesson_io.from_manifest(join(batch_uri, lesson_io.MANIFEST), batch_root=batch_uri)
    ids = [r.lesson_id for r in lesson_set.lessons]
    size = max(1, lessons_per_chunk)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def infer_chunk(batch_uri: str, lesson_ids: Sequence[str], lake_uri: str | None = None,
                batch_id: str | None = None, settings: InferenceSettings | None = None) -> dict[str, Any]:
    """Code some lessons of a batch (one mapped Airflow task); returns a JSON-able summary (XCom)."""
    lesson_set = lesson_io.from_manifest(join(batch_uri, lesson_io.MANIFEST), batch_root=batch_uri,
                                         lesson_ids=lesson_ids)
    missing = sorted(set(lesson_ids) - {r.lesson_id for r in lesson_set.lessons})
    if missing:
        raise UserError(f"lessons not in {batch_uri}'s manifest (or without a video): {', '.join(missing[:5])}")
    summary = run_inference(lesson_set, lake_uri=lake_uri, batch_id=batch_id, settings=settings, keep_ray=False)
    return summary.as_dict()
