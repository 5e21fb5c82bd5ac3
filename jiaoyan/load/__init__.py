"""Bulk loads of nightly batches into the raw tables, with quarantine and a report.

Entry points (the Airflow DAG calls :func:`load_batch` once per batch):

- :func:`load_batch` — one complete batch folder → :class:`BatchLoad` (the report);
- :func:`load_all` — every complete batch of a landing zone not loaded yet, oldest first;
- :func:`from_warehouse` — the report of a batch's latest load, read back from ``ops``.

See ``docs/loading.md`` for the design: replace-by-batch idempotency, quarantine, report.
"""

from jiaoyan.load.report import BatchLoad, TableLoad, from_warehouse
from jiaoyan.load.runner import load_all, load_batch, pending_batches

__all__ = ["BatchLoad", "TableLoad", "from_warehouse", "load_all", "load_batch", "pending_batches"]
