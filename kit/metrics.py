"""The five competition metrics, each a plain function of arrays.

>>> round(rmsle([1.0, 2.0], [1.0, 2.0]), 6)
0.0
>>> round(rmspe([100.0, 0.0], [110.0, 5.0]), 6)   # the zero row is ignored
0.1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.size == 0:
        raise ValueError("cannot score an empty set of rows")
    if not np.isfinite(p).all():
        raise ValueError(f"y_pred has {int((~np.isfinite(p)).sum())} NaN or infinite values")
    return t, p


def _no_negatives(p: np.ndarray, name: str) -> None:
    if (p < 0).any():
        raise ValueError(f"{name} is undefined for negative predictions ({int((p < 0).sum())} rows < 0)")


def rmsle(y_true, y_pred) -> float:
    """Root mean squared logarithmic error: sqrt(mean((log1p(p) - log1p(y))^2))."""
    t, p = _pair(y_true, y_pred)
    _no_negatives(p, "RMSLE")
    return float(np.sqrt(np.mean((np.log1p(p) - np.log1p(t)) ** 2)))


def rmspe(y_true, y_pred) -> float:
    """Root mean squared percentage error over the rows whose true value is not 0 (Rossmann)."""
    t, p = _pair(y_true, y_pred)
    keep = t != 0
    if not keep.any():
        raise ValueError("RMSPE needs at least one row whose true value is not 0")
    return float(np.sqrt(np.mean(((t[keep] - p[keep]) / t[keep]) ** 2)))


def _gini(t: np.ndarray, p: np.ndarray) -> float:
    # Kaggle's reference: sort by prediction (descending; ties by original order),
    # cumulative share of positives against the uniform line.
    order = np.lexsort((np.arange(len(p)), -p))
    s = t[order]
    total = s.sum()
    if total == 0:
        raise ValueError("normalized Gini needs at least one positive row")
    cum = np.cumsum(s) / total
    n = len(t)
    return float(cum.sum() / n - (n + 1) / (2 * n))


def normalized_gini(y_true, y_pred) -> float:
    """Normalized Gini coefficient (Porto Seguro): Gini(y, p) / Gini(y, y); 2*AUC - 1 without ties."""
    t, p = _pair(y_true, y_pred)
    return _gini(t, p) / _gini(t, t)


def nwrmsle(y_true, y_pred, weights=None) -> float:
    """Normalized weighted RMSLE (Favorita): sqrt(sum w (log1p p - log1p y)^2 / sum w).

    True values below zero (returns) are scored as 0, as Kaggle did.
    """
    t, p = _pair(y_true, y_pred)
    _no_negatives(p, "NWRMSLE")
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != t.shape:
        raise ValueError(f"weights have shape {w.shape} but y_true has shape {t.shape}")
    t = np.clip(t, 0, None)
    return float(np.sqrt(np.sum(w * (np.log1p(p) - np.log1p(t)) ** 2) / np.sum(w)))


def mean_f2(y_true, y_pred) -> float:
    """Mean F2 over samples (Planet): F-beta (beta=2) per row of 0/1 label matrices, averaged.

    A row with no true and no predicted labels scores 1; a row with no true positive scores 0.
    """
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    if t.shape != p.shape or t.ndim != 2:
        raise ValueError(f"mean F2 needs two label matrices of one shape, got {t.shape} and {p.shape}")
    if t.shape[0] == 0:
        raise ValueError("cannot score an empty set of rows")
    tp = (t & p).sum(1).astype(np.float64)
    fp = (~t & p).sum(1)
    fn = (t & ~p).sum(1)
    denom = 5 * tp + 4 * fn + fp
    f2 = np.where(denom == 0, 1.0, 5 * tp / np.where(denom == 0, 1, denom))
    return float(f2.mean())


@dataclass(frozen=True)
class Metric:
    """A metric and how to read it."""

    name: str
    fn: Callable[..., float]
    greater_is_better: bool
    #: predictions must be >= 0
    nonnegative: bool = False
    #: the metric takes per-row weights
    weighted: bool = False

    def __call__(self, y_true, y_pred, weights=None) -> float:
        if self.weighted:
            return self.fn(y_true, y_pred, weights)
        return self.fn(y_true, y_pred)

    def better(self, a: float, b: float) -> bool:
        """Is score `a` better than score `b`?"""
        return a > b if self.greater_is_better else a < b


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("rmsle", rmsle, greater_is_better=False, nonnegative=True),
        Metric("rmspe", rmspe, greater_is_better=False),
        Metric("gini", normalized_gini, greater_is_better=True),
        Metric("nwrmsle", nwrmsle, greater_is_better=False, nonnegative=True, weighted=True),
        Metric("mean_f2", mean_f2, greater_is_better=True),
    )
}


def score_interval(scores, *, level: float = 0.8, greater_is_better: bool = False) -> tuple[float, float] | None:
    """Where the score of one more window (or fold) like these should fall: a `level` prediction
    interval from the fold scores, mean +- t(n-1) * sd * sqrt(1 + 1/n); None for fewer than 2.

    The lowest and highest fold understate it: on real Rossmann rows (40 stores) the held-out
    48 days fell outside three windows' min..max at three cut points of three.
    An error metric's interval stops at 0, a score's at 1.

    >>> lo, hi = score_interval([0.10, 0.12, 0.14])
    >>> round(lo, 4), round(hi, 4)
    (0.0765, 0.1635)
    >>> score_interval([0.1]) is None
    True
    """
    from scipy import stats

    x = np.asarray(scores, np.float64)
    if x.size < 2:
        return None
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) * np.sqrt(1 + 1 / x.size)
    lo, hi = float(x.mean() - half), float(x.mean() + half)
    return (lo, min(hi, 1.0)) if greater_is_better else (max(lo, 0.0), hi)
