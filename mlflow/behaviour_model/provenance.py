"""What a training run is made of, for the record: the data version and the code version.

- **data version**: ``sha256`` of the training set as the model saw it — per lesson (sorted) its
  id, teacher and, point by point, the gold teacher behaviour and the five shares (rounded to
  1e-4) — so the same gold lessons give the same hash wherever their files live, and any
  re-coded point, added or dropped lesson changes it. A warehouse source adds a snapshot marker
  (the newest ``_batch_id`` and ``_loaded_at`` among the gold rows read).
- **code version**: ``JIAOYAN_CODE_VERSION`` if set (images built without ``.git``), else the
  git commit of the checkout (``+dirty`` when tracked files of the model's code differ), else
  the installed package version (``jiaoyan==0.1.0``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

CODE_PATHS = ("mlflow", "ray_inference", "jiaoyan")


def data_version(lesson: np.ndarray, teacher_id: np.ndarray, teacher: np.ndarray, shares: np.ndarray) -> str:
    """``sha256:<hex>`` of the labelled points (lesson order does not matter; point order within a lesson does)."""
    frame = pd.DataFrame({"lesson": lesson.astype(str), "teacher_id": teacher_id.astype(str),
                          "code": teacher.astype(str)})
    frame["point"] = frame.groupby("lesson", sort=False).cumcount()
    rounded = np.round(np.asarray(shares, np.float64), 4)
    for j in range(rounded.shape[1]):
        frame[f"s{j}"] = rounded[:, j]
    frame = frame.sort_values(["lesson", "point"], kind="stable")
    digest = hashlib.sha256(frame.to_csv(index=False, float_format="%.4f").encode())
    return f"sha256:{digest.hexdigest()}"


@cache
def code_version() -> str:
    configured = os.environ.get("JIAOYAN_CODE_VERSION")
    if configured:
        return configured
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                *CODE_PATHS], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        if commit:
            return f"git:{commit}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"jiaoyan=={version('jiaoyan')}"
    except PackageNotFoundError:
        return "unknown"
