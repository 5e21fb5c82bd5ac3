"""``jiaoyan demo-data``: write the deterministic demo world into a landing zone."""

from __future__ import annotations

import datetime as dt
import os
import time

import click

from jiaoyan.demo_world import scales
from jiaoyan.errors import UserError


def _date(value: str | None) -> dt.date:
    if value is None:
        return scales.DEFAULT_END
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--end must be a date YYYY-MM-DD, got {value!r}") from None


@click.command("demo-data")
@click.option("--scale", default="demo", show_default=True, help="demo | region | national")
@click.option("--seed", default=0, show_default=True, type=int, help="non-negative; same seed, same bytes")
@click.option("--out", default=None, help="landing zone folder or fsspec URI (default: JIAOYAN_LANDING_URI)")
@click.option("--end", default=None, help=f"last night of the world, YYYY-MM-DD (default {scales.DEFAULT_END})")
@click.option("--days", type=int, default=None, help="nights to generate (default: the scale's)")
@click.option("--events-per-day", type=int, default=None, help="mean activity-log events a day (default: the scale's)")
@click.option("--video-days", type=int, default=None, help="last school nights whose lessons come as videos")
@click.option("--lessons-per-night", type=int, default=None, help="video lessons on each of those nights")
@click.option("--gold-lessons", type=int, default=None, help="human-coded lessons with videos over the year")
@click.option("--preset", type=click.Choice(["default", "hard"]), default="default", show_default=True,
              help="video realism preset of the renderer")
@click.option("--workers", type=int, default=None, help="processes for nights and rendering (default: CPU cores)")
@click.option("--defects/--no-defects", default=True, show_default=True,
              help="inject the documented contract-breaking rows")
def demo_data(scale: str, seed: int, out: str | None, end: str | None, days: int | None, events_per_day: int | None,
              video_days: int | None, lessons_per_night: int | None, gold_lessons: int | None, preset: str,
              workers: int | None, defects: bool) -> None:
    """Generate the deterministic demo world into a landing zone, one folder per night."""
    knobs = scales.knobs(scale, seed, end=_date(end), days=days, events_per_day=events_per_day,
                         video_days=video_days, lessons_per_night=lessons_per_night, gold_lessons=gold_lessons,
                         preset=preset, workers=workers or os.cpu_count() or 1, defects=defects)
    from jiaoyan.demo_world import world  # heavy imports only once the arguments are good
    from jiaoyan.settings import get_settings

    target = out or get_settings().landing_uri
    t0 = time.perf_counter()
    summary = world.generate(knobs, target, log=lambda m: click.echo(m, err=True))
    click.echo(f"demo world ({scale}, seed {seed}) in {target}: {summary['nights']} nights "
               f"{knobs.start}..{knobs.end}, {sum(summary['lessons'].values()):,} lessons, {summary['videos']} videos, "
               f"{summary['activity_lines']:,} activity lines; {time.perf_counter() - t0:.1f} s")
