"""Training runs, blends and submissions: the stages after feature code.

    folds  = load_folds(comp, prepared, runs_dir)            # computed once, shared by every model
    run    = train(comp, prepared, folds, "lgbm", out_dir)   # a run folder (see below)
    blend  = blend_runs(comp, prepared, [run_a, run_b], out) # weights fitted on out-of-fold rows
    path   = write_submission(comp, folder, prepared, blend.test, "submission.csv")

A run folder holds
    config.json      the competition, model, resolved hyperparameters, seed, folds fingerprint
    metrics.json     the metric per fold, out-of-fold overall, seconds
    oof.parquet      row (index into the training rows), fold, prediction(s) on the model's scale
    test.parquet     the submission id of each test row, prediction(s) on the model's scale
    models/          the fitted models (pickles), one per fold (and `all` when refitted)

Folds live in RUNS/folds.parquet (one int8 column per fold: 1 train, 2 valid, 0 unused) with
their fingerprint in RUNS/folds.json; a blend refuses runs made on other folds. Every file is
written under a temporary name and renamed, so an interrupted command leaves the previous
result in place, and the same command with the same seed writes the same files.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import pickle
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.features import Prepared, features_module
from kit.metrics import METRICS, Metric
from kit.spec import Competition, CompetitionSpec

#: hyperparameters the run machinery sets itself
_MANAGED = ("cat_features", "random_state")


# --------------------------------------------------------------------------- folds


@dataclass(frozen=True, eq=False)
class Folds:
    """(train_idx, valid_idx) pairs over a Prepared's training rows, and their fingerprint."""

    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    scheme: str
    fingerprint: str

    def __len__(self) -> int:
        return len(self.splits)

    @property
    def single_holdout(self) -> bool:
        """One validation window that some rows never train on (a time holdout): the test
        predictions come from a refit on every row."""
        return len(self.splits) == 1

    def valid_rows(self) -> np.ndarray:
        """Every row some fold validates on, sorted."""
        return np.unique(np.concatenate([v for _, v in self.splits]))


def _data_fingerprint(prepared: Prepared, n_splits: int, seed: int, scheme: str) -> str:
    h = hashlib.sha256()
    h.update(f"{scheme}|{n_splits}|{seed}|{prepared.n_rows}|{len(prepared.X_test)}".encode())
    h.update(np.ascontiguousarray(prepared.y).tobytes())
    if prepared.dates is not None:
        h.update(np.ascontiguousarray(prepared.dates.to_physical().to_numpy()).tobytes())
    h.update(pl.DataFrame({"id": prepared.test_ids.cast(pl.String)}).write_csv().encode())
    return h.hexdigest()[:16]


def n_splits_for(comp: Competition) -> int:
    mod = features_module(comp)
    return int(getattr(mod, "N_SPLITS", 5)) if mod is not None else 5


def make_folds(comp: Competition, prepared: Prepared, *, seed: int = 0, n_splits: int | None = None) -> Folds:
    """The competition's validation scheme over the prepared rows (its own folds when the feature
    code gives them, else the spec's default splitter)."""
    from kit.validation.splits import default_splitter

    spec = comp.spec
    n_splits = n_splits or n_splits_for(comp)
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
    return Folds(splits, scheme, _data_fingerprint(prepared, len(splits), seed, scheme))


