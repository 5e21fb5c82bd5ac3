"""Activity facts from the lake: the day-partitioned datasets the Spark job writes.

Generic over a contract and a lake dataset folder ``<lake>/activity/<dataset>/
event_date=<YYYY-MM-DD>/*.parquet`` (:mod:`jiaoyan.contracts.lake` defines them; each file
also carries its day as the ``fact_date`` column). A Spark run recomputes whole days —
late events change past days — and lists in ``<lake>/activity/_runs/<batch_id>.json``,
per dataset, the days it rewrote (``partitions``). The loader replaces exactly those
days in the raw table (delete by ``fact_date``, then COPY the days' files), so each day
is in raw once, tagged with the batch whose run last wrote it; a day the run emptied is
deleted and nothing is copied for it.

Rows Spark quarantined from the batch's activity log (``<lake>/quarantine/activity/
<batch_id>/*.parquet``, the validator's reject columns) are loaded into
``quarantine.rejected_rows`` under the contract ``activity_events``.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jiaoyan import lake, landing, log
from jiaoyan.contracts import ACTIVITY_EVENTS, Contract
from jiaoyan.contracts.lake import FACT_DATE, LAKE_CONTRACTS, PARTITION_COLUMN
from jiaoyan.contracts.validate import REJECT_SCHEMA
from jiaoyan.load import rules
from jiaoyan.load.lookups import StaticLookups
from jiaoyan.load.parts import Part
from jiaoyan.load.read import FileRef, fetch, read_parquet_part
from jiaoyan.load.store import Partitions
from jiaoyan.warehouse.migrate import pg_type

LOG = log.get(__name__)
SPARK_JOB = "activity"
EVENT_LEVEL = {"activity_events_clean"}  # one row per event: loaded for small volumes only, like the raw log


@dataclass(frozen=True)
class LakeDataset:
    contract: Contract  # loads into raw.<contract.name>
    dataset: str  # folder below <lake>/activity/
    folder_key: str = PARTITION_COLUMN  # <folder_key>=<day> folders
    field: str = FACT_DATE  # the column holding the same day


@dataclass(frozen=True)
class SparkRun:
    """What the batch's Spark run says it rewrote."""

    changed_days: list[str] = field(default_factory=list)
    partitions: dict[str, list[str]] = field(default_factory=dict)

    def days(self, dataset: LakeDataset) -> list[str]:
        days = set(self.partitions.get(dataset.dataset, ()))
        if dataset.dataset in EVENT_LEVEL:
            days |= set(self.changed_days)  # the clean events list only the days left with rows
        return sorted(days)


def registered() -> list[LakeDataset]:
    """Every dataset the Spark job writes, from its contracts."""
    return [LakeDataset(contract, contract.name) for contract in LAKE_CONTRACTS]


def read_run(batch_id: str, lake_uri: str) -> SparkRun | None:
    """The batch's run file; None when the Spark job has not run for it."""
    uri = lake.activity_run_file(batch_id, lake_uri)
    fs, path = landing.filesystem(uri)
    if not fs.exists(path):
        return None
    run = orjson.loads(landing.read_bytes(uri))
    return SparkRun(changed_days=[str(d) for d in run.get("changed_days", [])],
                    partitions={name: [str(d) for d in days] for name, days in run.get("partitions", {}).items()})


def day_refs(dataset: LakeDataset, days: list[str], lake_uri: str) -> list[FileRef]:
    """The Parquet files of these days, named ``lake:<path below the lake root>``."""
    folder = lake.activity_dataset_dir(dataset.dataset, lake_uri)
    return [ref for day in days for ref in parquet_refs(lake_uri, landing.join(folder, f"{dataset.folder_key}={day}"))]


def parquet_refs(lake_uri: str, folder: str) -> list[FileRef]:
    """The Parquet files in a lake folder (hidden, ``_``-prefixed and temporary files left out)."""
    fs, path = landing.filesystem(folder)
    if not fs.exists(path):
        return []
    _, root = landing.filesystem(lake.root(lake_uri))
    root = root.rstrip("/")
    refs = []
    for found in sorted(fs.glob(f"{path.rstrip('/')}/*.parquet")):
        if found.rsplit("/", 1)[-1].startswith((".", "_")):
            continue
        relative = found[len(root) + 1:] if found.startswith(root + "/") else found
        refs.append(FileRef(f"lake:{relative}", fs.unstrip_protocol(found)))
    return refs


def read_dataset(dataset: LakeDataset, run: SparkRun, lake_uri: str) -> tuple[Part, Partitions]:
    """The days the run rewrote, validated against the contract, and what to replace in raw."""
    started = time.perf_counter()
    days = run.days(dataset)
    part = read_parquet_part(dataset.contract, day_refs(dataset, days, lake_uri))
    outside = ~_in_days(part.good[dataset.field], days)
    part.reject_rows(outside, dataset.field, "row outside the day folders it was read from")
    rules.check(part, StaticLookups())  # the contract's rules and duplicate keys; Spark checked the rest
    part.seconds = time.perf_counter() - started
    return part, Partitions(dataset.field, days, pg_type(dataset.contract.field(dataset.field).type))


def _in_days(column: pa.ChunkedArray, days: list[str]) -> np.ndarray:
    wanted = pa.array(days, pa.string()).cast(column.type) if days else pa.array([], column.type)
    return np.asarray(pc.is_in(column, value_set=wanted).to_numpy(zero_copy_only=False), bool)


def spark_rejects(batch_id: str, lake_uri: str) -> Part:
    """The activity-log lines Spark quarantined for the batch, as a part with rejects only."""
    part = Part.empty(ACTIVITY_EVENTS)
    tables = [pq.read_table(io.BytesIO(fetch(ref))).select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA)
              for ref in parquet_refs(lake_uri, lake.quarantine_dir(SPARK_JOB, batch_id, lake_uri))]
    if tables:
        part.rejects = pa.concat_tables(tables)
    return part
