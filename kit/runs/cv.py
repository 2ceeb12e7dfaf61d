"""Cross-validation, estimator first: the one fold engine behind runs, tuning, the
validation-strategy study and adversarial validation.

`cross_validate(estimator, X, y, folds, X_test=None)` clones the estimator for each fold
(scikit-learn's `clone`, so any scikit-learn-style estimator works), fits it on the fold's
training rows, predicts the fold's validation rows and, when `X_test` is given, the test.
kit's own models (`kit.models.KitEstimator`) also get the validation rows as `eval_set` (early
stopping, the best epoch) and `callbacks` (pruning reporters, progress lines).

>>> import numpy as np
>>> from sklearn.linear_model import Ridge
>>> X = np.arange(40, dtype=float).reshape(20, 2); y = X @ [1.0, 2.0]
>>> folds = [(np.arange(10, 20), np.arange(10)), (np.arange(10), np.arange(10, 20))]
>>> r = cross_validate(Ridge(alpha=1e-6), X, y, folds, X_test=X[:2],
...                    scorer=lambda t, p, w=None: float(np.abs(t - p).max()))
>>> bool(np.allclose(r.oof, y)), r.test.shape, [round(s, 3) for s in r.fold_scores]
(True, (2,), [0.0, 0.0])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kit.errors import KitError

__all__ = ["CVResult", "cross_validate", "take", "predict", "choose_round"]

#: scorer(y_true, y_pred, sample_weight) -> float, y on the estimator's own scale
Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]


@dataclass(frozen=True, eq=False)
class CVResult:
    """What cross-validation produced."""

    #: out-of-fold predictions, (n,) or (n, k); NaN on rows no fold validates
    oof: np.ndarray
    #: the fold that validates each row, -1 for none
    fold_of: np.ndarray
    #: the fitted estimator of each fold
    models: tuple = field(repr=False)
    #: the scorer on each fold's validation rows (empty without a scorer)
    fold_scores: tuple[float, ...] = ()
    #: the mean of the fold models' test predictions (None without X_test)
    test: np.ndarray | None = None
    #: seconds per fold (fit and predict)
    seconds: tuple[float, ...] = ()
    #: with `nested_rounds`: per label, the round the mean of every fold's validation curve
    #: chose (for a refit on all rows), and the round each fold was scored at
    rounds: tuple[int, ...] | None = None
    fold_rounds: tuple[tuple[int, ...], ...] = ()

    @property
    def valid_rows(self) -> np.ndarray:
        """Rows some fold validated, sorted."""
        return np.flatnonzero(self.fold_of >= 0)


def take(X: Any, rows: np.ndarray) -> Any:
    """Rows `rows` of a polars or pandas frame, a numpy array or a Series."""
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    return X[rows]


def predict(model: Any, X: Any, multilabel: bool = False) -> np.ndarray:
    """Predictions on the model's scale: regression values, the positive-class probability
    (binary), or one probability per label (multilabel)."""
    from sklearn.base import is_classifier

    if not is_classifier(model):
        return np.asarray(model.predict(X), np.float64)
    p = np.asarray(model.predict_proba(X), np.float64)
    if multilabel or p.ndim == 1:
        return p
    return p[:, -1]


def _splits(folds: Any, X: Any, y: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    if hasattr(folds, "split") and not isinstance(folds, (list, tuple)):
        folds = folds.split(X, y)
    out = [(np.asarray(t, np.int64), np.asarray(v, np.int64)) for t, v in folds]
    if not out:
        raise KitError("cross-validation got no folds")
    return out


def _fit_fold(model: Any, k: int, X: Any, y: np.ndarray, tr: np.ndarray, va: np.ndarray,
              sample_weight: np.ndarray | None, callbacks, eval_set: bool, stop_split, refit) -> Any:
    """Fold k's model fitted as `cross_validate` describes (eval_set, stop_split, refit)."""
    from kit.models import KitEstimator

    kwargs: dict[str, Any] = {}
    fit_rows, stop_rows = tr, va
    if isinstance(model, KitEstimator):
        if eval_set:
            if stop_split is not None:
                fit_rows, stop_rows = stop_split(k, tr)
            kwargs["eval_set"] = (take(X, stop_rows), y[stop_rows])
            if sample_weight is not None:
                kwargs["eval_sample_weight"] = sample_weight[stop_rows]
        if callbacks is not None:
            kwargs["callbacks"] = callbacks(k)
    if sample_weight is not None:
        kwargs["sample_weight"] = sample_weight[fit_rows]
    model.fit(take(X, fit_rows), y[fit_rows], **kwargs)
    again = refit(model) if refit is not None and len(fit_rows) < len(tr) else None
    if again is None:
        return model
    more: dict[str, Any] = {} if sample_weight is None else {"sample_weight": sample_weight[tr]}
    if callbacks is not None and isinstance(again, KitEstimator):  # progress lines for the second fit too
        more["callbacks"] = callbacks(k)
    again.fit(take(X, tr), y[tr], **more)
    return again


