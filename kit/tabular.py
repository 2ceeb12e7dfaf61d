"""Tabular processing fitted on the training part only, applied identically everywhere.

`TabularProcessor` learns everything it needs from the frame given to `fit` (the training
rows) and applies exactly that to any later frame (validation, test), so no statistic of
the rows being predicted leaks into their features, and every frame comes out with the
same columns in the same order:

- **date parts**: each date column becomes `<col>_year`, `_month`, `_week` (ISO), `_day`,
  `_dayofweek` (1 = Monday), `_dayofyear`, `_is_month_end`, `_is_month_start`,
  `_is_quarter_end`, `_is_quarter_start`, `_is_year_end`, `_is_year_start` and `_elapsed`
  (days since 1970-01-01). `_year` and `_elapsed` are continuous, so a model can reach
  years it has not seen; the others are categorical. The date column itself is dropped.
- **categorical codes**: each categorical column's values seen in training are coded
  1..n in sorted order; 0 is reserved for missing values and for values never seen in
  training, so an embedding table needs n + 1 rows (`cardinalities`).
- **missing values** in continuous columns (null or NaN) are filled with the training
  median. Each continuous column that had missing values *in training* also gets a
  categorical flag column `<col>_na` (1 = present, 2 = was missing). The set of flag
  columns is fixed at fit time, so train, validation and test always have the same
  columns; a column with no missing values in training but some later is still filled
  with its training median, without a flag, and `Processed.filled_without_flag` counts
  those values so the shift is visible rather than silent.
- **normalisation** (for the network): continuous columns minus their training mean,
  divided by their training standard deviation (after filling).
- **continuous or categorical**: columns named in `cat_names` / `cont_names` are what
  those lists say; every other column is decided by its type: strings, booleans and
  integers with at most `max_card` distinct values are categorical, floats and integers
  with more are continuous.

Example:

>>> import polars as pl
>>> train = pl.DataFrame({"shop": ["a", "b", "a"], "temp": [1.0, None, 3.0], "y": [1, 2, 3]})
>>> proc = TabularProcessor(skip_names=("y",)).fit(train)
>>> out = proc.transform(pl.DataFrame({"shop": ["b", "z"], "temp": [None, 5.0]}))
>>> out.frame["shop"].to_list(), out.frame["temp_na"].to_list(), out.cardinalities
([2, 0], [2, 1], {'shop': 3, 'temp_na': 3})
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from kit.errors import KitError

#: date parts added for each date column, in output order, with their kind
DATE_PARTS: tuple[tuple[str, str], ...] = (
    ("year", "cont"), ("month", "cat"), ("week", "cat"), ("day", "cat"), ("dayofweek", "cat"),
    ("dayofyear", "cat"), ("is_month_end", "cat"), ("is_month_start", "cat"),
    ("is_quarter_end", "cat"), ("is_quarter_start", "cat"), ("is_year_end", "cat"),
    ("is_year_start", "cat"), ("elapsed", "cont"),
)

#: codes of the `<col>_na` flag columns: 0 stays reserved like every categorical column
NA_PRESENT, NA_MISSING = 1, 2
_FLAG_CARDINALITY = 3


class Arrays(NamedTuple):
    """A processed frame as two numpy matrices, the way the network reads it."""

    #: (n, n_cat) int64 codes, 0 = missing or unseen
    cat: np.ndarray
    #: (n, n_cont) float32
    cont: np.ndarray


@dataclass(frozen=True)
class Processed:
    """A frame after `TabularProcessor.transform`: model-ready numeric columns.

    `frame` holds the categorical codes (Int64) first, then the continuous values (Float32),
    one row per input row in input order.
    """

    frame: pl.DataFrame
    #: categorical columns of `frame` (date parts and `_na` flags included), in order
    cat_names: tuple[str, ...]
    #: continuous columns of `frame`, in order
    cont_names: tuple[str, ...]
    #: codes per categorical column including the reserved 0: the embedding table's size
    cardinalities: dict[str, int]
    #: continuous columns with missing values here but none in training: how many values
    #: were filled with the training median without a flag column
    filled_without_flag: dict[str, int] = field(default_factory=dict)
    #: categorical columns whose codes follow a natural order (the date parts: month, week,
    #: day of year ...): a network embeds them, a boosted tree should split them as numbers
    ordered_names: tuple[str, ...] = ()
    #: the value behind each code of the categorical columns (not the `_na` flags): code i is
    #: levels[col][i - 1], 0 is missing or unseen; for people (kit.explain's labels)
    levels: dict[str, tuple] = field(default_factory=dict)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return (*self.cat_names, *self.cont_names)

    def __len__(self) -> int:
        return self.frame.height

    def to_numpy(self) -> Arrays:
        """`Arrays(cat=int64 (n, n_cat), cont=float32 (n, n_cont))`."""
        n = self.frame.height
        cat = (self.frame.select(self.cat_names).to_numpy().astype(np.int64, copy=False)
               if self.cat_names else np.zeros((n, 0), np.int64))
        cont = (self.frame.select(self.cont_names).to_numpy().astype(np.float32, copy=False)
                if self.cont_names else np.zeros((n, 0), np.float32))
        return Arrays(np.ascontiguousarray(cat), np.ascontiguousarray(cont))


def _as_frame(df: Any, what: str) -> pl.DataFrame:
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    if isinstance(df, pl.DataFrame):
        return df
    if type(df).__module__.startswith("pandas") and hasattr(df, "columns"):
        return pl.from_pandas(df)
    raise KitError(f"{what} must be a polars or pandas DataFrame with named columns, got {type(df).__name__}")


def _kind(dtype: pl.DataType) -> str:
    """The broad kind of a dtype: what decides how a column can be processed."""
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "str"
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return "date"
    return "other"


def _names(value: Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise KitError(f"{what} must be a list of column names, got the string {value!r}; "
                       f"write {what}=[{value!r}]")
    names = tuple(value)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise KitError(f"{what} names {', '.join(dup)} more than once")
    return names


def _date_part_exprs(col: str, dtype: pl.DataType) -> list[pl.Expr]:
    d = pl.col(col)
    month, day = d.dt.month(), d.dt.day()
    month_end = d.dt.month_end().dt.day() == day
    elapsed = d.cast(pl.Int32).cast(pl.Float64) if dtype == pl.Date else d.dt.epoch("s").cast(pl.Float64) / 86_400.0
    parts = {
        "year": d.dt.year(), "month": month, "week": d.dt.week(), "day": day,
        "dayofweek": d.dt.weekday(), "dayofyear": d.dt.ordinal_day(),
        "is_month_end": month_end, "is_month_start": day == 1,
        "is_quarter_end": month_end & month.is_in([3, 6, 9, 12]),
        "is_quarter_start": (day == 1) & month.is_in([1, 4, 7, 10]),
        "is_year_end": (month == 12) & (day == 31), "is_year_start": (month == 1) & (day == 1),
        "elapsed": elapsed,
    }
    return [parts[p].alias(f"{col}_{p}") for p, _ in DATE_PARTS]


def _expand(frame: pl.DataFrame, schema: dict[str, pl.DataType], dates: Sequence[str]) -> list[pl.Expr]:
    """Every column in order, each date column replaced by its parts. A Date column's parts are
    computed once per day of its span and looked up by each row: many rows share a day."""
    out: list[pl.Expr] = []
    for c, t in schema.items():
        day = frame[c].to_physical() if c in dates and t == pl.Date else pl.Series([], dtype=pl.Int32)
        if day.count() == 0 or day.max() - day.min() >= _LOOKUP_SPAN:
            out.extend(_date_part_exprs(c, t) if c in dates else [pl.col(c)])
            continue
        span = pl.select(pl.int_range(day.min(), day.max() + 1, dtype=pl.Int32).cast(pl.Date).alias(c))
        at = pl.col(c).to_physical() - day.min()
        out.extend(pl.lit(v).gather(at).alias(v.name) for v in span.select(_date_part_exprs(c, t)))
    return out


def _float(col: str, dtype: pl.DataType) -> pl.Expr:
    """The column as Float64 with NaN counted as missing (null)."""
    x = pl.col(col).cast(pl.Float64)
    return x.fill_nan(None) if dtype.is_float() else x


class TabularProcessor:
    """Date parts, categorical codes, missing-value filling and normalisation, fitted on train.

    Args:
        cat_names: columns to treat as categorical whatever their type (e.g. a store number
            with more than `max_card` values). May name date parts (`Date_week`).
        cont_names: columns to treat as continuous whatever their cardinality.
        date_names: date columns to expand into date parts; None (the default) expands
            every Date or Datetime column.
        skip_names: columns to leave out (ids, targets, leaks such as Rossmann's Customers);
            they may be present or absent in any frame.
        max_card: integer columns with at most this many distinct training values are
            categorical when not named (fast.ai's rule).
        normalize: subtract the training mean and divide by the training standard deviation
            of each continuous column (for networks; trees do not need it).

    Learned attributes (after `fit`): `cat_names_`, `cont_names_`, `date_names_`,
    `na_names_` (continuous columns that get a `_na` flag), `levels_`, `medians_`, `means_`,
    `stds_`, `cardinalities_`, `input_columns_`.
    """

    def __init__(self, cat_names: Sequence[str] | None = None, cont_names: Sequence[str] | None = None,
                 date_names: Sequence[str] | None = None, skip_names: Sequence[str] = (), *,
                 max_card: int = 20, normalize: bool = True) -> None:
        self.cat_names = cat_names
        self.cont_names = cont_names
        self.date_names = date_names
        self.skip_names = skip_names
        self.max_card = max_card
        self.normalize = normalize

    def __repr__(self) -> str:
        args = [f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")]
        return f"TabularProcessor({', '.join(args)})"

    # ---- fit -----------------------------------------------------------------------------
    def fit(self, df: Any) -> TabularProcessor:
        """Learn the columns, vocabularies, medians and scales from the training frame `df`."""
        self._fit(_as_frame(df, "fit's frame"))
        return self

    def _fit(self, frame: pl.DataFrame) -> pl.LazyFrame:
        """`fit`; returns the frame with its date parts, materialised (for `fit_transform`)."""
        cats, conts, dates, skip = self._checked_names()
        schema = {c: t for c, t in frame.schema.items() if c not in skip}
        if not schema:
            raise KitError("fit's frame has no columns left to process (all are in skip_names)")
        if dates is None:
            dates = tuple(c for c, t in schema.items() if _kind(t) == "date")
        for c in dates:
            if c not in schema:
                raise KitError(f"date_names names {c!r}, which is not a column of fit's frame "
                               f"({_listing(schema)})")
            if _kind(schema[c]) != "date":
                raise KitError(f"date column {c!r} is {schema[c]}, not a date; parse it first "
                               f"(pl.col({c!r}).str.to_date(...)) or leave it out of date_names")
        # the expanded frame: date parts in place of their date column
        clash = [f"{c}_{p}" for c in dates for p, _ in DATE_PARTS if f"{c}_{p}" in schema]
        if clash:
            raise KitError(f"date parts would overwrite the columns {', '.join(clash)}; rename them "
                           "or add them to skip_names")
        # materialised once: the type decisions and the statistics both read it
        lf = frame.lazy().select(_expand(frame, schema, dates)).collect().lazy()
        expanded = dict(lf.collect_schema())
        part_kind = {f"{c}_{p}": kind for c in dates for p, kind in DATE_PARTS}
        for what, names in (("cat_names", cats), ("cont_names", conts)):
            unknown = [c for c in names or () if c not in expanded]
            if unknown:
                raise KitError(f"{what} names {', '.join(unknown)}, not columns of fit's frame "
                               f"after date parts ({_listing(expanded)})")
        kinds = self._decide(lf, expanded, part_kind, set(cats or ()), set(conts or ()))
        cat_cols = [c for c in expanded if kinds[c] == "cat"]
        cont_cols = [c for c in expanded if kinds[c] == "cont"]
        for c in cont_cols:
            if _kind(expanded[c]) not in ("int", "float", "bool"):
                raise KitError(f"continuous column {c!r} is {expanded[c]}, not a number; "
                               "name it in cat_names or convert it")
        stats = lf.select(
            *[(pl.col(c).cast(pl.String) if expanded[c] == pl.Categorical else pl.col(c))
              .drop_nulls().unique().sort().implode().alias(f"lv|{c}") for c in cat_cols],
            *[_float(c, expanded[c]).null_count().alias(f"na|{c}") for c in cont_cols],
            *[_float(c, expanded[c]).median().alias(f"md|{c}") for c in cont_cols],
        ).collect()
        self.input_columns_, self.date_names_ = dict(schema), tuple(dates)
        self.levels_ = {c: stats[f"lv|{c}"][0].rename(c) for c in cat_cols}
        stats = stats.drop([f"lv|{c}" for c in cat_cols]).row(0, named=True)
        # mean and scale after the median fill, not computing it twice (an aggregate fill, as before: same bits)
        filled = [(c, _float(c, expanded[c]).fill_null(pl.lit(stats[f"md|{c}"], pl.Float64).first()))
                  for c in cont_cols]
        stats |= lf.select(pl.lit(0).alias("_"), *[x.mean().alias(f"mn|{c}") for c, x in filled],
                           *[x.std().alias(f"sd|{c}") for c, x in filled]).collect().row(0, named=True)
        # an all-missing column has no median: fill with 0 and leave the scale alone
        self.medians_ = {c: _finite(stats[f"md|{c}"], 0.0) for c in cont_cols}
        self.means_ = {c: _finite(stats[f"mn|{c}"], 0.0) for c in cont_cols}
        self.stds_ = {c: _scale(stats[f"sd|{c}"]) for c in cont_cols}
        self.na_names_ = tuple(c for c in cont_cols if stats[f"na|{c}"] > 0)
        flags = [f"{c}_na" for c in self.na_names_]
        taken = [f for f in flags if f in expanded]
        if taken:
            raise KitError(f"missing-value flags would overwrite the columns {', '.join(taken)}; "
                           "rename them or add them to skip_names")
        self.cat_names_ = (*cat_cols, *flags)
        self.ordered_names_, self.cont_names_ = tuple(c for c in cat_cols if c in part_kind), tuple(cont_cols)
        self.cardinalities_ = {**{c: len(self.levels_[c]) + 1 for c in cat_cols},
                               **{f: _FLAG_CARDINALITY for f in flags}}
        return lf

    def _checked_names(self) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None,
                                      tuple[str, ...] | None, set[str]]:
        """The named cat, cont and date columns (None: infer) and the skipped ones, checked: each
        column named in one list at most, and a positive max_card."""
        cats = _names(self.cat_names, "cat_names")
        conts = _names(self.cont_names, "cont_names")
        dates = _names(self.date_names, "date_names")
        skip = set(_names(self.skip_names, "skip_names") or ())
        if not isinstance(self.max_card, int) or self.max_card < 1:
            raise KitError(f"max_card must be a positive integer, got {self.max_card!r}")
        for a, b, x, y in (("cat_names", "cont_names", cats, conts), ("cat_names", "date_names", cats, dates),
                           ("cont_names", "date_names", conts, dates)):
            both = sorted(set(x or ()) & set(y or ()))
            if both:
                raise KitError(f"{', '.join(both)} named in both {a} and {b}; name each column once")
        return cats, conts, dates, skip

    def _decide(self, lf: pl.LazyFrame, expanded: dict[str, pl.DataType], part_kind: dict[str, str],
                cats: set[str], conts: set[str]) -> dict[str, str]:
        """cat or cont for every expanded column: named, then date-part default, then by type."""
        kinds: dict[str, str] = {}
        count = []
        for c, t in expanded.items():
            if c in cats:
                kinds[c] = "cat"
            elif c in conts:
                kinds[c] = "cont"
            elif c in part_kind:
                kinds[c] = part_kind[c]
            elif _kind(t) in ("str", "bool"):
                kinds[c] = "cat"
            elif _kind(t) == "float":
                kinds[c] = "cont"
            elif _kind(t) == "int":
                count.append(c)
            else:
                raise KitError(f"column {c!r} is {t}, which the processor cannot use; name it in "
                               "skip_names, or convert it (dates: date_names; text: a string column)")
        if count:
            n = lf.select(pl.col(c).drop_nulls().n_unique().alias(c) for c in count).collect().row(0, named=True)
            kinds |= {c: "cat" if n[c] <= self.max_card else "cont" for c in count}
        return kinds

    # ---- transform -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "cat_names_"):
            raise KitError("this TabularProcessor is not fitted yet; call fit(train) first, then transform")

    def transform(self, df: Any) -> Processed:
        """Apply what `fit` learned to `df` (train, validation or test); `df` is not changed."""
        self._check_fitted()
        frame = _as_frame(df, "transform's frame")
        skip = set(self.skip_names or ())
        have = {c: t for c, t in frame.schema.items() if c not in skip}
        unknown = [c for c in have if c not in self.input_columns_]
        if unknown:
            raise KitError(f"columns {', '.join(unknown)} were not in the frame the processor was fitted on; "
                           "drop them or add them to skip_names")
        missing = [c for c in self.input_columns_ if c not in have]
        if missing:
            raise KitError(f"columns {', '.join(missing)} are missing from this frame but were used in fit; "
                           "if they are targets, ids or train-only columns, name them in skip_names "
                           "and fit again")
        changed = [f"{c} ({self.input_columns_[c]} in fit, {t} here)" for c, t in have.items()
                   if _kind(t) != _kind(self.input_columns_[c])
                   and {_kind(t), _kind(self.input_columns_[c])} != {"int", "float"}]
        if changed:
            raise KitError(f"columns changed type since fit: {'; '.join(changed)}; read both frames "
                           "with the same schema")
        return self._apply(frame.lazy().select(_expand(frame, {c: have[c] for c in self.input_columns_},
                                                       self.date_names_)))

    def _apply(self, lf: pl.LazyFrame) -> Processed:
        """`transform` of `lf`, the frame with its date parts."""
        types = lf.collect_schema()  # the frame's own dtypes (an int column may arrive as float)
        cat_cols = [c for c in self.cat_names_ if c in self.levels_]
        exprs = [_code(c, types[c], self.levels_[c]).alias(c) for c in cat_cols]
        for c in self.na_names_:
            exprs.append(pl.when(_float(c, types[c]).is_null()).then(pl.lit(NA_MISSING, pl.Int64))
                         .otherwise(pl.lit(NA_PRESENT, pl.Int64)).alias(f"{c}_na"))
        for c in self.cont_names_:
            x = _float(c, types[c]).fill_null(self.medians_[c])
            if self.normalize:
                x = (x - self.means_[c]) / self.stds_[c]
            exprs.append(x.cast(pl.Float32).alias(c))
        unflagged = [c for c in self.cont_names_ if c not in self.na_names_]
        # one run for both queries, so the date parts are computed once
        out, counts = pl.collect_all([
            lf.select(exprs),
            lf.select(pl.lit(0).alias("_"), *[_float(c, types[c]).null_count().alias(c) for c in unflagged]),
        ])
        filled = {c: int(n) for c, n in counts.drop("_").row(0, named=True).items() if n}
        return Processed(frame=out, cat_names=self.cat_names_, cont_names=self.cont_names_,
                         cardinalities=dict(self.cardinalities_), filled_without_flag=filled,
                         ordered_names=self.ordered_names_,
                         levels={c: tuple(v.to_list()) for c, v in self.levels_.items()})

    def fit_transform(self, df: Any) -> Processed:
        """`fit(df)` then `transform(df)`, the date parts computed once."""
        return self._apply(self._fit(_as_frame(df, "fit's frame")))


def level_names(codes, levels) -> list[str]:
    """Codes as what they stand for: i is levels[i - 1] ("" as "(empty)"); 0, null or out of range is "missing"."""
    names = np.array(["missing", *((str(v) or "(empty)") for v in levels)], dtype=object)
    c = pl.Series(list(codes), dtype=pl.Float64, strict=False).fill_null(0).to_numpy()
    return names[np.where((c == np.round(c)) & (c >= 0) & (c <= len(levels)), c, 0).astype(np.int64)].tolist()


#: integer vocabularies and Date columns spanning fewer values (days) than this are looked up in a table
_LOOKUP_SPAN = 1 << 20


def _code(col: str, dtype: pl.DataType, levels: pl.Series) -> pl.Expr:
    """Codes 1..n for the sorted `levels`, 0 for missing or unseen values, as Int64.

    `replace_strict` does every case; the common ones have cheaper exact forms (about 2x
    faster on a million rows): a when/then for booleans, a table lookup for integers over a
    short span, an Enum cast for strings.
    """
    x = pl.col(col)
    n = len(levels)
    if n and levels.dtype == pl.Boolean and dtype == pl.Boolean:
        code = dict(zip(levels.to_list(), range(1, n + 1)))
        return (pl.when(x).then(code.get(True, 0)).when(x.not_()).then(code.get(False, 0))
                .otherwise(0).cast(pl.Int64))
    if n and levels.dtype.is_integer() and dtype.is_integer():
        lo, hi = int(levels[0]), int(levels[-1])
        if hi - lo < _LOOKUP_SPAN:
            # code 0 at both ends of the table, for every value below lo or above hi
            table = np.zeros(hi - lo + 3, np.int64)
            table[levels.to_numpy().astype(np.int64) - lo + 1] = np.arange(1, n + 1)
            return pl.lit(pl.Series(table)).gather((x.cast(pl.Int64) - (lo - 1)).clip(0, hi - lo + 2)).fill_null(0)
    if n and levels.dtype == pl.String and (dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)):
        # unseen strings become null in a non-strict cast
        return (x.cast(pl.String).cast(pl.Enum(levels.to_list()), strict=False).to_physical()
                .cast(pl.Int64).add(1).fill_null(0))
    return x.replace_strict(levels, pl.int_range(1, n + 1, eager=True), default=0, return_dtype=pl.Int64)


def _finite(value: float | None, default: float) -> float:
    return default if value is None or not np.isfinite(value) else float(value)


def _scale(std: float | None) -> float:
    # a constant column (std 0) or a single row (std null) keeps its scale
    return 1.0 if std is None or not np.isfinite(std) or std == 0 else float(std)


def _listing(columns: Iterable[str], limit: int = 12) -> str:
    cols = list(columns)
    head = ", ".join(cols[:limit])
    return f"{head}, ... ({len(cols)} in all)" if len(cols) > limit else head
