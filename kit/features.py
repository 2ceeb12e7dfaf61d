"""A competition's data made ready for models: the contract between competitions/<name>/features.py
and the training machinery (kit.runs).

Each competition folder may hold a `features.py` with

    def prepare(spec, folder, *, seed=0) -> Prepared
    MODELS = {"lgbm": {...params...}, "rf": {...}}     # default hyperparameters per model,
                                                       # in the order `kit run` trains them

`prepare` reads the files in `folder` (a twin or the real download: both look the same), builds
the training rows and the test rows with the same feature code, and says how predictions turn
back into submission values. A competition without a features.py gets `generic_prepare`: the
training file joined with its lookup tables, processed by kit.tabular.

Nothing here reads the hidden solution.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.spec import Competition, CompetitionSpec

#: metrics computed on a log scale: the models learn log1p(target)
LOG_METRICS = ("rmsle", "nwrmsle", "rmspe")


@dataclass(frozen=True, eq=False)
class Prepared:
    """Training and test rows built by one competition's feature code.

    X / X_test: polars frames of features (or uint8 image arrays (n, s, s, 3) for images);
    they hold only what a model may see (no target, no id unless it is a feature).
    y: the target on the model's scale ((n,) numbers, or (n, k) 0/1 labels for multilabel).
    """

    X: Any
    y: np.ndarray
    X_test: Any
    #: the submission id of each X_test row (the spec's id column), in X_test's order
    test_ids: pl.Series
    #: columns of X the models treat as categories
    cat_features: tuple[str, ...] = ()
    #: those of cat_features whose codes follow a natural order (date parts): the network
    #: embeds them; LightGBM splits them as numbers, since set splits over 366 days of the year
    #: fit noise (real Rossmann rows: RMSPE 0.0909 -> 0.0900 with date parts as numbers, 0.125
    #: with every categorical split as sets)
    ordered_features: tuple[str, ...] = ()
    #: "log1p" when y = log1p(target): predictions are expm1'd (and clipped at 0) back
    target_transform: str = "identity"
    #: the date of each training row, for time-based folds (None where the test is a random sample)
    dates: pl.Series | None = None
    #: a weight per training row, used to fit and to score (Favorita's perishables: 1.25)
    weight: np.ndarray | None = None
    #: precomputed folds as (train_idx, valid_idx) pairs, when the competition's rows need their
    #: own scheme (Favorita's forecast origins); None: kit.runs builds the spec's default
    folds: tuple[tuple[np.ndarray, np.ndarray], ...] | None = None
    #: test predictions on the target scale -> the submission's values (e.g. zero for dead series)
    finish: Callable[[np.ndarray], np.ndarray] | None = None
    #: label names (multilabel), in y's column order
    labels: tuple[str, ...] = ()
    #: one line each, printed by `kit run`
    notes: tuple[str, ...] = field(default=())
    #: where X holds images: table features of the same rows (and of the test rows) for the
    #: table models (kit.models.MODELS[...].inputs == "table"), e.g. per-chip colour statistics
    X_table: Any = None
    X_test_table: Any = None
    #: the value behind each code of coded categorical columns (code i is levels[col][i - 1], 0 is
    #: missing or unknown), so explanations can say "ProductSize = Large" instead of 3
    levels: dict[str, tuple] = field(default_factory=dict)
    #: features the feature code built but the user dropped (`--drop`; written to a run's config)
    dropped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.X)
        if len(self.y) != n:
            raise KitError(f"feature code built {n} training rows but {len(self.y)} targets")
        if len(self.X_test) != len(self.test_ids):
            raise KitError(f"feature code built {len(self.X_test)} test rows but {len(self.test_ids)} test ids")
        if self.weight is not None and len(self.weight) != n:
            raise KitError(f"feature code built {n} training rows but {len(self.weight)} weights")
        if self.dates is not None and len(self.dates) != n:
            raise KitError(f"feature code built {n} training rows but {len(self.dates)} dates")
        if (self.X_table is None) != (self.X_test_table is None):
            raise KitError("feature code gave X_table without X_test_table (or the reverse); give both")
        if self.X_table is not None and (len(self.X_table) != n or len(self.X_test_table) != len(self.test_ids)):
            raise KitError(f"feature code built {len(self.X_table)} table rows for {n} training rows or "
                           f"{len(self.X_test_table)} for {len(self.test_ids)} test rows; one per row")
        if self.target_transform not in ("identity", "log1p"):
            raise KitError(f"target_transform must be 'identity' or 'log1p', got {self.target_transform!r}")

    @property
    def n_rows(self) -> int:
        return len(self.X)

    def inputs(self, kind: str = "images") -> tuple[Any, Any]:
        """(X, X_test) for a model that reads `kind` ("table" or "images"): the table features
        where X holds images and the model reads tables, else X and X_test."""
        if kind == "table" and self.X_table is not None:
            return self.X_table, self.X_test_table
        return self.X, self.X_test

    def to_target(self, pred: np.ndarray) -> np.ndarray:
        """Model-scale predictions back on the target's scale."""
        pred = np.asarray(pred, dtype=np.float64)
        return np.clip(np.expm1(pred), 0, None) if self.target_transform == "log1p" else pred

    def y_target(self) -> np.ndarray:
        """The training targets on the target's scale (what the metric compares against)."""
        y = np.asarray(self.y)
        return np.expm1(y.astype(np.float64)) if self.target_transform == "log1p" else y

    def submission_values(self, test_pred: np.ndarray) -> np.ndarray:
        """Model-scale test predictions -> the values written to the submission."""
        values = self.to_target(test_pred)
        return self.finish(values) if self.finish is not None else values