def choose_round(curves: Sequence[np.ndarray]) -> int:
    """The round (1-based) where the mean of `curves` (validation losses per round, lower is
    better, one per fold; cut to the shortest) is lowest. Each curve is divided by its own lowest
    value first, so that a fold whose window is harder does not outweigh the others.

    >>> choose_round([np.array([3.0, 2.0, 1.0, 1.5]), np.array([30.0, 10.0, 12.0])])  # means 3, 1.5, 1.1
    3
    """
    n = min(len(c) for c in curves)
    if n == 0:
        return 1
    rel = [np.asarray(c[:n], np.float64) / max(float(np.min(c[:n])), 1e-300) for c in curves]
    return int(np.argmin(np.mean(rel, axis=0))) + 1


def _nested(models: list) -> tuple[list[tuple[int, ...]], tuple[int, ...]] | None:
    """Per fold, per label, the round chosen by the other folds' curves; and by all folds'."""
    curves = [getattr(m, "curves_", None) for m in models]
    if len(models) < 2 or any(c is None for c in curves):
        return None
    labels = range(len(curves[0]))
    per_fold = [tuple(choose_round([c[j] for i, c in enumerate(curves) if i != k]) for j in labels)
                for k in range(len(models))]
    return per_fold, tuple(choose_round([c[j] for c in curves]) for j in labels)


