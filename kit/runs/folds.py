"""Folds: a competition's validation scheme over the prepared rows, computed once and shared.

The validation asks the test's question. Where the test is the future, `plan_validation` reads
the test file's own dates: each validation window is as long as the test (last date - first
date + 1) and sits as far after its training days as the test sits after the end of train
(the gap); the spec's horizon is the fallback when the test has no dates. Several consecutive
windows (walk-forward, 3 by default) give each model a mean score and a spread; fewer when
the data is short, said in the plan's notes.

Every model of a competition trains on the same folds, so any two runs can be blended. They
live in RUNS/folds.parquet (one int8 column per fold: 1 train, 2 valid, 0 unused) with their
fingerprint (of the data, the scheme, the number of folds and the seed) in RUNS/folds.json;
a blend refuses runs whose fingerprints differ.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kit.atomic import write_atomic, write_json
from kit.errors import KitError
from kit.features import Prepared
from kit.spec import Competition

__all__ = ["Folds", "ValidationPlan", "plan_validation", "make_folds", "save_folds", "read_folds", "load_folds"]

#: walk-forward windows of a time-based competition, when the data allows
TIME_FOLDS = 3


@dataclass(frozen=True, eq=False)
class Folds:
    """(train_idx, valid_idx) pairs over a Prepared's training rows, and their fingerprint."""

    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    scheme: str
    fingerprint: str
    #: the test is predicted by a refit on every training row (time-based folds: the fold models
    #: never saw the latest days), not by the mean of the fold models
    refit: bool = False
    #: what the plan changed or chose, one line each (printed by `kit run`)
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.splits)

    def __iter__(self):
        return iter(self.splits)


    def valid_rows(self) -> np.ndarray:
        """Every row some fold validates on, sorted."""
        return np.unique(np.concatenate([v for _, v in self.splits]))


