"""The batch marker: ``_batch.json``, written last into each nightly batch folder.

Its presence means the batch is complete (the DAG's sensor waits for it); it lists
every file with its checksum and row count so a loader can tell a truncated or
tampered file from a good one.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

BATCH_MARKER = "_batch.json"


class BatchFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="path relative to the batch folder, '/'-separated")
    contract: str = Field(description="name of the contract the file follows, or 'video'")
    sha256: str
    bytes: int
    rows: int | None = Field(default=None, description="data rows (lines for JSON Lines, including broken ones)")


class BatchManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(description="the batch's identifier: its date as YYYY-MM-DD")
    batch_date: dt.date = Field(description="the day whose data the batch carries")
    producer: str = Field(description="who wrote the batch, e.g. 'jiaoyan-demo-world 0.1.0 scale=demo seed=7'")
    files: list[BatchFile]
