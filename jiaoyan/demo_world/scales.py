"""The three world sizes in one place; ``docs/demo-world.md`` documents every number.

A scale fixes the population (regions, schools, teachers, universities, offices,
members), the lesson volume and length, and the activity-log rate. Command-line flags
(``--days``, ``--events-per-day``, …) override the per-run knobs in :class:`Knobs`.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from dataclasses import dataclass, replace

from jiaoyan.errors import UserError

DEFAULT_END = dt.date(2026, 11, 20)  # fixed, so the output never depends on today's date


@dataclass(frozen=True)
class Scale:
    name: str
    # K-12: pilot provinces (GB/T 2260 codes), one pilot city in each, its districts
    k12_provinces: tuple[str, ...]  # empty tuple = every province in the seed
    urban_districts: int  # per pilot city
    rural_counties: int  # per pilot city
    schools: int
    school_teachers: int
    # universities and virtual teaching-research offices (VTROs)
    universities: int
    university_provinces: int  # how many provinces host them (0 = all)
    vtros: int  # offices at the end of the world, new ones included
    new_vtros: int  # of which founded during the world (pilot batch 4)
    memberships: int  # membership rows at the start of the world
    distinct_university_members: int  # distinct university teachers among them
    school_teacher_members: int  # school teachers in regional offices
    # lessons
    lesson_points: tuple[int, int]  # 6-second points of an analysed lesson (min, max)
    lessons_per_teacher_month: float  # analysed lessons of a covered teacher per month of term
    coverage: tuple[float, float]  # share of teachers analysed at the world's start and end
    # per-run knobs and their defaults
    days: int
    events_per_day: int
    video_days: int
    lessons_per_night: int
    gold_lessons: int
    biased_observers: int


SCALES: dict[str, Scale] = {
    "demo": Scale(
        name="demo", k12_provinces=("430000",), urban_districts=4, rural_counties=3, schools=40,
        school_teachers=600, universities=12, university_provinces=8, vtros=25, new_vtros=2,
        memberships=1080, distinct_university_members=900, school_teacher_members=90,
        lesson_points=(20, 50), lessons_per_teacher_month=1.0, coverage=(0.85, 1.0),
        days=365, events_per_day=10_000, video_days=2, lessons_per_night=50, gold_lessons=60,
        biased_observers=2,
    ),
    "region": Scale(
        name="region", k12_provinces=("420000",), urban_districts=7, rural_counties=6, schools=1000,
        school_teachers=30_000, universities=40, university_provinces=12, vtros=80, new_vtros=4,
        memberships=9000, distinct_university_members=7000, school_teacher_members=1200,
        lesson_points=(440, 460), lessons_per_teacher_month=0.45, coverage=(0.7, 0.95),
        days=365, events_per_day=60_000, video_days=0, lessons_per_night=0, gold_lessons=0,
        biased_observers=6,
    ),
    "national": Scale(
        name="national", k12_provinces=(), urban_districts=1, rural_counties=1, schools=186,
        school_teachers=4_650, universities=282, university_provinces=0, vtros=787, new_vtros=0,
        memberships=80_000, distinct_university_members=72_500, school_teacher_members=1500,
        lesson_points=(440, 460), lessons_per_teacher_month=1.0, coverage=(0.8, 0.8),
        days=14, events_per_day=200_000, video_days=0, lessons_per_night=0, gold_lessons=0,
        biased_observers=10,
    ),
}


@dataclass(frozen=True)
class Knobs:
    """One run's settings: the scale with the flags applied."""

    scale: Scale
    seed: int
    end: dt.date
    days: int
    events_per_day: int
    video_days: int
    lessons_per_night: int
    gold_lessons: int
    preset: str = "default"
    workers: int = 1
    defects: bool = True

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=self.days - 1)

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    def producer(self) -> str:
        return (f"jiaoyan-demo-world {version()} scale={self.scale.name} seed={self.seed} end={self.end} "
                f"days={self.days} events_per_day={self.events_per_day} video_days={self.video_days} "
                f"lessons_per_night={self.lessons_per_night} gold_lessons={self.gold_lessons} "
                f"preset={self.preset} defects={'on' if self.defects else 'off'}")


def version() -> str:
    try:
        return importlib.metadata.version("jiaoyan")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def get_scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise UserError(f"unknown scale {name!r}; choose one of: {', '.join(SCALES)}") from None


def knobs(scale: str, seed: int, *, end: dt.date = DEFAULT_END, days: int | None = None,
          events_per_day: int | None = None, video_days: int | None = None, lessons_per_night: int | None = None,
          gold_lessons: int | None = None, preset: str = "default", workers: int = 1,
          defects: bool = True) -> Knobs:
    """Knobs for ``scale`` with the given overrides, checked."""
    base = get_scale(scale)
    days = base.days if days is None else days
    result = Knobs(
        scale=base, seed=seed, end=end, days=days,
        events_per_day=base.events_per_day if events_per_day is None else events_per_day,
        video_days=min(base.video_days, max(days, 0)) if video_days is None else video_days,
        lessons_per_night=base.lessons_per_night if lessons_per_night is None else lessons_per_night,
        gold_lessons=base.gold_lessons if gold_lessons is None else gold_lessons,
        preset=preset, workers=workers, defects=defects,
    )
    _check(result)
    return result


def _check(k: Knobs) -> None:
    if k.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {k.seed}")
    if not 1 <= k.days <= 3 * 366:
        raise UserError(f"--days must be between 1 and {3 * 366}, got {k.days}")
    for name in ("events_per_day", "video_days", "lessons_per_night", "gold_lessons"):
        if getattr(k, name) < 0:
            raise UserError(f"--{name.replace('_', '-')} must not be negative, got {getattr(k, name)}")
    if k.video_days > k.days:
        raise UserError(f"--video-days ({k.video_days}) cannot exceed --days ({k.days})")
    if k.workers < 1:
        raise UserError(f"--workers must be at least 1, got {k.workers}")


def with_scale(k: Knobs, **changes: object) -> Knobs:
    """The knobs with some fields of the scale changed (tests shrink populations this way)."""
    return replace(k, scale=replace(k.scale, **changes))  # type: ignore[arg-type]
