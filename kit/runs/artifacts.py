"""Run folders: one writer and one reader, used by `train` and `blend`.

A run folder holds
    config.json      the competition, model, resolved hyperparameters, seed, folds fingerprint
    metrics.json     the metric per fold, out-of-fold overall, seconds (and multilabel thresholds)
    oof.parquet      row (index into the training rows), fold, prediction(s) on the model's scale
    test.parquet     the submission id of each test row, prediction(s) on the model's scale
    models/          the fitted models (pickles), one per fold (and `all` when refitted)

The folder is built beside its destination and swapped in whole (kit.atomic.atomic_dir): an
interrupted command leaves the previous run in place, and two commands writing the same run
never mix their files.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from kit.atomic import atomic_dir, write_json
from kit.errors import KitError

__all__ = ["RunResult", "write_run", "read_run", "read_config"]

_FILES = ("config.json", "metrics.json", "oof.parquet", "test.parquet")


@dataclass(frozen=True, eq=False)
class RunResult:
    """A finished run: where it is and what it scored."""

    name: str
    path: Path
    model: str
    #: out-of-fold rows (sorted) and their model-scale predictions ((n,) or (n, k))
    oof_rows: np.ndarray
    oof: np.ndarray
    #: model-scale test predictions in the Prepared's test order
    test: np.ndarray
    fold_scores: tuple[float, ...]
    score: float
    seconds: float
    thresholds: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    #: the fold of each out-of-fold row
    oof_fold: np.ndarray | None = None


def _pred_columns(pred: np.ndarray, labels: Sequence[str]) -> list[pl.Series]:
    if pred.ndim == 2:
        return [pl.Series(f"pred_{label}", pred[:, j]) for j, label in enumerate(labels)]
    return [pl.Series("pred", pred)]


def write_run(out_dir: str | os.PathLike, result: RunResult, *, metric: str, config: dict, test_ids: pl.Series,
              labels: Sequence[str] = (), models: Mapping[str, object] | None = None) -> Path:
    """Write `result` as the run folder `out_dir` (replaced whole), with `config` as config.json
    and each of `models` pickled as models/NAME.pkl."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        pl.DataFrame({"row": result.oof_rows, "fold": result.oof_fold}).with_columns(
            _pred_columns(result.oof, labels)).write_parquet(tmp / "oof.parquet")
        pl.DataFrame({"id": test_ids}).with_columns(_pred_columns(result.test, labels)).write_parquet(
            tmp / "test.parquet")
        if models:
            (tmp / "models").mkdir()
            for name, m in models.items():
                (tmp / "models" / f"{name}.pkl").write_bytes(pickle.dumps(m))
        write_json(tmp / "config.json", config)
        write_json(tmp / "metrics.json", {"metric": metric, "folds": list(result.fold_scores),
                                          "oof": result.score, "seconds": result.seconds,
                                          "thresholds": result.thresholds})
    return out_dir


def read_config(path: str | os.PathLike) -> dict:
    """config.json of a run folder."""
    return json.loads((Path(path) / "config.json").read_text())


def read_run(path: str | os.PathLike) -> RunResult:
    """A run folder written by `write_run`, read back."""
    path = Path(path)
    for f in _FILES:
        if not (path / f).exists():
            raise KitError(f"{path} is not a finished run (no {f}); train it with `kit train`")
    config = read_config(path)
    metrics = json.loads((path / "metrics.json").read_text())
    oof = pl.read_parquet(path / "oof.parquet")
    test = pl.read_parquet(path / "test.parquet")
    cols = [c for c in oof.columns if c.startswith("pred")]
    oof_pred = oof.select(cols).to_numpy() if len(cols) > 1 else oof[cols[0]].to_numpy()
    test_pred = test.select(cols).to_numpy() if len(cols) > 1 else test[cols[0]].to_numpy()
    th = metrics.get("thresholds")
    return RunResult(path.name, path, config["model"], oof["row"].to_numpy(), oof_pred, test_pred,
                     tuple(metrics["folds"]), metrics["oof"], metrics["seconds"],
                     None if th is None else np.asarray(th), config.get("params", {}), oof["fold"].to_numpy())
