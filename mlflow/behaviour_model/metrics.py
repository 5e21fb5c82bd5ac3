"""Accuracy of behaviour codes against reference codes (gold or the generator's truth).

Teacher behaviour: per-behaviour F1, macro-F1 and Cohen's kappa. Student shares: mean
absolute error over points and the five shares (and per share). S/T agreement: the share
of points whose S/T code matches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score

from jiaoyan import codes


def score(true_teacher: np.ndarray, pred_teacher: np.ndarray, true_shares: np.ndarray,
          pred_shares: np.ndarray) -> dict[str, Any]:
    labels = list(codes.teacher_codes())
    t = np.array([labels.index(x) for x in true_teacher])
    p = np.array([labels.index(x) for x in pred_teacher])
    per = f1_score(t, p, labels=range(len(labels)), average=None, zero_division=0.0)
    err = np.abs(np.asarray(pred_shares, np.float64) - np.asarray(true_shares, np.float64))
    st_true = codes.st_codes(t, np.asarray(true_shares))
    st_pred = codes.st_codes(p, np.asarray(pred_shares))
    out: dict[str, Any] = {
        "points": len(t),
        "teacher_macro_f1": float(per.mean()),
        "teacher_kappa": float(cohen_kappa_score(t, p)),
        "teacher_accuracy": float((t == p).mean()),
        "share_mae": float(err.mean()),
        "st_agreement": float((st_true == st_pred).mean()),
    }
    out.update({f"f1_{code}": float(v) for code, v in zip(labels, per, strict=True)})
    out.update({f"mae_{col}": float(v) for col, v in zip(codes.share_columns(), err.mean(axis=0), strict=True)})
    out["confusion"] = confusion_matrix(t, p, labels=range(len(labels))).tolist()
    return out


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics MLflow can log (numbers only)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
