"""Pieces of a world for benchmarks, without writing a whole world.

    >>> from jiaoyan.demo_world import bench
    >>> day = bench.activity_day("region", n_events=1_000_000)   # doctest: +SKIP
    >>> len(day.lines), len(day.gzipped[0])                       # doctest: +SKIP
    >>> night = bench.lessons_night("region", n_lessons=5_000)   # doctest: +SKIP
    >>> night.codes.num_rows                                      # ≈ 2.25 million points

Both use the scale's population (reference data, offices and members) and the same
generators as ``jiaoyan demo-data``; ``write_*`` put the result in a batch folder with
its ``_batch.json`` so loaders and Spark jobs can be timed on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from jiaoyan.contracts import sources
from jiaoyan.demo_world import activity, lessons, reference, rubrics, scales, world
from jiaoyan.demo_world.randomness import stream
from jiaoyan.demo_world.writer import Batch, csv_bytes, parquet_bytes

BENCH_DAY = dt.date(2026, 11, 18)  # a Wednesday in term


def light_world(scale: str = "region", seed: int = 0, day: dt.date = BENCH_DAY) -> world.World:
    """The population and activity plan of ``scale`` for a one-night world ending on ``day``; no lessons."""
    k = scales.knobs(scale, seed, end=day, days=1, video_days=0, gold_lessons=0, lessons_per_night=0)
    ref = reference.build(k)
    profiles = lessons.teacher_profiles(k, ref)
    empty = lessons.lesson_frame(k, stream(seed, "bench"), ref, profiles, np.zeros(0, int), [])
    rubric_set = rubrics.build(k)
    observers = rubrics.observers(k, ref)
    scores = rubrics.score(k, rubric_set, empty, ref, observers)
    plan = activity.plan(k, ref, empty, scores.submissions)
    return world.World(k, ref, profiles, lessons.Schedule(empty, []), rubric_set, observers, scores, plan)


@dataclass
class ActivityDay:
    day: dt.date
    events: activity.Events
    lines: pa.Array  # one JSON object per event, each ending in a newline
    delivery: activity.Delivery  # the day's file parts (with late lines held back, duplicates, broken lines)

    @property
    def gzipped(self) -> list[bytes]:
        return [activity.gzip_bytes(part) for part in self.delivery.parts]


def activity_day(scale: str = "region", seed: int = 0, n_events: int = 1_000_000, day: dt.date = BENCH_DAY,
                 defects: bool = True, base: world.World | None = None) -> ActivityDay:
    """Exactly ``n_events`` events of one day (before late lines are held back and repeats added)."""
    w = base or light_world(scale, seed, day)
    events = activity.day_events(w.k, w.plan, day, volume=n_events)
    ids = activity.event_ids(day, len(events))
    lines = activity.encode(events, ids, w.plan.actors, w.plan.vtro_ids)
    return ActivityDay(day, events, lines, activity.deliver(w.k, events, lines, ids, defects=defects))


@dataclass
class LessonsNight:
    lessons: pd.DataFrame  # manifest fields and the hidden truth (style, trend, …)
    points: lessons.Points
    codes: pa.Table  # simulated-coder behaviour codes (contract behaviour_codes)


def lessons_night(scale: str = "region", seed: int = 0, n_lessons: int = 2_000, day: dt.date = BENCH_DAY,
                  base: world.World | None = None) -> LessonsNight:
    """``n_lessons`` pre-coded lessons of one night by random teachers of the scale."""
    w = base or light_world(scale, seed, day)
    rng = stream(seed, "bench", "lessons", day.toordinal())
    idx = np.sort(rng.integers(0, len(w.profiles), n_lessons))
    frame = lessons.lesson_frame(w.k, rng, w.ref, w.profiles, idx, [day] * n_lessons)
    points = lessons.generate_points(stream(seed, "bench", "points", day.toordinal()), frame)
    codes = lessons.simulated_codes(stream(seed, "bench", "coder", day.toordinal()), frame, points)
    return LessonsNight(frame, points, codes)


def write_activity_day(out: str, result: ActivityDay, producer: str = "jiaoyan-demo-world bench") -> Batch:
    batch = Batch(out, result.day)
    for i, part in enumerate(result.delivery.parts):
        batch.put(activity.part_name(result.day, "events", i).split("/", 1)[1], activity.gzip_bytes(part),
                  sources.ACTIVITY_EVENTS.name, part.count(b"\n"))
    batch.finish(producer)
    return batch


def write_lessons_night(out: str, result: LessonsNight, producer: str = "jiaoyan-demo-world bench") -> Batch:
    """The manifest and the codes of the night (the teachers are in the scale's reference data)."""
    day = result.lessons["lesson_date"].iloc[0]
    batch = Batch(out, day)
    f = result.lessons
    rows = [[lid, tid, sid, subj, str(int(g)), day.isoformat(), st, "", str(int(cs)), f"{n * 6 + x:.1f}"]
            for lid, tid, sid, subj, g, st, cs, n, x in zip(f["lesson_id"], f["teacher_id"], f["school_id"],
                                                             f["subject"], f["grade"], f["start_time"],
                                                             f["class_size"], f["n_points"], f["record_extra_s"],
                                                             strict=True)]
    batch.put(sources.LESSON_MANIFEST.location, csv_bytes(sources.LESSON_MANIFEST.field_names, rows),
              sources.LESSON_MANIFEST.name, len(rows))
    batch.put(world.CODES_FILE, parquet_bytes(result.codes), sources.BEHAVIOUR_CODES.name, result.codes.num_rows)
    batch.finish(producer)
    return batch
