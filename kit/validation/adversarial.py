"""Adversarial validation: can a classifier tell the training rows from the test rows?

A LightGBM classifier learns "is this row from the test file?" with stratified K-fold
cross-validation. Its out-of-fold AUC says how different the two files are: about 0.5,
the test is a random sample of the same population and a random K-fold is a fair
validation; clearly above 0.5, the test differs and only a validation set that looks like
it can be trusted. The report says what differs and what to do about it:

* each feature's share of the classifier's gain, and a model-free drift statistic;
* the *drop loop*: drop the feature the classifier leans on most, refit, repeat until the
  AUC nears 0.5 -- the features dropped on the way are the ones to drop or transform;
* the training rows that look most like the test (highest out-of-fold test probability),
  a validation set for when no time order is available.

Drift statistic (one number in [0, 1] per feature, 0 = same distribution):
  numeric and date columns: Kolmogorov-Smirnov distance, max |F_train(x) - F_test(x)|, with
  missing values as an atom below every value (so a change in the missing share counts);
  categorical columns: total-variation distance, 1/2 sum |p_train(level) - p_test(level)|,
  with missing as a level (so levels new in the test count in full).
KS is total variation restricted to half-lines, so the two read on the same scale: the
largest difference in the share of rows falling in some set of values.

The time column of a forecasting competition separates train from test on its own (the
test is the future), so it is left out by default, with every column derived from it:
a function of one calendar part (year, quarter, month, ISO week, day of month, weekday,
day of year, year-month) or, where dates repeat, the date itself in another form.

Example (with tiny frames: the test's `x` is shifted)::

    >>> import numpy as np, polars as pl
    >>> g = np.random.default_rng(0)
    >>> train = pl.DataFrame({"x": g.normal(0, 1, 600), "z": g.normal(0, 1, 600)})
    >>> test = pl.DataFrame({"x": g.normal(2, 1, 300), "z": g.normal(0, 1, 300)})
    >>> rep = run_adversarial(train, test, max_drop_steps=1, num_threads=1)
    >>> rep.top_drifter, rep.auc_mean > 0.8, rep.drop_path[0].dropped
    ('x', True, 'x')
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from kit.errors import KitError

Kind = Literal["numeric", "categorical", "codes", "date"]

#: AUC at or below which train and test count as alike (the drop loop stops there)
THRESHOLD = 0.55
#: text columns with more levels than this are given to LightGBM as ordinal codes, not as
#: native categoricals: its docs warn that high-cardinality categoricals overfit, and here
#: they did (dropping Bulldozers' fiModelDesc *raised* the AUC)
MAX_NATIVE_LEVELS = 256
_PART = "__kit_part__"


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FeatureDrift:
    """How much one feature separates train from test."""

    name: str
    #: how the classifier saw it: numeric, categorical (LightGBM native), codes (text with more
    #: than MAX_NATIVE_LEVELS levels, as ordinal codes) or date (days since 1970)
    kind: Kind
    #: share of the classifier's total gain (mean over folds), 0..1; sums to 1 over features
    importance: float
    #: the model-free drift statistic, 0 (same distribution) .. 1 (disjoint)
    drift: float
    #: "ks" (Kolmogorov-Smirnov, numeric and date) or "tv" (total variation, categorical)
    statistic: Literal["ks", "tv"]
    #: share of missing values in train and in test
    train_missing: float
    test_missing: float


@dataclass(frozen=True)
class DropStep:
    """One step of the drop loop: the feature dropped and the AUC of the refit without it."""

    dropped: str
    auc_mean: float
    auc_std: float


@dataclass(frozen=True)
class LeftOut:
    """A column not given to the classifier, and why."""

    column: str
    reason: str


@dataclass(frozen=True)
class AdversarialReport:
    """Everything adversarial validation found; `summary()` prints it, `to_json()` saves it."""

    #: out-of-fold AUC of the train-vs-test classifier: mean and standard deviation over folds
    auc_mean: float
    auc_std: float
    fold_aucs: tuple[float, ...]
    #: every feature, the one the classifier leaned on most first (gain share, then drift)
    features: tuple[FeatureDrift, ...]
    #: drop the top feature, refit, record the AUC; until AUC <= threshold or max steps
    drop_path: tuple[DropStep, ...]
    #: columns not used, with the reason (id, target, time, derived from time, asked, ...)
    left_out: tuple[LeftOut, ...]
    #: sentences worth reading (why the time column was left out, why the loop stopped)
    notes: tuple[str, ...]
    #: train row indices (0-based, file order) of the most test-like rows, most test-like first
    test_like_rows: np.ndarray = field(repr=False, compare=False)
    #: every train row: `row`, the id (and time) column where train has one, `adversarial_score`
    #: (out-of-fold probability of being a test row) and `test_like`, highest score first
    scores: pl.DataFrame = field(repr=False, compare=False)
    #: rows in the files and rows the classifier used (after subsampling)
    n_train: int = 0
    n_test: int = 0
    n_train_used: int = 0
    n_test_used: int = 0
    n_folds: int = 5
    threshold: float = THRESHOLD
    seed: int = 0
    id_column: str | None = None
    #: the date column, where the test is the future (changes the advice)
    time_column: str | None = None

    @property
    def top_drifter(self) -> str:
        """The feature the classifier leans on most."""
        return self.features[0].name

    @property
    def alike(self) -> bool:
        """True when the AUC is at or below the threshold: a random split is a fair validation."""
        return self.auc_mean <= self.threshold

    @property
    def test_like_ids(self) -> list:
        """Ids (or row indices where train has no id column) of the test-like rows."""
        key = self.id_column if self.id_column in self.scores.columns else "row"
        return self.scores.filter(pl.col("test_like"))[key].to_list()

    def verdict(self) -> str:
        if self.alike:
            return (f"AUC {self.auc_mean:.3f} <= {self.threshold}: train and test look alike; "
                    "a random (stratified) K-fold is a fair validation")
        where = (f"a time holdout on the last {self.time_column} days" if self.time_column
                 else "the most test-like train rows")
        return (f"AUC {self.auc_mean:.3f} > {self.threshold}: a classifier tells train from test; "
                f"validate on rows that look like the test ({where}), and drop or transform the "
                "features of the drop loop")

    def to_dict(self) -> dict:
        scores = self.scores["adversarial_score"]
        cutoff = self.scores.filter(pl.col("test_like"))["adversarial_score"].min()
        return {
            "auc_mean": self.auc_mean, "auc_std": self.auc_std, "fold_aucs": list(self.fold_aucs),
            "threshold": self.threshold, "alike": self.alike, "verdict": self.verdict(),
            "n_train": self.n_train, "n_test": self.n_test,
            "n_train_used": self.n_train_used, "n_test_used": self.n_test_used,
            "n_folds": self.n_folds, "seed": self.seed,
            "features": [f.__dict__ for f in self.features],
            "drop_path": [s.__dict__ for s in self.drop_path],
            "left_out": [c.__dict__ for c in self.left_out],
            "notes": list(self.notes),
            "test_like": {"count": len(self.test_like_rows), "id_column": self.id_column,
                          "score_cutoff": cutoff, "mean_score_train": scores.mean(),
                          "first_rows": self.test_like_rows[:20].tolist()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    def summary(self, top: int = 10) -> str:
        """A short text table: AUC, the top features, the drop loop, the test-like rows."""
        lines = [f"train {self.n_train:,} rows, test {self.n_test:,} rows"
                 + (f" (classifier saw {self.n_train_used:,} + {self.n_test_used:,})"
                    if (self.n_train_used, self.n_test_used) != (self.n_train, self.n_test) else "")
                 + f"; {self.n_folds}-fold LightGBM, seed {self.seed}"]
        lines += [f"note: {n}" for n in self.notes]
        folds = " ".join(f"{a:.3f}" for a in self.fold_aucs)
        lines.append(f"AUC {self.auc_mean:.3f} ± {self.auc_std:.3f}   (folds: {folds})")
        lines.append(self.verdict())
        shown = self.features[:top]
        width = max([len("feature")] + [len(f.name) for f in shown])
        lines.append("")
        lines.append(f"{'feature'.ljust(width)}  {'kind':11}  {'gain':>6}  {'drift':>9}  missing train/test")
        for f in shown:
            lines.append(f"{f.name.ljust(width)}  {f.kind:11}  {f.importance:6.1%}  "
                         f"{f.statistic.upper():>3} {f.drift:5.3f}  {f.train_missing:.1%} / {f.test_missing:.1%}")
        if len(self.features) > top:
            lines.append(f"... and {len(self.features) - top} more (in the JSON)")
        if self.drop_path:
            lines.append("")
            lines.append(f"drop loop (drop the top feature, refit): start AUC {self.auc_mean:.3f}")
            for s in self.drop_path:
                lines.append(f"  - {s.dropped.ljust(width)}  -> AUC {s.auc_mean:.3f} ± {s.auc_std:.3f}")
        lines.append("")
        if len(self.test_like_rows):
            cutoff = self.scores["adversarial_score"][len(self.test_like_rows) - 1]
            lines.append(f"{len(self.test_like_rows):,} most test-like train rows "
                         f"(out-of-fold test probability >= {cutoff:.3f})")
        return "\n".join(lines)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


# ----------------------------------------------------------------------------- drift statistics


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """KS distance of two float arrays, NaN = missing, an atom below every value."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    av, bv = np.sort(a[~a_nan]), np.sort(b[~b_nan])
    grid = np.union1d(av, bv)
    fa = (a_nan.sum() + np.searchsorted(av, grid, side="right")) / len(a)
    fb = (b_nan.sum() + np.searchsorted(bv, grid, side="right")) / len(b)
    start = abs(a_nan.mean() - b_nan.mean())
    return float(max(start, np.abs(fa - fb).max(initial=0.0)))


