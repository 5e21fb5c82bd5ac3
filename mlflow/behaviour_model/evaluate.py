"""Evaluate the whole pipeline — decoding, features, the registered model, writing — on gold lessons:
run Ray inference on their videos into a lake, read the behaviour codes back and score them
against the gold codes. On synthetic lessons this measures the pipeline against the
generator's truth, not how well it would code real classrooms.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from behaviour_model import dataset, metrics
from jiaoyan import codes
from jiaoyan.landing import filesystem


def evaluate_pipeline(lessons: Sequence[dataset.GoldLesson], lake_uri: str | None = None, batch_id: str = "evaluation",
                      settings: Any = None, progress: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Metrics of the pipeline's codes against gold, plus the run's summary."""
    from ray_inference.lessons import LessonRef, LessonSet
    from ray_inference.output import codes_path
    from ray_inference.pipeline import run_inference

    refs = LessonSet([LessonRef(g.lesson_id, g.video_uri) for g in lessons], batch_id, "evaluation")
    with tempfile.TemporaryDirectory(prefix="jiaoyan-eval-") as tmp:
        lake = lake_uri or tmp
        summary = run_inference(refs, lake_uri=lake, batch_id=batch_id, settings=settings, progress=progress)
        frames = []
        for g in lessons:
            fs, path = filesystem(codes_path(lake, batch_id, g.lesson_id))
            if not fs.exists(path):
                continue
            with fs.open(path, "rb") as handle:
                pred = pq.read_table(handle).to_pandas().set_index("point_index")
            gold = g.codes()
            common = gold.index.intersection(pred.index)
            frames.append(pd.DataFrame({
                "true": gold.loc[common, "teacher_behaviour"].to_numpy(),
                "pred": pred.loc[common, "teacher_behaviour"].to_numpy(),
                **{f"t_{c}": gold.loc[common, c].to_numpy(np.float64) for c in codes.share_columns()},
                **{f"p_{c}": pred.loc[common, c].to_numpy(np.float64) for c in codes.share_columns()},
            }))
    if not frames:
        return {"summary": summary.as_dict()}
    joined = pd.concat(frames, ignore_index=True)
    cols = list(codes.share_columns())
    result = metrics.score(joined["true"].to_numpy(), joined["pred"].to_numpy(),
                           joined[[f"t_{c}" for c in cols]].to_numpy(), joined[[f"p_{c}" for c in cols]].to_numpy())
    result["summary"] = summary.as_dict()
    return result
