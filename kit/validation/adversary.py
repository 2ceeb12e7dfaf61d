"""The classifier of adversarial validation: LightGBM told to find the test rows.

A scikit-learn estimator, so kit.runs.cross_validate clones and fits it per fold like any
other model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["AdversaryClassifier", "default_threads"]


def default_threads() -> int:
    """Half the cores this process may run on, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


_DATASET_PARAMS = ("verbosity", "num_threads", "seed", "force_col_wise")


class AdversaryClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM's binary booster on a float matrix: "is this row from the test file?"

    A scikit-learn estimator around `lightgbm.train`, so kit.runs.cross_validate can clone it
    per fold. X is a numpy matrix (NaN missing), `categorical` the indices of its columns
    that hold category codes. `feature_importances_` is the fitted booster's gain per column.
    """

    def __init__(self, *, categorical: Sequence[int] = (), n_estimators: int = 100, learning_rate: float = 0.1,
                 num_leaves: int = 31, num_threads: int = 1, seed: int = 0) -> None:
        self.categorical = categorical
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.num_threads = num_threads
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> AdversaryClassifier:
        import lightgbm as lgb

        X, y = np.asarray(X, np.float64), np.asarray(y)
        params = {"objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                  "min_data_in_leaf": 20, "seed": self.seed, "deterministic": True, "verbosity": -1,
                  "num_threads": self.num_threads, "force_col_wise": True}
        data = lgb.Dataset(X, y, categorical_feature=list(self.categorical),
                           params={k: params[k] for k in _DATASET_PARAMS})
        self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self.booster_.predict(np.asarray(X, np.float64))
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)

    @property
    def feature_importances_(self) -> np.ndarray:
        return self.booster_.feature_importance(importance_type="gain")