def _tv(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance of two code arrays (floats, NaN = missing, a level of its own)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    ca = np.where(np.isnan(a), 0, np.nan_to_num(a) + 1).astype(np.int64)
    cb = np.where(np.isnan(b), 0, np.nan_to_num(b) + 1).astype(np.int64)
    k = int(max(ca.max(), cb.max())) + 1
    pa = np.bincount(ca, minlength=k) / len(ca)
    pb = np.bincount(cb, minlength=k) / len(cb)
    return float(0.5 * np.abs(pa - pb).sum())


def ks_distance(a: pl.Series | Sequence, b: pl.Series | Sequence) -> float:
    """Kolmogorov-Smirnov distance between two samples; missing values count as below all.

    >>> ks_distance([1, 2, 3, 4], [3, 4, 5, 6])
    0.5
    >>> ks_distance([None, 1, 2, 3], [1, 2, 3, 4])
    0.25
    """
    sa, sb = pl.Series(a), pl.Series(b)
    if sa.dtype.is_temporal():
        sa, sb = sa.to_physical(), sb.to_physical()
    return _ks(sa.cast(pl.Float64).fill_nan(None).to_numpy().astype(float),
               sb.cast(pl.Float64).fill_nan(None).to_numpy().astype(float))


def tv_distance(a: pl.Series | Sequence, b: pl.Series | Sequence) -> float:
    """Total-variation distance between the level shares of two samples; missing is a level.

    >>> tv_distance(["a", "a", "b", "b"], ["a", "b", "b", "c"])
    0.25
    """
    sa, sb = pl.Series(a).cast(pl.String), pl.Series(b).cast(pl.String)
    codes = (pl.concat([sa, sb]).rank("dense") - 1).cast(pl.Float64).to_numpy()
    return _tv(codes[:len(sa)], codes[len(sa):])


# ----------------------------------------------------------------------------- features


@dataclass(frozen=True)
class _Matrix:
    """Train and test features as float matrices (categorical columns as codes, NaN missing)."""

    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    train: np.ndarray
    test: np.ndarray


def _kind(dtype: pl.DataType) -> Kind | None:
    if dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, (pl.Enum, pl.Categorical)):
        return "categorical"
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return "date"
    if dtype.is_numeric() or dtype.is_temporal():  # times of day and durations as numbers
        return "numeric"
    return None


