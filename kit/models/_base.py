"""What every kit model shares: input checks, categorical coding, targets, devices.

A model takes X as a polars or pandas DataFrame, a numpy matrix (columns named x0, x1, ...)
or a `kit.tabular.Processed` object. Categorical columns are named in `cat_features` (or
come from the Processed object); every other column is continuous. At fit time each
categorical column's known values are coded 1..n in sorted order and anything else (missing,
or unseen at predict time) is 0, the code the embedding network keeps for "unknown". The
trees see the same codes as numbers, so all three models read one encoding.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from kit.errors import KitError

DEVICES = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """Does torch see a CUDA GPU? Checked without importing torch where there can be none."""
    if shutil.which("nvidia-smi") is None and not os.path.exists("/proc/driver/nvidia"):
        return False
    import torch

    return torch.cuda.is_available()


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu"; "cuda" without one is an error."""
    if device not in DEVICES:
        raise KitError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if device == "cuda":
        raise KitError("device='cuda' but torch sees no CUDA GPU; use device='cpu' or device='auto'")
    return "cpu"


@dataclass(frozen=True)
class Table:
    """X as a polars frame, with what a Processed object says about its columns."""

    frame: pl.DataFrame
    #: categorical columns declared by a kit.tabular.Processed object (None for plain frames)
    cat_names: tuple[str, ...] | None = None
    #: their code counts from the Processed object, incl. the unknown code 0
    cardinalities: tuple[int, ...] | None = None


def _is_processed(X: Any) -> bool:
    # duck-typed so this module does not import kit.tabular (and works before it exists)
    return all(hasattr(X, a) for a in ("frame", "cat_names", "cont_names"))


def as_table(X: Any, what: str = "X") -> Table:
    """Any supported X as a `Table`; a KitError for anything else."""
    if _is_processed(X):
        cats = tuple(X.cat_names)
        frame = X.frame.select([*cats, *X.cont_names])
        cards = getattr(X, "cardinalities", None)
        if isinstance(cards, Mapping):
            cards = tuple(int(cards[c]) for c in cats)
        elif cards is not None:
            cards = tuple(int(c) for c in cards)
        return Table(frame, cats, cards)
    if isinstance(X, pl.LazyFrame):
        X = X.collect()
    if isinstance(X, pl.DataFrame):
        frame = X
    elif type(X).__module__.startswith("pandas"):
        if not hasattr(X, "columns"):
            raise KitError(f"{what} is a pandas {type(X).__name__}; pass a DataFrame (one column per feature)")
        frame = pl.from_pandas(X)
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise KitError(f"{what} must be a table (rows x columns), got an array of shape {arr.shape}; "
                           "reshape one feature with x.reshape(-1, 1)")
        frame = pl.from_numpy(arr, schema=[f"x{i}" for i in range(arr.shape[1])])
    if frame.width == 0:
        raise KitError(f"{what} has no columns")
    return Table(frame)


_NUMERIC_KINDS = ("i", "u", "f", "b")


@dataclass(frozen=True)
class Encoded:
    """A table as the models read it."""

    #: (n, n_cat) int64 codes, 0 = missing or unknown, 1..n known values
    cat: np.ndarray
    #: (n, n_cont) float32, NaN where missing
    cont: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.cat.shape[0]

    def matrix(self) -> np.ndarray:
        """One float32 matrix, categorical codes first (what the trees see)."""
        return np.hstack([self.cat.astype(np.float32), self.cont])


