"""The ground-truth behaviour script of a synthetic lesson.

A script fixes, for every 6-second point, the teacher's behaviour and how many of the
class do each student behaviour. The video renderer draws and voices exactly this, so
each point of a rendered lesson has a known truth. The behaviour is held for the
whole window ``[k * interval, (k + 1) * interval)`` of point ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jiaoyan import codes


@dataclass(frozen=True)
class LessonScript:
    lesson_id: str
    seed: int  # drives every random choice the renderer makes for this lesson
    class_size: int
    teacher: np.ndarray  # int8 (n_points,), index into codes.teacher_codes()
    student_counts: np.ndarray  # int16 (n_points, 5), students per student behaviour; rows sum to class_size
    interval_s: float = codes.SAMPLING_INTERVAL_S

    def __post_init__(self) -> None:
        if self.teacher.ndim != 1 or self.student_counts.shape != (self.teacher.shape[0], 5):
            raise ValueError(
                f"{self.lesson_id}: teacher {self.teacher.shape} and counts {self.student_counts.shape} disagree"
            )
        sums = self.student_counts.sum(axis=1)
        if not np.all(sums == self.class_size):
            bad = int(np.flatnonzero(sums != self.class_size)[0])
            raise ValueError(f"{self.lesson_id}: point {bad} has {sums[bad]} students, class size is {self.class_size}")

    @property
    def n_points(self) -> int:
        return int(self.teacher.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_points * self.interval_s

    @property
    def shares(self) -> np.ndarray:
        """Student shares (n_points, 5), float32, each row summing to 1."""
        return (self.student_counts / self.class_size).astype(np.float32)

    def teacher_code(self, point: int) -> str:
        return codes.teacher_codes()[int(self.teacher[point])]

    def st_codes(self) -> np.ndarray:
        return codes.st_codes(self.teacher, self.shares)
