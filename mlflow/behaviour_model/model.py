"""The behaviour model: gradient-boosted trees over the per-point feature vector.

- teacher behaviour: a ``HistGradientBoostingClassifier`` (4 classes, balanced weights; its
  class probability is the contract's ``teacher_prob``);
- student shares: one ``HistGradientBoostingRegressor`` per share, clipped at 0 and
  normalised so the five sum to 1.

Trees take NaN natively, which is how a missing input (no sound, no board found) reaches
the model. The estimator knows its feature names and the feature set that made them; it
never sees a lesson, a file or a camera — only numbers. Prediction is
:func:`behaviour_model.pyfunc_model.predict_bundle`, the same code the registered model runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from behaviour_model.pyfunc_model import predict_bundle
from jiaoyan import codes

DEFAULT_PARAMS: dict[str, Any] = {
    "max_iter": 150,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "max_features": 0.5,
    "random_state": 0,
}


def output_columns() -> list[str]:
    return ["teacher_behaviour", "teacher_prob", *codes.share_columns()]


@dataclass
class BehaviourEstimator:
    feature_names: list[str]
    feature_set: str
    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    bundle: dict[str, Any] | None = None

    def fit(self, features: pd.DataFrame, teacher: np.ndarray, shares: np.ndarray) -> BehaviourEstimator:
        """``teacher``: behaviour codes (strings); ``shares``: (n, 5) in ``codes.share_columns()`` order."""
        x = features[self.feature_names].to_numpy(dtype=np.float32)
        x[:, np.isnan(x).all(axis=0)] = 0.0  # a feature never seen in training (the trees cannot bin it)
        order = list(codes.teacher_codes())
        index = np.array([order.index(t) for t in teacher])
        clf = HistGradientBoostingClassifier(class_weight="balanced", **self.params).fit(x, index)
        regs = [HistGradientBoostingRegressor(**self.params).fit(x, shares[:, j]) for j in range(shares.shape[1])]
        self.bundle = {"feature_names": list(self.feature_names), "feature_set": self.feature_set,
                       "teacher_codes": order, "share_columns": list(codes.share_columns()),
                       "teacher": clf, "shares": regs, "params": dict(self.params)}
        return self

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        if self.bundle is None:
            raise RuntimeError("the estimator is not fitted")
        return predict_bundle(self.bundle, features)