def _atomic_write(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def _write_json(path: Path, obj) -> Path:
    return _atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n"))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def save_folds(folds: Folds, n_rows: int, runs_dir: Path) -> None:
    roles = {}
    for i, (t, v) in enumerate(folds.splits):
        col = np.zeros(n_rows, np.int8)
        col[t] = 1
        col[v] = 2
        roles[f"fold_{i}"] = col
    _atomic_write(runs_dir / "folds.parquet", lambda p: pl.DataFrame(roles).write_parquet(p))
    _write_json(runs_dir / "folds.json", {"fingerprint": folds.fingerprint, "scheme": folds.scheme,
                                          "n_folds": len(folds), "n_rows": n_rows})


def read_folds(runs_dir: Path) -> Folds | None:
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
    runs_dir = Path(runs_dir)
    folds = make_folds(comp, prepared, seed=seed)
    saved = read_folds(runs_dir)
    if saved is not None and saved.fingerprint == folds.fingerprint:
        return saved
    save_folds(folds, prepared.n_rows, runs_dir)
    return folds


# --------------------------------------------------------------------------- scoring


def metric_of(spec: CompetitionSpec) -> Metric:
    return METRICS[spec.metric]


def score_rows(spec: CompetitionSpec, prepared: Prepared, rows: np.ndarray, pred: np.ndarray,
               thresholds: np.ndarray | None = None) -> float:
    """The competition's metric on training `rows` for model-scale predictions `pred` (one per row)."""
    metric = metric_of(spec)
    if spec.task == "multilabel":
        t = 0.5 if thresholds is None else thresholds
        return metric(np.asarray(prepared.y)[rows], np.asarray(pred) >= t)
    y = prepared.y_target()[rows]
    weights = prepared.weight[rows] if prepared.weight is not None else None
    p = prepared.to_target(pred) if spec.task == "regression" else np.asarray(pred, np.float64)
    return metric(y, p, weights)


def tune_thresholds(prepared: Prepared, rows: np.ndarray, proba: np.ndarray):
    from kit.models.cnn import tune_thresholds as tune

    return tune(np.asarray(prepared.y)[rows], proba)


# --------------------------------------------------------------------------- training


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


def _pred(model, task: str, X) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(X), np.float64)
    p = np.asarray(model.predict_proba(X), np.float64)
    return p[:, 1] if task == "binary" else p


def _take(X, rows: np.ndarray):
    if isinstance(X, pl.DataFrame):
        return X[rows]
    return X[rows]


def _fit(model, X, y, *, eval_set=None, sample_weight=None, eval_sample_weight=None, hooks: dict | None = None):
    """model.fit with the keywords this model takes (eval_set, sample weights, `hooks`)."""
    takes = inspect.signature(model.fit).parameters
    kwargs = {k: v for k, v in (hooks or {}).items() if k in takes}
    if eval_set is not None and "eval_set" in takes:
        kwargs["eval_set"] = eval_set
        if eval_sample_weight is not None and "eval_sample_weight" in takes:
            kwargs["eval_sample_weight"] = eval_sample_weight
    if sample_weight is not None and "sample_weight" in takes:
        kwargs["sample_weight"] = sample_weight
    return model.fit(X, y, **kwargs)