def _encode(train: pl.DataFrame, test: pl.DataFrame, columns: Sequence[str]) -> tuple[_Matrix, list[LeftOut]]:
    """Encode `columns` of both frames the same way; columns of unusable types are left out."""
    out_tr, out_te, names, kinds, skipped = [], [], [], [], []
    for c in columns:
        a, b = train[c], test[c]
        if a.dtype != b.dtype:
            # e.g. a column read as numbers in one file and text in the other: compare as text
            if a.dtype.is_numeric() and b.dtype.is_numeric():
                a, b = a.cast(pl.Float64), b.cast(pl.Float64)
            elif a.dtype == pl.Null or b.dtype == pl.Null:
                a, b = (a.cast(b.dtype), b) if a.dtype == pl.Null else (a, b.cast(a.dtype))
            else:
                a, b = a.cast(pl.String), b.cast(pl.String)
        kind = _kind(a.dtype)
        if kind is None:
            skipped.append(LeftOut(c, f"type {a.dtype} is not numeric, text, boolean or date"))
            continue
        both = pl.concat([a, b])
        if kind == "categorical":
            if both.dtype == pl.Boolean:
                both = both.cast(pl.Int8)
            else:
                both = both.cast(pl.String).rank("dense") - 1
                if both.max() is not None and both.max() >= MAX_NATIVE_LEVELS:
                    kind = "codes"
        elif kind == "date":
            both = both.dt.epoch("ms") / 86_400_000  # days since 1970, fractions for times
        elif both.dtype.is_temporal():
            both = both.to_physical()
        values = both.cast(pl.Float64).fill_nan(None).to_numpy().astype(np.float64)
        out_tr.append(values[:len(a)])
        out_te.append(values[len(a):])
        names.append(c)
        kinds.append(kind)
    mat = _Matrix(tuple(names), tuple(kinds),
                  np.column_stack(out_tr) if out_tr else np.empty((train.height, 0)),
                  np.column_stack(out_te) if out_te else np.empty((test.height, 0)))
    return mat, skipped


