"""reprocess_lessons — re-code the lessons of a date range with another model, then rebuild what they change.

```
plan_chunks → code_lessons[chunk …] → reload_and_gate → dbt_build → gate_marts → publish (asset: published marts)
```

Manual, with parameters ``start_date``, ``end_date`` and ``model`` (an alias such as ``champion``/``challenger`` or
a registered version number). Every behaviour point records the model version that produced it, so the new codes
sit beside the old ones in the lake and the warehouse prefers the newest real model's run per lesson
(``fct_lessons``); lesson facts are incremental by lesson, so only the re-coded lessons and the portraits, regions
and terms they roll into change. A model whose codes move the behaviour shares past ``JIAOYAN_GATE_MODEL_SHIFT_BLOCK``
is held by the raw gate's ``model.shift`` check until accepted (``jiaoyan gate accept``).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from jiaoyan.pipeline import dag_support, nightly, reprocess
from jiaoyan.pipeline.settings import get_pipeline_settings

SETTINGS = get_pipeline_settings()
ASSETS = dag_support.assets()
WAREHOUSE = {"pool": SETTINGS.warehouse_pool}


@dag(
    dag_id="reprocess_lessons",
    description="Re-code a date range's lesson videos with a given model version or alias; rebuild and publish",
    schedule=None,
    start_date=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=dag_support.default_args(SETTINGS),
    params={
        "start_date": Param(type="string", format="date", description="first night to re-code (YYYY-MM-DD)"),
        "end_date": Param(type="string", format="date", description="last night to re-code (YYYY-MM-DD)"),
        "model": Param("champion", type="string", description="alias (champion, challenger) or version number"),
    },
    tags=["jiaoyan", "reprocessing", "model"],
    doc_md=__doc__,
)
def reprocess_lessons() -> None:
    @task
    def plan_chunks(params: dict | None = None) -> list[dict]:
        """The range's lesson videos in chunks sized for the Ray cluster."""
        p = params or {}
        return reprocess.plan(p["start_date"], p["end_date"])

    @task(pool=SETTINGS.ray_pool, max_active_tis_per_dagrun=SETTINGS.ray_pool_slots)
    def code_lessons(chunk: dict, params: dict | None = None) -> dict:
        """Code one chunk with the chosen model; bad videos are quarantined, not errors."""
        choice = reprocess.model_choice((params or {}).get("model", "champion"))
        return nightly.code_lessons(chunk["batch_uri"], chunk["batch_id"], chunk["lesson_ids"], **choice)

    @task(retries=0, **WAREHOUSE)
    def reload_and_gate(chunks: list[dict], coded: list[dict]) -> dict:
        """Reload each re-coded night and run its raw gate (a blocking failure stops before any build)."""
        return reprocess.reload_and_gate(reprocess.batches_of(chunks))

    @task(retries=1, **WAREHOUSE)
    def dbt_build(gated: dict) -> dict:
        """One ``dbt build`` into the unpublished schemas; incremental lesson facts redo the re-coded lessons."""
        return nightly.build_marts(gated["batch_id"])

    @task(retries=0, **WAREHOUSE)
    def gate_marts(built: dict) -> dict:
        """The marts gate on the unpublished build."""
        return nightly.gate_marts(built["batch_id"])

    @task(outlets=[ASSETS["published_marts"]], **WAREHOUSE)
    def publish(verdict: dict) -> dict:
        """Swap the checked build in and record its manifest."""
        return nightly.publish(verdict["batch_id"])

    chunks = plan_chunks()
    coded = code_lessons.partial().expand(chunk=chunks)
    publish(gate_marts(dbt_build(reload_and_gate(chunks, coded))))


reprocess_lessons()
