"""What every splitter shares: the scikit-learn base class, and reading X, y, groups and dates.

Private to kit.validation: the splitters live in kit.validation.splits (random and
stratified K-fold) and kit.validation.time_splits (time holdout, walk-forward).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
from sklearn.model_selection import BaseCrossValidator

from kit.errors import KitError

__all__ = ["Split", "Splitter", "n_rows", "column", "series", "is_frame", "day_numbers", "day", "listing",
           "check_int", "indices"]

EPOCH = dt.date(1970, 1, 1)

Split = tuple[np.ndarray, np.ndarray]


class Splitter(BaseCrossValidator):
    """A kit splitter: a scikit-learn cross-validator whose constructor arguments are stored
    unchanged under their own names, so `get_params`, `set_params` and `sklearn.clone` work
    (scikit-learn's own splitters have no `get_params`, so `clone` refuses them).

    Subclasses check their arguments in `__init__` (a bad fold count is an error at once,
    as in scikit-learn's splitters) but store each one as given.
    """

    n_splits: int

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, by name."""
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params: Any) -> Splitter:
        """Change constructor arguments (checked as the constructor checks them)."""
        names = self._param_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise KitError(f"{type(self).__name__} has no parameter {', '.join(map(repr, unknown))}; "
                           f"it takes {', '.join(names)}")
        self.__init__(**{**self.get_params(), **params})
        return self

    def __repr__(self) -> str:
        # the constructor's order, not scikit-learn's alphabetical one
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._param_names())
        return f"{type(self).__name__}({args})"

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """How many `(train_idx, valid_idx)` pairs `split` yields."""
        return int(self.n_splits)


def n_rows(X: Any) -> int:
    if X is None:
        raise KitError("split needs X (the rows to split); got None")
    if isinstance(X, pl.LazyFrame):
        raise KitError("split needs a DataFrame, got a LazyFrame; call .collect() first")
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def is_frame(X: Any) -> bool:
    return isinstance(X, pl.DataFrame) or (type(X).__module__.startswith("pandas") and hasattr(X, "columns"))


def column(X: Any, name: str, what: str) -> pl.Series:
    """Column `name` of a polars or pandas DataFrame, as a polars Series."""
    if isinstance(X, pl.DataFrame):
        if name not in X.columns:
            raise KitError(f"{what} column {name!r} is not in X (columns: {listing(X.columns)})")
        return X.get_column(name)
    if type(X).__module__.startswith("pandas") and hasattr(X, "columns"):
        if name not in X.columns:
            raise KitError(f"{what} column {name!r} is not in X (columns: {listing(map(str, X.columns))})")
        return pl.from_pandas(X[[name]]).to_series()
    raise KitError(f"X must be a polars or pandas DataFrame with a {name!r} column, got {type(X).__name__}")


def series(values: Any, name: str) -> pl.Series:
    if isinstance(values, pl.Series):
        return values
    if type(values).__module__.startswith("pandas"):
        return pl.from_pandas(values)
    return pl.Series(name, np.asarray(values) if not isinstance(values, list) else values)


def day_numbers(X: Any, date_col: str) -> np.ndarray:
    """The date of every row as days since 1970-01-01 (times of day dropped), int64."""
    s = column(X, date_col, "date") if is_frame(X) else series(X, date_col)
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


def day(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def listing(names: Any, limit: int = 10) -> str:
    names = list(names)
    head = ", ".join(names[:limit])
    return f"{head}, ... ({len(names)} in all)" if len(names) > limit else head


def check_int(value: Any, what: str, minimum: int) -> Any:
    """`value` itself when it is an integer >= minimum (stored as given, so clone sees it unchanged)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise KitError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def indices(fold: np.ndarray, k: int) -> Iterator[Split]:
    """(train, valid) per fold from the fold number of every row."""
    for f in range(k):
        valid = fold == f
        yield (np.flatnonzero(~valid).astype(np.int64, copy=False),
               np.flatnonzero(valid).astype(np.int64, copy=False))