def model_params(comp: Competition, model: str, params: dict | None = None, *, threads: int | None = None) -> dict:
    """The hyperparameters a run uses: the competition's defaults for `model`, then `params`."""
    from kit.features import default_models
    from kit.models import MODELS

    if model not in MODELS:
        raise KitError(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
    out = dict(default_models(comp).get(model, {}))
    out.update(params or {})
    cls = MODELS[model].for_task(comp.spec.task)
    allowed = cls().get_params()
    if threads is not None and "n_jobs" in allowed and "n_jobs" not in (params or {}):
        out["n_jobs"] = threads
    bad = [k for k in out if k in _MANAGED]
    if bad:
        raise KitError(f"{', '.join(bad)} is set by the run (from the feature code and --seed); leave it out")
    return out


@dataclass(eq=False)
class CrossValidated:
    """Models fitted fold by fold and their out-of-fold predictions (model scale)."""

    #: (n_rows,) or (n_rows, k); NaN on rows no fold validates
    oof: np.ndarray
    #: the fold that validates each row, -1 for none
    fold_of: np.ndarray
    models: list
    #: the metric on each fold's validation rows (thresholds 0.5 for multilabel)
    fold_scores: list[float]


def build_model(comp: Competition, prepared: Prepared, model: str, resolved: dict, seed: int, **extra):
    """An unfitted `model` for the competition's task with `resolved` hyperparameters (see model_params)."""
    from kit.models import make_model

    kwargs = {**resolved, **extra}
    if prepared.cat_features:
        kwargs["cat_features"] = list(prepared.cat_features)
    return make_model(model, comp.spec.task, random_state=seed, **kwargs)


def cross_validate(comp: Competition, prepared: Prepared, folds: Folds, model: str, resolved: dict, *,
                   seed: int = 0, threads: int | None = None, fit_hooks: Callable[[int], dict] | None = None,
                   log=print, name: str | None = None) -> CrossValidated:
    """Fit `model` on each fold's training rows and predict its validation rows.

    `fit_hooks(k)` gives extra keyword arguments for fold k's fit, passed when the model's fit
    takes them (kit.tune's pruning reporters: `callbacks` for LightGBM, `epoch_callback` for the
    networks).
    """
    spec = comp.spec
    task = spec.task
    name = name or model
    if threads and model in ("nn", "cnn"):  # torch otherwise takes every core, whatever else runs
        import torch

        torch.set_num_threads(threads)
    y = np.asarray(prepared.y)
    n_out = y.shape[1] if y.ndim == 2 else 0
    oof = np.full((prepared.n_rows, n_out) if n_out else prepared.n_rows, np.nan)
    fold_of = np.full(prepared.n_rows, -1, np.int64)
    fitted = []
    fold_scores = []
    for k, (tr, va) in enumerate(folds.splits):
        tf = time.perf_counter()
        m = build_model(comp, prepared, model, resolved, seed)
        w, wv = (prepared.weight[tr], prepared.weight[va]) if prepared.weight is not None else (None, None)
        _fit(m, _take(prepared.X, tr), y[tr], eval_set=(_take(prepared.X, va), y[va]), sample_weight=w,
             eval_sample_weight=wv, hooks=fit_hooks(k) if fit_hooks else None)
        p = _pred(m, task, _take(prepared.X, va))
        oof[va] = p
        fold_of[va] = k
        fitted.append(m)
        fold_scores.append(score_rows(spec, prepared, va, p))
        at = " at thresholds 0.5" if task == "multilabel" else ""
        log(f"  {name} fold {k + 1}/{len(folds)}: {spec.metric.upper()} {fold_scores[-1]:.5f}{at} "
            f"({len(tr):,} train / {len(va):,} valid rows, {time.perf_counter() - tf:.1f}s)")
    return CrossValidated(oof, fold_of, fitted, fold_scores)


def oof_score(comp: Competition, prepared: Prepared, folds: Folds, cv: CrossValidated, *, name: str = "",
              log=print) -> tuple[float, list[float], np.ndarray | None]:
    """The metric over every validated row, the per-fold scores, and for multilabel the
    per-label thresholds tuned on the out-of-fold predictions (None otherwise)."""
    spec = comp.spec
    rows = folds.valid_rows()
    oof = cv.oof
    if spec.task != "multilabel":  # the fold scores cross_validate computed stand
        return score_rows(spec, prepared, rows, oof[rows]), list(cv.fold_scores), None
    thresholds = np.asarray(tune_thresholds(prepared, rows, oof[rows]).thresholds)
    overall = score_rows(spec, prepared, rows, oof[rows], thresholds)
    log(f"  {name} per-label thresholds tuned on the out-of-fold predictions "
        f"({float(np.min(thresholds)):.2f}..{float(np.max(thresholds)):.2f}): {spec.metric.upper()} "
        f"{score_rows(spec, prepared, rows, oof[rows]):.5f} at 0.5 -> {overall:.5f}")
    fold_scores = [score_rows(spec, prepared, va, oof[va], thresholds) for _, va in folds.splits]
    return overall, fold_scores, thresholds


def train(comp: Competition, prepared: Prepared, folds: Folds, model: str, out_dir: str | os.PathLike, *,
          params: dict | None = None, seed: int = 0, threads: int | None = None, refit: bool | None = None,
          name: str | None = None, log=print) -> RunResult:
    """Fit `model` on every fold, predict its validation rows (out of fold) and the test, and
    write the run folder `out_dir` (replaced as a whole when the run finishes).

    With one holdout fold (time-based competitions) the test predictions come from the same
    model refitted on every training row (`refit`, default on), LightGBM with the number of
    rounds early stopping found on the fold.
    """
    spec = comp.spec
    task = spec.task
    out_dir = Path(out_dir)
    name = name or out_dir.name
    resolved = model_params(comp, model, params, threads=threads)
    cat = list(prepared.cat_features)
    refit = folds.single_holdout if refit is None else refit

    def build(**extra):
        return build_model(comp, prepared, model, resolved, seed, **extra)

    t0 = time.perf_counter()
    y = np.asarray(prepared.y)
    cv = cross_validate(comp, prepared, folds, model, resolved, seed=seed, threads=threads, log=log, name=name)
    oof, fold_of, fitted = cv.oof, cv.fold_of, cv.models
    test_sum = None
    if not refit:
        for m in fitted:
            pt = _pred(m, task, prepared.X_test)
            test_sum = pt if test_sum is None else test_sum + pt
    refit_model = None
    if refit:
        extra = {}
        best = getattr(fitted[0], "best_iteration_", None)
        if best is not None and np.ndim(best) == 0 and "early_stopping_rounds" in resolved:
            extra = {"n_estimators": max(1, int(best)), "early_stopping_rounds": None}
        tf = time.perf_counter()
        refit_model = build(**extra)
        _fit(refit_model, prepared.X, y, sample_weight=prepared.weight)
        test = _pred(refit_model, task, prepared.X_test)
        log(f"  {name} refit on all {prepared.n_rows:,} rows{' with ' + str(extra) if extra else ''} "
            f"({time.perf_counter() - tf:.1f}s)")
    else:
        test = test_sum / len(folds)
    rows = folds.valid_rows()
    overall, fold_scores, thresholds = oof_score(comp, prepared, folds, cv, name=name, log=log)
    seconds = time.perf_counter() - t0

    # the run folder, written beside and swapped in whole
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "models").mkdir(parents=True)
    pred_cols = _pred_columns(oof[rows], prepared.labels)
    oof_frame = pl.DataFrame({"row": rows, "fold": fold_of[rows]}).with_columns(pred_cols)
    oof_frame.write_parquet(tmp / "oof.parquet")
    test_frame = pl.DataFrame({"id": prepared.test_ids}).with_columns(_pred_columns(test, prepared.labels))
    test_frame.write_parquet(tmp / "test.parquet")
    for k, m in enumerate(fitted):
        (tmp / "models" / f"fold_{k}.pkl").write_bytes(pickle.dumps(m))
    if refit_model is not None:
        (tmp / "models" / "all.pkl").write_bytes(pickle.dumps(refit_model))
    config = {"competition": spec.name, "model": model, "params": resolved, "seed": seed,
              "cat_features": cat, "target_transform": prepared.target_transform,
              "folds": {"fingerprint": folds.fingerprint, "scheme": folds.scheme, "n": len(folds)},
              "refit": refit, "train_rows": prepared.n_rows, "test_rows": len(prepared.X_test)}
    _write_json(tmp / "config.json", config)
    metrics = {"metric": spec.metric, "folds": fold_scores, "oof": overall, "seconds": seconds,
               "thresholds": thresholds}
    _write_json(tmp / "metrics.json", metrics)
    _swap_in(tmp, out_dir)
    return RunResult(name, out_dir, model, rows, oof[rows], test, tuple(fold_scores), overall, seconds,
                     thresholds, resolved)


