"""LightGBM gradient boosting with early stopping and native categorical splits.

`LightGBMRegressor` and `LightGBMClassifier` (binary, or multilabel as one booster per label)
train with LightGBM's native API (`lightgbm.train`) on the kit's encoding: categorical columns
arrive as codes 1..n (0 = missing/unknown) and are declared to LightGBM as categorical, so it
splits on sets of categories instead of on code order.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 3)); y = 2 * X[:, 0] + rng.normal(size=400) * 0.1
>>> m = LightGBMRegressor(n_estimators=200, n_jobs=1).fit(X[:300], y[:300], eval_set=(X[300:], y[300:]))
>>> m.best_iteration_ <= 200
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import ClassifierMixin, RegressorMixin

from kit.errors import KitError
from kit.models._base import Encoded, FitProgress, LabelOutputs, TabularModel, cuda_available, notify

#: LightGBM's GPU learner is OpenCL ("gpu"); its CUDA learner needs a source build, so the
#: PyPI wheel the kit installs speaks "gpu" for any NVIDIA card with a driver.
_LGB_DEVICES = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu"}


def lightgbm_device(device: str) -> str:
    """kit's device ("auto" | "cpu" | "cuda"/"gpu") as LightGBM's device_type."""
    if device == "auto":
        return "gpu" if cuda_available() else "cpu"
    if device not in _LGB_DEVICES:
        raise KitError(f"device must be one of auto, cpu, cuda, gpu, got {device!r}")
    return _LGB_DEVICES[device]


def lightgbm_threads(n_jobs: int | None) -> int:
    """scikit-learn's n_jobs as LightGBM's num_threads (0 = OpenMP's default, all cores)."""
    if n_jobs is None or n_jobs == -1:
        return 0
    if n_jobs < 1:
        raise KitError(f"n_jobs must be -1 (all cores) or a positive count, got {n_jobs}")
    return int(n_jobs)


#: what each kind of hyperparameter holds, for people, and an example value
_KINDS = {"int": ("a whole number", "63"), "int?": ("a whole number or null", "63"),
          "number": ("a number", "0.05"), "number?": ("a number or null", "0.5"),
          "ints": ("a list of whole numbers", "[200,100]"), "numbers": ("a list of numbers", "[0.01,0.1]")}


def _holds(value: Any, kind: str) -> bool:
    if value is None:
        return kind.endswith("?")
    if kind in ("ints", "numbers"):
        return isinstance(value, (list, tuple)) and all(_holds(v, kind[:-1]) for v in value)
    if isinstance(value, (bool, np.bool_)):  # True is an int to Python, not a leaf count to anyone
        return False
    if kind.startswith("int"):
        return isinstance(value, (int, np.integer))
    return isinstance(value, (int, float, np.integer, np.floating))


def check_param_types(model: Any, kinds: dict[str, str]) -> None:
    """Raise a KitError for the first hyperparameter of `model` whose value is not of its kind
    ("int", "number", "ints", "numbers"; "?" allows None): `--param num_leaves=abc` reaches the
    model as the text 'abc', which LightGBM, scikit-learn or torch would refuse with a traceback."""
    for name, kind in kinds.items():
        value = getattr(model, name)
        if not _holds(value, kind):
            what, example = _KINDS[kind]
            default = type(model)().get_params().get(name)
            if default is not None and _holds(default, kind):
                example = json.dumps(list(default) if isinstance(default, tuple) else default).replace(" ", "")
            raise KitError(f"hyperparameter {name} takes {what}, got {value!r} ({type(value).__name__}); "
                           f"give e.g. --param {name}={example}")


def train_boosters(params: dict, X: np.ndarray, Y: np.ndarray, *, rounds: int, cat_idx: list[int],
                   valid: tuple[np.ndarray, np.ndarray] | None = None,
                   early_stopping_rounds: int | None = None, weight: np.ndarray | None = None,
                   valid_weight: np.ndarray | None = None, callbacks: list | None = None,
                   curves: list | None = None) -> list:
    """One LightGBM booster per column of Y (n, k), sharing one binned Dataset.

    With `valid`, `curves` (a list) gets each booster's validation loss after every round it
    trained (lower is better: a score LightGBM maximises is negated).

    `callbacks` are extra LightGBM callbacks (an Optuna pruning reporter, say), given to the
    first label's booster only, so that its iterations are reported once.

    `weight` / `valid_weight` weigh the rows of X / valid[0] in the loss and in the
    validation score that early stopping watches.

    Feature names are positional (f0, f1, ...) because LightGBM refuses JSON characters in
    names; the estimators map them back to the user's columns.
    """
    import lightgbm as lgb

    names = [f"f{i}" for i in range(X.shape[1])]
    Y = np.asfortranarray(Y, dtype=np.float32)  # each label column contiguous
    valid = None if valid is None else (valid[0], np.asfortranarray(valid[1], dtype=np.float32))
    ds_params = {k: params[k] for k in ("max_bin", "verbose", "min_data_in_bin") if k in params}
    train_set = lgb.Dataset(X, label=Y[:, 0], weight=weight, feature_name=names, categorical_feature=cat_idx,
                            params=ds_params, free_raw_data=False)
    valid_set = None
    if valid is not None:
        valid_set = lgb.Dataset(valid[0], label=valid[1][:, 0], weight=valid_weight, reference=train_set,
                                feature_name=names, categorical_feature=cat_idx, free_raw_data=False)
    boosters = []
    for j in range(Y.shape[1]):
        if j:  # the bins are reused; only the labels change (a label is not a row loop)
            train_set.set_label(Y[:, j])
            if valid_set is not None:
                valid_set.set_label(valid[1][:, j])
        cbs, seen = [], {}
        if valid_set is not None and curves is not None:
            cbs.append(lgb.record_evaluation(seen))
        if valid_set is not None and early_stopping_rounds:
            cbs.append(lgb.early_stopping(early_stopping_rounds, verbose=False))
        if j == 0 and callbacks:
            cbs.extend(callbacks)
        try:
            booster = lgb.train(params, train_set, num_boost_round=rounds,
                                valid_sets=[valid_set] if valid_set is not None else None,
                                valid_names=["valid"] if valid_set is not None else None,
                                callbacks=cbs, keep_training_booster=True)
        except lgb.basic.LightGBMError as err:
            if params.get("device_type") == "gpu":
                raise KitError(f"LightGBM could not use the GPU ({err}); it needs an OpenCL runtime "
                               "(NVIDIA's driver ships one); use device='cpu'") from err
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            if not reason.startswith(("Parameter ", "Check failed")):
                raise  # not about the parameters: a bug, whose traceback stays
            # the parameters come from the user (--param); LightGBM names the one it refuses
            reason = re.sub(r" at \S+, line \d+ \.?$", "", reason)  # LightGBM's own source line
            raise KitError(f"LightGBM refused its parameters: {reason}; fix that --param value") from err
        # every tree trained, not only those up to early stopping's best round (LightGBM's own
        # hand-over keeps those alone), so that `set_rounds` can predict at a later round; and
        # the binned training data let go
        best, score = booster.best_iteration, booster.best_score
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=-1))
        booster.best_iteration, booster.best_score = best, score
        boosters.append(booster)
        if seen:
            (metric, values), = seen["valid"].items()
            higher = metric.startswith(("auc", "ndcg", "map", "average_precision"))
            curves.append(np.asarray(values, np.float64) * (-1 if higher else 1))
    return boosters


