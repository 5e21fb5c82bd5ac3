"""The retraining loop's steps (``dags/retrain_behaviour_model.py``): train a challenger from the warehouse's
gold-coded lessons, then let the promotion gate decide. Both live in ``behaviour_model``; this keeps the DAG's
tasks to one call each and their XComs small."""

from __future__ import annotations

import os
from typing import Any

from jiaoyan import log

LOG = log.get(__name__)


def train_challenger(landing_uri: str | None = None) -> dict[str, Any]:
    """Train on every gold lesson in the warehouse; registered as challenger (champion when there is none)."""
    from behaviour_model.train import train_from_warehouse

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # scikit-learn's OpenMP threads fight Ray and Spark for the cores
    result = train_from_warehouse(landing_uri, log_fn=LOG.info)
    LOG.info("trained %s v%s (%s): hold-out %s", result.model_name, result.version, result.alias or "unregistered",
             {k: result.holdout.get(k) for k in ("teacher_macro_f1", "teacher_kappa", "share_mae")})
    return {"model_name": result.model_name, "version": result.version, "alias": result.alias,
            "run_id": result.run_id, "data_version": result.data_version,
            "holdout_macro_f1": result.holdout.get("teacher_macro_f1"),
            "train_lessons": len(result.train_lessons), "holdout_lessons": len(result.holdout_lessons)}


def promote_challenger(version: str) -> dict[str, Any]:
    """The champion/challenger gate on the same held-out lessons; a refusal is an outcome, not a failure."""
    from behaviour_model.registry import promote

    decision = promote(version, log_fn=LOG.info)
    LOG.info("%s", decision.line())
    for reason in decision.reasons:
        LOG.info("  %s", reason)
    return {"model_name": decision.model_name, "version": decision.challenger_version,
            "champion_before": decision.champion_version, "promoted": decision.promoted,
            "reasons": decision.reasons}
