"""Independent random streams per component of the world.

Every component (reference data, lessons of one day, activity of one day, …) draws
from its own ``numpy.random.Generator`` whose ``SeedSequence`` is the world seed with
the component's name as spawn key, so the volume one component draws never shifts
another's stream, and a day's content does not depend on which days are generated.
"""

from __future__ import annotations

import zlib

import numpy as np


def _word(key: str | int) -> int:
    return key if isinstance(key, int) else zlib.crc32(key.encode("utf-8"))


def stream(seed: int, *keys: str | int) -> np.random.Generator:
    """The generator of component ``keys`` of world ``seed``."""
    sequence = np.random.SeedSequence(seed, spawn_key=tuple(_word(k) for k in keys))
    return np.random.Generator(np.random.PCG64(sequence))


def int_seed(seed: int, *keys: str | int) -> int:
    """A stable 31-bit integer for ``keys`` (e.g. the renderer seed of a lesson)."""
    sequence = np.random.SeedSequence(seed, spawn_key=tuple(_word(k) for k in keys))
    return int(sequence.generate_state(1, np.uint32)[0] >> 1)