def cross_validate(estimator: Any, X: Any, y: Any, folds: Iterable | Any, X_test: Any = None, *,
                   sample_weight: np.ndarray | None = None, scorer: Scorer | None = None,
                   callbacks: Callable[[int], Sequence] | None = None, eval_set: bool = True,
                   log: Callable[[str], None] | None = None, name: str = "model",
                   score_name: str = "score",
                   stop_split: Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
                   refit: Callable[[Any], Any] | None = None, nested_rounds: bool = False) -> CVResult:
    """Fit a clone of `estimator` on each fold's training rows; predict its validation rows.

    Args:
        estimator: unfitted; cloned per fold, never fitted itself.
        X, y: the training rows (a frame or an array) and their targets ((n,) or (n, k)).
        folds: (train_idx, valid_idx) pairs (kit.runs.Folds, a list) or a splitter with
            `split(X, y)`.
        X_test: rows to predict with every fold's model; `test` is their mean.
        sample_weight: a weight per row of X, given to fit (and to kit models' eval_set and
            to the scorer for the validation rows).
        scorer: scores each fold's validation rows, `scorer(y_true, y_pred, weights)`.
        callbacks: `callbacks(k)` -> the fit callbacks for fold k (kit models only); called
            again for the `refit` of the fold.
        eval_set: give kit models an eval_set (early stopping, the best epoch): the fold's
            validation rows, or with `stop_split` rows of its own training part.
        stop_split: `stop_split(k, train_idx)` -> (fit_idx, stop_idx): kit models fit on
            fit_idx and choose their round or epoch on stop_idx, so the choice never sees the
            rows that score it.
        refit: with `stop_split`, `refit(fitted)` -> an unfitted estimator that is then fitted on
            all of the fold's training rows and predicts its validation rows instead (e.g. the
            round the first fit chose, without early stopping), or None to keep the first fit.
            Where the test is the future this scores what the final refit on every row does:
            a model that never saw its last training days forecasts further ahead than the test.
        nested_rounds: (two or more folds; models with `curves_` and `set_rounds`, i.e.
            LightGBM) each fold's model trains on all of the fold's training rows, recording its
            validation loss per round, and predicts with the round the OTHER folds' curves
            chose (`choose_round`): one fit per fold, and no fold is scored at a round its own
            rows picked. `CVResult.rounds` is the round all folds' curves choose.
        log: gets one line per fold, naming the estimator `name` and the score `score_name`.
    """
    from sklearn.base import clone

    y = np.asarray(y)
    n = y.shape[0]
    splits = _splits(folds, X, y)
    multilabel = y.ndim == 2
    out = _Out(np.full((n, y.shape[1]) if multilabel else n, np.nan), np.full(n, -1, np.int64))
    models = []
    for k, (tr, va) in enumerate(splits):
        t0 = time.perf_counter()
        models.append(_fit_fold(clone(estimator), k, X, y, tr, va, sample_weight, callbacks, eval_set,
                                None if nested_rounds else stop_split, None if nested_rounds else refit))
        out.seconds.append(time.perf_counter() - t0)
        if not nested_rounds:  # scored now: each fold's line as soon as it is done
            out.score(models[k], k, splits[k], X, y, X_test, sample_weight, scorer, multilabel)
            _log_fold(log, name, score_name, k, splits, out)
    chosen = _nested(models) if nested_rounds else None
    for k in range(len(splits)) if nested_rounds else ():
        if chosen is not None:
            models[k].set_rounds(chosen[0][k])
        out.score(models[k], k, splits[k], X, y, X_test, sample_weight, scorer, multilabel)
        _log_fold(log, name, score_name, k, splits, out, _rounds_said(models[k], chosen[0][k]) if chosen else "")
    test = None if not out.tests else sum(out.tests) / len(splits)
    return CVResult(out.oof, out.fold_of, tuple(models), tuple(out.scores), test, tuple(out.seconds),
                    rounds=None if chosen is None else chosen[1],
                    fold_rounds=() if chosen is None else tuple(chosen[0]))


@dataclass(eq=False)
class _Out:
    """What cross_validate collects fold by fold."""

    oof: np.ndarray
    fold_of: np.ndarray
    scores: list = field(default_factory=list)
    tests: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def score(self, model, k: int, split: tuple, X, y, X_test, sample_weight, scorer, multilabel: bool) -> None:
        """Fold k's validation (and test) predictions and its score; the time added to the fold's."""
        t0 = time.perf_counter()
        _, va = split
        p = predict(model, take(X, va), multilabel)
        self.oof[va] = p
        self.fold_of[va] = k
        if X_test is not None:
            self.tests.append(predict(model, X_test, multilabel))
        if scorer is not None:
            self.scores.append(float(scorer(y[va], p, None if sample_weight is None else sample_weight[va])))
        self.seconds[k] += time.perf_counter() - t0


def _rounds_said(model, wanted: tuple[int, ...]) -> str:
    """", round R from the other folds" for the log, saying where a fold had fewer trees (its
    early stopping ended sooner) and predicts with all it has."""
    got = np.atleast_1d(getattr(model, "best_iteration_", wanted))
    short = "" if all(int(g) >= w for g, w in zip(got, wanted)) else (
        f"; it stopped sooner and uses its {'/'.join(str(int(g)) for g in got)}")
    return f", round {'/'.join(map(str, wanted))} from the other folds{short}"


def _log_fold(log, name: str, score_name: str, k: int, splits: list, out: _Out, more: str = "") -> None:
    if log is None:
        return
    tr, va = splits[k]
    score = f": {score_name} {out.scores[k]:.5f}" if out.scores else ""
    log(f"  {name} fold {k + 1}/{len(splits)}{score} ({len(tr):,} train / {len(va):,} valid rows, "
        f"{out.seconds[k]:.1f}s{more})")
