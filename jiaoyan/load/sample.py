"""A tiny, consistent batch written to the contracts: for the loader's tests and quick demos.

``SampleBatch(date)`` holds rows per contract as plain dicts (edit them to inject
defects), and ``write(landing, lake)`` writes the batch folder with its ``_batch.json``
(checksums included) and inference's lake output for the coded lessons.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from jiaoyan import codes
from jiaoyan.contracts import BatchFile, BatchManifest, by_name
from jiaoyan.contracts.batch import BATCH_MARKER

PATHS = {
    "regions": "reference/regions.csv",
    "schools": "reference/schools.csv",
    "universities": "reference/universities.csv",
    "teachers": "reference/teachers.csv",
    "vtros": "reference/vtros.csv",
    "vtro_members": "reference/vtro_members.csv",
    "lesson_manifest": "lessons/manifest.csv",
    "rubric_scores": "rubric_scores/scores.csv",
    "gold_codes": "gold/gold.csv",
    "behaviour_codes": "behaviour_codes/precoded.parquet",
    "activity_events": "activity/events.jsonl",
}
MODEL = ("behaviour-net", "1")


def points(lesson_id: str, n: int, model: tuple[str, str] = MODEL, start: int = 0) -> list[dict]:
    """Behaviour-code rows for points start..n-1: lecturing, everyone listening."""
    teacher, shares = codes.teacher_codes()[0], codes.share_columns()
    return [{"lesson_id": lesson_id, "point_index": i, "t_start_s": i * codes.SAMPLING_INTERVAL_S,
             "teacher_behaviour": teacher, "teacher_prob": 0.9, **{c: 1.0 if c == shares[0] else 0.0 for c in shares},
             "students_seen": 30, "st_code": "T", "model_name": model[0], "model_version": model[1],
             "audio_present": True} for i in range(start, n)]


def gold(lesson_id: str, n: int, coder: str = "T3") -> list[dict]:
    shares = codes.share_columns()
    return [{"lesson_id": lesson_id, "point_index": i, "teacher_behaviour": codes.teacher_codes()[0],
             **{c: "1" if c == shares[0] else "0" for c in shares}, "coder_id": coder,
             "coded_at": "2026-03-02T10:00:00+08:00"} for i in range(n)]


def rubric(rubric_id: str = "R1", **changes: object) -> dict:
    document = {
        "rubric_id": rubric_id, "rubric_name": "课堂教学评价量规", "kind": "classroom_teaching", "version": 1,
        "published_on": "2026-01-01", "subject": None,
        "bands": [{"band": "excellent", "label_zh": "优秀", "min_ratio": 0.9},
                  {"band": "good", "label_zh": "良好", "min_ratio": 0.75},
                  {"band": "poor", "label_zh": "待改进", "min_ratio": 0.0}],
        "indicators": [
            {"indicator_id": "A", "level": 1, "name": "教学目标", "position": 1},
            {"indicator_id": "A.1", "parent_id": "A", "level": 2, "name": "目标明确", "position": 1,
             "max_score": 10, "weight": 0.5},
            {"indicator_id": "A.2", "parent_id": "A", "level": 2, "name": "目标适切", "position": 2,
             "max_score": 10, "weight": 0.3},
            {"indicator_id": "B", "level": 1, "name": "课堂互动", "position": 2},
            {"indicator_id": "B.1", "parent_id": "B", "level": 2, "name": "互动充分", "position": 1,
             "max_score": 5, "weight": 0.2},
        ],
    }
    return document | changes


@dataclass
class SampleBatch:
    day: dt.date
    rows: dict[str, list[dict]] = field(default_factory=dict)
    rubrics: list[dict] = field(default_factory=list)
    lake_codes: list[dict] = field(default_factory=list)  # inference output for lessons with a video
    lake_runs: list[dict] = field(default_factory=list)
    extra_lines: dict[str, list[str]] = field(default_factory=dict)  # raw lines appended to a CSV or JSONL file
    overrides: dict[str, bytes] = field(default_factory=dict)  # a contract's file content, as given

    @classmethod
    def small(cls, day: dt.date = dt.date(2026, 3, 2), reference: bool = True) -> SampleBatch:
        """Two lessons: L1 with a video (45 points coded by inference), L2 pre-coded (20 points)."""
        batch = cls(day)
        if reference:
            batch.rows.update(_reference())
        batch.rows["lesson_manifest"] = [
            _lesson("L1", "T1", day, duration=270.0, video="lessons/videos/L1.mp4"),
            _lesson("L2", "T2", day, duration=120.0, video=""),
        ]
        batch.rubrics = [rubric()]
        batch.rows["rubric_scores"] = [
            _score("L1", "A.1", 8), _score("L1", "A.2", 9), _score("L1", "B.1", 4),
        ]
        batch.rows["gold_codes"] = gold("L1", 45)
        batch.rows["behaviour_codes"] = points("L2", 20, ("observer-import", "1"))
        batch.lake_codes = points("L1", 45)
        batch.lake_runs = [run("L1", 45)]
        batch.rows["activity_events"] = [
            event("E1", "T4", "activity_created", {"kind": "lesson_analysis"}, f"{day}T09:00:00+08:00"),
            event("E2", "T1", "activity_attended", {"kind": "lesson_analysis"}, f"{day}T09:05:00+08:00"),
            event("E3", "T1", "logged_in", None, f"{day}T08:55:00+08:00"),
        ]
        return batch

    @property
    def batch_id(self) -> str:
        return self.day.isoformat()

    def write(self, landing: Path, lake: Path | None = None) -> Path:
        """Write the batch folder (and inference's lake output); returns the folder."""
        folder = landing / self.batch_id
        files: dict[str, tuple[str, bytes]] = {}
        for name, rows in self.rows.items():
            extra = "".join(f"{line}\n" for line in self.extra_lines.get(name, ())).encode()
            if name in self.overrides:
                files[PATHS[name]] = (name, self.overrides[name])
            elif name == "activity_events":
                files[PATHS[name]] = (name, b"".join(orjson.dumps(row) + b"\n" for row in rows) + extra)
            elif name != "behaviour_codes":
                files[PATHS[name]] = (name, csv_bytes(name, rows) + extra)
            elif rows:
                files[PATHS[name]] = (name, parquet_bytes(name, rows))
        if self.rubrics:
            files["rubrics/rubrics.json"] = ("rubric_indicators", orjson.dumps({"rubrics": self.rubrics}))
        write_folder(folder, self.day, files)
        if lake is not None:
            self.write_lake(lake)
        return folder

    def write_lake(self, lake: Path) -> None:
        base = lake / "inference" / self.batch_id
        for lesson in sorted({r["lesson_id"] for r in self.lake_codes}):
            rows = [r for r in self.lake_codes if r["lesson_id"] == lesson]
            _write(base / "behaviour_codes" / f"{lesson}.parquet", parquet_bytes("behaviour_codes", rows))
        for lesson in sorted({r["lesson_id"] for r in self.lake_runs}):
            rows = [r for r in self.lake_runs if r["lesson_id"] == lesson]
            _write(base / "lesson_runs" / f"{lesson}.parquet", parquet_bytes("lesson_runs", rows))


def run(lesson_id: str, n_points: int, status: str = "coded", reason: str | None = None) -> dict:
    return {"lesson_id": lesson_id, "model_name": MODEL[0], "model_version": MODEL[1], "status": status,
            "reason": reason, "video_uri": f"lessons/videos/{lesson_id}.mp4",
            "duration_s": n_points * codes.SAMPLING_INTERVAL_S if status == "coded" else None,
            "n_points": n_points if status == "coded" else None, "fps": 25.0, "width": 1280, "height": 720,
            "audio_present": True, "decode_seconds": 1.0, "total_seconds": 2.0}


def event(event_id: str, member: str, event_type: str, attrs: dict | None, ts: str) -> dict:
    return {"event_id": event_id, "ts": ts, "member_id": member, "vtro_id": "V1", "event_type": event_type,
            "object_id": "A1" if attrs else None, "attrs": attrs}


def write_folder(folder: Path, day: dt.date, files: dict[str, tuple[str, bytes]]) -> None:
    """Write files ``{path: (contract, bytes)}`` and then the marker listing them."""
    entries = []
    for path, (contract, data) in sorted(files.items()):
        _write(folder / path, data)
        lines = data.count(b"\n")
        rows = lines - 1 if path.endswith(".csv") else lines if path.endswith(".jsonl") else None
        entries.append(BatchFile(path=path, contract=contract, sha256=hashlib.sha256(data).hexdigest(),
                                 bytes=len(data), rows=rows))
    marker = BatchManifest(batch_id=day.isoformat(), batch_date=day, producer="jiaoyan.load.sample", files=entries)
    _write(folder / BATCH_MARKER, marker.model_dump_json(indent=2).encode())


def csv_bytes(contract: str, rows: list[dict]) -> bytes:
    names = list(by_name(contract).field_names)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else _text(row.get(k)) for k in names})
    return out.getvalue().encode()


