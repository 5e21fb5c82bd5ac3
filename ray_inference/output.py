"""What inference leaves in the lake, per lesson, following the contracts:

- ``<lake>/inference/<batch>/behaviour_codes/<lesson>.parquet`` (``behaviour_codes``), one row
  per 6-second point, checked against the contract before it is written;
- ``<lake>/inference/<batch>/lesson_runs/<lesson>.parquet`` (``lesson_runs``), one row: coded,
  or quarantined with the reason;
- ``<lake>/quarantine/inference/<batch>/<lesson>.json`` for a quarantined lesson.

Every file is written whole through a temporary name and renamed (object stores publish
whole objects), codes before the run row, so a crash never leaves half a file and a run row
always describes codes that are there. A rerun replaces a lesson's files, and removes what
the earlier run left that no longer holds (codes of a lesson now quarantined, or the
quarantine note of a lesson now coded). Parquet bytes depend only on the rows: the same
input gives the same files.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from jiaoyan import codes, lake
from jiaoyan.contracts.sources import BEHAVIOUR_CODES, LESSON_RUNS
from jiaoyan.contracts.validate import conform
from jiaoyan.landing import filesystem, join, write_bytes

JOB = "inference"


@dataclass
class LessonRun:
    """The ``lesson_runs`` row, also carried between the workers and the driver as JSON."""

    lesson_id: str
    model_name: str
    model_version: str
    status: str  # coded | quarantined
    video_uri: str
    reason: str | None = None
    duration_s: float | None = None
    n_points: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    audio_present: bool | None = None
    decode_seconds: float | None = None
    total_seconds: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LessonRun:
        return cls(**json.loads(text))


class OutputError(Exception):
    """The codes of a lesson break their contract (a bug, not a bad video)."""


def codes_table(lesson_id: str, point_index: np.ndarray, predictions: pd.DataFrame, students_seen: np.ndarray,
                audio_present: np.ndarray, model_name: str, model_version: str) -> pa.Table:
    """The contract's rows for one lesson, in point order."""
    order = np.argsort(point_index, kind="stable")
    point_index = np.asarray(point_index, np.int32)[order]
    pred = predictions.iloc[order].reset_index(drop=True)
    shares = pred[list(codes.share_columns())].to_numpy(np.float32)
    teacher = np.array([codes.teacher_codes().index(t) for t in pred["teacher_behaviour"]], np.int64)
    n = len(point_index)
    columns = {
        "lesson_id": pa.array([lesson_id] * n, pa.string()),
        "point_index": pa.array(point_index, pa.int32()),
        "t_start_s": pa.array(point_index * codes.SAMPLING_INTERVAL_S, pa.float64()),
        "teacher_behaviour": pa.array(pred["teacher_behaviour"].astype(str).tolist(), pa.string()),
        "teacher_prob": pa.array(pred["teacher_prob"].to_numpy(np.float32), pa.float32()),
        **{col: pa.array(shares[:, j], pa.float32()) for j, col in enumerate(codes.share_columns())},
        "students_seen": pa.array(np.asarray(students_seen)[order].round().clip(0, 32767).astype(np.int16),
                                  pa.int16()),
        "st_code": pa.array(codes.st_codes(teacher, shares).tolist(), pa.string()),
        "model_name": pa.array([model_name] * n, pa.string()),
        "model_version": pa.array([model_version] * n, pa.string()),
        "audio_present": pa.array(np.asarray(audio_present, bool)[order], pa.bool_()),
    }
    return pa.table(columns, schema=BEHAVIOUR_CODES.schema)


def check_codes(table: pa.Table, run: LessonRun) -> None:
    """Contract rules, and one row per point 0 … n-1."""
    result = conform(BEHAVIOUR_CODES, table, f"{run.lesson_id}.parquet")
    if result.n_rejected:
        first = result.rejects.to_pylist()[0]
        raise OutputError(f"codes break the contract: {first['field']}: {first['reason']} ({first['value']})")
    index = table["point_index"].to_numpy()
    if run.n_points is not None and not np.array_equal(index, np.arange(run.n_points)):
        raise OutputError(f"codes cover {len(index)} points, expected 0..{run.n_points - 1}")


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", write_statistics=True)
    return buffer.getvalue()


def runs_table(run: LessonRun) -> pa.Table:
    row = asdict(run)
    return pa.Table.from_pylist([{f.name: row[f.name] for f in LESSON_RUNS.fields}], schema=LESSON_RUNS.schema)


def codes_path(lake_uri: str, batch_id: str, lesson_id: str) -> str:
    return join(lake.behaviour_codes_dir(batch_id, lake_uri), f"{lesson_id}.parquet")


def run_path(lake_uri: str, batch_id: str, lesson_id: str) -> str:
    return join(lake.lesson_runs_dir(batch_id, lake_uri), f"{lesson_id}.parquet")


def quarantine_path(lake_uri: str, batch_id: str, lesson_id: str) -> str:
    return join(lake.quarantine_dir(JOB, batch_id, lake_uri), f"{lesson_id}.json")


def write_lesson(lake_uri: str, batch_id: str, run: LessonRun, table: pa.Table | None) -> LessonRun:
    """Write a lesson's outputs; a lesson whose codes break the contract is quarantined instead."""
    if run.status == "coded" and table is not None:
        try:
            check_codes(table, run)
        except OutputError as exc:
            run.status, run.reason = "quarantined", str(exc)
    if run.status == "coded" and table is not None:
        write_bytes(codes_path(lake_uri, batch_id, run.lesson_id), parquet_bytes(table))
        _remove(quarantine_path(lake_uri, batch_id, run.lesson_id))
    else:
        _remove(codes_path(lake_uri, batch_id, run.lesson_id))
        note = {"lesson_id": run.lesson_id, "video_uri": run.video_uri, "reason": run.reason,
                "model_name": run.model_name, "model_version": run.model_version}
        write_bytes(quarantine_path(lake_uri, batch_id, run.lesson_id),
                    (json.dumps(note, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8"))
    write_bytes(run_path(lake_uri, batch_id, run.lesson_id), parquet_bytes(runs_table(run)))
    return run


def _remove(uri: str) -> None:
    fs, path = filesystem(uri)
    if fs.exists(path):
        fs.rm(path)