def _pred_columns(pred: np.ndarray, labels: Sequence[str]) -> list[pl.Series]:
    if pred.ndim == 2:
        return [pl.Series(f"pred_{label}", pred[:, j]) for j, label in enumerate(labels)]
    return [pl.Series("pred", pred)]


def _swap_in(tmp: Path, out_dir: Path) -> None:
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def read_run(path: str | os.PathLike) -> RunResult:
    """A run folder written by `train` or `blend_runs`, read back."""
    path = Path(path)
    for f in ("config.json", "metrics.json", "oof.parquet", "test.parquet"):
        if not (path / f).exists():
            raise KitError(f"{path} is not a finished run (no {f}); train it with `kit train`")
    config = json.loads((path / "config.json").read_text())
    metrics = json.loads((path / "metrics.json").read_text())
    oof = pl.read_parquet(path / "oof.parquet")
    test = pl.read_parquet(path / "test.parquet")
    cols = [c for c in oof.columns if c.startswith("pred")]
    oof_pred = oof.select(cols).to_numpy() if len(cols) > 1 else oof[cols[0]].to_numpy()
    test_pred = test.select(cols).to_numpy() if len(cols) > 1 else test[cols[0]].to_numpy()
    th = metrics.get("thresholds")
    return RunResult(path.name, path, config["model"], oof["row"].to_numpy(), oof_pred, test_pred,
                     tuple(metrics["folds"]), metrics["oof"], metrics["seconds"],
                     None if th is None else np.asarray(th), config.get("params", {}))


def _config(path: Path) -> dict:
    return json.loads((path / "config.json").read_text())


