"""Splitters that build a validation set the way the test set was built.

All of them speak scikit-learn's protocol: `split(X, y=None, groups=None)` yields
`(train_idx, valid_idx)` int64 arrays of row positions, and `get_n_splits()` says how many.
X is a polars or pandas DataFrame (time splitters also take a bare array of dates).

- When the test is the future (Rossmann, Favorita, Bulldozers), validate on the future:
  `TimeHoldout` holds out the last `horizon_days` of the training period, `WalkForward`
  several consecutive stretches. Both work on date ranges, half-open `[start, end)`,
  never on row counts (one date has many rows and must not end up on both sides), with an
  optional gap between the training and the validation days.
- When the test is a random sample (Porto Seguro, Planet), validate on a random sample:
  `KFold`, `StratifiedKFold` (class rates kept in every fold), `MultilabelStratifiedKFold`
  (every label's rate kept, by iterative stratification) and `GroupKFold` (a group never
  on both sides).

`default_splitter(spec)` builds the scheme a competition's spec names. Every random
splitter is seeded (`random_state`), so the same call gives the same folds.

>>> import polars as pl, datetime as dt
>>> days = pl.date_range(dt.date(2015, 1, 1), dt.date(2015, 1, 10), eager=True)
>>> X = pl.DataFrame({"Date": pl.concat([days, days])})  # two stores, ten days
>>> [(len(t), len(v)) for t, v in TimeHoldout("Date", horizon_days=3, gap_days=1).split(X)]
[(12, 6)]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kit.errors import KitError

_EPOCH = dt.date(1970, 1, 1)

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class TimeWindow:
    """One time fold as date ranges: train on `[train_start, train_end)`, validate on
    `[valid_start, valid_end)`; `train_end + gap days == valid_start`."""

    train_start: dt.date
    train_end: dt.date
    valid_start: dt.date
    valid_end: dt.date


# ---- inputs ---------------------------------------------------------------------------------
def _n_rows(X: Any) -> int:
    if X is None:
        raise KitError("split needs X (the rows to split); got None")
    if isinstance(X, pl.LazyFrame):
        raise KitError("split needs a DataFrame, got a LazyFrame; call .collect() first")
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _column(X: Any, name: str, what: str) -> pl.Series:
    """Column `name` of a polars or pandas DataFrame, as a polars Series."""
    if isinstance(X, pl.DataFrame):
        if name not in X.columns:
            raise KitError(f"{what} column {name!r} is not in X (columns: {_listing(X.columns)})")
        return X.get_column(name)
    if type(X).__module__.startswith("pandas") and hasattr(X, "columns"):
        if name not in X.columns:
            raise KitError(f"{what} column {name!r} is not in X (columns: {_listing(map(str, X.columns))})")
        return pl.from_pandas(X[[name]]).to_series()
    raise KitError(f"X must be a polars or pandas DataFrame with a {name!r} column, got {type(X).__name__}")


def _series(values: Any, name: str) -> pl.Series:
    if isinstance(values, pl.Series):
        return values
    if type(values).__module__.startswith("pandas"):
        return pl.from_pandas(values)
    return pl.Series(name, np.asarray(values) if not isinstance(values, list) else values)


def _is_frame(X: Any) -> bool:
    return isinstance(X, pl.DataFrame) or (type(X).__module__.startswith("pandas") and hasattr(X, "columns"))


def _day_numbers(X: Any, date_col: str) -> np.ndarray:
    """The date of every row as days since 1970-01-01 (times of day dropped), int64."""
    s = _column(X, date_col, "date") if _is_frame(X) else _series(X, date_col)
    if s.dtype == pl.Date:
        days = s
    elif isinstance(s.dtype, pl.Datetime):
        days = s.dt.date()
    else:
        raise KitError(f"date column {date_col!r} is {s.dtype}, not a date; parse it first "
                       f"(pl.col({date_col!r}).str.to_date(...), or read it with kit.data.tables.read_table)")
    if days.null_count():
        raise KitError(f"date column {date_col!r} has {days.null_count():,} missing dates; "
                       "drop or fill those rows before splitting")
    if len(days) == 0:
        raise KitError("split got no rows")
    return days.cast(pl.Int32).to_numpy().astype(np.int64)


def _day(n: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(n))


def _listing(names: Any, limit: int = 10) -> str:
    names = list(names)
    head = ", ".join(names[:limit])
    return f"{head}, ... ({len(names)} in all)" if len(names) > limit else head


def _check_int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise KitError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _indices(fold: np.ndarray, k: int) -> Iterator[Split]:
    """(train, valid) per fold from the fold number of every row."""
    for f in range(k):
        valid = fold == f
        yield (np.flatnonzero(~valid).astype(np.int64, copy=False),
               np.flatnonzero(valid).astype(np.int64, copy=False))


class _Splitter:
    """Shared repr; subclasses store their constructor arguments unchanged."""

    _params: tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        return f"{type(self).__name__}({args})"

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_splits


# ---- time -----------------------------------------------------------------------------------
class _TimeSplitter(_Splitter):
    date_col: str
    gap_days: int

    def _windows(self, days: np.ndarray) -> list[tuple[int, int, int, int]]:
        raise NotImplementedError

    def windows(self, X: Any) -> tuple[TimeWindow, ...]:
        """The folds as date ranges (half-open), first fold first."""
        days = _day_numbers(X, self.date_col)
        return tuple(TimeWindow(*map(_day, w)) for w in self._windows(days))

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield `(train_idx, valid_idx)` per fold: rows by date range, never by count."""
        days = _day_numbers(X, self.date_col)
        windows = self._windows(days)
        for i, (t0, t1, v0, v1) in enumerate(windows):
            train = np.flatnonzero((days >= t0) & (days < t1)).astype(np.int64, copy=False)
            valid = np.flatnonzero((days >= v0) & (days < v1)).astype(np.int64, copy=False)
            where = f"fold {i + 1} of {len(windows)}" if len(windows) > 1 else "the holdout"
            if len(valid) == 0:
                raise KitError(f"{where} validates on {_day(v0)}..{_day(v1 - 1)}, where the data has no rows; "
                               "use a shorter horizon or fewer folds")
            if len(train) == 0:
                raise KitError(f"{where} trains on {_day(t0)}..{_day(t1 - 1)}, where the data has no rows; "
                               "use a longer window_days or fewer folds")
            yield train, valid

    def _span(self, days: np.ndarray) -> str:
        first, last = int(days.min()), int(days.max())
        return f"the data spans {last - first + 1:,} days ({_day(first)}..{_day(last)})"

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

    _params = ("date_col", "horizon_days", "gap_days")
    n_splits = 1

    def __init__(self, date_col: str, horizon_days: int, gap_days: int = 0) -> None:
        self.date_col = date_col
        self.horizon_days = _check_int(horizon_days, "horizon_days", 1)
        self.gap_days = _check_int(gap_days, "gap_days", 0)

    def _windows(self, days: np.ndarray) -> list[tuple[int, int, int, int]]:
        first, end = int(days.min()), int(days.max()) + 1
        v0 = end - self.horizon_days
        t1 = v0 - self.gap_days
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

    _params = ("date_col", "n_splits", "horizon_days", "gap_days", "window_days")

    def __init__(self, date_col: str, n_splits: int, horizon_days: int, gap_days: int = 0,
                 window_days: int | None = None) -> None:
        self.date_col = date_col
        self.n_splits = _check_int(n_splits, "n_splits", 1)
        self.horizon_days = _check_int(horizon_days, "horizon_days", 1)
        self.gap_days = _check_int(gap_days, "gap_days", 0)
        self.window_days = None if window_days is None else _check_int(window_days, "window_days", 1)

    def _windows(self, days: np.ndarray) -> list[tuple[int, int, int, int]]:
        first, end = int(days.min()), int(days.max()) + 1
        start = end - self.n_splits * self.horizon_days
        if start - self.gap_days <= first:
            raise KitError(f"walk-forward needs {self.n_splits} folds of {self.horizon_days} days{self._gap_text()} "
                           f"after at least 1 training day, but {self._span(days)}; "
                           "use fewer folds or a shorter horizon_days")
        out = []
        for i in range(self.n_splits):
            v0 = start + i * self.horizon_days
            t1 = v0 - self.gap_days
            t0 = first if self.window_days is None else max(first, t1 - self.window_days)
            out.append((t0, t1, v0, v0 + self.horizon_days))
        return out