def parquet_bytes(contract: str, rows: list[dict]) -> bytes:
    spec = by_name(contract)
    schema = pa.schema([pa.field(f.name, f.type) for f in spec.fields])
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out)
    return out.getvalue()


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _lesson(lesson_id: str, teacher: str, day: dt.date, duration: float, video: str) -> dict:
    return {"lesson_id": lesson_id, "teacher_id": teacher, "school_id": "S1", "subject": _subject(), "grade": 7,
            "lesson_date": day.isoformat(), "start_time": "08:00:00", "video_uri": video, "class_size": 40,
            "duration_s": duration}


def _score(lesson: str, indicator: str, score: float, observer: str = "T3") -> dict:
    return {"lesson_id": lesson, "rubric_id": "R1", "indicator_id": indicator, "observer_id": observer,
            "observer_role": _role(), "score": score, "scored_at": "2026-03-02T10:00:00+08:00"}


def _subject() -> str:
    return codes.seed_codes("subjects")[0]


def _role() -> str:
    return codes.seed_codes("observer_roles")[0]


def _reference() -> dict[str, list[dict]]:
    title, scope, content = (codes.seed_codes(n)[0] for n in ("teacher_titles", "vtro_scopes", "vtro_content_types"))
    teacher = {"gender": "F", "birth_year": 1985, "title": title, "valid_from": "2020-01-01"}
    return {
        "regions": [
            {"region_code": "440000", "region_name": "广东省", "level": "province", "parent_code": None},
            {"region_code": "440100", "region_name": "广州市", "level": "city", "parent_code": "440000"},
            {"region_code": "440106", "region_name": "天河区", "level": "district", "parent_code": "440100"},
        ],
        "schools": [{"school_id": "S1", "school_name": "天河中学", "district_code": "440106", "urban_rural": "urban",
                     "is_weak": False, "stage": "junior_secondary", "valid_from": "2020-01-01"}],
        "universities": [{"university_id": "U1", "university_name": "华南师范大学", "province_code": "440000",
                          "region_group": "east"}],
        "teachers": [
            {"teacher_id": t, "teacher_name": f"教师{t}", **teacher, "subject": _subject(), "grade": 7,
             "school_id": "S1", "university_id": None} for t in ("T1", "T2", "T3")
        ] + [{"teacher_id": "T4", "teacher_name": "教授", **teacher, "subject": None, "grade": None,
              "school_id": None, "university_id": "U1"}],
        "vtros": [{"vtro_id": "V1", "vtro_name": "数学教研室", "university_id": "U1", "scope": scope,
                   "content_type": content, "leader_teacher_id": "T4", "founded_on": "2022-01-01",
                   "pilot_batch": 1}],
        "vtro_members": [{"vtro_id": "V1", "teacher_id": "T4", "role": "leader", "joined_on": "2022-01-01",
                          "left_on": None}],
    }


