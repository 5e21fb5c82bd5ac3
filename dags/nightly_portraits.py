"""nightly_portraits — one night's batch, from the landing zone to the published marts.

```
wait_for_batch → register → plan_inference → code_lessons[chunk …] → collect_codes ┐
                          └──────────────────→ process_activity ───────────────────┴→ load → gate_raw → dbt_build
                                                                   → gate_marts → publish (asset: published marts)
                                             load → announce_gold_lessons (asset: gold lessons, only when some came)
```

Each task calls one function of ``jiaoyan.pipeline.nightly`` (see its docs and tests). ``dbt build`` is **one task**,
not a task group per model (astronomer-cosmos): one build parses the project once and lets dbt order ~80 nodes and
their tests with its own threads, while a task per model would start dbt ~160 times (≈ 6 s each on the 2-core
development machine, longer than the whole build) and cosmos would add a dependency outside the fixed stack.
dbt's own per-node timings and results are in its ``run_results.json`` and the task log.

Catch-up safe: runs go one at a time in date order (``max_active_runs=1``), and the raw gate refuses a night while
an earlier one is held. Parameters: ``batch_date`` (YYYY-MM-DD) runs a given night; by default the local day before
the run. Settings come from the environment (``JIAOYAN_*``), never from this file.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, PokeReturnValue, dag, task

from jiaoyan.pipeline import dag_support, nightly
from jiaoyan.pipeline.settings import get_pipeline_settings

SETTINGS = get_pipeline_settings()
ASSETS = dag_support.assets()
WAREHOUSE = {"pool": SETTINGS.warehouse_pool}


@dag(
    dag_id="nightly_portraits",
    description="Code the night's lesson videos on Ray, process activity logs with Spark, load, gate, build, publish",
    schedule=dag_support.cron("30 1 * * *"),
    start_date=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    catchup=True,
    max_active_runs=1,
    default_args=dag_support.default_args(SETTINGS),
    params={"batch_date": Param(None, type=["null", "string"], format="date",
                                description="night to run (YYYY-MM-DD); default: the local day before the run")},
    tags=["jiaoyan", "nightly", "portraits"],
    doc_md=__doc__,
    deadline=dag_support.nightly_deadline(SETTINGS),
)
def nightly_portraits() -> None:
    @task.sensor(poke_interval=SETTINGS.batch_poke_seconds, timeout=SETTINGS.batch_wait_hours * 3600,
                 mode="reschedule", retries=0)
    def wait_for_batch(params: dict | None = None, logical_date: dt.datetime | None = None) -> PokeReturnValue:
        """Wait for the night's batch marker (``_batch.json``, written last by the producer)."""
        batch_date = dag_support.batch_date_for(logical_date, (params or {}).get("batch_date"))
        return PokeReturnValue(is_done=nightly.batch_ready(batch_date), xcom_value=batch_date)

    @task(retries=0)
    def register(batch_date: str) -> dict:
        """Check the marker and list the batch's files (an invalid marker cannot be fixed by a retry)."""
        return nightly.register(batch_date)

    @task
    def plan_inference(batch: dict) -> list[list[str]]:
        """Lesson videos in chunks sized for the Ray cluster (``JIAOYAN_PIPELINE_LESSONS_PER_CHUNK``)."""
        return nightly.plan_inference(batch["batch_uri"])

    @task(pool=SETTINGS.ray_pool, max_active_tis_per_dagrun=SETTINGS.ray_pool_slots)
    def code_lessons(batch: dict, lesson_ids: list[str]) -> dict:
        """Code one chunk on Ray; a bad video is quarantined in the output, the chunk still succeeds."""
        return nightly.code_lessons(batch["batch_uri"], batch["batch_id"], lesson_ids)

    @task(trigger_rule="none_failed")
    def collect_codes(summaries: list[dict] | None = None) -> dict:
        """All chunks' outcomes (runs also on a night without videos, when there is no chunk)."""
        return nightly.collect_codes(summaries or [])

    @task
    def process_activity(batch: dict) -> dict:
        """Spark: validate, deduplicate and aggregate the night's activity logs into the lake."""
        return nightly.process_activity(batch["batch_id"])

    @task(**WAREHOUSE)
    def load(batch: dict, codes: dict, activity: dict) -> dict:
        """COPY the batch into raw (replacing any earlier load of it); bad rows are quarantined."""
        return nightly.load(batch["batch_uri"], batch["batch_id"])

    @task(outlets=[ASSETS["gold_lessons"]], retries=0)
    def announce_gold_lessons(loaded: dict) -> None:
        """Emit the gold-lessons asset (the retraining DAG listens) only when the night brought gold codes."""
        from airflow.exceptions import AirflowSkipException

        if not loaded.get("gold_rows"):
            raise AirflowSkipException("no gold-coded lessons tonight")

    @task(retries=0, **WAREHOUSE)
    def gate_raw(loaded: dict) -> dict:
        """Great Expectations on the night's raw rows; a blocking failure stops the night here."""
        return nightly.gate_raw(loaded["batch_id"])

    @task(retries=1, **WAREHOUSE)
    def dbt_build(raw_verdict: dict) -> dict:
        """``dbt build`` of every model and test into the unpublished schemas."""
        return nightly.build_marts(raw_verdict["batch_id"])

    @task(retries=0, **WAREHOUSE)
    def gate_marts(built: dict) -> dict:
        """Great Expectations on the unpublished marts; a blocking failure publishes nothing."""
        return nightly.gate_marts(built["batch_id"])

    @task(outlets=[ASSETS["published_marts"]], **WAREHOUSE)
    def publish(marts_verdict: dict) -> dict:
        """Swap the checked marts in and record the publication with row counts and checksums."""
        return nightly.publish(marts_verdict["batch_id"])

    batch = register(wait_for_batch())
    coded = code_lessons.partial(batch=batch).expand(lesson_ids=plan_inference(batch))
    loaded = load(batch, collect_codes(coded), process_activity(batch))
    announce_gold_lessons(loaded)
    publish(gate_marts(dbt_build(gate_raw(loaded))))


nightly_portraits()
