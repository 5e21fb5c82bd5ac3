"""Reading the ground truth a generated world leaves in ``<out>/_truth/``.

    >>> from jiaoyan.demo_world import truth
    >>> truth.lesson("/data/landing", "L20261120-00003")          # doctest: +SKIP
    {'lesson_id': 'L20261120-00003', 'style': 'dialogue', 'expected_mode': 'dialogue', 'rt': 0.52, ...}
    >>> truth.points("/data/landing", "L20261120-00003")          # doctest: +SKIP
    pyarrow.Table lesson_id, point_index, teacher_behaviour, share_*, st_code, class_size

Files (CSV unless said): ``world.json`` (arguments and counts), ``lessons.csv`` (one row per
lesson: teacher, style, trend, delivery — precoded / video / gold —, corrupt video, points,
duration, render seed, Rt, Ch, expected teaching mode, video SHA-256), ``points/<date>.parquet``
(per-point truth of every lesson of that night), ``teachers.csv`` (style, trend, skill, class,
when their lessons start being analysed), ``teacher_terms.csv`` (segment mix and expected rubric
level per term), ``observers.csv`` (role and bias), ``offices.csv`` (activity level, quiet
stretches, rule-breaking flags), ``defects.csv`` (contract defects by file and line),
``activity_defects.csv`` (late, duplicate and broken log lines by file and line) and
``activity_counts.csv`` (distinct valid events per day and type: what deduplication must find).
"""

from __future__ import annotations

import datetime as dt
import io

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jiaoyan import landing

TRUTH = "_truth"


def _read(out: str, *parts: str) -> bytes:
    return landing.read_bytes(landing.join(out, TRUTH, *parts))


def world_info(out: str) -> dict:
    return orjson.loads(_read(out, "world.json"))


def table(out: str, name: str) -> pd.DataFrame:
    """One of the CSV truth files by name, e.g. ``table(out, "observers")``."""
    return pd.read_csv(io.BytesIO(_read(out, f"{name}.csv")), dtype={"grade": "Int16"}, keep_default_na=False,
                       na_values=[""])


def lessons(out: str) -> pd.DataFrame:
    return table(out, "lessons")


def lesson(out: str, lesson_id: str) -> dict:
    frame = lessons(out)
    row = frame[frame["lesson_id"] == lesson_id]
    if row.empty:
        raise KeyError(f"no lesson {lesson_id!r} in the world at {out}")
    return row.iloc[0].to_dict()


def points(out: str, lesson_id: str | None = None, day: dt.date | str | None = None) -> pa.Table:
    """Per-point truth of one lesson, or of every lesson of one night."""
    if day is None:
        if lesson_id is None:
            raise ValueError("give a lesson_id or a day")
        day = lesson(out, lesson_id)["lesson_date"]
    data = pq.read_table(io.BytesIO(_read(out, "points", f"{day}.parquet")))
    if lesson_id is not None:
        data = data.filter(pc.equal(data["lesson_id"], lesson_id))
    return data