def row_weights(weight: Any, n_rows: int, what: str) -> np.ndarray | None:
    """Row weights as float32 (n,): finite, non-negative, not all zero; None stays None."""
    if weight is None:
        return None
    w = np.asarray(weight.to_numpy() if isinstance(weight, pl.Series) else weight)
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise KitError(f"{what} must be one weight per row ({n_rows}), got shape {w.shape}")
    if w.dtype.kind not in "iufb":
        raise KitError(f"{what} must be numbers, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise KitError(f"{what} must be finite and non-negative with a positive sum, but it has "
                       f"{int((~np.isfinite(w)).sum())} non-finite and {int((w < 0).sum())} negative values "
                       f"and sums to {np.nansum(w):g}")
    return w.astype(np.float32)


def _progress(callbacks: Sequence, total: int):
    """A LightGBM callback that turns each round into a FitProgress for kit's callbacks."""

    def report(env) -> None:
        value, higher = None, False
        if env.evaluation_result_list:
            _, _, value, higher = env.evaluation_result_list[0][:4]
        notify(callbacks, FitProgress(env.iteration + 1, "round", total, None if value is None else float(value),
                                      higher_is_better=bool(higher)))

    return report


_LGB_KINDS = {**dict.fromkeys(("n_estimators", "num_leaves", "max_depth", "min_child_samples", "subsample_freq",
                                 "max_bin", "n_jobs", "random_state"), "int"), "early_stopping_rounds": "int?",
              **dict.fromkeys(("learning_rate", "subsample", "colsample_bytree", "reg_lambda", "cat_smooth"),
                              "number")}


