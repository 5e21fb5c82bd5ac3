"""retrain_behaviour_model — train a challenger from the warehouse's gold lessons; promote only through the gate.

```
train_challenger → promote_challenger → announce_new_champion (asset: behaviour model champion, only if promoted)
```

Runs weekly (Monday 03:00, Beijing) **and** whenever the nightly run loads new gold-coded lessons (the
``jiaoyan_gold_lessons`` asset). Training logs the data version, code version, per-behaviour scores and the
confusion matrix in MLflow and registers the model as ``@challenger``; the gate scores challenger and champion on the
same held-out lessons and moves ``@champion`` only when the challenger beats it by the configured macro-F1 margin
without regressing any behaviour past the configured limit (``JIAOYAN_MLFLOW_PROMOTION_*``). A refusal is a normal
outcome (logged on the run), not a failure. The next nightly run codes with the new champion.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetOrTimeSchedule, dag, task

from jiaoyan.pipeline import dag_support, retrain
from jiaoyan.pipeline.settings import get_pipeline_settings

SETTINGS = get_pipeline_settings()
ASSETS = dag_support.assets()


@dag(
    dag_id="retrain_behaviour_model",
    description="Weekly or on new gold lessons: train a challenger in MLflow, promote through the champion gate",
    schedule=AssetOrTimeSchedule(timetable=dag_support.cron("0 3 * * 1"), assets=[ASSETS["gold_lessons"]]),
    start_date=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=dag_support.default_args(SETTINGS),
    tags=["jiaoyan", "mlflow", "model"],
    doc_md=__doc__,
)
def retrain_behaviour_model() -> None:
    @task(pool=SETTINGS.ray_pool, retries=1)
    def train_challenger() -> dict:
        """Featurise the gold lessons' videos and train; registered as @challenger."""
        return retrain.train_challenger()

    @task(retries=0)
    def promote_challenger(trained: dict) -> dict:
        """The champion/challenger gate; its decision and reasons are logged on the challenger's run."""
        return retrain.promote_challenger(trained["version"])

    @task(outlets=[ASSETS["behaviour_model"]], retries=0)
    def announce_new_champion(decision: dict) -> None:
        """Emit the champion asset only when the champion changed."""
        from airflow.exceptions import AirflowSkipException

        if not decision["promoted"] or decision["champion_before"] == decision["version"]:
            raise AirflowSkipException(f"champion unchanged: {'; '.join(decision['reasons'])}")

    announce_new_champion(promote_challenger(train_challenger()))


retrain_behaviour_model()
