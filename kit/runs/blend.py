"""Blending runs made on the same folds: `kit blend`.

Weights come from greedy ensemble selection on the runs' out-of-fold predictions (rank averages
for Gini, where only the order counts) and are applied to their test predictions. The blend is
written as a run folder like any other (model "blend", weights in config.json).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.features import Prepared
from kit.labels import tune_thresholds
from kit.runs.artifacts import RunResult, read_config, read_run, write_run
from kit.runs.train import metric_of, score_rows
from kit.spec import Competition

__all__ = ["ensemble_selection", "blend_runs", "ranks"]


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1] (ties share their mean rank)."""
    r = pl.Series(x).rank("average").to_numpy()
    return (r - 1) / max(len(x) - 1, 1)


def ensemble_selection(score: Callable[[np.ndarray], float], preds: list[np.ndarray], *,
                       greater_is_better: bool, steps: int = 40) -> np.ndarray:
    """Weights on the simplex by greedy forward selection with replacement (Caruana et al. 2004):
    start from the best single model, then repeatedly add the model whose addition scores best,
    stopping when no addition helps. Works for any metric, smooth or not (Gini, F2).

    >>> y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> mse = lambda p: float(np.mean((p - y) ** 2))
    >>> ensemble_selection(mse, [y + 1, y - 1, y + 3], greater_is_better=False).tolist()
    [0.5, 0.5, 0.0]
    """
    sign = 1.0 if greater_is_better else -1.0
    singles = [sign * score(p) for p in preds]
    counts = np.zeros(len(preds), np.int64)
    counts[int(np.argmax(singles))] = 1
    current = preds[int(np.argmax(singles))].copy()
    best = max(singles)
    for _ in range(steps):
        n = counts.sum()
        trials = [sign * score((current * n + p) / (n + 1)) for p in preds]
        j = int(np.argmax(trials))
        if trials[j] <= best + 1e-12:
            break
        best = trials[j]
        current = (current * n + preds[j]) / (n + 1)
        counts[j] += 1
    return counts / counts.sum()


def _check_same_folds(spec_name: str, paths: list[Path], results: list[RunResult], configs: list[dict]) -> None:
    comps = {c["competition"] for c in configs}
    if comps != {spec_name}:
        raise KitError(f"these runs belong to {', '.join(sorted(comps))}, not {spec_name}")
    if len({c["folds"]["fingerprint"] for c in configs}) != 1:
        listing = ", ".join(f"{p.name}: {c['folds']['fingerprint']}" for p, c in zip(paths, configs))
        raise KitError(f"the runs were trained on different folds ({listing}); retrain them on the same data "
                       "and seed so their out-of-fold predictions line up")
    for r in results[1:]:
        if not np.array_equal(r.oof_rows, results[0].oof_rows):
            raise KitError(f"runs {results[0].name} and {r.name} have different out-of-fold rows")


def _fit_weights(comp: Competition, prepared: Prepared, rows: np.ndarray, preds: list[np.ndarray]) -> np.ndarray:
    """Ensemble weights fitted on training `rows`, given each run's predictions for them."""
    spec = comp.spec
    if spec.task == "multilabel":
        from sklearn.metrics import log_loss

        yb = np.asarray(prepared.y)[rows]
        return ensemble_selection(lambda p: -log_loss(yb.ravel(), np.clip(p.ravel(), 1e-6, 1 - 1e-6)),
                                  preds, greater_is_better=True)
    return ensemble_selection(lambda p: score_rows(spec, prepared, rows, p), preds,
                              greater_is_better=metric_of(spec).greater_is_better)


def _weights_out_of_sample(comp: Competition, prepared: Prepared, rows: np.ndarray, fold_of: np.ndarray,
                           oofs: list[np.ndarray]) -> tuple[np.ndarray, list[float], np.ndarray | None]:
    """The blend's weights on every out-of-fold row (for the test), and its score on each fold
    with weights (and multilabel thresholds) fitted on the other folds only: the expected test
    score, never the score of weights on the rows they were fitted on. With one fold there are
    no other rows: that fold's score is in-sample (optimistic), said by the caller."""
    spec = comp.spec
    folds = np.unique(fold_of)
    weights = _fit_weights(comp, prepared, rows, oofs)
    y = np.asarray(prepared.y)
    labels, exclusive = prepared.labels, spec.submission.exclusive
    thresholds = None
    if spec.task == "multilabel":
        blended = sum(w * p for w, p in zip(weights, oofs))
        thresholds = np.asarray(tune_thresholds(y[rows], blended, labels=labels, exclusive=exclusive).thresholds)
    scores = []
    for k in folds:
        inside = fold_of == k
        others = ~inside if len(folds) > 1 else inside
        w = _fit_weights(comp, prepared, rows[others], [p[others] for p in oofs])
        blend_k = sum(wj * p for wj, p in zip(w, oofs))
        t = None
        if spec.task == "multilabel":
            t = np.asarray(tune_thresholds(y[rows[others]], blend_k[others], labels=labels,
                                           exclusive=exclusive).thresholds)
        scores.append(score_rows(spec, prepared, rows[inside], blend_k[inside], t))
    return weights, scores, thresholds


def blend_runs(comp: Competition, prepared: Prepared, runs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
               *, log=print) -> RunResult:
    """Blend runs made on the same folds: weights fitted on their out-of-fold predictions
    (rank averages for Gini, where only the order counts), applied to their test predictions.
    Its score is the mean over folds of each fold scored with weights fitted on the others.
    Writes a run folder like `train` does (model "blend", weights in config.json)."""
    spec = comp.spec
    if not runs:
        raise KitError("blend needs at least one run folder")
    paths = [Path(r) for r in runs]
    results = [read_run(p) for p in paths]
    configs = [read_config(p) for p in paths]
    _check_same_folds(spec.name, paths, results, configs)
    rows = results[0].oof_rows
    t0 = time.perf_counter()
    rank = spec.metric == "gini"
    oofs = [ranks(r.oof) if rank else r.oof for r in results]
    tests = [ranks(r.test) if rank else r.test for r in results]
    fold_of = results[0].oof_fold
    weights, fold_scores, thresholds = _weights_out_of_sample(comp, prepared, rows, fold_of, oofs)
    oof = sum(w * p for w, p in zip(weights, oofs))
    test = sum(w * p for w, p in zip(weights, tests))
    overall = float(np.mean(fold_scores))
    wmap = {r.name: float(w) for r, w in zip(results, weights)}
    out_dir = Path(out_dir)
    result = RunResult(out_dir.name, out_dir, "blend", rows, oof, test, tuple(fold_scores), overall,
                       time.perf_counter() - t0, thresholds, {"weights": wmap}, fold_of)
    config = {"competition": spec.name, "model": "blend", "runs": [str(p.resolve()) for p in paths],
              "weights": wmap, "rank_average": rank, "folds": configs[0]["folds"],
              "target_transform": prepared.target_transform}
    write_run(out_dir, result, metric=spec.metric, config=config, test_ids=prepared.test_ids,
              labels=prepared.labels)
    log("  blend weights: " + ", ".join(f"{k} {v:.2f}" for k, v in wmap.items())
        + ("; each fold scored with weights fitted on the other folds" if len(np.unique(fold_of)) > 1
           else "; one fold: its score is the weights' own fit (optimistic)"))
    return result
