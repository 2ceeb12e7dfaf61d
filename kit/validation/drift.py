"""Adversarial validation's pieces that need no classifier: the drift statistics, the encoding
of both tables into one float matrix, the columns derived from the date, and the AUC.

Drift statistic (one number in [0, 1] per feature, 0 = same distribution):
  numeric and date columns: Kolmogorov-Smirnov distance, max |F_train(x) - F_test(x)|, with
  missing values as an atom below every value (so a change in the missing share counts);
  categorical columns: total-variation distance, 1/2 sum |p_train(level) - p_test(level)|,
  with missing as a level (so levels new in the test count in full).
KS is total variation restricted to half-lines, so the two read on the same scale: the
largest difference in the share of rows falling in some set of values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from kit.validation.adversarial_report import FeatureDrift, Kind, LeftOut

__all__ = ["MAX_NATIVE_LEVELS", "ks_distance", "tv_distance", "ks_floats", "tv_codes", "Matrix", "kind_of", "encode",
           "derived_from_time", "feature_drifts", "auc"]

#: text columns with more levels than this are given to LightGBM as ordinal codes, not as
#: native categoricals: its docs warn that high-cardinality categoricals overfit, and here
#: they did (dropping Bulldozers' fiModelDesc *raised* the AUC)
MAX_NATIVE_LEVELS = 256
PART = "__kit_part__"


def ks_floats(a: np.ndarray, b: np.ndarray) -> float:
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


def tv_codes(a: np.ndarray, b: np.ndarray) -> float:
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
    return ks_floats(sa.cast(pl.Float64).fill_nan(None).to_numpy().astype(float),
                     sb.cast(pl.Float64).fill_nan(None).to_numpy().astype(float))


def tv_distance(a: pl.Series | Sequence, b: pl.Series | Sequence) -> float:
    """Total-variation distance between the level shares of two samples; missing is a level.

    >>> tv_distance(["a", "a", "b", "b"], ["a", "b", "b", "c"])
    0.25
    """
    sa, sb = pl.Series(a).cast(pl.String), pl.Series(b).cast(pl.String)
    codes = (pl.concat([sa, sb]).rank("dense") - 1).cast(pl.Float64).to_numpy()
    return tv_codes(codes[:len(sa)], codes[len(sa):])


@dataclass(frozen=True)
class Matrix:
    """Train and test features as float matrices (categorical columns as codes, NaN missing)."""

    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    train: np.ndarray
    test: np.ndarray


def kind_of(dtype: pl.DataType) -> Kind | None:
    if dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, (pl.Enum, pl.Categorical)):
        return "categorical"
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return "date"
    if dtype.is_numeric() or dtype.is_temporal():  # times of day and durations as numbers
        return "numeric"
    return None


def encode(train: pl.DataFrame, test: pl.DataFrame, columns: Sequence[str]) -> tuple[Matrix, list[LeftOut]]:
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
        kind = kind_of(a.dtype)
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
    mat = Matrix(tuple(names), tuple(kinds),
                  np.column_stack(out_tr) if out_tr else np.empty((train.height, 0)),
                  np.column_stack(out_te) if out_te else np.empty((test.height, 0)))
    return mat, skipped


def feature_drifts(mat: Matrix, gain: np.ndarray) -> list[FeatureDrift]:
    """One FeatureDrift per column of `mat`, given the classifier's gain per column; the
    feature the classifier leaned on most first (gain share, then drift, then name)."""
    total = gain.sum()
    share = gain / total if total > 0 else np.zeros(len(mat.names))
    out = []
    for j, (name, kind) in enumerate(zip(mat.names, mat.kinds)):
        a, b = mat.train[:, j], mat.test[:, j]
        categorical = kind in ("categorical", "codes")
        drift = tv_codes(a, b) if categorical else ks_floats(a, b)
        out.append(FeatureDrift(name, kind, float(share[j]), drift, "tv" if categorical else "ks",
                                float(np.isnan(a).mean()), float(np.isnan(b).mean())))
    out.sort(key=lambda f: (-f.importance, -f.drift, f.name))
    return out


def date_parts(t: pl.Expr) -> dict[str, pl.Expr]:
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
    for part, expr in date_parts(t).items():
        cands = [c for c in nonconst if c not in found]
        if not cands:
            break
        most = (frame.lazy().select(expr.alias(PART), *cands).group_by(PART)
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
