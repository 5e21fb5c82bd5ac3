"""Activity facts from the lake: whatever day-partitioned datasets the Spark job writes.

The raw activity *events* are not loaded row by row: at a region's million events a
day the Spark job deduplicates and aggregates them, and its facts land here. (The
``raw.activity_events`` table exists because raw tables are generated from every
contract; the loader leaves it empty.)

Generic over a contract and a lake dataset folder ``<lake>/activity/<dataset>/
<field>=<YYYY-MM-DD>/*.parquet``. A Spark run recomputes whole days — late events
change past days — and lists them in ``<lake>/activity/_runs/<batch_id>.json``; the
loader replaces exactly those days' rows (delete by the partition field, then COPY),
so each day is in raw once, tagged with the batch whose run last wrote it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from jiaoyan import lake, landing, log
from jiaoyan.contracts import Contract
from jiaoyan.load import rules
from jiaoyan.load.parts import Part
from jiaoyan.load.read import FileRef, read_parquet_part
from jiaoyan.load.store import Partitions
from jiaoyan.warehouse.migrate import pg_type

LOG = log.get(__name__)


@dataclass(frozen=True)
class LakeDataset:
    contract: Contract  # loads into raw.<contract.name>
    dataset: str  # folder below <lake>/activity/
    partition_field: str = "event_date"


def registered() -> list[LakeDataset]:
    """The Spark job's datasets, from their contracts (none until the job defines them)."""
    return []


def changed_partitions(batch_id: str, lake_uri: str) -> list[str] | None:
    """The days the batch's Spark run wrote, from its run file; None when it has not run."""
    uri = lake.activity_run_file(batch_id, lake_uri)
    fs, path = landing.filesystem(uri)
    if not fs.exists(path):
        return None
    run = orjson.loads(landing.read_bytes(uri))
    days = run.get("changed_days") or run.get("event_dates") or run.get("partitions") or []
    return sorted({str(d) for d in days})


def partition_refs(dataset: LakeDataset, values: list[str], lake_uri: str) -> list[FileRef]:
    folder = lake.activity_dataset_dir(dataset.dataset, lake_uri)
    fs, root = landing.filesystem(folder)
    _, lake_root = landing.filesystem(lake.root(lake_uri))
    refs = []
    for value in values:
        for found in sorted(fs.glob(f"{root.rstrip('/')}/{dataset.partition_field}={value}/*.parquet")):
            if found.rsplit("/", 1)[-1].startswith((".", "_")):
                continue
            relative = found[len(lake_root.rstrip("/")) + 1:]
            refs.append(FileRef(f"lake:{relative}", fs.unstrip_protocol(found),
                                constants=((dataset.partition_field, value),)))
    return refs


def read_for_batch(dataset: LakeDataset, batch_id: str, lake_uri: str) -> tuple[Part, Partitions]:
    """The dataset's partitions this batch's run changed, validated, and what to replace."""
    started = time.perf_counter()
    values = changed_partitions(batch_id, lake_uri) or []
    part = read_parquet_part(dataset.contract, partition_refs(dataset, values, lake_uri))
    rules.check(part, _NO_LOOKUPS)
    part.seconds = time.perf_counter() - started
    sql_type = pg_type(dataset.contract.field(dataset.partition_field).type)
    return part, Partitions(dataset.partition_field, values, sql_type)


class _NoLookups:
    """Activity facts are checked by the contract and for duplicate keys only."""

    def known_teachers(self, ids: object) -> set[str]:
        return set()

    def lessons(self, ids: object) -> dict[str, float | None]:
        return {}

    def indicators(self, rubric_ids: object) -> dict[tuple[str, str], float | None]:
        return {}


_NO_LOOKUPS = _NoLookups()
