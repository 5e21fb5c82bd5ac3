"""What a batch folder holds: its marker, its files by contract, and files the marker does not list."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from pydantic import ValidationError

from jiaoyan import landing, log
from jiaoyan.contracts import ALL_CONTRACTS, BatchManifest
from jiaoyan.contracts.batch import BATCH_MARKER
from jiaoyan.errors import UserError
from jiaoyan.load.parts import RejectedFile
from jiaoyan.load.read import FileRef

LOG = log.get(__name__)
NOT_LOADED = {"video"}  # videos go to inference
# the rubric document feeds two tables; the marker may name either (or "rubrics")
ALIASES = {"rubrics": "rubric_indicators", "rubric_bands": "rubric_indicators"}
_BATCH_LOCATIONS = {c.name: c.location for c in ALL_CONTRACTS if not c.location.startswith("lake:")}


@dataclass
class BatchPlan:
    batch_id: str
    uri: str
    manifest: BatchManifest
    files: dict[str, list[FileRef]] = field(default_factory=dict)  # contract -> files the marker lists
    unlisted: list[RejectedFile] = field(default_factory=list)  # present but not in the marker
    unknown: list[RejectedFile] = field(default_factory=list)  # marker entries naming no known contract
    rows: dict[str, int] = field(default_factory=dict)  # contract -> data rows the marker announces

    def refs(self, contract: str) -> list[FileRef]:
        return self.files.get(contract, [])

    def unlisted_for(self, contract: str) -> list[RejectedFile]:
        return [f for f in self.unlisted if f.contract == contract]


def read_marker(batch_uri: str) -> BatchManifest:
    """The batch's ``_batch.json``; a UserError saying why when it is missing or invalid."""
    try:
        return landing.read_manifest(batch_uri)
    except FileNotFoundError as exc:
        raise UserError(f"{batch_uri}: no {BATCH_MARKER}: the batch is incomplete or not a batch folder; "
                        "refusing to load it") from exc
    except ValidationError as exc:
        raise UserError(f"{batch_uri}/{BATCH_MARKER} is not a valid batch marker: "
                        f"{exc.errors()[0]['msg']}") from exc


def plan_batch(batch_uri: str, batch_id: str | None = None) -> BatchPlan:
    manifest = read_marker(batch_uri)
    folder = batch_uri.rstrip("/").rsplit("/", 1)[-1]
    if batch_id is None and landing.BATCH_NAME.match(folder) and folder != manifest.batch_id:
        LOG.warning("%s: folder name differs from the marker's batch_id %s; using the marker's", batch_uri,
                    manifest.batch_id)
    plan = BatchPlan(batch_id or manifest.batch_id, batch_uri.rstrip("/"), manifest)
    known = {c.name for c in ALL_CONTRACTS}
    for entry in manifest.files:
        contract = ALIASES.get(entry.contract, entry.contract)
        if contract in NOT_LOADED:
            continue
        if contract not in known:
            plan.unknown.append(RejectedFile(entry.contract, entry.path, f"{BATCH_MARKER} names an unknown "
                                             f"contract {entry.contract!r}"))
            continue
        ref = FileRef(entry.path, landing.join(plan.uri, entry.path), entry.sha256)
        plan.files.setdefault(contract, []).append(ref)
        plan.rows[contract] = plan.rows.get(contract, 0) + _rows_of(entry.rows, entry.bytes)
    listed = {entry.path for entry in manifest.files}
    plan.unlisted = [RejectedFile(contract, path, f"not listed in {BATCH_MARKER} (written after the marker?)")
                     for path in _present(plan.uri) if path not in listed
                     for contract in [_contract_of(path)] if contract is not None]
    return plan


def _rows_of(rows: int | None, size: int) -> int:
    """The marker's row count, or an estimate from the size when it gives none (~200 bytes a line)."""
    return rows if rows is not None else size // 200 + 1


def _present(batch_uri: str) -> list[str]:
    """Paths of the files in the batch folder, relative to it; hidden and temporary files left out."""
    fs, root = landing.filesystem(batch_uri)
    root = root.rstrip("/")
    paths = []
    for path in fs.find(root):
        relative = path[len(root) + 1:]
        if relative == BATCH_MARKER or any(p.startswith((".", "_")) for p in relative.split("/")):
            continue
        paths.append(relative)
    return sorted(paths)


def _contract_of(path: str) -> str | None:
    for name, location in _BATCH_LOCATIONS.items():
        if name not in NOT_LOADED and fnmatch.fnmatch(path, location):
            return name
    return None