# --------------------------------------------------------------------------- blending


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1] (ties share their mean rank)."""
    s = pl.Series(x)
    r = s.rank("average").to_numpy()
    return (r - 1) / max(len(x) - 1, 1)


def ensemble_selection(score, preds: list[np.ndarray], *, greater_is_better: bool, steps: int = 40) -> np.ndarray:
    """Weights on the simplex by greedy forward selection with replacement (Caruana et al. 2004):
    start from the best single model, then repeatedly add the model whose addition scores best,
    stopping when no addition helps. Works for any metric, smooth or not (Gini, F2)."""
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


def blend_runs(comp: Competition, prepared: Prepared, runs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
               *, log=print) -> RunResult:
    """Blend runs made on the same folds: weights fitted on their out-of-fold predictions
    (rank averages for Gini, where only the order counts), applied to their test predictions.
    Writes a run folder like `train` does (model "blend", weights in config.json)."""
    spec = comp.spec
    if not runs:
        raise KitError("blend needs at least one run folder")
    paths = [Path(r) for r in runs]
    results = [read_run(p) for p in paths]
    configs = [_config(p) for p in paths]
    fps = {c["folds"]["fingerprint"] for c in configs}
    comps = {c["competition"] for c in configs}
    if comps != {spec.name}:
        raise KitError(f"these runs belong to {', '.join(sorted(comps))}, not {spec.name}")
    if len(fps) != 1:
        listing = ", ".join(f"{p.name}: {c['folds']['fingerprint']}" for p, c in zip(paths, configs))
        raise KitError(f"the runs were trained on different folds ({listing}); retrain them on the same data "
                       "and seed so their out-of-fold predictions line up")
    rows = results[0].oof_rows
    for r in results[1:]:
        if not np.array_equal(r.oof_rows, rows):
            raise KitError(f"runs {results[0].name} and {r.name} have different out-of-fold rows")
    metric = metric_of(spec)
    t0 = time.perf_counter()
    rank = spec.metric == "gini"
    oofs = [_ranks(r.oof) if rank else r.oof for r in results]
    tests = [_ranks(r.test) if rank else r.test for r in results]

    if spec.task == "multilabel":
        from sklearn.metrics import log_loss

        yb = np.asarray(prepared.y)[rows]
        weights = ensemble_selection(lambda p: -log_loss(yb.ravel(), np.clip(p.ravel(), 1e-6, 1 - 1e-6)),
                                     oofs, greater_is_better=True)
    else:
        weights = ensemble_selection(lambda p: score_rows(spec, prepared, rows, p), oofs,
                                     greater_is_better=metric.greater_is_better)
    oof = sum(w * p for w, p in zip(weights, oofs))
    test = sum(w * p for w, p in zip(weights, tests))
    fold_of = pl.read_parquet(paths[0] / "oof.parquet")["fold"].to_numpy()
    thresholds = None
    if spec.task == "multilabel":
        thresholds = np.asarray(tune_thresholds(prepared, rows, oof).thresholds)
    overall = score_rows(spec, prepared, rows, oof, thresholds)
    fold_scores = [score_rows(spec, prepared, rows[fold_of == k], oof[fold_of == k], thresholds)
                   for k in np.unique(fold_of)]
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    labels = prepared.labels
    pl.DataFrame({"row": rows, "fold": fold_of}).with_columns(_pred_columns(oof, labels)).write_parquet(
        tmp / "oof.parquet")
    pl.DataFrame({"id": prepared.test_ids}).with_columns(_pred_columns(test, labels)).write_parquet(
        tmp / "test.parquet")
    wmap = {r.name: float(w) for r, w in zip(results, weights)}
    _write_json(tmp / "config.json", {
        "competition": spec.name, "model": "blend", "runs": [str(p.resolve()) for p in paths], "weights": wmap,
        "rank_average": rank, "folds": configs[0]["folds"], "target_transform": prepared.target_transform})
    seconds = time.perf_counter() - t0
    _write_json(tmp / "metrics.json", {"metric": spec.metric, "folds": fold_scores, "oof": overall,
                                       "seconds": seconds, "thresholds": thresholds})
    _swap_in(tmp, out_dir)
    log(f"  blend weights: " + ", ".join(f"{k} {v:.2f}" for k, v in wmap.items()))
    return RunResult(out_dir.name, out_dir, "blend", rows, oof, test, tuple(fold_scores), overall, seconds,
                     thresholds, {"weights": wmap})


# --------------------------------------------------------------------------- submission


def submission_frame(comp: Competition, folder: str | os.PathLike, prepared: Prepared, result: RunResult) -> pl.DataFrame:
    """The submission for a run's test predictions, in the sample submission's order."""
    from kit.models.cnn import matrix_to_tags

    spec = comp.spec
    sub_spec = spec.submission
    id_col, value_col = sub_spec.id_column, sub_spec.value_column
    if spec.task == "multilabel":
        th = result.thresholds if result.thresholds is not None else 0.5
        values = matrix_to_tags((np.asarray(result.test) >= th).astype(np.int64), prepared.labels)
    else:
        test = np.asarray(result.test, np.float64)
        if spec.task == "regression":
            values = pl.Series(prepared.submission_values(test))
        else:
            values = pl.Series(np.clip(test, 0.0, 1.0))
    ours = pl.DataFrame({id_col: prepared.test_ids.cast(pl.String), value_col: values})
    if ours[id_col].n_unique() != ours.height:
        raise KitError(f"the {spec.name} feature code gives some test ids twice; each must appear once")
    sample = pl.read_csv(Path(folder) / spec.sample_submission, infer_schema_length=0, columns=[id_col])
    out = sample.join(ours, on=id_col, how="left", maintain_order="left")
    missing = out[value_col].null_count()
    if missing:
        raise KitError(f"the predictions miss {missing:,} of the {sample.height:,} ids in "
                       f"{spec.sample_submission}; the feature code must predict every test row")
    return out


def write_submission(comp: Competition, folder: str | os.PathLike, prepared: Prepared, result: RunResult,
                     path: str | os.PathLike) -> Path:
    """Build, check (as `kit submit` does) and atomically write the submission CSV."""
    from kit.submission import load_test_ids, validate, write_atomic

    sub = submission_frame(comp, folder, prepared, result)
    validate(comp.spec, sub.select(pl.all().cast(pl.String)), load_test_ids(comp.spec, Path(folder)))
    return write_atomic(sub, path)


# --------------------------------------------------------------------------- the whole pipeline


@dataclass(frozen=True)
class StepTime:
    step: str
    seconds: float
    score: float | None = None
    note: str = ""


@dataclass(frozen=True, eq=False)
class RunSummary:
    """What `kit run` did: each step's time and validation score, the submission and its offline score."""

    competition: str
    metric: str
    steps: tuple[StepTime, ...]
    submission: Path
    best: str
    public: float | None = None
    private: float | None = None
    baseline_public: float | None = None
    baseline_private: float | None = None

    def table(self) -> str:
        m = METRICS[self.metric]
        lines = [f"{'step':<22}{'validation ' + self.metric.upper():>20}{'seconds':>10}  note",
                 "-" * 70]
        for s in self.steps:
            sc = "" if s.score is None else f"{s.score:.5f}"
            lines.append(f"{s.step:<22}{sc:>20}{s.seconds:>10.1f}  {s.note}")
        lines.append("-" * 70)
        lines.append(f"{'total':<22}{'':>20}{sum(s.seconds for s in self.steps):>10.1f}")
        lines.append(f"submission: {self.submission} (from {self.best}; "
                     f"{'higher' if m.greater_is_better else 'lower'} is better)")
        if self.public is not None:
            lines.append(f"hidden solution: public {self.public:.5f}  private {self.private:.5f}"
                         + (f"   constant baseline: public {self.baseline_public:.5f}  "
                            f"private {self.baseline_private:.5f}" if self.baseline_public is not None else ""))
        return "\n".join(lines)