def _date_parts(t: pl.Expr) -> dict[str, pl.Expr]:
    return {"year": t.dt.year(), "quarter": t.dt.quarter(), "month": t.dt.month(),
            "ISO week": t.dt.week(), "day of month": t.dt.day(), "weekday": t.dt.weekday(),
            "day of year": t.dt.ordinal_day(), "year-month": t.dt.year() * 100 + t.dt.month()}


def derived_from_time(frame: pl.DataFrame, time_col: str, columns: Sequence[str]) -> dict[str, str]:
    """The columns of `frame` that are a function of its date column, with the reason.

    A column is derived when every value of one calendar part (year, quarter, month, ISO
    week, day of month, weekday, day of year, year-month) maps to one value of it, or, where
    dates repeat (at most half as many dates as rows), when it is the date in another form
    (one value per date and one date per value). Constant columns are not derived.
    """
    if not frame[time_col].dtype.is_temporal():
        return {}
    nonconst = [c for c in columns if c != time_col and frame[c].n_unique() > 1]
    found: dict[str, str] = {}
    t = pl.col(time_col)
    for part, expr in _date_parts(t).items():
        cands = [c for c in nonconst if c not in found]
        if not cands:
            break
        most = (frame.lazy().select(expr.alias(_PART), *cands).group_by(_PART)
                .agg(pl.col(cands).n_unique()).select(pl.col(cands).max()).collect().row(0))
        found.update({c: f"a function of the {time_col}'s {part}" for c, m in zip(cands, most) if m == 1})
    n_dates = frame[time_col].n_unique()
    cands = [c for c in nonconst if c not in found]
    if cands and 2 * n_dates <= frame.height:
        most = frame.group_by(time_col).agg(pl.col(cands).n_unique()).select(pl.col(cands).max()).row(0)
        for c in (c for c, m in zip(cands, most) if m == 1):
            if frame.group_by(c).agg(t.n_unique()).select(t.max()).item() == 1:
                found[c] = f"the {time_col} in another form"
    return found


def _check_columns(train: pl.DataFrame, test: pl.DataFrame, names: Sequence[str], what: str) -> None:
    unknown = [c for c in names if c not in train.columns and c not in test.columns]
    if unknown:
        shared = [c for c in train.columns if c in test.columns]
        raise KitError(f"{what} names {', '.join(map(repr, unknown))}, a column in neither train nor test; "
                       f"the shared columns are: {', '.join(shared) or '(none)'}")


def _subsample(n: int, cap: int, gen: np.random.Generator) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(gen.choice(n, cap, replace=False))


