"""Folds: a competition's validation scheme over the prepared rows, computed once and shared.

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

__all__ = ["Folds", "make_folds", "save_folds", "read_folds", "load_folds"]


@dataclass(frozen=True, eq=False)
class Folds:
    """(train_idx, valid_idx) pairs over a Prepared's training rows, and their fingerprint."""

    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    scheme: str
    fingerprint: str

    def __len__(self) -> int:
        return len(self.splits)

    def __iter__(self):
        return iter(self.splits)

    @property
    def single_holdout(self) -> bool:
        """One validation window that some rows never train on (a time holdout): the test
        predictions come from a refit on every row."""
        return len(self.splits) == 1

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


def make_folds(comp: Competition, prepared: Prepared, *, seed: int = 0, n_splits: int | None = None) -> Folds:
    """The competition's validation scheme over the prepared rows (its own folds when the feature
    code gives them, else the spec's default splitter with `spec.n_folds` folds)."""
    from kit.validation.splits import default_splitter

    spec = comp.spec
    n_splits = n_splits or spec.n_folds
    if prepared.folds is not None:
        splits = tuple((np.asarray(t, np.int64), np.asarray(v, np.int64)) for t, v in prepared.folds)
        scheme = "feature code"
    else:
        splitter = default_splitter(spec, n_splits=n_splits, random_state=seed)
        if spec.validation == "time_holdout":
            if prepared.dates is None:
                raise KitError(f"{spec.name} validates on a time holdout but its feature code gives no dates; "
                               f"set Prepared.dates in competitions/{spec.name}/features.py")
            X = pl.DataFrame({spec.time_column: prepared.dates})
        else:
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
    return Folds(splits, scheme, _fingerprint(prepared, len(splits), seed, scheme))


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
                                         "n_folds": len(folds), "n_rows": n_rows})


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
    return Folds(splits, meta["scheme"], meta["fingerprint"])


def load_folds(comp: Competition, prepared: Prepared, runs_dir: str | os.PathLike, *, seed: int = 0) -> Folds:
    """The competition's folds: read from RUNS/folds.parquet when they were made on this very
    data, else computed and saved there for every later run."""
    folds = make_folds(comp, prepared, seed=seed)
    saved = read_folds(runs_dir)
    if saved is not None and saved.fingerprint == folds.fingerprint:
        return saved
    save_folds(folds, prepared.n_rows, runs_dir)
    return folds
