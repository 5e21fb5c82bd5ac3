"""Synthetic lessons for training, evaluation, tests and benchmarks.

Scripts come from the demo-world generator's own lesson logic
(:func:`jiaoyan.demo_world.lessons.generate_points`: teacher styles, segments, classroom
states), so a lesson rendered here behaves like a demo-world lesson; videos come from the
demo-world renderer. Each set is written like a landing-zone batch — ``manifest.csv``,
``videos/<lesson>.mp4`` and ``gold/<lesson>.csv`` (contract ``gold_codes``, the exact
truth) — so training reads it through the same code path as real gold lessons.

Everything is deterministic in ``(seed, name)`` and cached: a video is rendered only if
it is missing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jiaoyan import codes
from jiaoyan.contracts.sources import GOLD_CODES
from jiaoyan.demo_world import lessons
from jiaoyan.demo_world.randomness import int_seed, stream
from jiaoyan.demo_world.script import LessonScript


@dataclass(frozen=True)
class SyntheticLesson:
    lesson_id: str
    teacher_id: str
    video: Path
    gold: Path
    script: LessonScript


def scripts(seed: int, name: str, n: int, points: tuple[int, int] = (20, 50)) -> list[tuple[str, LessonScript]]:
    """``n`` lesson scripts (teacher id, script) drawn the way the generator draws a night's lessons."""
    rng = stream(seed, "inference-synthetic", name)
    style = rng.choice(lessons.STYLES, size=n, p=lessons.STYLE_SHARE)
    frame = pd.DataFrame({
        "n_points": rng.integers(points[0], points[1] + 1, n),
        "class_size": np.clip(np.rint(rng.normal(44, 9, n)), 12, 62).astype(np.int16),
        "style": style,
        "trend": rng.choice(lessons.TRENDS, size=n, p=lessons.TREND_SHARE),
        "trend_step": rng.uniform(0.04, 0.09, n),
        "terms_on": rng.integers(0, 4, n),
        "engagement": np.clip(rng.normal(0.93, 0.03, n), 0.75, 1.0),
        "participation": np.clip(rng.normal(1.0, 0.15, n), 0.5, 1.4),
    })
    pts = lessons.generate_points(rng, frame)
    teachers = rng.integers(0, max(1, n // 2), n)  # about two lessons per teacher, for grouped splits
    out = []
    for i in range(n):
        lesson_id = f"{name}-{i:04d}"
        out.append((f"T{name}-{teachers[i]:03d}", pts.script(i, lesson_id, int_seed(seed, "render", lesson_id))))
    return out


def lesson_set(folder: str | Path, seed: int, name: str, n: int, preset: str = "default",
               points: tuple[int, int] = (20, 50), log: Callable[[str], None] | None = None) -> list[SyntheticLesson]:
    """Render (or reuse) a set of ``n`` lessons into ``folder`` with manifest and gold codes."""
    from jiaoyan.demo_world import video  # the renderer pulls heavy imports

    root = Path(folder)
    out = []
    for teacher_id, script in scripts(seed, name, n, points):
        path = root / "videos" / f"{script.lesson_id}.mp4"
        if not path.exists():
            result = video.render_lesson(script, path, preset)
            if log:
                log(f"rendered {path.name} ({script.n_points} points, {preset}) in {result.cpu_s:.1f} s CPU")
        gold = write_gold(root / "gold" / f"{script.lesson_id}.csv", script)
        out.append(SyntheticLesson(script.lesson_id, teacher_id, path, gold, script))
    _write_manifest(root / "manifest.csv", out)
    return out


def write_gold(path: Path, script: LessonScript) -> Path:
    """The script's exact truth in the ``gold_codes`` contract."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = codes.teacher_codes()
    shares = script.shares
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(GOLD_CODES.field_names)
        for k in range(script.n_points):
            writer.writerow([script.lesson_id, k, names[int(script.teacher[k])], *(f"{x:.6f}" for x in shares[k]),
                             "synthetic", "2026-01-01T00:00:00+08:00"])
    return path


def _write_manifest(path: Path, items: list[SyntheticLesson]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["lesson_id", "teacher_id", "video_uri", "gold_uri", "class_size", "duration_s"])
        for item in items:
            writer.writerow([item.lesson_id, item.teacher_id, f"videos/{item.video.name}", f"gold/{item.gold.name}",
                             item.script.class_size, f"{item.script.duration_s:.1f}"])


def bench_lesson(folder: str | Path, minutes: int = 45, preset: str = "bench", seed: int = 2026) -> SyntheticLesson:
    """The benchmark's full-length lesson (rendered once, cached)."""
    n_points = int(minutes * 60 / codes.SAMPLING_INTERVAL_S)
    name = f"bench{minutes}m"
    (teacher_id, script), = scripts(seed, name, 1, (n_points, n_points))
    root = Path(folder)
    path = root / f"{script.lesson_id}-{preset}.mp4"
    if not path.exists():
        from jiaoyan.demo_world import video

        video.render_lesson(script, path, preset)
    gold = write_gold(root / f"{script.lesson_id}.csv", script)
    return SyntheticLesson(script.lesson_id, teacher_id, path, gold, script)