def drop_features(prepared: Prepared, columns: Sequence[str]) -> Prepared:
    """`prepared` without the feature `columns` (`kit train --drop`, what `kit explain` says can
    go); the rows, targets and folds stay the same, so the run blends with the others.

    >>> p = Prepared(X=pl.DataFrame({"a": [1, 2], "b": [3, 4]}), y=np.zeros(2),
    ...              X_test=pl.DataFrame({"a": [5], "b": [6]}), test_ids=pl.Series("id", [1]), cat_features=("a",))
    >>> q = drop_features(p, ["a"]); q.X.columns, q.cat_features
    (['b'], ())
    """
    columns = list(dict.fromkeys(columns))
    if not columns:
        return prepared
    if not isinstance(prepared.X, pl.DataFrame):
        raise KitError("--drop takes table features, but this competition's models read images; leave it out")
    have = prepared.X.columns
    unknown = [c for c in columns if c not in have]
    if unknown:
        shown = ", ".join(have[:15]) + (f", ... ({len(have)} in all)" if len(have) > 15 else "")
        raise KitError(f"--drop names {', '.join(unknown)}, not a feature of this competition; its features are "
                       f"{shown}")
    if len(columns) >= len(have):
        raise KitError(f"--drop would leave no features ({len(have)} in all); drop fewer")
    gone = set(columns)
    return dataclasses.replace(
        prepared, X=prepared.X.drop(columns), X_test=prepared.X_test.drop(columns),
        cat_features=tuple(c for c in prepared.cat_features if c not in gone),
        ordered_features=tuple(c for c in prepared.ordered_features if c not in gone),
        levels={c: v for c, v in prepared.levels.items() if c not in gone}, dropped=(*prepared.dropped, *columns),
        notes=(*prepared.notes, f"dropped {len(columns)} feature(s) as asked: {', '.join(columns)}"))


def log_target(values: np.ndarray | pl.Series) -> np.ndarray:
    """log1p of a non-negative target (negative values, like Favorita's returns, count as 0)."""
    v = np.asarray(values, dtype=np.float64)
    return np.log1p(np.clip(v, 0, None))