def default_threads() -> int:
    """Half the cores this process may run on, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


def stratified_folds(y: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled stratified K-fold on a 0/1 label: every row once in a validation fold, and
    each fold's share of ones within one row of the whole (sklearn's StratifiedKFold idea,
    without importing sklearn, which costs seconds)."""
    gen = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        rows = gen.permutation(np.flatnonzero(y == label))
        # continue the round-robin where the other class stopped, so fold sizes stay even
        start = 0 if label == 0 else int((y == 0).sum()) % n_folds
        fold[rows] = (start + np.arange(len(rows))) % n_folds
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_folds)]


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of `score` for the 0/1 label `y` (Mann-Whitney U; ties count one half).

    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    >>> auc(np.array([0, 1]), np.array([0.5, 0.5]))
    0.5
    """
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n0 == 0 or n1 == 0:
        raise ValueError("AUC needs both classes")
    order = np.argsort(score, kind="stable")
    s = score[order]
    # average rank of each run of tied scores
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    ranks = np.empty(len(s))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


# ----------------------------------------------------------------------------- the classifier


@dataclass(frozen=True)
class _Fit:
    fold_aucs: tuple[float, ...]
    gain: np.ndarray  # per feature, summed over folds
    oof: np.ndarray  # out-of-fold test probability of every row
    models: tuple = field(repr=False)

    @property
    def auc_mean(self) -> float:
        return float(np.mean(self.fold_aucs))

    @property
    def auc_std(self) -> float:
        return float(np.std(self.fold_aucs))


_DATASET_PARAMS = ("verbosity", "num_threads", "max_bin", "min_data_in_bin", "seed", "force_col_wise")


def _fit_cv(X: np.ndarray, y: np.ndarray, categorical: list[int], folds, params: dict,
            rounds: int, desc: str) -> _Fit:
    import lightgbm as lgb

    from kit.progress import track

    aucs, models = [], []
    gain = np.zeros(X.shape[1])
    oof = np.zeros(len(y))
    # bin the features once; each fold trains on a row subset of the same bins (labels unseen)
    full = lgb.Dataset(X, y, categorical_feature=categorical, free_raw_data=False,
                       params={k: v for k, v in params.items() if k in _DATASET_PARAMS}).construct()
    for tr, va in track(folds, total=len(folds), desc=desc, unit="fold"):
        booster = lgb.train(params, full.subset(tr), num_boost_round=rounds)
        oof[va] = booster.predict(X[va])
        aucs.append(auc(y[va], oof[va]))
        gain += booster.feature_importance(importance_type="gain")
        models.append(booster)
    return _Fit(tuple(aucs), gain, oof, tuple(models))


def _predict_mean(models, X: np.ndarray) -> np.ndarray:
    """Mean prediction of `models`; rows that repeat are predicted once (Rossmann's 800k unseen
    train rows hold about 10k distinct feature rows, and prediction was most of the run)."""
    if len(X) > 10_000 and pl.from_numpy(X).n_unique() < len(X) // 2:
        uniq, inverse = np.unique(X, axis=0, return_inverse=True)
        return np.mean([m.predict(uniq) for m in models], axis=0)[inverse.ravel()]
    return np.mean([m.predict(X) for m in models], axis=0)


def run_adversarial(train: pl.DataFrame, test: pl.DataFrame, *, id_col: str | None = None,
                    target_cols: Sequence[str] = (), drop: Sequence[str] = (), time_col: str | None = None,
                    keep_time: bool = False, n_folds: int = 5, max_rows: int = 200_000,
                    max_ratio: float | None = 5.0,
                    threshold: float = THRESHOLD, max_drop_steps: int = 10, n_test_like: int | None = None,
                    n_estimators: int = 100, learning_rate: float = 0.1, num_leaves: int = 31,
                    num_threads: int | None = None, seed: int = 0) -> AdversarialReport:
    """Train a LightGBM classifier to tell `train` rows from `test` rows and report what differs.

    Args:
        train, test: the two tables (not modified). Features are the columns both have,
            minus `id_col`, `target_cols`, `drop` and (unless `keep_time`) `time_col` and the
            columns derived from it. Text and booleans are native LightGBM categoricals,
            dates are days since 1970.
        id_col: the id column; dropped from the features, kept in `scores` when train has it.
        target_cols: the target column(s), dropped.
        drop: more columns to leave out (each must exist in train or test).
        time_col: the date column of a forecasting competition (see the module docstring).
        keep_time: keep `time_col` and its derived columns as features.
        n_folds: stratified folds (the same folds for every refit, so AUCs compare).
        max_rows: the classifier sees at most this many rows of each side (seeded sample);
            drift statistics and the test-like scores use every row.
        max_ratio: and at most this many rows of the larger side per row of the smaller
            (None: no cap). The AUC does not depend on the class balance and its precision
            is set by the smaller side, so more majority rows only cost time.
        threshold: AUC at or below which train and test count as alike.
        max_drop_steps: most refits of the drop loop (0: no loop).
        n_test_like: how many test-like train rows to mark (default: as many as the test
            has, at most a fifth of train).
        n_estimators, learning_rate, num_leaves: LightGBM's boosting rounds and tree size.
        num_threads: LightGBM threads (default: half the cores this process may use, at least
            one). LightGBM's OpenMP threads spin while they wait, so when they outnumber the
            free cores it slows down many times over (10x measured on 2 shared cores).
        seed: seeds the subsample, the folds and LightGBM.
    """
    from kit.progress import bar

    if not 0.5 <= threshold < 1:
        raise KitError(f"threshold is an AUC between 0.5 and 1, got {threshold}")
    shared = [c for c in train.columns if c in test.columns]
    if not shared:
        raise KitError(f"train and test share no column (train: {', '.join(train.columns)}; test: "
                       f"{', '.join(test.columns)}); pass two tables with the same columns, or check the "
                       "files' header and separator")
    if train.height == 0 or test.height == 0:
        raise KitError(f"adversarial validation needs rows on both sides; train has {train.height:,}, "
                       f"test has {test.height:,}")
    if n_folds < 2:
        raise KitError(f"n_folds must be at least 2 for cross-validation, got {n_folds}")
    if max_ratio is not None and max_ratio < 1:
        raise KitError(f"max_ratio is the most rows of the larger side per row of the smaller, at least 1; "
                       f"got {max_ratio}")
    if min(train.height, test.height, max_rows) < n_folds:
        raise KitError(f"{n_folds}-fold cross-validation needs at least {n_folds} rows on each side; "
                       f"train has {train.height:,}, test {test.height:,}: use fewer folds")
    # a bare string would match its substrings below
    target_cols = (target_cols,) if isinstance(target_cols, str) else tuple(target_cols)
    drop = (drop,) if isinstance(drop, str) else tuple(drop)
    _check_columns(train, test, drop, "drop")
    _check_columns(train, test, target_cols, "target_cols")
    for name, col in (("id_col", id_col), ("time_col", time_col)):
        if col is not None:
            _check_columns(train, test, [col], name)
    left_out: list[LeftOut] = []
    notes: list[str] = []
    only_train = [c for c in train.columns if c not in test.columns]
    only_test = [c for c in test.columns if c not in train.columns]
    if only_train or only_test:
        notes.append("only in train: " + (", ".join(only_train) or "-") + "; only in test: "
                     + (", ".join(only_test) or "-") + " (not compared)")
    for c in shared:
        if c == id_col:
            left_out.append(LeftOut(c, "id column"))
        elif c in target_cols:
            left_out.append(LeftOut(c, "target"))
        elif c in drop:
            left_out.append(LeftOut(c, "on request (drop)"))
    used = [c for c in shared if c not in {lo.column for lo in left_out}]

    gen = np.random.default_rng(seed)
    cap_tr, cap_te = min(train.height, max_rows), min(test.height, max_rows)
    if max_ratio is not None:
        cap_tr, cap_te = (min(cap_tr, math.ceil(max_ratio * cap_te)), min(cap_te, math.ceil(max_ratio * cap_tr)))
    tr_rows = _subsample(train.height, cap_tr, gen)
    te_rows = _subsample(test.height, cap_te, gen)

    if time_col is not None and time_col in used and not keep_time:
        sample = pl.concat([train.select(used)[tr_rows], test.select(used)[te_rows]], how="vertical_relaxed")
        derived = derived_from_time(sample, time_col, used)
        left_out.append(LeftOut(time_col, "time column"))
        left_out += [LeftOut(c, why) for c, why in derived.items()]
        gone = [time_col, *derived]
        notes.append(f"left out {', '.join(gone)}: the test is the future, so the date (and what is "
                     "computed from it) tells train from test on its own; keep_time / --keep-time keeps them")
        used = [c for c in used if c not in gone]
    if not used:
        train_cols = ", ".join(train.columns)
        test_cols = ", ".join(test.columns)
        raise KitError(f"no feature left to compare: every column train and test share was left out "
                       f"({', '.join(f'{lo.column}: {lo.reason}' for lo in left_out)}); drop fewer columns "
                       f"(train: {train_cols}; test: {test_cols})")

    mat, skipped = _encode(train, test, used)
    left_out += skipped
    if not mat.names:
        raise KitError("none of the shared columns is numeric, text, boolean or a date: "
                       + ", ".join(f"{lo.column} ({lo.reason})" for lo in skipped))
    n_tr, n_te = len(tr_rows), len(te_rows)
    X = np.concatenate([mat.train[tr_rows], mat.test[te_rows]])
    y = np.concatenate([np.zeros(n_tr), np.ones(n_te)])
    folds = stratified_folds(y, n_folds, seed)
    if num_threads is None:
        num_threads = default_threads()
    params = {"objective": "binary", "learning_rate": learning_rate, "num_leaves": num_leaves,
              "min_data_in_leaf": 20, "seed": seed, "deterministic": True, "verbosity": -1,
              "num_threads": num_threads, "force_col_wise": True}

    def fit(cols: list[int], desc: str) -> _Fit:
        cats = [i for i, c in enumerate(cols) if mat.kinds[c] == "categorical"]
        return _fit_cv(X[:, cols], y, cats, folds, params, n_estimators, desc)

    all_cols = list(range(len(mat.names)))
    first = fit(all_cols, "adversarial fit")
    total_gain = first.gain.sum()
    share = first.gain / total_gain if total_gain > 0 else np.zeros(len(all_cols))
    drifts, stats = [], []
    for j, kind in enumerate(mat.kinds):
        if kind in ("categorical", "codes"):
            drifts.append(_tv(mat.train[:, j], mat.test[:, j]))
            stats.append("tv")
        else:
            drifts.append(_ks(mat.train[:, j], mat.test[:, j]))
            stats.append("ks")
    features = [FeatureDrift(mat.names[j], mat.kinds[j], float(share[j]), drifts[j], stats[j],
                             float(np.isnan(mat.train[:, j]).mean()), float(np.isnan(mat.test[:, j]).mean()))
                for j in all_cols]
    features.sort(key=lambda f: (-f.importance, -f.drift, f.name))

    # the drop loop: the features dropped on the way are what makes the test different
    path: list[DropStep] = []
    cols, current = list(all_cols), first
    with bar(total=max_drop_steps, desc="drop loop", unit="refit") as b:
        while current.auc_mean > threshold and len(path) < max_drop_steps and len(cols) > 1:
            top = cols[int(np.argmax(current.gain))]
            cols = [c for c in cols if c != top]
            current = fit(cols, f"without {mat.names[top]}")
            path.append(DropStep(mat.names[top], current.auc_mean, current.auc_std))
            b.update(1)
    if first.auc_mean <= threshold:
        notes.append(f"AUC {first.auc_mean:.3f} is at or below {threshold}: nothing to drop")
    elif path and path[-1].auc_mean <= threshold:
        notes.append(f"without {', '.join(s.dropped for s in path)} the AUC falls to "
                     f"{path[-1].auc_mean:.3f}: these are the features to drop or transform")
    elif len(cols) == 1:
        last = path[-1].auc_mean if path else first.auc_mean
        notes.append(f"{mat.names[cols[0]]}, the last feature left, still separates train from test "
                     f"(AUC {last:.3f}): drop or transform it too")
    elif max_drop_steps > 0:
        notes.append(f"after {len(path)} drops the AUC is still {path[-1].auc_mean:.3f}: the difference is "
                     "spread over many features; validate on test-like rows (or raise --max-steps)")

    # every train row gets an out-of-sample score: out-of-fold where the classifier saw it,
    # the fold models' mean where it was left out of the subsample
    score = np.empty(train.height)
    score[tr_rows] = first.oof[:n_tr]
    unseen = np.setdiff1d(np.arange(train.height), tr_rows, assume_unique=True)
    if len(unseen):
        score[unseen] = _predict_mean(first.models, mat.train[unseen])
    k = n_test_like if n_test_like is not None else max(1, min(test.height, train.height // 5))
    k = int(min(max(k, 0), train.height))
    order = np.argsort(-score, kind="stable")
    test_like = order[:k]
    cols_out = {"row": pl.Series("row", np.arange(train.height), dtype=pl.Int64)}
    for c in (id_col, time_col):
        if c is not None and c in train.columns:
            cols_out[c] = train[c]
    mask = np.zeros(train.height, dtype=bool)
    mask[test_like] = True
    scores = (pl.DataFrame(cols_out)
              .with_columns(adversarial_score=pl.Series(score), test_like=pl.Series(mask))
              .sort(["adversarial_score", "row"], descending=[True, False]))
    test_like.setflags(write=False)
    return AdversarialReport(
        auc_mean=first.auc_mean, auc_std=first.auc_std, fold_aucs=first.fold_aucs,
        features=tuple(features), drop_path=tuple(path), left_out=tuple(left_out), notes=tuple(notes),
        test_like_rows=test_like, scores=scores, n_train=train.height, n_test=test.height,
        n_train_used=n_tr, n_test_used=n_te, n_folds=n_folds, threshold=threshold, seed=seed,
        id_column=id_col if id_col in train.columns else None,
        time_column=time_col if time_col in train.columns else None)


# ----------------------------------------------------------------------------- entry points


def adversarial_for(spec, folder: str | os.PathLike, **kwargs) -> AdversarialReport:
    """Adversarial validation of a competition's train and test tables (typed, cached).

    `spec` is a CompetitionSpec (or a Competition); keyword arguments go to `run_adversarial`.
    """
    from kit.data.tables import read_table

    spec = getattr(spec, "spec", spec)
    train = read_table(spec, spec.train, Path(folder))
    test = read_table(spec, spec.test, Path(folder))
    kwargs.setdefault("id_col", spec.id_column)
    kwargs.setdefault("target_cols", spec.target_columns)
    kwargs.setdefault("time_col", spec.time_column)
    return run_adversarial(train, test, **kwargs)


def read_frame(path: str | os.PathLike) -> pl.DataFrame:
    """A CSV or Parquet file as a frame, ISO dates parsed; a KitError if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path} does not exist or is not a file; give the path of a CSV or Parquet table")
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, try_parse_dates=True, infer_schema_length=100_000)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        raise KitError(f"cannot read {path} as a table: {str(err).splitlines()[0]}") from err