def _fingerprint(prepared: Prepared, n_splits: int, seed: int, scheme: str) -> str:
    h = hashlib.sha256()
    h.update(f"{scheme}|{n_splits}|{seed}|{prepared.n_rows}|{len(prepared.X_test)}".encode())
    h.update(np.ascontiguousarray(prepared.y).tobytes())
    if prepared.dates is not None:
        h.update(np.ascontiguousarray(prepared.dates.to_physical().to_numpy()).tobytes())
    h.update(pl.DataFrame({"id": prepared.test_ids.cast(pl.String)}).write_csv().encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ValidationPlan:
    """How to validate: window length and gap (time-based) and the number of folds."""

    #: days per validation window (None where the test is a random sample)
    horizon_days: int | None = None
    #: days left out between each window's training days and its validation days
    gap_days: int = 0
    #: folds (K-fold) or consecutive windows (walk-forward); None: the competition's default
    n_folds: int | None = None
    #: where the figures come from, one line each
    notes: tuple[str, ...] = ()


def _span(spec, name: str, folder: Path) -> tuple | None:
    from kit.data.tables import scan_table

    try:
        lf = scan_table(spec, name, folder)
    except KitError:
        return None
    col = pl.col(spec.time_column)
    if spec.time_column not in lf.collect_schema().names():
        return None
    first, last = lf.select(col.min().cast(pl.Date).alias("a"), col.max().cast(pl.Date).alias("b")).collect().row(0)
    return None if first is None else (first, last)


def plan_validation(comp: Competition, folder: str | os.PathLike | None, *, horizon: int | None = None,
                    gap: int | None = None, n_folds: int | None = None) -> ValidationPlan:
    """The validation windows the test asks for: from the test file's dates where it has them
    (horizon = its span, gap = the days between the end of train and its start), else the
    spec's horizon and no gap; `horizon`, `gap` and `n_folds` (the --flags) override."""
    spec = comp.spec
    for name, value, low in (("--horizon", horizon, 1), ("--gap", gap, 0), ("--folds", n_folds, 1)):
        if value is not None and value < low:
            raise KitError(f"{name} must be at least {low}, got {value}")
    notes = []
    auto_h, auto_g = spec.horizon_days, 0
    if spec.validation == "time_holdout" and spec.time_column and folder is not None:
        test, train = _span(spec, spec.test, Path(folder)), _span(spec, spec.train, Path(folder))
        if test is not None and train is not None:
            auto_h = (test[1] - test[0]).days + 1
            auto_g = max(0, (test[0] - train[1]).days - 1)
            notes.append(f"the test spans {auto_h} days ({test[0]}..{test[1]}) and starts {auto_g} day(s) after "
                         f"train ends ({train[1]}): each validation window is {auto_h} days with a {auto_g}-day gap")
        elif spec.horizon_days:
            notes.append(f"the test has no dates: validation windows of the spec's {spec.horizon_days} days")
    if horizon is not None or gap is not None:
        notes.append(f"--horizon/--gap: windows of {horizon or auto_h} days with a {auto_g if gap is None else gap}-day gap")
    return ValidationPlan(horizon or auto_h, auto_g if gap is None else gap, n_folds, tuple(notes))


def _time_splits(spec, dates: pl.Series, horizon: int | None, gap: int, want: int) -> tuple[list, str, list[str]]:
    """`want` walk-forward windows of `horizon` days, or as many (and as long) as the data allows."""
    from kit.validation.splits import WalkForward

    X = pl.DataFrame({spec.time_column: dates})
    horizon = horizon or spec.horizon_days
    if horizon is None:
        raise KitError(f"{spec.name} validates on time windows but neither its test file nor its spec gives "
                       "their length; pass --horizon DAYS")
    days = dates.cast(pl.Date)
    span = (days.max() - days.min()).days + 1
    notes = []
    for h in (horizon, max(1, (span - gap) // 2)):
        for k in range(want, 0, -1):
            try:
                splits = list(WalkForward(spec.time_column, k, h, gap).split(X))
            except KitError:
                continue
            if (k, h) != (want, horizon):
                notes.append(f"the data spans {span} days: {k} window(s) of {h} days (asked for {want} of "
                             f"{horizon}) with a {gap}-day gap")
            name = "walk_forward" if k > 1 else "time_holdout"
            return splits, f"{name} ({k}x{h} days, gap {gap})", notes
    raise KitError(f"the data spans {span} days, too few for one validation window after a {gap}-day gap and "
                   f"a training period; pass a shorter --horizon or --gap")


def make_folds(comp: Competition, prepared: Prepared, *, seed: int = 0, n_splits: int | None = None,
               plan: ValidationPlan | None = None) -> Folds:
    """The competition's validation scheme over the prepared rows: its own folds when the
    feature code gives them, walk-forward windows on the plan's horizon and gap where the test
    is the future, else the spec's K-fold splitter with `spec.n_folds` folds."""
    from kit.validation.splits import default_splitter

    spec = comp.spec
    plan = plan or ValidationPlan()
    k = n_splits or plan.n_folds
    notes: list[str] = list(plan.notes)
    refit = False
    if prepared.folds is not None:
        splits = tuple((np.asarray(t, np.int64), np.asarray(v, np.int64)) for t, v in prepared.folds)
        scheme = "feature code"
        refit = spec.validation == "time_holdout"
    elif spec.validation == "time_holdout":
        if prepared.dates is None:
            raise KitError(f"{spec.name} validates on a time holdout but its feature code gives no dates; "
                           f"set Prepared.dates in competitions/{spec.name}/features.py")
        found, scheme, more = _time_splits(spec, prepared.dates, plan.horizon_days, plan.gap_days, k or TIME_FOLDS)
        splits = tuple((np.asarray(t, np.int64), np.asarray(v, np.int64)) for t, v in found)
        notes += more
        refit = True
    else:
        splitter = default_splitter(spec, n_splits=k or spec.n_folds, random_state=seed)
        X = pl.DataFrame({"_row": np.arange(prepared.n_rows)})
        splits = tuple((np.asarray(t, np.int64), np.asarray(v, np.int64))
                       for t, v in splitter.split(X, prepared.y))
        scheme = spec.validation
    if not splits:
        raise KitError(f"the {spec.name} validation scheme gave no folds")
    for t, v in splits:
        if len(t) == 0 or len(v) == 0:
            raise KitError(f"a {spec.name} fold has {len(t)} training and {len(v)} validation rows; "
                           "the data is too small for its validation scheme (try --size small)")
        if np.intersect1d(t, v).size:
            raise KitError("a fold trains and validates on the same rows")
    return Folds(splits, scheme, _fingerprint(prepared, len(splits), seed, scheme), refit, tuple(notes))


def save_folds(folds: Folds, n_rows: int, runs_dir: str | os.PathLike) -> None:
    """Write RUNS/folds.parquet and RUNS/folds.json (each atomically)."""
    runs_dir = Path(runs_dir)
    roles = {}
    for i, (t, v) in enumerate(folds.splits):
        col = np.zeros(n_rows, np.int8)
        col[t] = 1
        col[v] = 2
        roles[f"fold_{i}"] = col
    write_atomic(runs_dir / "folds.parquet", lambda p: pl.DataFrame(roles).write_parquet(p))
    write_json(runs_dir / "folds.json", {"fingerprint": folds.fingerprint, "scheme": folds.scheme,
                                         "n_folds": len(folds), "n_rows": n_rows, "refit": folds.refit,
                                         "notes": list(folds.notes)})


def read_folds(runs_dir: str | os.PathLike) -> Folds | None:
    """The folds saved in `runs_dir`, or None when there are none."""
    runs_dir = Path(runs_dir)
    meta_path, data_path = runs_dir / "folds.json", runs_dir / "folds.parquet"
    if not (meta_path.exists() and data_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    frame = pl.read_parquet(data_path)
    splits = tuple((np.flatnonzero(frame[c].to_numpy() == 1), np.flatnonzero(frame[c].to_numpy() == 2))
                   for c in frame.columns)
    return Folds(splits, meta["scheme"], meta["fingerprint"], bool(meta.get("refit", len(splits) == 1)),
                 tuple(meta.get("notes", ())))


def load_folds(comp: Competition, prepared: Prepared, runs_dir: str | os.PathLike, *, seed: int = 0,
               plan: ValidationPlan | None = None) -> Folds:
    """The competition's folds: read from RUNS/folds.parquet when they were made on this very
    data and plan, else computed and saved there for every later run."""
    folds = make_folds(comp, prepared, seed=seed, plan=plan)
    saved = read_folds(runs_dir)
    if saved is not None and saved.fingerprint == folds.fingerprint:
        return saved
    save_folds(folds, prepared.n_rows, runs_dir)
    return folds
