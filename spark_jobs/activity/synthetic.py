"""Synthetic activity-log batches with known defects, for the Spark tests and the benchmark.

Writes ``<out>/<YYYY-MM-DD>/activity/part-NN.jsonl.gz`` (and ``reference/teachers.csv``
in the first batch) following the ``activity_events`` contract, with event types and
kinds from the seeds, and records the ground truth of every batch in
``<out>/_truth/activity-<YYYY-MM-DD>.json``: lines, broken lines (file, line, defect),
duplicates (within the batch and of earlier batches), late events per true day, and
the number of new events per day. The demo-world generator (``jiaoyan demo-data``)
is the realistic source; this one is small, fast and exact, and can write millions
of events for the benchmark.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from jiaoyan import codes
from jiaoyan.contracts.sources import ACTIVITY_KINDS, EVENT_TYPES, RESOURCE_KINDS

CST = dt.timezone(dt.timedelta(hours=8))
OBJECT_PREFIX = {"activity": "A", "resource": "R", "discussion": "D", "lesson": "L", "vtro": ""}
TYPE_WEIGHTS = {"logged_in": 30, "activity_attended": 25, "discussion_posted": 12, "lesson_observed": 10,
                "resource_published": 6, "lesson_scored": 6, "activity_created": 4, "member_joined": 1,
                "member_left": 1}
DEFECTS = ("truncated", "not_json", "missing_member", "unknown_event_type", "missing_kind", "ts_without_offset",
           "glued")


@dataclass
class World:
    members: int = 200
    offices: int = 12
    universities: int = 6
    activities: int = 300
    seed: int = 7

    def member(self, i: int) -> str:
        return f"T{i:07d}"

    def office_of(self, member: int) -> str:
        return f"V{member % self.offices:04d}"


@dataclass
class BatchTruth:
    batch_id: str
    files: list[str] = field(default_factory=list)
    lines: int = 0
    valid: int = 0
    broken: list[dict] = field(default_factory=list)  # {file, line, defect}
    duplicates_in_batch: int = 0
    duplicates_of_earlier: int = 0
    new_events: int = 0
    late_by_day: dict[str, int] = field(default_factory=dict)
    events_by_day: dict[str, int] = field(default_factory=dict)


@dataclass
class Generator:
    out: Path
    world: World = field(default_factory=World)
    files_per_batch: int = 2
    duplicate_rate: float = 0.02  # share of lines that repeat an event of this batch
    earlier_duplicate_rate: float = 0.01  # share that repeat an event of an earlier batch
    late_rate: float = 0.05  # share of new events that happened 1–5 days earlier
    broken_rate: float = 0.01
    gzip_level: int = 1
    _rng: random.Random = field(init=False)
    _sent: list[bytes] = field(init=False, default_factory=list)  # earlier batches' lines, for re-sends
    _next_id: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.world.seed)
        for code in TYPE_WEIGHTS:
            assert code in EVENT_TYPES, code

    def write_batch(self, batch_date: dt.date, events: int) -> BatchTruth:
        """Write one batch of about ``events`` lines and its truth."""
        truth = BatchTruth(batch_date.isoformat())
        folder = self.out / batch_date.isoformat()
        if not (self.out / "_truth").exists():
            self._write_teachers(folder)
        lines, kinds = self._lines(batch_date, events, truth)
        self._write_files(folder, lines, kinds, truth)
        self._sent.extend(line for line, kind in zip(lines, kinds, strict=True) if kind == "new")
        (self.out / "_truth").mkdir(parents=True, exist_ok=True)
        (self.out / "_truth" / f"activity-{truth.batch_id}.json").write_text(json.dumps(truth.__dict__, indent=1))
        (folder / "_batch.json").write_text(json.dumps({"batch_id": truth.batch_id}))
        return truth

    # lines ---------------------------------------------------------------------------

    def _lines(self, batch_date: dt.date, n: int, truth: BatchTruth) -> tuple[list[bytes], list[str]]:
        rng, lines, kinds = self._rng, [], []
        fresh: list[bytes] = []
        days: Counter[str] = Counter()
        for _ in range(n):
            roll = rng.random()
            if roll < self.broken_rate:
                lines.append(b"")  # filled with a defect when files are cut (needs the file's line)
                kinds.append("broken")
            elif roll < self.broken_rate + self.duplicate_rate and fresh:
                lines.append(rng.choice(fresh))
                kinds.append("dup_batch")
            elif roll < self.broken_rate + self.duplicate_rate + self.earlier_duplicate_rate and self._sent:
                lines.append(rng.choice(self._sent))
                kinds.append("dup_earlier")
            else:
                day = batch_date - dt.timedelta(days=rng.randint(1, 5)) if rng.random() < self.late_rate \
                    else batch_date
                line = self._event(day)
                fresh.append(line)
                lines.append(line)
                kinds.append("new")
                days[day.isoformat()] += 1
        truth.new_events = kinds.count("new")
        truth.duplicates_in_batch = kinds.count("dup_batch")
        truth.duplicates_of_earlier = kinds.count("dup_earlier")
        truth.valid = n - kinds.count("broken")
        truth.events_by_day = dict(sorted(days.items()))
        truth.late_by_day = {d: c for d, c in sorted(days.items()) if d < batch_date.isoformat()}
        return lines, kinds

    def _event(self, day: dt.date) -> bytes:
        rng, world = self._rng, self.world
        self._next_id += 1
        member = rng.randrange(world.members)
        event_type = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
        ts = dt.datetime.combine(day, dt.time(), CST) + dt.timedelta(seconds=rng.randrange(86400))
        event: dict[str, object] = {
            "event_id": f"E{self._next_id:010d}",
            "ts": ts.isoformat(),
            "member_id": world.member(member),
            "vtro_id": world.office_of(member),
            "event_type": event_type,
        }
        kind_list = _kind_list(event_type)
        obj = _object(event_type)
        if obj:
            event["object_id"] = f"{obj}{rng.randrange(world.activities):05d}"
        if obj == "":
            event["object_id"] = event["vtro_id"]
        if kind_list:
            event["attrs"] = {"kind": rng.choice(kind_list), "channel": "web"}
        return orjson.dumps(event)

    def _broken(self, defect: str, day: dt.date) -> bytes:
        good = orjson.loads(self._event(day))
        if defect == "truncated":
            return orjson.dumps(good)[: self._rng.randint(5, 40)]
        if defect == "not_json":
            return b"<html>502 Bad Gateway</html>"
        if defect == "missing_member":
            good.pop("member_id")
        elif defect == "unknown_event_type":
            good["event_type"] = "teleported"
        elif defect == "missing_kind":
            good["event_type"], good["attrs"] = "resource_published", {"channel": "app"}
        elif defect == "ts_without_offset":
            good["ts"] = str(good["ts"])[:19]
        elif defect == "glued":
            return orjson.dumps(good) + self._event(day)
        return orjson.dumps(good)

    # files ---------------------------------------------------------------------------

    def _write_files(self, folder: Path, lines: list[bytes], kinds: list[str], truth: BatchTruth) -> None:
        (folder / "activity").mkdir(parents=True, exist_ok=True)
        per_file = -(-len(lines) // self.files_per_batch)
        day = dt.date.fromisoformat(truth.batch_id)
        for index in range(self.files_per_batch):
            name = f"part-{index:02d}.jsonl.gz"
            chunk = lines[index * per_file:(index + 1) * per_file]
            for number, kind in enumerate(kinds[index * per_file:(index + 1) * per_file], start=1):
                if kind == "broken":
                    defect = DEFECTS[self._rng.randrange(len(DEFECTS))]
                    chunk[number - 1] = self._broken(defect, day)
                    truth.broken.append({"file": f"activity/{name}", "line": number, "defect": defect})
            with gzip.open(folder / "activity" / name, "wb", compresslevel=self.gzip_level) as handle:
                handle.write(b"\n".join(chunk) + b"\n")
            truth.files.append(f"activity/{name}")
        truth.lines = len(lines)

    def _write_teachers(self, folder: Path) -> None:
        world = self.world
        rows = ["teacher_id,teacher_name,gender,birth_year,title,subject,grade,school_id,university_id,valid_from"]
        title = codes.seed_codes("teacher_titles")[0]
        subject = codes.seed_codes("subjects")[0]
        for i in range(world.members):
            if i % 3 == 0:  # a school teacher
                rows.append(f"{world.member(i)},教师{i},F,1980,{title},{subject},7,S{i % 20:04d},,2020-01-01")
            else:
                rows.append(f"{world.member(i)},教师{i},M,1975,{title},,,,U{i % world.universities:03d},2020-01-01")
        (folder / "reference").mkdir(parents=True, exist_ok=True)
        (folder / "reference" / "teachers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _kind_list(event_type: str) -> tuple[str, ...]:
    for row in codes.seed_rows("event_types"):
        if row["code"] == event_type and row["needs_kind"] == "true":
            return ACTIVITY_KINDS if row["kind_list"] == "activity_kinds" else RESOURCE_KINDS
    return ()


def _object(event_type: str) -> str | None:
    for row in codes.seed_rows("event_types"):
        if row["code"] == event_type:
            return OBJECT_PREFIX.get(row["object"]) if row["object"] else None
    return None


# Large batches for the benchmark ---------------------------------------------------------


@dataclass(frozen=True)
class BenchSpec:
    batch_date: dt.date
    events: int = 10_000_000
    files: int = 16
    members: int = 70_000  # the national VTRO membership
    offices: int = 787
    universities: int = 282
    activities: int = 20_000
    duplicate_rate: float = 0.01
    late_rate: float = 0.05
    broken_rate: float = 0.001
    seed: int = 11


def write_bench_batch(out: Path, spec: BenchSpec, processes: int = 2) -> dict:
    """A national-scale day slice, written by ``processes`` workers; returns (and stores) its truth."""
    from concurrent.futures import ProcessPoolExecutor

    folder = out / spec.batch_date.isoformat()
    (folder / "activity").mkdir(parents=True, exist_ok=True)
    world = World(members=spec.members, offices=spec.offices, universities=spec.universities,
                  activities=spec.activities, seed=spec.seed)
    Generator(out, world)._write_teachers(folder)
    with ProcessPoolExecutor(processes) as pool:
        parts = list(pool.map(_bench_file, [(folder, spec, index) for index in range(spec.files)]))
    truth: dict = {"batch_id": spec.batch_date.isoformat(), "lines": 0, "valid": 0, "broken": 0,
                   "duplicates_in_batch": 0, "new_events": 0, "late_by_day": Counter()}
    for part in parts:
        for key in ("lines", "valid", "broken", "duplicates_in_batch", "new_events"):
            truth[key] += part[key]
        truth["late_by_day"].update(part["late_by_day"])
    truth["late_by_day"] = dict(sorted(truth["late_by_day"].items()))
    (out / "_truth").mkdir(parents=True, exist_ok=True)
    (out / "_truth" / f"activity-{truth['batch_id']}.json").write_text(json.dumps(truth, indent=1))
    return truth


def _bench_file(job: tuple[Path, BenchSpec, int]) -> dict:
    folder, spec, index = job
    rng = random.Random(spec.seed * 1000 + index)
    count = spec.events // spec.files + (1 if index < spec.events % spec.files else 0)
    types, weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    chosen = rng.choices(types, weights=weights, k=count)
    objects = {code: _object(code) for code in types}
    kinds = {code: _kind_list(code) for code in types}
    midnight = dt.datetime.combine(spec.batch_date, dt.time(), CST)
    lines: list[bytes] = []
    late: Counter[str] = Counter()
    stats = {"broken": 0, "duplicates_in_batch": 0}
    for number, event_type in enumerate(chosen):
        roll = rng.random()
        if roll < spec.broken_rate:
            lines.append(b'{"event_id":"E%02d%09d","ts":"2026-' % (index, number))
            stats["broken"] += 1
            continue
        if roll < spec.broken_rate + spec.duplicate_rate and lines:
            lines.append(lines[rng.randrange(max(0, len(lines) - 5000), len(lines))])
            stats["duplicates_in_batch"] += 1
            continue
        days_back = rng.randint(1, 5) if rng.random() < spec.late_rate else 0
        ts = midnight + dt.timedelta(days=-days_back, seconds=rng.randrange(86400))
        if days_back:
            late[(spec.batch_date - dt.timedelta(days=days_back)).isoformat()] += 1
        member = rng.randrange(spec.members)
        line = (f'{{"event_id":"E{index:02d}{number:09d}","ts":"{ts.isoformat()}","member_id":"T{member:07d}",'
                f'"vtro_id":"V{member % spec.offices:04d}","event_type":"{event_type}"')
        obj = objects[event_type]
        if obj is not None:
            line += f',"object_id":"{obj}{rng.randrange(spec.activities):05d}"' if obj else \
                f',"object_id":"V{member % spec.offices:04d}"'
        if kinds[event_type]:
            line += f',"attrs":{{"kind":"{rng.choice(kinds[event_type])}","channel":"web"}}'
        lines.append((line + "}").encode())
    name = f"part-{index:02d}.jsonl.gz"
    with gzip.open(folder / "activity" / name, "wb", compresslevel=1) as handle:
        handle.write(b"\n".join(lines) + b"\n")
    # a re-sent line may copy a broken one: count what the reader will see
    broken_lines = sum(1 for line in lines if not line.endswith(b"}"))
    return {"lines": count, "broken": broken_lines, "valid": count - broken_lines,
            "duplicates_in_batch": stats["duplicates_in_batch"] - (broken_lines - stats["broken"]),
            "new_events": count - broken_lines - (stats["duplicates_in_batch"] - (broken_lines - stats["broken"])),
            "late_by_day": dict(late)}
