"""Re-coding past lessons with another model (``dags/reprocess_lessons.py``).

The lessons with a video in the nights of a date range are coded again with the chosen model version or alias
(the lake keeps one file per lesson, model and version), their batches are reloaded — the loader replaces a batch,
so raw then holds the new codes beside the rest of the night unchanged — and one build publishes them. dbt's
lesson facts are incremental by lesson, so only the re-coded lessons' facts, and the terms and regions they roll
up into, change; every other lesson is left as it was.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jiaoyan import log
from jiaoyan.errors import UserError
from jiaoyan.pipeline import nightly
from jiaoyan.pipeline.settings import get_pipeline_settings
from jiaoyan.settings import get_settings

LOG = log.get(__name__)


def model_choice(model: str) -> dict[str, str]:
    """``champion``/``challenger`` (an alias) or ``7`` (a registered version) as inference settings."""
    model = (model or "").strip()
    if not model:
        raise UserError("reprocessing needs a model: an alias (champion, challenger) or a version number")
    if model.isdigit():
        from behaviour_model.settings import MlflowSettings

        return {"model_uri": f"models:/{MlflowSettings().model_name}/{model}"}
    return {"model_alias": model}


def plan(start: str, end: str, landing_uri: str | None = None,
         lessons_per_chunk: int | None = None) -> list[dict[str, Any]]:
    """Chunks of the range's video lessons: ``{"batch_id", "batch_uri", "lesson_ids"}``, oldest night first."""
    from jiaoyan import landing

    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise UserError(f"the range ends ({end}) before it starts ({start})")
    landing_uri = landing_uri or get_settings().landing_uri
    size = lessons_per_chunk or get_pipeline_settings().lessons_per_chunk
    chunks = []
    for day in landing.list_batches(landing_uri):
        if first <= day <= last:
            uri = landing.batch_uri(landing_uri, day)
            chunks += [{"batch_id": day.isoformat(), "batch_uri": uri, "lesson_ids": ids}
                       for ids in nightly.plan_inference(uri, size)]
    LOG.info("reprocess %s … %s: %d lesson(s) in %d chunk(s)", start, end,
             sum(len(c["lesson_ids"]) for c in chunks), len(chunks))
    return chunks


def batches_of(chunks: list[dict[str, Any]]) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for c in chunks:
        seen.setdefault(c["batch_id"], c["batch_uri"])
    return [{"batch_id": b, "batch_uri": u} for b, u in sorted(seen.items())]


def reload_and_gate(batches: list[dict[str, str]]) -> dict[str, Any]:
    """Reload each re-coded night (oldest first) and run its raw gate; a blocking failure stops here."""
    if not batches:
        raise UserError("no lesson video in the range: nothing to reprocess")
    for b in batches:
        nightly.load(b["batch_uri"], b["batch_id"])
        nightly.gate_raw(b["batch_id"])
    return {"batch_id": batches[-1]["batch_id"], "batches": [b["batch_id"] for b in batches]}
