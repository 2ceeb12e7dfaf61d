"""Training one model of a competition on its shared folds: `kit train`.

    folds = load_folds(comp, prepared, runs_dir)             # kit.runs.folds
    run   = train(comp, prepared, folds, "lgbm", out_dir)    # a run folder (kit.runs.artifacts)

The competition's metric scores each fold on the target's scale (`score_rows`); for multilabel
targets the per-label thresholds are tuned on the out-of-fold predictions (`oof_score`). With
one holdout fold (the time-based competitions) the test predictions come from the same model
refitted on every training row.

No fit is silent for long: each fold's fits and the refit on every row say where they are
about every 10 s (kit.progress.FitLog: the round or epoch, the losses, the seconds).
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
from kit.labels import predict_labels, tune_thresholds
from kit.metrics import METRICS, Metric
from kit.progress import FitLog
from kit.runs.artifacts import RunResult, write_run
from kit.runs.cv import CVResult, cross_validate, predict
from kit.runs.folds import Folds
from kit.spec import Competition, CompetitionSpec

__all__ = ["metric_of", "score_rows", "model_params", "build_model", "fit_folds", "oof_score", "refit_rounds",
           "train"]

#: hyperparameters the run machinery sets itself
MANAGED = ("cat_features", "random_state")


def metric_of(spec: CompetitionSpec) -> Metric:
    return METRICS[spec.metric]


def score_rows(spec: CompetitionSpec, prepared: Prepared, rows: np.ndarray, pred: np.ndarray,
               thresholds: np.ndarray | None = None) -> float:
    """The competition's metric on training `rows` for model-scale predictions `pred` (one per row)."""
    metric = metric_of(spec)
    if spec.task == "multilabel":
        t = 0.5 if thresholds is None else thresholds
        return metric(np.asarray(prepared.y)[rows],
                      predict_labels(pred, t, prepared.labels, spec.submission.exclusive))
    y = prepared.y_target()[rows]
    weights = prepared.weight[rows] if prepared.weight is not None else None
    p = prepared.to_target(pred) if spec.task == "regression" else np.asarray(pred, np.float64)
    return metric(y, p, weights)