def features_module(comp: Competition):
    """competitions/<name>/features.py, or None when the competition has none."""
    folder = Path(comp.module.__file__).parent
    return comp.load("features") if (folder / "features.py").exists() else None


def model_defaults(comp: Competition) -> dict[str, dict]:
    """Every model the competition has hyperparameters for (its features.py `MODELS`), whether
    or not `kit run` trains it by default: `kit train COMP nn` starts from these."""
    mod = features_module(comp)
    models = getattr(mod, "MODELS", None) if mod is not None else None
    if models:
        return {k: dict(v) for k, v in models.items()}
    if comp.spec.task == "multilabel":
        return {"cnn": {}}
    return {"lgbm": {"n_estimators": 2000, "learning_rate": 0.05, "early_stopping_rounds": 50},
            "rf": {"n_estimators": 60, "min_samples_leaf": 3, "max_features": 0.5}}


def default_models(comp: Competition) -> dict[str, dict]:
    """The models `kit run` trains, in order, and their hyperparameters: the features.py's `RUN`
    names (models that earn their place in the blend), else every model of `MODELS`."""
    models = model_defaults(comp)
    mod = features_module(comp)
    run = getattr(mod, "RUN", None) if mod is not None else None
    if not run:
        return models
    missing = [m for m in run if m not in models]
    if missing:
        raise TypeError(f"competitions/{comp.spec.name}/features.py RUN names {', '.join(missing)}, "
                        "which MODELS does not define")
    return {m: models[m] for m in run}


def prepare(comp: Competition, folder: str | os.PathLike, *, seed: int = 0) -> Prepared:
    """The competition's Prepared data from `folder` (its features.py, or the generic recipe)."""
    from kit.data.schema import require

    folder = Path(folder)
    spec = comp.spec
    require(spec, folder)  # every required file, the sample submission too, before any work
    mod = features_module(comp)
    if mod is not None and hasattr(mod, "prepare"):
        out = mod.prepare(spec, folder, seed=seed)
    else:
        out = generic_prepare(spec, folder, seed=seed)
    if not isinstance(out, Prepared):
        raise TypeError(f"competitions/{spec.name}/features.py prepare() must return kit.features.Prepared")
    return out


def generic_prepare(spec: CompetitionSpec, folder: Path, *, seed: int = 0) -> Prepared:
    """The recipe for a competition without feature code: the train and test files joined with
    their lookup tables; every column both share, except the id, is a feature; date parts of
    the time column; categories by dtype and cardinality (kit.tabular)."""
    from kit.data.tables import join_lookups, read_table
    from kit.tabular import TabularProcessor

    if spec.task == "multilabel":
        raise KitError(f"{spec.name} has multilabel targets and no competitions/{spec.name}/features.py; "
                       "write one that returns kit.features.Prepared")
    target = spec.target_columns[0]
    train = join_lookups(spec, folder, read_table(spec, spec.train, folder))
    test = join_lookups(spec, folder, read_table(spec, spec.test, folder))
    if spec.time_column:
        train = train.sort(spec.time_column, maintain_order=True)
    cols = [c for c in train.columns if c in test.columns and c not in (target, spec.id_column)]
    log = spec.metric in LOG_METRICS
    if spec.metric == "rmspe":  # rows whose target is 0 do not count
        train = train.filter(pl.col(target) > 0)
    dates = [spec.time_column] if spec.time_column in cols else []
    proc = TabularProcessor(date_names=dates)
    tr = proc.fit_transform(train.select(cols))
    te = proc.transform(test.select(cols))
    y = train[target].cast(pl.Float64).to_numpy()
    return Prepared(
        X=tr.frame, y=log_target(y) if log else y, X_test=te.frame, test_ids=test[spec.id_column],
        cat_features=tuple(tr.cat_names), ordered_features=tr.ordered_names, target_transform="log1p" if log else "identity",
        levels=tr.levels,
        dates=train[spec.time_column] if spec.time_column else None,
    )