def _adversarial_check(comp: Competition, folder: Path, runs_dir: Path, seed: int, threads: int | None):
    """A quick adversarial validation of the raw train and test files (recent train only for
    forecasting competitions, so huge files stay cheap). None for image competitions."""
    from kit.data.tables import scan_table
    from kit.validation.adversarial import run_adversarial, write_report

    spec = comp.spec
    if spec.task == "multilabel":
        return None
    train = scan_table(spec, spec.train, folder)
    if spec.time_column and spec.horizon_days:
        last = train.select(pl.col(spec.time_column).max()).collect().item()
        start = pl.lit(last) - pl.duration(days=4 * spec.horizon_days)
        train = train.filter(pl.col(spec.time_column) >= start)
    test = scan_table(spec, spec.test, folder).collect()
    report = run_adversarial(train.collect(), test, id_col=spec.id_column, target_cols=spec.target_columns,
                             time_col=spec.time_column, n_folds=3, max_rows=50_000, max_drop_steps=3,
                             n_estimators=60, num_threads=threads, seed=seed)
    write_report(report, runs_dir / "adversarial")
    return report


def run_all(comp: Competition, folder: str | os.PathLike, *, size: str = "small", seed: int = 0,
            models: Sequence[str] | None = None, runs_dir: str | os.PathLike | None = None,
            submission: str | os.PathLike | None = None, threads: int | None = None,
            adversarial: bool = True, params: dict[str, dict] | None = None, log=print) -> RunSummary:
    """Data (a twin made when the folder has none) -> adversarial check -> the competition's
    default models -> blend -> a checked submission -> its offline score where answers exist.

    `params` overrides hyperparameters per model: {"lgbm": {"n_estimators": 50}}.
    """
    from kit import baseline
    from kit.features import default_models, prepare
    from kit.submission import SOLUTION, score
    from kit.synth import generate

    spec = comp.spec
    folder = Path(folder)
    steps: list[StepTime] = []
    if not (folder / spec.train).exists():
        from kit.synth.core import MARKER

        others = [p.name for p in folder.iterdir() if p.name != "runs"] if folder.exists() else []
        if others and not (folder / MARKER).exists():
            raise KitError(f"{folder} holds files ({', '.join(sorted(others)[:4])}{', ...' if len(others) > 4 else ''}) "
                           f"but no {spec.train}; finish the download with `kit download {spec.name} --data-dir "
                           f"{folder}`, or point --data-dir at an empty folder to run on a twin")
        t = time.perf_counter()
        log(f"no {spec.train} in {folder}: writing the {size} twin (seed {seed})")
        generate(comp, folder, size=size, seed=seed)
        steps.append(StepTime("generate twin", time.perf_counter() - t, note=size))
    runs_dir = Path(runs_dir) if runs_dir else folder / "runs"
    if adversarial:
        t = time.perf_counter()
        report = _adversarial_check(comp, folder, runs_dir, seed, threads)
        if report is not None:
            top = ", ".join(f.name for f in report.features[:3])
            note = f"train vs test AUC {report.auc_mean:.3f} ± {report.auc_std:.3f}; top drifters {top}"
            log(f"adversarial: {note} (report in {runs_dir / 'adversarial'})")
            steps.append(StepTime("adversarial", time.perf_counter() - t,
                                  note=f"AUC {report.auc_mean:.3f}; leans on {report.top_drifter}"))
        else:
            log("adversarial: skipped; it compares table columns and this competition's inputs are images")
            steps.append(StepTime("adversarial", 0.0, note="skipped: images"))
    t = time.perf_counter()
    prepared = prepare(comp, folder, seed=seed)
    folds = load_folds(comp, prepared, runs_dir, seed=seed)
    log(f"features: {prepared.n_rows:,} training rows, {len(prepared.X_test):,} test rows; "
        f"{len(folds)} fold(s) ({folds.scheme})")
    for note in prepared.notes:
        log(f"  {note}")
    steps.append(StepTime("features + folds", time.perf_counter() - t,
                          note=f"{prepared.n_rows:,} rows, {len(folds)} fold(s)"))
    names = list(models) if models else list(default_models(comp))
    unused = sorted(set(params or {}) - set(names))
    if unused:
        raise KitError(f"--param names {', '.join(unused)}, which this run does not train ({', '.join(names)})")
    results = []
    for name in names:
        log(f"training {name} ...")
        r = train(comp, prepared, folds, name, runs_dir / name, params=(params or {}).get(name), seed=seed,
                  threads=threads, log=log)
        results.append(r)
        steps.append(StepTime(name, r.seconds, r.score))
    final = results[0]
    if len(results) > 1:
        b = blend_runs(comp, prepared, [r.path for r in results], runs_dir / "blend", log=log)
        steps.append(StepTime("blend", b.seconds, b.score,
                              note=", ".join(f"{k} {v:.2f}" for k, v in b.params["weights"].items())))
        final = b
    out = Path(submission) if submission else runs_dir / "submission.csv"
    t = time.perf_counter()
    write_submission(comp, folder, prepared, final, out)
    steps.append(StepTime("submission", time.perf_counter() - t, note="checked like kit submit"))
    summary = dict(competition=spec.name, metric=spec.metric, steps=tuple(steps), submission=out, best=final.name)
    if (folder / SOLUTION).exists():
        s = score(spec, out, folder)
        b = score(spec, baseline.submission(spec, folder), folder)
        summary.update(public=s.public, private=s.private, baseline_public=b.public, baseline_private=b.private)
    return RunSummary(**summary)