#: up to this many features LightGBM builds its histograms row-wise (see _LightGBM._params)
ROW_WISE_MAX_FEATURES = 128


class _LightGBM(TabularModel):
    """Gradient-boosted trees; see LightGBMRegressor / LightGBMClassifier."""

    def __init__(self, *, n_estimators: int = 1000, learning_rate: float = 0.05, num_leaves: int = 31,
                 max_depth: int = -1, min_child_samples: int = 20, subsample: float = 1.0,
                 subsample_freq: int = 0, colsample_bytree: float = 1.0, reg_lambda: float = 0.0,
                 max_bin: int = 255, cat_smooth: float = 10.0, early_stopping_rounds: int | None = 100,
                 cat_features: list[str] | None = None, device: str = "cpu", n_jobs: int = -1,
                 random_state: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.cat_smooth = cat_smooth
        self.early_stopping_rounds = early_stopping_rounds
        self.cat_features = cat_features
        # CPU by default: LightGBM's OpenCL learner rarely beats a many-core CPU on boosting;
        # "auto" or "cuda" opt in.
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def check_params(self) -> None:
        """Raise a KitError for a hyperparameter LightGBM would refuse (a type or a range), before any
        work: `kit train` and `kit tune` can call it on the resolved parameters."""
        check_param_types(self, _LGB_KINDS)
        if self.n_estimators < 1:
            raise KitError(f"n_estimators must be at least 1, got {self.n_estimators}")
        if not 0 < self.learning_rate <= 1:
            raise KitError(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        # what LightGBM would refuse with a native "Check failed" on stderr, said here first
        for name, low, high in (("num_leaves", 2, 131_072), ("max_bin", 2, None), ("min_child_samples", 0, None),
                                ("subsample_freq", 0, None), ("reg_lambda", 0, None), ("cat_smooth", 0, None)):
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                within = f"in {low}..{high}" if high is not None else f"at least {low}"
                raise KitError(f"{name} must be {within}, got {value}; e.g. --param {name}="
                               f"{type(self)().get_params()[name]} (the default)")
        for name in ("subsample", "colsample_bytree"):
            if not 0 < getattr(self, name) <= 1:
                raise KitError(f"{name} must be a fraction in (0, 1], got {getattr(self, name)}; "
                               f"e.g. --param {name}=0.8")

    def _params(self, objective: str, n_features: int = 0) -> dict:
        self.check_params()
        # LightGBM picks row- or column-wise histograms by timing both, which makes a fit depend on
        # the machine's load; kit decides by shape instead. Row-wise measured 15-40% faster on every
        # twin (42..71 features, 50k..150k rows); column-wise wins only with many features.
        wise = "force_row_wise" if n_features <= ROW_WISE_MAX_FEATURES else "force_col_wise"
        return {
            "objective": objective, "boosting": "gbdt", "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves, "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples, "bagging_fraction": self.subsample,
            "bagging_freq": self.subsample_freq, "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda, "max_bin": self.max_bin, "cat_smooth": self.cat_smooth,
            "device_type": lightgbm_device(self.device), "num_threads": lightgbm_threads(self.n_jobs),
            "seed": self.random_state, "deterministic": True, wise: True, "verbose": -1,
        }

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None, sample_weight: Any = None,
            eval_sample_weight: Any = None, callbacks: Sequence | None = None):
        """Fit; with `eval_set=(X_valid, y_valid)` stop early and keep the best round in best_iteration_.

        `sample_weight` weighs the training rows in the loss (Favorita's perishables: 1.25);
        `eval_sample_weight` weighs the eval_set rows in the score early stopping watches;
        `callbacks` each get a `kit.models.FitProgress` after every round (of the first label).
        """
        enc, t, valid = self._fit_inputs(X, y, eval_set)
        w = row_weights(sample_weight, enc.n_rows, "sample_weight")
        if eval_sample_weight is not None and valid is None:
            raise KitError("eval_sample_weight weighs the eval_set rows, but no eval_set was given")
        vw = None if valid is None else row_weights(eval_sample_weight, valid[0].n_rows, "eval_sample_weight")
        Y = t.reshape(len(t), -1)
        v = None if valid is None else (valid[0].matrix(), valid[1].reshape(valid[0].n_rows, -1))
        objective = "binary" if self._classifier else "regression"
        curves: list[np.ndarray] = []
        self.boosters_ = train_boosters(
            self._params(objective, len(self.schema_.feature_names)), enc.matrix(), Y, rounds=self.n_estimators,
            cat_idx=list(range(len(self.schema_.cat_names))), valid=v,
            early_stopping_rounds=self.early_stopping_rounds, weight=w, valid_weight=vw,
            callbacks=[_progress(callbacks, self.n_estimators)] if callbacks else None, curves=curves)
        #: per label, the eval_set's loss after each round trained (lower is better); None without eval_set
        self.curves_ = tuple(curves) if curves else None
        self._set_best()
        return self

    def _set_best(self) -> None:
        best = [b.best_iteration if b.best_iteration > 0 else b.current_iteration() for b in self.boosters_]
        #: int for one output; an array with one round count per label for multilabel
        self.best_iteration_ = best[0] if len(best) == 1 else np.array(best)

    def set_rounds(self, rounds: Sequence[int]) -> _LightGBM:
        """Predict with `rounds[j]` trees for label j (at most the trees it has), e.g. the round that
        other folds' validation curves chose (kit.runs.cv's nested round choice)."""
        if len(rounds) != len(self.boosters_):
            raise KitError(f"set_rounds needs one round count per label ({len(self.boosters_)}), got {len(rounds)}")
        for b, r in zip(self.boosters_, rounds):
            b.best_iteration = int(max(1, min(int(r), b.current_iteration())))
        self._set_best()
        return self

    def _raw(self, enc: Encoded) -> np.ndarray:
        X = enc.matrix()
        return np.column_stack([b.predict(X, num_iteration=b.best_iteration or None) for b in self.boosters_])

    def contributions(self, X: Any) -> np.ndarray:
        """Each feature's TreeSHAP contribution to each row's raw score, (n, n_features + 1).

        Columns follow `schema_.feature_names`, then the bias (the expected raw score) LAST.
        A row sums to predict(X) for a regressor and to the log-odds logit(predict_proba(X)[:, 1])
        for a binary classifier (the trees add up raw scores; the sigmoid comes after). A
        multilabel classifier has one booster per label: a KitError asks for one label's model.
        Uses the best round, as predict does.

        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)); y = X[:, 0] + 0.1 * rng.normal(size=200)
        >>> m = LightGBMRegressor(n_estimators=20, n_jobs=1).fit(X, y)
        >>> c = m.contributions(X[:3])
        >>> c.shape, bool(np.allclose(c.sum(axis=1), m.predict(X[:3])))
        ((3, 3), True)
        """
        from kit.models.tree_paths import booster_contributions, one_booster

        matrix = self._encode(X).matrix()  # checks that the model is fitted
        booster = one_booster(self.boosters_, type(self).__name__)
        return booster_contributions(booster, matrix, num_iteration=booster.best_iteration or None)

    def feature_importance(self, kind: str = "gain") -> pl.DataFrame:
        """Total split gain (or split count, kind="split") per feature, summed over labels, as shares."""
        if kind not in ("gain", "split"):
            raise KitError(f"kind must be 'gain' or 'split', got {kind!r}")
        imp = sum(b.feature_importance(kind, iteration=b.best_iteration or None) for b in self.boosters_)
        imp = np.asarray(imp, dtype=np.float64)
        total = imp.sum()
        return (pl.DataFrame({"feature": list(self.schema_.feature_names),
                              "importance": imp / total if total > 0 else imp})
                .sort("importance", descending=True))


class LightGBMRegressor(RegressorMixin, _LightGBM):
    """LightGBM regression (L2 loss): fit log1p(target) yourself for RMSLE-scored competitions."""

    def predict(self, X: Any) -> np.ndarray:
        return self._raw(self._encode(X))[:, 0]


class LightGBMClassifier(LabelOutputs, ClassifierMixin, _LightGBM):
    """LightGBM binary classification; multilabel y (n, k) trains one booster per label."""

    def _positive_proba(self, enc: Encoded) -> np.ndarray:
        return self._as_outputs(self._raw(enc))
