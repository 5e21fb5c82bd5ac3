"""The MLflow pyfunc wrapper, logged as a *model from code*: this file is copied into every model
version, so a version predicts with the code it was trained with. Loading needs scikit-learn,
pandas and joblib only — no Jiaoyan package: the estimator artifact is a plain dict of
scikit-learn objects and the code lists they were trained on.

Input: a DataFrame with the feature columns of the model's signature (NaN allowed).
Output: a DataFrame with ``teacher_behaviour``, ``teacher_prob`` and the five share columns.
"""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

import mlflow

ESTIMATOR_ARTIFACT = "estimator"


def predict_bundle(bundle: dict[str, Any], features: pd.DataFrame) -> pd.DataFrame:
    """Teacher behaviour with its probability, and five shares clipped at 0 and summing to 1."""
    names = bundle["feature_names"]
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise ValueError(f"{len(missing)} feature(s) missing, e.g. {missing[:3]}; the model needs feature set "
                         f"{bundle['feature_set']}")
    x = features[names].to_numpy(dtype=np.float32)
    teacher_codes = np.asarray(bundle["teacher_codes"])
    clf = bundle["teacher"]
    proba = np.zeros((len(x), len(teacher_codes)))
    proba[:, clf.classes_] = clf.predict_proba(x)
    best = proba.argmax(axis=1)
    shares = np.clip(np.column_stack([r.predict(x) for r in bundle["shares"]]), 0.0, None)
    total = shares.sum(axis=1, keepdims=True)
    shares = np.where(total > 0, shares / np.where(total > 0, total, 1.0), 1.0 / shares.shape[1])
    out = pd.DataFrame({"teacher_behaviour": teacher_codes[best],
                        "teacher_prob": proba[np.arange(len(x)), best].astype(np.float32)})
    for j, col in enumerate(bundle["share_columns"]):
        out[col] = shares[:, j].astype(np.float32)
    return out


class BehaviourPyfunc(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.bundle = joblib.load(context.artifacts[ESTIMATOR_ARTIFACT])

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_bundle(self.bundle, model_input)


mlflow.models.set_model(BehaviourPyfunc())
