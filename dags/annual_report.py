"""annual_report — the year's annual-report edition from the published marts.

```
check_coverage → export_documents (asset: annual report)
```

Yearly (15 January, for the year before) and manual with a ``year`` parameter. The figures are defined once in dbt
(``mart_annual_report``, ``mart_annual_report_breakdown``, ``mart_exemplary_offices``, ``mart_offices_to_remind``),
built and gated with every night and published with it; this DAG checks what the published marts hold for the year
(a year not over in the data gives a provisional edition, with a warning) and writes the edition — one CSV per table
and a Markdown summary — under ``JIAOYAN_PIPELINE_REPORTS_DIR/annual/<year>/``, as the read-only role.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from jiaoyan.pipeline import annual, dag_support
from jiaoyan.pipeline.settings import get_pipeline_settings

SETTINGS = get_pipeline_settings()
ASSETS = dag_support.assets()


@dag(
    dag_id="annual_report",
    description="Freeze the year's annual-report figures from the published marts into documents",
    schedule=dag_support.cron("0 6 15 1 *"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=dag_support.default_args(SETTINGS),
    params={"year": Param(None, type=["null", "integer"], description="year to report; default: the year before")},
    tags=["jiaoyan", "annual-report"],
    doc_md=__doc__,
)
def annual_report() -> None:
    @task(retries=0)
    def check_coverage(params: dict | None = None, logical_date: dt.datetime | None = None) -> dict:
        """The year's figures exist in the published marts; warns when the year is not over in the data."""
        return annual.coverage(annual.report_year(logical_date, (params or {}).get("year")))

    @task(outlets=[ASSETS["annual_report"]])
    def export_documents(covered: dict) -> dict:
        """One CSV per annual-report table and a Markdown summary, written atomically."""
        return annual.export(covered["year"])

    export_documents(check_coverage())


annual_report()
