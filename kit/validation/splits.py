"""Splitters that build a validation set the way the test set was built.

All of them are scikit-learn cross-validators (`sklearn.model_selection.BaseCrossValidator`):
`split(X, y=None, groups=None)` yields `(train_idx, valid_idx)` int64 arrays of row
positions, `get_n_splits()` says how many, and `sklearn.clone` copies them, so they work in
`cross_val_score(..., cv=splitter)` as well as in kit's own `kit.runs.cross_validate`.
X is a polars or pandas DataFrame (time splitters also take a bare array of dates).

- When the test is the future (Rossmann, Favorita, Bulldozers), validate on the future:
  `TimeHoldout` and `WalkForward` (kit.validation.time_splits, re-exported here) work on
  date ranges, half-open `[start, end)`, never on row counts, with an optional gap.
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

from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.validation._base import Split, Splitter, check_int, column, indices, is_frame, n_rows, series
from kit.validation.time_splits import TimeHoldout, TimeWindow, WalkForward

__all__ = ["TimeWindow", "TimeHoldout", "WalkForward", "KFold", "StratifiedKFold", "GroupKFold",
           "MultilabelStratifiedKFold", "Splitter", "default_splitter", "fold_ids"]


# ---- random ---------------------------------------------------------------------------------
class _RandomSplitter(Splitter):
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
        yield from indices(self.folds(X, y, groups), self.n_splits)


def _init_random(self: _RandomSplitter, n_splits: int, shuffle: bool, random_state: int | None) -> None:
    # checked here, stored as given: sklearn.clone rebuilds a splitter from its get_params()
    self.n_splits = check_int(n_splits, "n_splits", 2)
    self.shuffle = shuffle
    self.random_state = random_state


class KFold(_RandomSplitter):
    """Plain K-fold: rows shuffled (seeded), then cut into `n_splits` near-equal folds."""


    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0) -> None:
        _init_random(self, n_splits, shuffle, random_state)

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = n_rows(X)
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


    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0,
                 target_col: str | None = None) -> None:
        _init_random(self, n_splits, shuffle, random_state)
        self.target_col = target_col

    def _name(self) -> str:
        return f"stratified {self.n_splits}-fold"

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = n_rows(X)
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

    # scikit-learn's metadata routing passes `groups` only to splitters that ask for it
    __metadata_request__split = {"groups": True}

    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0,
                 group_col: str | None = None) -> None:
        _init_random(self, n_splits, shuffle, random_state)
        self.group_col = group_col

    def _name(self) -> str:
        return f"group {self.n_splits}-fold"

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = n_rows(X)
        if groups is None:
            if self.group_col is None:
                raise KitError(f"{self._name()} needs groups: pass split(X, groups=...) or GroupKFold(group_col=...)")
            g = column(X, self.group_col, "group")
        else:
            g = series(groups, "groups")
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


    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state: int | None = 0,
                 target_col: str | None = None) -> None:
        _init_random(self, n_splits, shuffle, random_state)
        self.target_col = target_col

    def _name(self) -> str:
        return f"multilabel stratified {self.n_splits}-fold"

    def folds(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """The validation fold of every row (0..n_splits-1)."""
        n = n_rows(X)
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
        s = column(X, target_col, "target")
    else:
        s = series(y, "y")
    if len(s) != n:
        raise KitError(f"y has {len(s):,} values but X has {n:,} rows; pass one target per row")
    return s


def _multilabel(X: Any, y: Any, target_col: str | None, n: int, name: str) -> np.ndarray:
    """y as an (n, labels) bool matrix."""
    if y is None and target_col is None:
        raise KitError(f"{name} needs the labels: pass split(X, y) or set target_col")
    if is_frame(y):
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
                     horizon_days: int | None = None) -> Splitter:
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
    n = n_rows(X)
    fold = np.full(n, -1, np.int64)
    for i, (_, valid) in enumerate(splitter.split(X, y, groups)):
        if (fold[valid] != -1).any():
            raise KitError(f"{splitter!r} validates some rows in more than one fold; fold ids need disjoint folds")
        fold[valid] = i
    return fold
