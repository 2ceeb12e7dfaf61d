"""Random forests: scikit-learn's on the CPU, LightGBM's random-forest mode as the GPU path.

`ForestRegressor` / `ForestClassifier` (binary, or multilabel y (n, k)) add what the fast.ai
lessons use a forest for: per-tree subsampling with `max_samples` (set_rf_samples, through
scikit-learn's own parameter instead of patching it), the out-of-bag score, a per-row
confidence from the spread of the trees' predictions, and impurity and permutation importance.

GPU path (backend="lightgbm"): LightGBM's `boosting="rf"` (bagged, unboosted trees averaged)
rather than XGBoost's random forest on CUDA. Measured here: the xgboost wheel is 132 MB and on
Linux pulls nvidia-nccl-cu12 (352 MB more), a heavy dependency for a laptop CPU install,
whereas LightGBM is already a dependency and its PyPI wheel carries the OpenCL GPU learner
(device_type="gpu"), which NVIDIA's driver runs. The same code path runs on the CPU
(backend="lightgbm", device="cpu"), which is how it is tested; its accuracy is checked
against scikit-learn's forest on the same data (tests/models/test_forest.py), and on the full
Bulldozers twin it matched it on the CPU too, 2.3x faster (see _LIGHTGBM_LEAVES). What it
cannot give: an out-of-bag score (LightGBM does not keep which rows each tree skipped). Not yet
measured on a GPU: no GPU machine was available when it was written.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4)); y = X[:, 0] + rng.normal(size=300) * 0.1
>>> m = ForestRegressor(n_estimators=20, max_samples=100, oob_score=True, n_jobs=1).fit(X, y)
>>> m.oob_score_ > 0.8
True
>>> m.predict_with_std(X[:5]).std.shape
(5,)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from kit.errors import KitError
from kit.models._base import Encoded, LabelOutputs, TabularModel, resolve_device
from kit.models.gbm import check_param_types, lightgbm_threads, row_weights, train_boosters

BACKENDS = ("auto", "sklearn", "lightgbm")
#: leaves per tree for LightGBM when max_leaf_nodes is None. It grows trees leaf by leaf, at a
#: cost that climbs steeply with the leaf count; measured on the full Bulldozers twin (380k
#: rows, max_samples=200k, 6 trees, 1 thread): scikit-learn 35.6 s, RMSE 0.302 (43k leaves per
#: tree); LightGBM capped at 2,048 leaves 14.3 s, 0.296; 4,096: 15.4 s, 0.294; 16,384: 49 s, 0.295
_LIGHTGBM_LEAVES = 4096
#: trees summed per thread task at predict time (a fixed grouping keeps the sum's order, and so its bits)
_TREES_PER_TASK = 8


@dataclass(frozen=True)
class ForestPrediction:
    """The forest's prediction and the spread of its trees around it, per row."""

    #: what predict (regression) or the positive-class probability (classifiers) returns:
    #: (n,) for one output, (n, k) for multilabel
    value: np.ndarray
    #: standard deviation of the individual trees' predictions, same shape
    std: np.ndarray


