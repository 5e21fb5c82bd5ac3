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