def fact_row(contract: str, day: dt.date, **values: object) -> dict:
    """A valid row of a lake dataset for ``day``: each field's first allowed value, an id, 1, or the day."""
    from jiaoyan.contracts.lake import FACT_DATE, lake_by_name

    row: dict[str, object] = {}
    for f in lake_by_name(contract).fields:
        if f.allowed:
            row[f.name] = f.allowed[0]
        elif pa.types.is_string(f.type):
            row[f.name] = "X1"
        elif pa.types.is_date(f.type):
            row[f.name] = day
        elif pa.types.is_timestamp(f.type):
            row[f.name] = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
        elif pa.types.is_boolean(f.type):
            row[f.name] = False
        elif pa.types.is_map(f.type):
            row[f.name] = None
        else:
            row[f.name] = max(1, f.min or 0) if f.max is None or f.max >= 1 else f.max
    return row | {FACT_DATE: day} | values


def write_spark_output(lake: Path, batch_id: str, days: dict[str, dict[dt.date, list[dict]]],
                       rejects: list[dict] | None = None, changed_days: list[dt.date] | None = None) -> None:
    """What the Spark job leaves for a batch: the rewritten days of each dataset, the run file, quarantine.

    ``days[dataset][day]`` are the rows of that day; an empty list means the run emptied the day.
    """
    from jiaoyan.contracts.lake import PARTITION_COLUMN, lake_by_name
    from jiaoyan.contracts.validate import REJECT_SCHEMA

    partitions = {}
    for dataset, by_day in days.items():
        spec = lake_by_name(dataset)
        schema = pa.schema([pa.field(f.name, f.type) for f in spec.fields])
        for day, rows in by_day.items():
            folder = lake / "activity" / dataset / f"{PARTITION_COLUMN}={day.isoformat()}"
            for old in folder.glob("*.parquet"):
                old.unlink()
            if rows:
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-00000.snappy.parquet")
        partitions[dataset] = sorted(d.isoformat() for d in by_day)
    every_day = sorted({d for by_day in days.values() for d in by_day})
    run = {"version": 1, "job": "activity", "batch_id": batch_id, "partitions": partitions,
           "changed_days": [d.isoformat() for d in (changed_days if changed_days is not None else every_day)]}
    _write(lake / "activity" / "_runs" / f"{batch_id}.json", orjson.dumps(run))
    if rejects is not None:
        out = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rejects, schema=REJECT_SCHEMA), out)
        _write(lake / "quarantine" / "activity" / batch_id / "part-00000.snappy.parquet", out.getvalue())