def adversarial_files(train_path: str | os.PathLike, test_path: str | os.PathLike, **kwargs) -> AdversarialReport:
    """Adversarial validation of any two table files (CSV or Parquet); kwargs as `run_adversarial`."""
    return run_adversarial(read_frame(train_path), read_frame(test_path), **kwargs)


# ----------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class AdversarialFiles:
    """What `write_report` wrote."""

    png: Path
    json: Path
    test_like: Path


def _atomic(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def plot(report: AdversarialReport, top: int = 12):
    """A matplotlib Figure: AUC per fold, the top features (gain and drift), the drop loop."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.8), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3, width_ratios=(1, 1.4, 1.2))
    k = len(report.fold_aucs)
    ax1.bar(range(1, k + 1), report.fold_aucs, color="#4c72b0")
    ax1.axhline(report.auc_mean, color="#c44e52", label=f"mean {report.auc_mean:.3f} ± {report.auc_std:.3f}")
    ax1.axhline(0.5, color="grey", ls="--", label="0.5: indistinguishable")
    ax1.set(xlabel="fold", ylabel="AUC (train vs test)", title="adversarial AUC per fold",
            ylim=(min(0.4, min(report.fold_aucs) - 0.05), 1.0), xticks=range(1, k + 1))
    ax1.legend(loc="lower right", fontsize=8)

    feats = report.features[:top][::-1]
    pos = np.arange(len(feats))
    ax2.barh(pos + 0.2, [f.importance for f in feats], height=0.4, color="#4c72b0", label="gain share")
    ax2.barh(pos - 0.2, [f.drift for f in feats], height=0.4, color="#dd8452", label="drift (KS / TV)")
    ax2.set_yticks(pos, [f"{f.name} ({f.statistic.upper()})" for f in feats], fontsize=8)
    ax2.set(xlim=(0, 1), xlabel="0 = no difference, 1 = total", title=f"top {len(feats)} drifters")
    ax2.legend(loc="lower right", fontsize=8)

    steps = ["all features", *[f"- {s.dropped}" for s in report.drop_path]]
    aucs = [report.auc_mean, *[s.auc_mean for s in report.drop_path]]
    stds = [report.auc_std, *[s.auc_std for s in report.drop_path]]
    ax3.errorbar(range(len(aucs)), aucs, yerr=stds, marker="o", color="#4c72b0", capsize=3)
    ax3.axhline(report.threshold, color="#c44e52", ls=":", label=f"threshold {report.threshold}")
    ax3.axhline(0.5, color="grey", ls="--")
    ax3.set_xticks(range(len(aucs)), steps, rotation=35, ha="right", rotation_mode="anchor", fontsize=8)
    ax3.set(ylabel="AUC", title="drop loop: drop the top feature, refit", ylim=(0.4, 1.0))
    ax3.legend(loc="upper right", fontsize=8)
    return fig


def write_report(report: AdversarialReport, out_dir: str | os.PathLike) -> AdversarialFiles:
    """Write adversarial.png, adversarial.json and adversarial_test_like.parquet (atomically)."""
    out = Path(out_dir)
    fig = plot(report)
    png = _atomic(out / "adversarial.png", lambda p: fig.savefig(p, format="png", dpi=110))
    pq = _atomic(out / "adversarial_test_like.parquet", lambda p: report.scores.write_parquet(p))
    data = report.to_dict()
    data["test_like"]["file"] = pq.name
    text = json.dumps(data, indent=2, default=_json_default) + "\n"
    js = _atomic(out / "adversarial.json", lambda p: p.write_text(text))
    return AdversarialFiles(png, js, pq)


def default_out_dir(data_dir: str | os.PathLike, name: str) -> Path:
    """`<data-dir>/../reports/<name>`: reports sit beside the data, not inside it."""
    return Path(data_dir).parent / "reports" / name


__all__ = ["AdversarialReport", "FeatureDrift", "DropStep", "LeftOut", "AdversarialFiles", "run_adversarial",
           "adversarial_for", "adversarial_files", "read_frame", "write_report", "plot", "ks_distance",
           "tv_distance", "derived_from_time", "default_out_dir", "auc", "stratified_folds", "THRESHOLD",
           "MAX_NATIVE_LEVELS"]
