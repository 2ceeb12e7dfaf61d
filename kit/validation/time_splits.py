"""Time splitters: validate on the future, by date ranges.

When the test is the future (Rossmann, Favorita, Bulldozers), validate on the future:
`TimeHoldout` holds out the last `horizon_days` of the training period, `WalkForward`
several consecutive stretches. Both work on date ranges, half-open `[start, end)`, never on
row counts (one date has many rows and must not end up on both sides), with an optional
gap between the training and the validation days. X is a polars or pandas DataFrame with
the date column, or a bare array of dates.

>>> import polars as pl, datetime as dt
>>> days = pl.date_range(dt.date(2015, 1, 1), dt.date(2015, 1, 10), eager=True)
>>> X = pl.DataFrame({"Date": pl.concat([days, days])})  # two stores, ten days
>>> WalkForward("Date", n_splits=2, horizon_days=3).windows(X)[1].valid_start
datetime.date(2015, 1, 8)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from kit.errors import KitError
from kit.validation._base import Split, Splitter, check_int, day, day_numbers

__all__ = ["TimeWindow", "TimeHoldout", "WalkForward"]


@dataclass(frozen=True)
class TimeWindow:
    """One time fold as date ranges: train on `[train_start, train_end)`, validate on
    `[valid_start, valid_end)`; `train_end + gap days == valid_start`."""

    train_start: dt.date
    train_end: dt.date
    valid_start: dt.date
    valid_end: dt.date


class _TimeSplitter(Splitter):
    date_col: str
    gap_days: int

    def _windows(self, days: np.ndarray) -> list[tuple[int, int, int, int]]:
        raise NotImplementedError

    def windows(self, X: Any) -> tuple[TimeWindow, ...]:
        """The folds as date ranges (half-open), first fold first."""
        days = day_numbers(X, self.date_col)
        return tuple(TimeWindow(*map(day, w)) for w in self._windows(days))

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield `(train_idx, valid_idx)` per fold: rows by date range, never by count."""
        days = day_numbers(X, self.date_col)
        windows = self._windows(days)
        for i, (t0, t1, v0, v1) in enumerate(windows):
            train = np.flatnonzero((days >= t0) & (days < t1)).astype(np.int64, copy=False)
            valid = np.flatnonzero((days >= v0) & (days < v1)).astype(np.int64, copy=False)
            where = f"fold {i + 1} of {len(windows)}" if len(windows) > 1 else "the holdout"
            if len(valid) == 0:
                raise KitError(f"{where} validates on {day(v0)}..{day(v1 - 1)}, where the data has no rows; "
                               "use a shorter horizon or fewer folds")
            if len(train) == 0:
                raise KitError(f"{where} trains on {day(t0)}..{day(t1 - 1)}, where the data has no rows; "
                               "use a longer window_days or fewer folds")
            yield train, valid

    def _span(self, days: np.ndarray) -> str:
        first, last = int(days.min()), int(days.max())
        return f"the data spans {last - first + 1:,} days ({day(first)}..{day(last)})"

    def _gap_text(self) -> str:
        return f" and a {self.gap_days}-day gap" if self.gap_days else ""


class TimeHoldout(_TimeSplitter):
    """Validate on the last `horizon_days` of the data, train on everything before the gap.

    With the data ending on day E, validation is `[E + 1 - horizon_days, E + 1)` and
    training is every earlier date up to `gap_days` before the validation starts. Make
    `horizon_days` the length of the test period (Rossmann 48, Favorita 16), so that the
    validation asks the same question as the test.

    Args:
        date_col: the date column of X (ignored when X is itself an array of dates).
        horizon_days: days to validate on.
        gap_days: days left out between training and validation (when the test starts some
            time after the training data ends, as Bulldozers' does).
    """

    n_splits = 1

    def __init__(self, date_col: str, horizon_days: int, gap_days: int = 0) -> None:
        self.date_col = date_col
        self.horizon_days = check_int(horizon_days, "horizon_days", 1)
        self.gap_days = check_int(gap_days, "gap_days", 0)

    def _windows(self, days: np.ndarray) -> list[tuple[int, int, int, int]]:
        first, end = int(days.min()), int(days.max()) + 1
        v0 = end - int(self.horizon_days)
        t1 = v0 - int(self.gap_days)
        if t1 <= first:
            raise KitError(f"time holdout needs {self.horizon_days} validation days{self._gap_text()} after "
                           f"at least 1 training day, but {self._span(days)}; use a shorter horizon_days")
        return [(first, t1, v0, end)]


class WalkForward(_TimeSplitter):
    """`n_splits` consecutive validation stretches of `horizon_days` ending with the data.

    Fold i (1-based) validates on the i-th of the last `n_splits` stretches of
    `horizon_days` and trains on the days before it, less `gap_days`: all of them
    (expanding, the default) or the last `window_days` (sliding). Later folds train on
    more recent data, as a model retrained before each test period would.

    Args:
        date_col: the date column of X (ignored when X is itself an array of dates).
        n_splits: number of folds.
        horizon_days: days per validation stretch.
        gap_days: days left out between each fold's training and validation.
        window_days: None for an expanding window (all earlier days), or the number of
            training days of a sliding window.
    """

    def __init__(self, date_col: str, n_splits: int, horizon_days: int, gap_days: int = 0,
                 window_days: int | None = None) -> None:
        self.date_col = date_col
        self.n_splits = check_int(n_splits, "n_splits", 1)
        self.horizon_days = check_int(horizon_days, "horizon_days", 1)
        self.gap_days = check_int(gap_days, "gap_days", 0)
        self.window_days = None if window_days is None else check_int(window_days, "window_days", 1)

    def _windows(self, days: np.ndarray) -> list[tuple[int, int, int, int]]:
        first, end = int(days.min()), int(days.max()) + 1
        k, horizon, gap = int(self.n_splits), int(self.horizon_days), int(self.gap_days)
        start = end - k * horizon
        if start - gap <= first:
            raise KitError(f"walk-forward needs {k} folds of {horizon} days{self._gap_text()} "
                           f"after at least 1 training day, but {self._span(days)}; "
                           "use fewer folds or a shorter horizon_days")
        out = []
        for i in range(k):
            v0 = start + i * horizon
            t1 = v0 - gap
            t0 = first if self.window_days is None else max(first, t1 - int(self.window_days))
            out.append((t0, t1, v0, v0 + horizon))
        return out