class _Forest(TabularModel):
    """A random forest; see ForestRegressor / ForestClassifier."""

    def __init__(self, *, n_estimators: int = 100, max_samples: int | float | None = None,
                 max_features: float | int | str | None = 0.5, min_samples_leaf: int = 3,
                 max_depth: int | None = None, max_leaf_nodes: int | None = None,
                 oob_score: bool = False, backend: str = "auto",
                 device: str = "auto", cat_features: list[str] | None = None, n_jobs: int = -1,
                 random_state: int = 0):
        self.n_estimators = n_estimators
        #: rows drawn per tree: a count, a fraction of the rows, or None for a full bootstrap
        self.max_samples = max_samples
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        #: leaves per tree at most; None: unlimited for scikit-learn, 4,096 for LightGBM
        self.max_leaf_nodes = max_leaf_nodes
        self.oob_score = oob_score
        #: "sklearn" (CPU), "lightgbm" (GPU path, also runs on CPU), "auto" (lightgbm on a GPU)
        self.backend = backend
        self.device = device
        self.cat_features = cat_features
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------

    def check_params(self) -> None:
        """Raise a KitError for a hyperparameter of the wrong type (`--param n_estimators=abc`) or
        below its range, before any work."""
        check_param_types(self, {"n_estimators": "int", "min_samples_leaf": "int", "max_depth": "int?",
                                 "max_leaf_nodes": "int?", "max_samples": "number?", "n_jobs": "int",
                                 "random_state": "int"})
        if self.n_estimators < 1:
            raise KitError(f"n_estimators must be at least 1, got {self.n_estimators}")
        if self.min_samples_leaf < 1:
            raise KitError(f"min_samples_leaf must be at least 1, got {self.min_samples_leaf}; "
                           f"e.g. --param min_samples_leaf=3")

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None, sample_weight: Any = None,
            eval_sample_weight: Any = None, callbacks: Sequence | None = None):
        """Fit the trees. With `eval_set`, its `score` (R² or accuracy) is kept in valid_score_.

        `sample_weight` weighs the rows; `eval_sample_weight` is accepted for the common fit
        contract and unused (the forest does not stop early); the trees grow in one step, so
        `callbacks` are never called."""
        if self.backend not in BACKENDS:
            raise KitError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        device = resolve_device(self.device)
        backend = self.backend if self.backend != "auto" else ("lightgbm" if device == "cuda" else "sklearn")
        if backend == "sklearn" and device == "cuda":
            raise KitError("scikit-learn's forest runs on the CPU only; use backend='lightgbm' for the GPU "
                           "or device='cpu'")
        if backend == "lightgbm" and self.oob_score:
            raise KitError("oob_score needs backend='sklearn': LightGBM's random forest does not keep "
                           "out-of-bag rows; set oob_score=False and score a validation set instead")
        self.check_params()
        enc, t, valid = self._fit_inputs(X, y, eval_set)
        n = enc.n_rows
        w = row_weights(sample_weight, n, "sample_weight")
        self.backend_ = backend
        self.device_ = device
        if backend == "lightgbm":
            try:
                self._fit_lightgbm(enc.matrix(), t.reshape(n, -1), n, device, w)
            except KitError as err:
                if not (self.backend == "auto" and self.device == "auto" and device == "cuda"):
                    raise
                # "auto" promised something that works: a GPU without an OpenCL runtime falls back
                warnings.warn(f"{err}; fitting scikit-learn's forest on the CPU instead", stacklevel=2)
                backend = self.backend_ = "sklearn"
                self.device_ = "cpu"
        if backend == "sklearn":
            self._fit_sklearn(enc.matrix(), t, n, w)
        if valid is not None:
            self.valid_score_ = self._score_encoded(*valid)
        return self

    def _samples(self, n: int) -> int | None:
        m = self.max_samples
        if m is None:
            return None
        if isinstance(m, float) and 0 < m <= 1:
            return max(1, round(m * n))
        if isinstance(m, (int, np.integer)) and not isinstance(m, bool) and m >= 1:
            return min(int(m), n)  # at most m rows per tree: the same setting works on any data size
        raise KitError(f"max_samples must be a row count >= 1 (at most that many rows per tree) or a fraction in "
                       f"(0, 1], got {m!r}")

    def _fit_sklearn(self, X: np.ndarray, y: np.ndarray, n: int, w: np.ndarray | None) -> None:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if self._classifier else RandomForestRegressor
        self.estimator_ = cls(
            n_estimators=self.n_estimators, max_samples=self._samples(n), max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf, max_depth=self.max_depth,
            max_leaf_nodes=self.max_leaf_nodes, bootstrap=True,
            oob_score=self.oob_score, n_jobs=self.n_jobs, random_state=self.random_state)
        self.estimator_.fit(X, y.astype(np.int64) if self._classifier else y, sample_weight=w)
        if self.oob_score:
            self.oob_score_ = float(self.estimator_.oob_score_)

    def _fit_lightgbm(self, X: np.ndarray, Y: np.ndarray, n: int, device: str, w: np.ndarray | None) -> None:
        # Bagging without replacement at 63.2% matches the unique rows of a full bootstrap.
        rows = self._samples(n)
        fraction = 0.632 if rows is None else min(rows / n, 0.999)  # rf mode needs < 1
        mf = self.max_features
        p = X.shape[1]
        if mf is None:
            ff = 1.0
        elif mf == "sqrt":
            ff = max(1, int(np.sqrt(p))) / p
        elif mf == "log2":
            ff = max(1, int(np.log2(p))) / p
        elif isinstance(mf, float) and 0 < mf <= 1:
            ff = mf
        elif isinstance(mf, (int, np.integer)) and 1 <= mf <= p:
            ff = mf / p
        else:
            raise KitError(f"max_features must be a fraction, a count in 1..{p}, 'sqrt', 'log2' or None, "
                           f"got {mf!r}")
        bag = max(2, round(fraction * n))
        leaves = _LIGHTGBM_LEAVES if self.max_leaf_nodes is None else self.max_leaf_nodes
        if not 2 <= leaves <= 131_072:
            raise KitError(f"max_leaf_nodes must be in 2..131072 for LightGBM, got {leaves}")
        params = {
            "objective": "binary" if self._classifier else "regression", "boosting": "rf",
            "bagging_fraction": fraction, "bagging_freq": 1, "feature_fraction_bynode": ff,
            "num_leaves": int(max(2, min(leaves, bag // max(1, self.min_samples_leaf)))),
            "max_depth": -1 if self.max_depth is None else self.max_depth,
            "min_data_in_leaf": self.min_samples_leaf, "min_sum_hessian_in_leaf": 1e-9,
            "lambda_l2": 0.0, "min_gain_to_split": 0.0,
            "device_type": "gpu" if device == "cuda" else "cpu", "num_threads": lightgbm_threads(self.n_jobs),
            "seed": self.random_state, "deterministic": True, "force_col_wise": True, "verbose": -1,
        }
        # codes are treated as numbers, as scikit-learn's forest sees them, so the two agree
        self.boosters_ = train_boosters(params, X, Y, rounds=self.n_estimators, cat_idx=[], weight=w)

    # -- predicting -----------------------------------------------------------------------

    def _outputs(self, enc: Encoded) -> np.ndarray:
        """(n, k): the prediction, or the positive-class probability of each output."""
        X = enc.matrix()
        if self.backend_ == "lightgbm":
            return np.column_stack([b.predict(X) for b in self.boosters_])
        return self._sklearn_outputs(X)

    def _sklearn_outputs(self, X: np.ndarray) -> np.ndarray:
        """The trees' mean, summed in a fixed order. scikit-learn's own threaded predict adds the
        trees up in whatever order its threads finish, so the last bits of a prediction (and so a
        submission's bytes) changed from one call to the next; here groups of _TREES_PER_TASK trees
        are summed on the threads and the groups added in tree order: the same bits every time,
        whatever the thread count."""
        from concurrent.futures import ThreadPoolExecutor

        from joblib import effective_n_jobs

        trees = self.estimator_.estimators_
        groups = [trees[i:i + _TREES_PER_TASK] for i in range(0, len(trees), _TREES_PER_TASK)]

        def group_sum(group) -> np.ndarray:
            total = None
            for tree in group:
                out = self._one_tree(tree, X)
                total = out if total is None else total + out
            return total

        workers = max(1, min(effective_n_jobs(self.n_jobs), len(groups)))
        with ThreadPoolExecutor(workers) as pool:  # tree predictions release the GIL
            parts = list(pool.map(group_sum, groups))
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total / len(trees)

    def _one_tree(self, tree, X: np.ndarray) -> np.ndarray:
        if self._classifier:
            return _positive(tree.predict_proba(X, check_input=False), tree.classes_, self.n_outputs_)
        return tree.predict(X, check_input=False).reshape(len(X), -1)

    def _tree_outputs(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """Each tree's (n, k) prediction in turn (a loop over trees, never over rows)."""
        if self.backend_ == "lightgbm":
            for i in range(self.n_estimators):
                yield np.column_stack([b.predict(X, start_iteration=i, num_iteration=1)
                                       for b in self.boosters_])
            return
        for tree in self.estimator_.estimators_:
            yield self._one_tree(tree, X)

    def predict_with_std(self, X: Any) -> ForestPrediction:
        """The prediction and the standard deviation of the trees' predictions (fast.ai's confidence)."""
        enc = self._encode(X)
        M = enc.matrix()
        # running sums keep memory at two (n, k) arrays instead of n_trees of them
        s = np.zeros((enc.n_rows, self._n_out()), np.float64)
        s2 = np.zeros_like(s)
        for k, out in enumerate(self._tree_outputs(M), 1):
            s += out
            s2 += out * out
        mean = s / k
        std = np.sqrt(np.clip(s2 / k - mean * mean, 0, None))
        value = self._outputs(enc)
        squeeze = self._squeeze
        return ForestPrediction(value=squeeze(value), std=squeeze(std))

    def predict_std(self, X: Any) -> np.ndarray:
        """Per-row standard deviation of the trees' predictions."""
        return self.predict_with_std(X).std

    def _n_out(self) -> int:
        return self.n_outputs_ if self._classifier else 1

    def _squeeze(self, a: np.ndarray) -> np.ndarray:
        return a[:, 0] if a.shape[1] == 1 and self._n_out() == 1 else a

    def contributions(self, X: Any) -> np.ndarray:
        """Each feature's contribution to each row's prediction, (n, n_features + 1).

        Columns follow `schema_.feature_names`, then the bias LAST. scikit-learn backend: the
        path decomposition (tree interpreter) averaged over the trees; a row sums to predict(X),
        or to P(class 1) = predict_proba(X)[:, 1] for a binary classifier. LightGBM backend:
        TreeSHAP averaged over the trees; a row sums to predict(X), or to the log-odds
        logit(P(class 1)) for a classifier (rf mode averages raw scores before the sigmoid).
        `kit.models.tree_paths.contribution_scale(model)` says which. Multilabel: a KitError.

        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)); y = X[:, 0] + 0.1 * rng.normal(size=100)
        >>> m = ForestRegressor(n_estimators=5, n_jobs=1).fit(X, y)
        >>> bool(np.allclose(m.contributions(X[:3]).sum(axis=1), m.predict(X[:3])))
        True
        """
        from kit.models.tree_paths import booster_contributions, check_single_output, forest_contributions, one_booster

        M = self._encode(X).matrix()  # checks that the model is fitted
        name = type(self).__name__
        if self.backend_ == "lightgbm":
            return booster_contributions(one_booster(self.boosters_, name), M, average=True)
        check_single_output(self.n_outputs_ if self._classifier else 1, name)
        return forest_contributions(self.estimator_.estimators_, M, positive_class=1 if self._classifier else None)

    # -- importance -----------------------------------------------------------------------

    def feature_importance(self) -> pl.DataFrame:
        """Impurity importance (mean decrease in impurity; total gain for LightGBM), as shares."""
        if self.backend_ == "lightgbm":
            imp = np.asarray(sum(b.feature_importance("gain") for b in self.boosters_), np.float64)
        else:
            imp = np.asarray(self.estimator_.feature_importances_, np.float64)
        total = imp.sum()
        return (pl.DataFrame({"feature": list(self.schema_.feature_names),
                              "importance": imp / total if total > 0 else imp})
                .sort("importance", descending=True))

    def permutation_importance(self, X: Any, y: Any, *, n_repeats: int = 5, scoring: str | None = None,
                               random_state: int | None = 0) -> pl.DataFrame:
        """How much the score drops when each column is shuffled (sklearn.inspection), best first.

        Score on a validation set: on training rows a forest's memorised noise looks important.
        `scoring` is any scikit-learn scorer name; None uses R² (regression) or accuracy.
        """
        from sklearn.inspection import permutation_importance

        enc = self._encode(X)
        target = self._target(y, enc.n_rows)
        # permute the encoded matrix, so the columns are coded once, not once per repeat
        view = (_OnCodesClassifier if self._classifier else _OnCodesRegressor)(self)
        r = permutation_importance(view, enc.matrix(), target, scoring=scoring,
                                   n_repeats=n_repeats, random_state=random_state, n_jobs=1)
        return (pl.DataFrame({"feature": list(self.schema_.feature_names),
                              "importance_mean": r.importances_mean, "importance_std": r.importances_std})
                .sort("importance_mean", descending=True))

    def _target(self, y: Any, n: int) -> np.ndarray:
        from kit.models._base import label_target, regression_target

        t = label_target(y, n) if self._classifier else regression_target(y, n)
        return t.astype(np.int64) if self._classifier else t

    def _score_encoded(self, enc: Encoded, t: np.ndarray) -> float:
        from sklearn.metrics import accuracy_score, r2_score

        out = self._squeeze(self._outputs(enc))
        if self._classifier:
            return float(accuracy_score(t.astype(np.int64), (out >= 0.5).astype(np.int64)))
        return float(r2_score(t, out))


def _positive(proba: Any, classes: Any, n_outputs: int) -> np.ndarray:
    """scikit-learn's predict_proba (an array, or a list per output) as (n, k) P(label = 1)."""
    if n_outputs == 1:
        proba, classes = [proba], [classes]
    cols = []
    for p, c in zip(proba, classes):
        hit = np.flatnonzero(np.asarray(c) == 1)
        # a label constant in the training rows has a single class: P(1) is 0 or 1
        cols.append(p[:, hit[0]] if hit.size else np.zeros(len(p)))
    return np.column_stack(cols)


class _OnCodes(BaseEstimator):
    """A fitted kit forest seen as an estimator on encoded matrices (for sklearn.inspection)."""

    def __init__(self, forest: _Forest | None = None):
        self.forest = forest

    def fit(self, X, y):  # pragma: no cover - permutation_importance never refits
        raise NotImplementedError("a view of a fitted forest; fit the forest itself")

    def _outputs(self, M: np.ndarray) -> np.ndarray:
        f = self.forest
        k = len(f.schema_.cat_names)
        return f._squeeze(f._outputs(Encoded(M[:, :k].astype(np.int64), M[:, k:])))

    def score(self, M: np.ndarray, y: np.ndarray) -> float:
        f = self.forest
        k = len(f.schema_.cat_names)
        return f._score_encoded(Encoded(M[:, :k].astype(np.int64), M[:, k:]), y)


class _OnCodesRegressor(RegressorMixin, _OnCodes):
    def predict(self, M: np.ndarray) -> np.ndarray:
        return self._outputs(M)


class _OnCodesClassifier(ClassifierMixin, _OnCodes):
    classes_ = np.array([0, 1])

    def predict(self, M: np.ndarray) -> np.ndarray:
        return (self._outputs(M) >= 0.5).astype(np.int64)

    def predict_proba(self, M: np.ndarray) -> np.ndarray:
        p = self._outputs(M)
        return np.column_stack([1 - p, p]) if p.ndim == 1 else p


class ForestRegressor(RegressorMixin, _Forest):
    """A random forest for regression: fit log1p(target) yourself for RMSLE-scored competitions."""

    def predict(self, X: Any) -> np.ndarray:
        return self._outputs(self._encode(X))[:, 0]


class ForestClassifier(LabelOutputs, ClassifierMixin, _Forest):
    """A random forest for a binary target, or a multilabel (n, k) 0/1 matrix."""

    def _positive_proba(self, enc: Encoded) -> np.ndarray:
        return self._as_outputs(self._outputs(enc))
