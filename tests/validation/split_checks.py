"""Invariants every splitter must keep, shared by the splitter tests.

`check_splits(splitter, X, ...)` runs the splitter and asserts the protocol and the
invariants that apply, then returns the folds for further checks:

- every fold: int64 1-D index arrays, in range, no duplicates, both sides non-empty, no row
  on both sides; as many folds as `get_n_splits()`; the same folds on a second run (seeded);
  X unchanged;
- time splits (`dates`): every validation date after every training date plus the gap, and
  no date split: the validation rows are exactly the rows whose date falls in the validation
  range, the training rows exactly those in the training range;
- K-fold (`covers_all`): every row in exactly one validation fold;
- groups: no group on both sides.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl


def day_numbers(dates: Any) -> np.ndarray:
    s = dates if isinstance(dates, pl.Series) else pl.Series(dates)
    if isinstance(s.dtype, pl.Datetime):
        s = s.dt.date()
    return s.cast(pl.Int32).to_numpy().astype(np.int64)


def _snapshot(X: Any) -> Any:
    if isinstance(X, pl.DataFrame):
        return X.clone()
    if hasattr(X, "copy"):
        return X.copy()
    return X


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pl.DataFrame):
        return a.equals(b)
    if hasattr(a, "equals"):
        return bool(a.equals(b))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def check_splits(splitter: Any, X: Any, y: Any = None, groups: Any = None, *, dates: Any = None,
                 gap_days: int = 0, covers_all: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    before = _snapshot(X)
    folds = list(splitter.split(X, y, groups))
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    assert len(folds) == splitter.get_n_splits(X, y, groups) >= 1
    for train, valid in folds:
        for idx in (train, valid):
            assert isinstance(idx, np.ndarray) and idx.dtype == np.int64 and idx.ndim == 1
            assert len(idx) > 0
            assert idx.min() >= 0 and idx.max() < n
            assert len(np.unique(idx)) == len(idx)
        assert len(np.intersect1d(train, valid)) == 0
    # seeded: a second run gives the same folds
    again = list(splitter.split(X, y, groups))
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(folds, again))
    assert _same(before, X), "split changed its input"

    if dates is not None:
        days = day_numbers(dates)
        for train, valid in folds:
            t_lo, t_hi = days[train].min(), days[train].max()
            v_lo, v_hi = days[valid].min(), days[valid].max()
            assert v_lo - t_hi > gap_days, "validation must start after training plus the gap"
            assert np.array_equal(valid, np.flatnonzero((days >= v_lo) & (days <= v_hi))), "a date is split"
            assert np.array_equal(train, np.flatnonzero((days >= t_lo) & (days <= t_hi))), "a date is split"
            assert len(np.intersect1d(days[train], days[valid])) == 0
    if covers_all:
        every = np.sort(np.concatenate([v for _, v in folds]))
        assert np.array_equal(every, np.arange(n)), "each row must be validated exactly once"
        for train, valid in folds:
            assert len(train) + len(valid) == n
    if groups is not None:
        g = np.asarray(groups.to_numpy() if hasattr(groups, "to_numpy") else groups)
        for train, valid in folds:
            assert not set(g[train]) & set(g[valid]), "a group is on both sides"
    return folds


def rate_spread(labels: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per label (column), the largest |fold rate - overall rate| over the validation folds."""
    labels = labels.reshape(len(labels), -1).astype(float)
    overall = labels.mean(0)
    return np.max([np.abs(labels[v].mean(0) - overall) for _, v in folds], axis=0)