def model_params(comp: Competition, model: str, params: dict | None = None, *, threads: int | None = None) -> dict:
    """The hyperparameters a run uses: the competition's defaults for `model`, then `params`."""
    from kit.features import model_defaults
    from kit.models import MODELS

    if model not in MODELS:
        raise KitError(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
    out = dict(model_defaults(comp).get(model, {}))
    out.update(params or {})
    cls = MODELS[model].for_task(comp.spec.task)
    allowed = cls().get_params()
    if threads is not None and "n_jobs" in allowed and "n_jobs" not in (params or {}):
        out["n_jobs"] = threads
    bad = [k for k in out if k in MANAGED]
    if bad:
        raise KitError(f"{', '.join(bad)} is set by the run (from the feature code and --seed); leave it out")
    # a value of the wrong type or range is refused now, before features and folds are built
    check = getattr(cls(**{k: v for k, v in out.items() if k in allowed}), "check_params", None)
    if check is not None:
        check()
    return out


def build_model(comp: Competition, prepared: Prepared, model: str, resolved: dict, seed: int, **extra):
    """An unfitted `model` for the competition's task with `resolved` hyperparameters (see model_params)."""
    from kit.models import categorical_for, make_model

    kwargs = {**resolved, **extra}
    if prepared.cat_features:
        kwargs["cat_features"] = categorical_for(model, prepared.cat_features, prepared.ordered_features)
    return make_model(model, comp.spec.task, random_state=seed, **kwargs)


def _weights_for(model: str, prepared: Prepared, log) -> np.ndarray | None:
    from kit.models import MODELS

    if prepared.weight is None:
        return None
    if not MODELS[model].sample_weight:
        log(f"  {model} does not weigh rows: it trains unweighted (the metric's weights still score it)")
        return None
    return prepared.weight


def fit_folds(comp: Competition, prepared: Prepared, folds: Folds, model: str, resolved: dict, *,
              seed: int = 0, threads: int | None = None, callbacks: Callable[[int], Sequence] | None = None,
              log=print, name: str | None = None, X_test: bool = False, progress: FitLog | None = None) -> CVResult:
    """`model` with `resolved` hyperparameters cross-validated on the competition's folds;
    each fold scored by the competition's metric (at thresholds 0.5 for multilabel); with
    `X_test` the fold models also predict the test rows.

    Each fold's fit also gets `progress` (default: a kit.progress.FitLog writing to `log`), so a
    long fit says where it is about every 10 s, after the fold's own `callbacks`."""
    from kit.models import MODELS

    spec = comp.spec
    if threads and MODELS[model].torch:  # torch otherwise takes every core, whatever else runs
        import torch

        torch.set_num_threads(threads)
    weight = _weights_for(model, prepared, log)
    # the scorer sees each fold's validation rows in fold order: map them back to row numbers
    valid_of = iter([va for _, va in folds.splits])

    def scorer(_y, pred, _w) -> float:
        return score_rows(spec, prepared, next(valid_of), pred)

    score_name = spec.metric.upper() + (" at thresholds 0.5" if spec.task == "multilabel" else "")
    X, X_test_own = prepared.inputs(MODELS[model].inputs)
    # Where the test is the future, each fold does what the final refit on every row does, so
    # its window is forecast from its last training day: LightGBM trains on the whole fold and is
    # scored at the round the other folds chose (nested); a network trains every epoch on the
    # whole fold (the final refit has no rows to pick an epoch on either). With one fold there
    # are no other folds: LightGBM picks its round on the fold's own last days and is scored as
    # it is, forecasting from a few days further back than the test (a pessimistic score), rather
    # than being fitted a second time on nearly the same rows.
    rounds = bool(resolved.get("early_stopping_rounds"))
    choose = MODELS[model].stops_early and (rounds or not folds.refit)
    # With two or more folds, a model with validation curves (LightGBM) trains once per fold on
    # all of the fold's rows and is scored at the round the other folds' curves choose.
    nested = choose and rounds and len(folds) > 1 and MODELS[model].nested_rounds
    progress = progress or FitLog(name or model, log)

    seen: set[int] = set()

    def with_progress(k: int) -> list:
        stage = f"fold {k + 1}/{len(folds)}" + (" refit on the whole fold" if k in seen else "")
        seen.add(k)  # cross_validate asks again for the fold's refit
        return [*(callbacks(k) if callbacks is not None else ()), progress.begin(stage)]

    with progress.heartbeat():
        return cross_validate(build_model(comp, prepared, model, resolved, seed), X, prepared.y, folds.splits,
                              X_test_own if X_test else None, sample_weight=weight, scorer=scorer,
                              callbacks=with_progress, log=log, name=name or model, score_name=score_name,
                              eval_set=choose, stop_split=stop_split(prepared, folds, seed) if choose else None,
                              nested_rounds=nested)


def refit_with_round(fitted):
    """An unfitted copy of `fitted` that trains exactly the round early stopping chose, with no
    early stopping (None where it chose one round per label)."""
    from sklearn.base import clone

    best = getattr(fitted, "best_iteration_", None)
    if best is None or np.ndim(best) != 0:
        return None
    return clone(fitted).set_params(n_estimators=max(1, int(best)), early_stopping_rounds=None)


#: the share of a random fold's training rows kept aside for early stopping
STOP_SHARE = 0.1


def stop_split(prepared: Prepared, folds: Folds, seed: int) -> Callable[[int, np.ndarray], tuple]:
    """Where each fold's model chooses its round or epoch: never on the rows that score it.

    Time-based folds: the last days of the fold's training period, as many as its validation
    window has (at most a third of the period); the model fits on the days before them, so the
    choice looks at the future as the validation does. Random folds: a seeded tenth of the
    fold's training rows.
    """
    days = None if prepared.dates is None or not folds.refit else (
        prepared.dates.cast(pl.Date).cast(pl.Int32).to_numpy())
    valid_days = None if days is None else [len(np.unique(days[va])) for _, va in folds.splits]

    def split(k: int, tr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if days is not None:
            d = np.unique(days[tr])
            n = max(1, min(valid_days[k], len(d) // 3))
            cut = d[-n]
            return tr[days[tr] < cut], tr[days[tr] >= cut]
        gen = np.random.default_rng(seed + k)
        stop = np.zeros(len(tr), bool)
        stop[gen.choice(len(tr), max(1, int(round(STOP_SHARE * len(tr)))), replace=False)] = True
        return tr[~stop], tr[stop]

    return split


def nested_thresholds(y: np.ndarray, oof: np.ndarray, folds: Folds, labels, exclusive) -> list:
    """Per fold, the thresholds tuned on the other folds' out-of-fold rows (one fold: its own,
    which is optimistic): a fold's score never comes from thresholds fitted on its rows."""
    out = []
    for k, (_, va) in enumerate(folds.splits):
        others = np.concatenate([v for j, (_, v) in enumerate(folds.splits) if j != k]) if len(folds) > 1 else va
        out.append(np.asarray(tune_thresholds(y[others], oof[others], labels=labels, exclusive=exclusive).thresholds))
    return out


def oof_score(comp: Competition, prepared: Prepared, folds: Folds, cv: CVResult, *, name: str = "",
              log=print) -> tuple[float, list[float], np.ndarray | None]:
    """The expected test score (the mean of the fold scores), the per-fold scores, and for
    multilabel the per-label thresholds tuned on every out-of-fold row (for the test; each
    fold is scored with thresholds tuned on the other folds)."""
    spec = comp.spec
    rows = folds.valid_rows()
    oof = cv.oof
    if spec.task != "multilabel":  # the fold scores cross_validate computed stand
        return float(np.mean(cv.fold_scores)), list(cv.fold_scores), None
    y = np.asarray(prepared.y)
    exclusive = spec.submission.exclusive
    thresholds = np.asarray(tune_thresholds(y[rows], oof[rows], labels=prepared.labels,
                                            exclusive=exclusive).thresholds)
    per_fold = nested_thresholds(y, oof, folds, prepared.labels, exclusive)
    fold_scores = [score_rows(spec, prepared, va, oof[va], t) for (_, va), t in zip(folds.splits, per_fold)]
    overall = float(np.mean(fold_scores))
    log(f"  {name} per-label thresholds tuned out of fold: {spec.metric.upper()} "
        f"{float(np.mean(cv.fold_scores)):.5f} at 0.5 -> {overall:.5f} (each fold cut at thresholds tuned on "
        f"the other folds)")
    return overall, fold_scores, thresholds


def refit_rounds(cv: CVResult, folds: Folds, n_rows: int) -> int | None:
    """The rounds for a refit on all `n_rows` rows: the round the folds' validation curves chose
    together (`CVResult.rounds`), scaled by the rows it trains on against the folds' mean; else
    the mean of the rounds the folds stopped at; None for a model without rounds or one round
    count per label."""
    if cv.rounds is not None:
        if len(cv.rounds) != 1:
            return None
        scale = n_rows / float(np.mean([len(tr) for tr, _ in folds.splits]))
        return max(1, int(round(cv.rounds[0] * scale)))
    best = [getattr(m, "best_iteration_", None) for m in cv.models]
    if all(b is not None and np.ndim(b) == 0 for b in best):
        return max(1, int(round(float(np.mean(best)))))
    return None


def _refit(comp: Competition, prepared: Prepared, model: str, resolved: dict, seed: int, rounds: int | None,
           log, name: str):
    """The model refitted on every training row, LightGBM with `rounds` (refit_rounds)."""
    extra = {}
    if rounds is not None and resolved.get("early_stopping_rounds"):
        extra = {"n_estimators": rounds, "early_stopping_rounds": None}
    tf = time.perf_counter()
    m = build_model(comp, prepared, model, resolved, seed, **extra)
    weight = _weights_for(model, prepared, lambda *_: None)
    from kit.models import MODELS

    progress = FitLog(name, log)
    with progress.heartbeat():  # the refit on every row is the longest fit of a run: it says where it is
        m.fit(prepared.inputs(MODELS[model].inputs)[0], prepared.y, callbacks=[progress.begin("refit on all rows")],
              **({} if weight is None else {"sample_weight": weight}))
    log(f"  {name} refit on all {prepared.n_rows:,} rows{' with ' + str(extra) if extra else ''} "
        f"({time.perf_counter() - tf:.1f}s)")
    return m


def train(comp: Competition, prepared: Prepared, folds: Folds, model: str, out_dir: str | os.PathLike, *,
          params: dict | None = None, seed: int = 0, threads: int | None = None, refit: bool | None = None,
          name: str | None = None, log=print) -> RunResult:
    """Fit `model` on every fold, predict its validation rows (out of fold) and the test, and
    write the run folder `out_dir` (replaced as a whole when the run finishes).

    With time-based folds the test predictions come from the same model refitted on every
    training row (`refit`, default on there), LightGBM with the mean of the rounds early
    stopping found on the folds; otherwise they are the mean of the fold models'. The score is
    the mean over folds (the spread in the fold scores).
    """
    spec = comp.spec
    out_dir = Path(out_dir)
    name = name or out_dir.name
    resolved = model_params(comp, model, params, threads=threads)
    refit = folds.refit if refit is None else refit
    t0 = time.perf_counter()
    cv = fit_folds(comp, prepared, folds, model, resolved, seed=seed, threads=threads, log=log, name=name,
                   X_test=not refit)
    models = {f"fold_{k}": m for k, m in enumerate(cv.models)}
    if refit:
        models["all"] = _refit(comp, prepared, model, resolved, seed, refit_rounds(cv, folds, prepared.n_rows),
                               log, name)
        from kit.models import MODELS

        test = predict(models["all"], prepared.inputs(MODELS[model].inputs)[1], spec.task == "multilabel")
    else:
        test = cv.test
    rows = folds.valid_rows()
    overall, fold_scores, thresholds = oof_score(comp, prepared, folds, cv, name=name, log=log)
    result = RunResult(name, out_dir, model, rows, cv.oof[rows], test, tuple(fold_scores), overall,
                       time.perf_counter() - t0, thresholds, resolved, cv.fold_of[rows])
    config = {"competition": spec.name, "model": model, "params": resolved, "seed": seed,
              "cat_features": list(prepared.cat_features), "target_transform": prepared.target_transform,
              "folds": {"fingerprint": folds.fingerprint, "scheme": folds.scheme, "n": len(folds)},
              "refit": refit, "train_rows": prepared.n_rows, "test_rows": len(prepared.X_test),
              "dropped": list(prepared.dropped)}
    write_run(out_dir, result, metric=spec.metric, config=config, test_ids=prepared.test_ids,
              labels=prepared.labels, models=models)
    return result