@dataclass(frozen=True)
class TableSchema:
    """The columns a model was fitted on and how its categorical columns are coded."""

    cat_names: tuple[str, ...]
    cont_names: tuple[str, ...]
    #: codes per categorical column, incl. the unknown code 0
    cardinalities: tuple[int, ...]
    #: the known values of each categorical column, sorted (code i+1 is levels[i]);
    #: None where X came already coded (a Processed object)
    levels: tuple[pl.Series, ...] | None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return (*self.cat_names, *self.cont_names)

    @classmethod
    def fit(cls, table: Table, cat_features: Sequence[str | int] | None, what: str = "X") -> TableSchema:
        frame = table.frame
        if table.cat_names is not None:
            if cat_features is not None and list(_names(cat_features, frame)) != list(table.cat_names):
                raise KitError(f"cat_features={list(cat_features)} disagrees with the Processed object's "
                               f"categorical columns {list(table.cat_names)}; leave cat_features=None")
            cats = table.cat_names
        else:
            cats = _names(cat_features or (), frame)
        conts = tuple(c for c in frame.columns if c not in set(cats))
        _check_continuous(frame, conts, what)
        if table.cardinalities is not None:
            top = frame.select(pl.col(c).max() for c in cats).row(0) if cats else ()
            cards = tuple(max(int(k), int(m or 0) + 1) for k, m in zip(table.cardinalities, top))
            return cls(cats, conts, cards, None)
        levels = tuple(_levels(frame[c]) for c in cats)
        return cls(cats, conts, tuple(len(v) + 1 for v in levels), levels)

    def check_columns(self, frame: pl.DataFrame, what: str = "X") -> None:
        """The same column names as at fit time (order may differ), or a KitError naming the difference."""
        have, want = set(frame.columns), set(self.feature_names)
        if have == want:
            return
        missing = [c for c in self.feature_names if c not in have]
        extra = [c for c in frame.columns if c not in want]
        parts = []
        if missing:
            parts.append(f"lacks {_show(missing)}")
        if extra:
            parts.append(f"has {_show(extra)} that fit did not see")
        raise KitError(f"{what} must have the columns the model was fitted on, but it {' and '.join(parts)}; "
                       "pass the same feature columns as in fit")

    def encode(self, frame: pl.DataFrame, what: str = "X") -> Encoded:
        """Codes and floats in the fitted column order."""
        self.check_columns(frame, what)
        if self.levels is None:
            cat_exprs = [pl.when(pl.col(c).is_between(0, k - 1)).then(pl.col(c)).otherwise(0)
                         .fill_null(0).cast(pl.Int64).alias(c)
                         for c, k in zip(self.cat_names, self.cardinalities)]
        else:
            cat_exprs = [_code(c, frame.schema[c], lv) for c, lv in zip(self.cat_names, self.levels)]
        _check_continuous(frame, self.cont_names, what)
        n = frame.height
        cat = (frame.select(cat_exprs).to_numpy().astype(np.int64, copy=False)
               if self.cat_names else np.zeros((n, 0), np.int64))
        cont = (frame.select(pl.col(c).cast(pl.Float32) for c in self.cont_names).to_numpy()
                .astype(np.float32, copy=False) if self.cont_names else np.zeros((n, 0), np.float32))
        if cont.size and np.isinf(cont).any():
            bad = [self.cont_names[j] for j in np.flatnonzero(np.isinf(cont).any(0))]
            raise KitError(f"{what} has infinite values in {_show(bad)}; replace them with null (missing) first")
        return Encoded(np.ascontiguousarray(cat), np.ascontiguousarray(cont))


def _show(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"column{'s' if len(names) > 1 else ''} {shown}{more}"


def _names(features: Sequence[str | int], frame: pl.DataFrame) -> tuple[str, ...]:
    if isinstance(features, str):
        features = [features]
    out = []
    for f in features:
        if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            if not 0 <= f < frame.width:
                raise KitError(f"cat_features has position {f} but X has {frame.width} columns")
            out.append(frame.columns[f])
        elif f in frame.columns:
            out.append(f)
        else:
            raise KitError(f"cat_features names {f!r}, which is not a column of X; "
                           f"the columns are {frame.columns[:10]}{' ...' if frame.width > 10 else ''}")
    if len(set(out)) != len(out):
        raise KitError(f"cat_features names a column twice: {out}")
    return tuple(out)


def _check_continuous(frame: pl.DataFrame, names: Sequence[str], what: str) -> None:
    bad = [c for c in names if not (frame.schema[c].is_numeric() or frame.schema[c] == pl.Boolean)]
    if bad:
        kinds = ", ".join(f"{c!r} is {frame.schema[c]}" for c in bad[:5])
        raise KitError(f"{what} has non-numeric columns not declared categorical ({kinds}); "
                       "list them in cat_features, or turn dates into numbers (date parts) first")


def _levels(s: pl.Series) -> pl.Series:
    if s.dtype in (pl.Categorical, pl.Enum):
        s = s.cast(pl.String)
    return s.drop_nulls().unique().sort()


def _code(name: str, dtype: pl.DataType, levels: pl.Series) -> pl.Expr:
    col = pl.col(name)
    if dtype in (pl.Categorical, pl.Enum):
        col = col.cast(pl.String)
    elif dtype != levels.dtype and not (dtype.is_numeric() and levels.dtype.is_numeric()):
        col = col.cast(levels.dtype, strict=False)
    codes = pl.int_range(1, len(levels) + 1, eager=True, dtype=pl.Int64)
    return col.replace_strict(levels, codes, default=0, return_dtype=pl.Int64).fill_null(0).alias(name)


# -- targets --------------------------------------------------------------------------------

def _as_array(y: Any) -> np.ndarray:
    if isinstance(y, (pl.DataFrame, pl.Series)):
        return y.to_numpy()
    return np.asarray(y)


def regression_target(y: Any, n_rows: int, what: str = "y") -> np.ndarray:
    """y as a float64 vector of n_rows finite numbers."""
    arr = _as_array(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise KitError(f"{what} for a regressor must be one column of numbers, got shape {arr.shape}")
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise KitError(f"{what} must be numbers, got dtype {arr.dtype}")
    return _finite(arr.astype(np.float64), n_rows, what)


def label_target(y: Any, n_rows: int, what: str = "y") -> np.ndarray:
    """y as float32 0/1: a vector (binary) or an (n, k) matrix (multilabel)."""
    arr = _as_array(y)
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] == 0):
        raise KitError(f"{what} for a classifier must be a 0/1 vector (binary) or an (n, k) 0/1 matrix "
                       f"(multilabel), got shape {arr.shape}")
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise KitError(f"{what} must be 0/1 numbers, got dtype {arr.dtype}")
    arr = _finite(arr.astype(np.float64), n_rows, what)
    odd = np.unique(arr[(arr != 0) & (arr != 1)])
    if odd.size:
        raise KitError(f"{what} must hold only 0 and 1 (classifiers here are binary or multilabel), "
                       f"but it has {odd[:5].tolist()}; encode the classes as 0/1 columns")
    if arr.ndim == 1 and np.unique(arr).size < 2:
        raise KitError(f"{what} has a single class ({int(arr[0])} in every row); a classifier needs both 0 and 1")
    return arr.astype(np.float32)