# ---- random ---------------------------------------------------------------------------------
class _RandomSplitter(_Splitter):
    n_splits: int
    shuffle: bool
    random_state: int | None

    def _check_rows(self, n: int, what: str = "rows") -> None:
        if n < self.n_splits:
            raise KitError(f"{self._name()} needs at least {self.n_splits} {what} for {self.n_splits} folds, "
                           f"but there are {n:,}; use fewer folds")

    def _name(self) -> str:
        return f"{self.n_splits}-fold"

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.random_state)

    def _order(self, n: int) -> np.ndarray:
        return self._rng().permutation(n) if self.shuffle else np.arange(n)

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        raise NotImplementedError

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield `(train_idx, valid_idx)` per fold; each row is validated exactly once."""
        yield from _indices(self.folds(X, y, groups), self.n_splits)


def _init_random(self: _RandomSplitter, n_splits: int, shuffle: bool, random_state: int | None) -> None:
    self.n_splits = _check_int(n_splits, "n_splits", 2)
    self.shuffle = bool(shuffle)
    self.random_state = random_state


class KFold(_RandomSplitter):
    """Plain K-fold: rows shuffled (seeded), then cut into `n_splits` near-equal folds."""

    _params = ("n_splits", "shuffle", "random_state")

    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0) -> None:
        _init_random(self, n_splits, shuffle, random_state)

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = _n_rows(X)
        self._check_rows(n)
        fold = np.empty(n, np.int64)
        fold[self._order(n)] = np.arange(n) * self.n_splits // n  # contiguous blocks of the order
        return fold


class StratifiedKFold(_RandomSplitter):
    """K-fold keeping each class's share in every fold (binary or few-class targets).

    Rows are sorted by class (shuffled within it, seeded) and dealt to the folds in turn,
    so every fold gets its share of every class to within one row and fold sizes differ by
    at most one.

    Args:
        target_col: column of X to stratify on when `split` gets no `y`.
    """

    _params = ("n_splits", "shuffle", "random_state", "target_col")

    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0,
                 target_col: str | None = None) -> None:
        _init_random(self, n_splits, shuffle, random_state)
        self.target_col = target_col

    def _name(self) -> str:
        return f"stratified {self.n_splits}-fold"

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = _n_rows(X)
        labels = _target(X, y, self.target_col, n, self._name())
        if labels.null_count():
            raise KitError(f"{self._name()} got {labels.null_count():,} missing target values; drop those rows")
        if labels.dtype.is_float() and not (labels == labels.round()).all():
            raise KitError(f"{self._name()} needs class labels, but y has non-integer values "
                           f"({labels.n_unique():,} distinct); use KFold for a continuous target")
        classes = labels.rank("dense").to_numpy().astype(np.int64) - 1
        counts = np.bincount(classes)
        self._check_rows(n)
        if counts.min() < self.n_splits:
            small = int(np.argmin(counts))
            value = labels.unique().sort()[small]
            raise KitError(f"{self._name()} needs at least {self.n_splits} rows of each class, but class "
                           f"{value!r} has {counts[small]:,} (of {n:,} rows); use at most {counts[small]} folds")
        tiebreak = self._rng().random(n) if self.shuffle else np.arange(n)
        order = np.lexsort((tiebreak, classes))
        fold = np.empty(n, np.int64)
        fold[order] = np.arange(n) % self.n_splits
        return fold


class GroupKFold(_RandomSplitter):
    """K-fold where all rows of a group are on the same side (stores, machines, customers).

    Groups are shuffled (seeded) and cut into folds by their cumulative row count, so fold
    sizes differ by at most about one group's size.

    Args:
        group_col: column of X holding the groups when `split` gets no `groups`.
    """

    _params = ("n_splits", "shuffle", "random_state", "group_col")

    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0,
                 group_col: str | None = None) -> None:
        _init_random(self, n_splits, shuffle, random_state)
        self.group_col = group_col

    def _name(self) -> str:
        return f"group {self.n_splits}-fold"

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = _n_rows(X)
        if groups is None:
            if self.group_col is None:
                raise KitError(f"{self._name()} needs groups: pass split(X, groups=...) or GroupKFold(group_col=...)")
            g = _column(X, self.group_col, "group")
        else:
            g = _series(groups, "groups")
        if len(g) != n:
            raise KitError(f"groups has {len(g):,} values but X has {n:,} rows; pass one group per row")
        if g.null_count():
            raise KitError(f"{self._name()} got {g.null_count():,} missing groups; fill or drop them")
        codes = g.rank("dense").to_numpy().astype(np.int64) - 1
        sizes = np.bincount(codes)
        self._check_rows(len(sizes), "groups")
        order = self._order(len(sizes))
        ends = np.cumsum(sizes[order])
        # a group goes to the fold its middle row falls in
        group_fold = np.empty(len(sizes), np.int64)
        group_fold[order] = np.minimum((ends - sizes[order] / 2) * self.n_splits // n, self.n_splits - 1)
        fold = group_fold[codes]
        empty = np.setdiff1d(np.arange(self.n_splits), group_fold)
        if len(empty):
            big = int(np.argmax(sizes))
            raise KitError(f"{self._name()} leaves {len(empty)} fold(s) empty: the largest group holds "
                           f"{sizes[big]:,} of {n:,} rows; use fewer folds")
        return fold


class MultilabelStratifiedKFold(_RandomSplitter):
    """K-fold keeping every label's share in every fold: iterative stratification.

    Sechidis, Tsoumakas & Vlahavas (2011), "On the stratification of multi-label data":
    take the label with the fewest rows still unassigned; give each of its rows to the fold
    that most wants that label (ties: the fold that most wants rows, then at random);
    repeat; rows with no label fill the folds that still want rows. The rows of one label
    are handed out in one vectorised step: the folds they go to are the `m` best of the
    folds' falling wants, which is what `m` one-at-a-time greedy picks choose.

    y is a 0/1 matrix (numpy, or a DataFrame of 0/1 columns) or a column of
    space-separated tags (Planet's `tags`). A label with fewer rows than folds cannot be
    in every fold; its rows are still spread one per fold.

    Args:
        target_col: column of X to stratify on when `split` gets no `y`.
    """

    _params = ("n_splits", "shuffle", "random_state", "target_col")

    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0,
                 target_col: str | None = None) -> None:
        _init_random(self, n_splits, shuffle, random_state)
        self.target_col = target_col

    def _name(self) -> str:
        return f"multilabel stratified {self.n_splits}-fold"

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = _n_rows(X)
        Y = _multilabel(X, y, self.target_col, n, self._name())
        self._check_rows(n)
        k = self.n_splits
        rng = self._rng()
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        Y = Y[order]  # work in the shuffled order; map back at the end
        want_rows = np.full(k, n / k)
        want = np.tile(Y.sum(0) / k, (k, 1))  # (fold, label)
        fold = np.full(n, -1, np.int64)
        left = np.ones(n, bool)
        left_per_label = Y.sum(0).astype(np.int64)
        while left_per_label.any():
            label = int(np.argmin(np.where(left_per_label > 0, left_per_label, np.iinfo(np.int64).max)))
            rows = np.flatnonzero(left & Y[:, label])
            counts = _greedy_counts(want[:, label], want_rows, len(rows), rng)
            to = np.repeat(np.arange(k), counts)
            fold[rows] = to
            left[rows] = False
            for j in range(k):  # folds, not rows
                want[j] -= Y[rows[to == j]].sum(0)
            want_rows -= counts
            left_per_label -= Y[rows].sum(0)
        rows = np.flatnonzero(left)
        if len(rows):
            counts = _greedy_counts(want_rows, want_rows, len(rows), rng)
            fold[rows] = np.repeat(np.arange(k), counts)
        out = np.empty(n, np.int64)
        out[order] = fold
        return out


def _greedy_counts(first: np.ndarray, second: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """How many of `m` items each fold gets when each item in turn goes to the fold with the
    highest `first` (ties: highest `second`, then random) and that fold's values drop by one.

    Each fold's values fall one per item it takes, so the m greedy picks are the m largest
    of the merged sequences first[j] - t (t = 0, 1, ...): found by one sort, not m steps.
    """
    k = len(first)
    if m == 0:
        return np.zeros(k, np.int64)
    t = np.arange(m)
    key1 = (first[:, None] - t).ravel()
    key2 = (second[:, None] - t).ravel()
    tie = rng.random(k * m)
    top = np.lexsort((tie, -key2, -key1))[:m]
    return np.bincount(top // m, minlength=k)


def _target(X: Any, y: Any, target_col: str | None, n: int, name: str) -> pl.Series:
    if y is None:
        if target_col is None:
            raise KitError(f"{name} needs the target: pass split(X, y) or set target_col")
        s = _column(X, target_col, "target")
    else:
        s = _series(y, "y")
    if len(s) != n:
        raise KitError(f"y has {len(s):,} values but X has {n:,} rows; pass one target per row")
    return s


def _multilabel(X: Any, y: Any, target_col: str | None, n: int, name: str) -> np.ndarray:
    """y as an (n, labels) bool matrix."""
    if y is None and target_col is None:
        raise KitError(f"{name} needs the labels: pass split(X, y) or set target_col")
    if _is_frame(y):
        frame = y if isinstance(y, pl.DataFrame) else pl.from_pandas(y)
        Y = frame.to_numpy()
    elif y is not None and not isinstance(y, (pl.Series, list)) and np.asarray(y).ndim == 2:
        Y = np.asarray(y)
    else:
        s = _target(X, y, target_col, n, name)
        if s.dtype != pl.String:
            raise KitError(f"{name} needs a 0/1 label matrix or a column of space-separated tags, "
                           f"got a {s.dtype} column")
        tags = s.fill_null("").str.split(" ")
        labels = tags.explode().unique().drop_nulls().sort()
        labels = labels.filter(labels != "")
        Y = pl.DataFrame([tags.list.contains(lab).alias(lab) for lab in labels]).to_numpy() \
            if len(labels) else np.zeros((n, 0), bool)
    if Y.shape[0] != n:
        raise KitError(f"y has {Y.shape[0]:,} rows but X has {n:,}; pass one row of labels per row")
    if Y.shape[1] == 0:
        raise KitError(f"{name} got no labels to stratify on")
    bad = ~np.isin(Y, (0, 1))
    if bad.any():
        raise KitError(f"{name} needs 0/1 labels, but y holds {Y[bad].flat[0].item()!r}; binarise it first")
    return Y.astype(bool)


# ---- per competition ------------------------------------------------------------------------
def default_splitter(spec: Any, *, n_splits: int = 5, gap_days: int = 0, random_state: int | None = 0,
                     horizon_days: int | None = None) -> _Splitter:
    """The validation scheme a competition's spec names (`spec.validation`), built from it.

    time_holdout -> TimeHoldout on `spec.time_column` over `spec.horizon_days` (or
    `horizon_days`); stratified_kfold / multilabel_stratified_kfold -> stratified folds on
    the spec's target column (split(train) finds it); kfold -> shuffled KFold.
    Accepts a CompetitionSpec or a registry Competition.
    """
    spec = getattr(spec, "spec", spec)
    scheme = spec.validation
    if scheme == "time_holdout":
        horizon = horizon_days if horizon_days is not None else spec.horizon_days
        if spec.time_column is None or horizon is None:
            raise KitError(f"{spec.name}'s spec asks for a time holdout but names no time_column/horizon_days; "
                           f"fix competitions/{spec.name}/spec.py")
        return TimeHoldout(spec.time_column, horizon_days=horizon, gap_days=gap_days)
    target = spec.target_columns[0] if len(spec.target_columns) == 1 else None
    if scheme == "stratified_kfold":
        return StratifiedKFold(n_splits, random_state=random_state, target_col=target)
    if scheme == "multilabel_stratified_kfold":
        return MultilabelStratifiedKFold(n_splits, random_state=random_state, target_col=target)
    if scheme == "kfold":
        return KFold(n_splits, random_state=random_state)
    raise KitError(f"{spec.name}'s spec names an unknown validation scheme {scheme!r}; use one of "
                   "time_holdout, stratified_kfold, multilabel_stratified_kfold, kfold")


def fold_ids(splitter: Any, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
    """The validation fold of every row (0-based) under `splitter`; -1 for rows it never
    validates on (the training part of a time split). Computed once, shared by every model.
    """
    n = _n_rows(X)
    fold = np.full(n, -1, np.int64)
    for i, (_, valid) in enumerate(splitter.split(X, y, groups)):
        if (fold[valid] != -1).any():
            raise KitError(f"{splitter!r} validates some rows in more than one fold; fold ids need disjoint folds")
        fold[valid] = i
    return fold
