"""The lake: where pipeline jobs leave their outputs for the warehouse loaders.

One layout, used by every writer and reader (``<lake>`` is ``JIAOYAN_LAKE_URI``):

- ``<lake>/inference/<batch_id>/behaviour_codes/<lesson_id>.parquet`` — behaviour codes
  (contract ``behaviour_codes``), one file per lesson, written atomically by inference;
- ``<lake>/inference/<batch_id>/lesson_runs/<lesson_id>.parquet`` — one ``lesson_runs``
  row per lesson tried (coded or quarantined with the reason);
- ``<lake>/activity/<dataset>/event_date=<YYYY-MM-DD>/*.parquet`` — the Spark job's
  facts from the activity logs, date-partitioned by the day events happened;
- ``<lake>/activity/_runs/<batch_id>.json`` — what a Spark run processed and which
  past days it changed (so the warehouse rebuilds only those);
- ``<lake>/quarantine/<job>/<batch_id>/...`` — what a job could not use, with reasons.
"""

from __future__ import annotations

from jiaoyan.landing import join
from jiaoyan.settings import get_settings


def root(lake_uri: str | None = None) -> str:
    return lake_uri or get_settings().lake_uri


def inference_dir(batch_id: str, lake_uri: str | None = None) -> str:
    return join(root(lake_uri), "inference", batch_id)


def behaviour_codes_dir(batch_id: str, lake_uri: str | None = None) -> str:
    return join(inference_dir(batch_id, lake_uri), "behaviour_codes")


def lesson_runs_dir(batch_id: str, lake_uri: str | None = None) -> str:
    return join(inference_dir(batch_id, lake_uri), "lesson_runs")


def activity_dataset_dir(dataset: str, lake_uri: str | None = None) -> str:
    return join(root(lake_uri), "activity", dataset)


def activity_run_file(batch_id: str, lake_uri: str | None = None) -> str:
    return join(root(lake_uri), "activity", "_runs", f"{batch_id}.json")


def quarantine_dir(job: str, batch_id: str, lake_uri: str | None = None) -> str:
    return join(root(lake_uri), "quarantine", job, batch_id)
