"""Accuracy of behaviour codes against reference codes (gold or the generator's truth).

Teacher behaviour: per-behaviour precision, recall and F1, macro-F1 and Cohen's kappa. Macro-F1
averages the behaviours that occur in the reference or the prediction (as scikit-learn does by
default): a behaviour no lesson of a small hold-out shows, and the model never predicts, says
nothing about the model and does not count as an F1 of 0. Student shares: mean
absolute error over points and the five shares (and per share). S/T agreement: the share
of points whose S/T code matches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

from jiaoyan import codes


def score(true_teacher: np.ndarray, pred_teacher: np.ndarray, true_shares: np.ndarray,
          pred_shares: np.ndarray) -> dict[str, Any]:
    labels = list(codes.teacher_codes())
    t = np.array([labels.index(x) for x in true_teacher])
    p = np.array([labels.index(x) for x in pred_teacher])
    precision, recall, per, support = precision_recall_fscore_support(t, p, labels=range(len(labels)), average=None,
                                                                      zero_division=0.0)
    err = np.abs(np.asarray(pred_shares, np.float64) - np.asarray(true_shares, np.float64))
    st_true = codes.st_codes(t, np.asarray(true_shares))
    st_pred = codes.st_codes(p, np.asarray(pred_shares))
    out: dict[str, Any] = {
        "points": len(t),
        "teacher_macro_f1": float(per[(support > 0) | (np.bincount(p, minlength=len(labels)) > 0)].mean()),
        "teacher_kappa": float(cohen_kappa_score(t, p)),
        "teacher_accuracy": float((t == p).mean()),
        "share_mae": float(err.mean()),
        "st_agreement": float((st_true == st_pred).mean()),
    }
    out.update({f"f1_{code}": float(v) for code, v in zip(labels, per, strict=True)})
    out.update({f"precision_{code}": float(v) for code, v in zip(labels, precision, strict=True)})
    out.update({f"recall_{code}": float(v) for code, v in zip(labels, recall, strict=True)})
    out.update({f"support_{code}": int(v) for code, v in zip(labels, support, strict=True)})
    out.update({f"mae_{col}": float(v) for col, v in zip(codes.share_columns(), err.mean(axis=0), strict=True)})
    out["confusion"] = confusion_matrix(t, p, labels=range(len(labels))).tolist()
    return out


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics MLflow can log (numbers only)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def confusion_figure(metrics: dict[str, Any], title: str = "teacher behaviour, hold-out") -> Any:
    """A matplotlib figure of the confusion matrix (rows: gold, columns: predicted; counts and row shares)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    labels = list(codes.teacher_codes())
    matrix = np.asarray(metrics["confusion"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(matrix[i, j])}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{title}: macro-F1 {metrics['teacher_macro_f1']:.3f}, kappa {metrics['teacher_kappa']:.3f}",
                 fontsize=9)
    fig.tight_layout()
    return fig