def _finite(arr: np.ndarray, n_rows: int, what: str) -> np.ndarray:
    if arr.shape[0] != n_rows:
        raise KitError(f"{what} has {arr.shape[0]} rows but X has {n_rows}; pass one target per row of X")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise KitError(f"{what} has {int(bad.any(axis=tuple(range(1, arr.ndim))).sum())} rows with NaN or "
                       "infinite targets; drop those rows or fill them before fit")
    return arr


# -- the fit contract ------------------------------------------------------------------------

@dataclass(frozen=True)
class FitProgress:
    """What a model's fit says after each boosting round or epoch to each of its `callbacks`.

    Every kit model's fit takes `callbacks`, a sequence of callables given one FitProgress
    each step (kit.tune's pruning reporter, a progress line); a callback that raises stops the
    fit (optuna.TrialPruned does). Models without steps (the forest) never call them.
    """

    #: 1-based round or epoch
    step: int
    #: "round" (boosting) or "epoch" (networks)
    unit: str
    #: rounds or epochs planned
    total: int
    #: the validation loss after this step (None without an eval_set)
    valid_loss: float | None = None
    #: the mean training loss of this step, where the model computes one
    train_loss: float | None = None
    #: True when a higher valid_loss is better (an AUC); False for losses
    higher_is_better: bool = False


def notify(callbacks: Sequence | None, progress: FitProgress) -> None:
    """Give `progress` to each callback, in order."""
    for cb in callbacks or ():
        cb(progress)


def no_weights(model: object, sample_weight: Any, eval_sample_weight: Any) -> None:
    """The error for a model that cannot weigh rows, when it is given weights."""
    if sample_weight is not None or eval_sample_weight is not None:
        raise KitError(f"{type(model).__name__} does not weigh rows; leave out sample_weight "
                       "(kit.models.MODELS says which models take weights)")


class KitEstimator:
    """Marks kit's models: their fit takes (X, y, eval_set=, sample_weight=, eval_sample_weight=,
    callbacks=), so the cross-validation engine can give them validation rows and callbacks."""


# -- the estimator base ----------------------------------------------------------------------

class TabularModel(KitEstimator, BaseEstimator):
    """Shared fit/predict plumbing; subclasses fit on `Encoded` inputs and numpy targets."""

    _classifier: bool = False

    def _fit_inputs(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None):
        """Validate and encode training (and validation) data; sets schema_ and feature names."""
        table = as_table(X)
        schema = TableSchema.fit(table, getattr(self, "cat_features", None))
        enc = schema.encode(table.frame)
        if enc.n_rows < 2:
            raise KitError(f"X has {enc.n_rows} rows; fitting needs at least 2")
        target = label_target if self._classifier else regression_target
        t = target(y, enc.n_rows)
        valid = None
        if eval_set is not None:
            if not (isinstance(eval_set, (tuple, list)) and len(eval_set) == 2):
                raise KitError("eval_set must be a pair (X_valid, y_valid)")
            venc = schema.encode(as_table(eval_set[0], "eval_set X").frame, "eval_set X")
            vt = target(eval_set[1], venc.n_rows, "eval_set y")
            if vt.shape[1:] != t.shape[1:]:
                raise KitError(f"eval_set y has shape {vt.shape} but y has shape {t.shape}")
            valid = (venc, vt)
        self.schema_ = schema
        self.feature_names_in_ = np.asarray(schema.feature_names, dtype=object)
        self.n_features_in_ = len(schema.feature_names)
        if self._classifier:
            self.classes_ = np.array([0, 1])
            self.n_outputs_ = 1 if t.ndim == 1 else t.shape[1]
        return enc, t, valid

    def _encode(self, X: Any) -> Encoded:
        check_is_fitted(self, "schema_")
        return self.schema_.encode(as_table(X).frame)


class LabelOutputs:
    """predict_proba/predict shapes shared by the classifiers (mixed in before TabularModel).

    Binary: predict_proba is (n, 2) as in scikit-learn, predict is (n,) 0/1.
    Multilabel: predict_proba is (n, k), the probability of each label; predict is (n, k) 0/1.
    """

    _classifier = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self._positive_proba(self._encode(X))
        return np.column_stack([1 - p, p]) if self.n_outputs_ == 1 else p

    def predict(self, X: Any) -> np.ndarray:
        p = self._positive_proba(self._encode(X))
        return (p >= 0.5).astype(np.int64)

    def _as_outputs(self, p: np.ndarray) -> np.ndarray:
        """(n, k) -> (n,) for binary."""
        return p[:, 0] if self.n_outputs_ == 1 and p.ndim == 2 else p
