"""A finished run made ready to explain: its rows, folds, fitted models and metric.

`load_run(comp, folder, run)` rebuilds what the run was trained on (the competition's features,
less the columns it was trained without, `--drop`) and checks that it is the same: the row count
and the folds' fingerprint in the run's config.json must match, or the explanation would be of
other data. Every part of `kit explain` then reads the run through this object:

- `parts(...)`: each fold model with a sample of the rows that validate it, scored by the
  competition's metric (permutation importance looks at out-of-fold rows only: on training
  rows a model's memorised noise looks important);
- `predict(X)`: the model that made the test predictions (the refit on every row where the test
  is the future, else the mean of the fold models), on the model's scale;
- `fast_score(dropped)`: a quick LightGBM (`fast_params`) refitted on the shared folds without some columns,
  the validation score a drop test compares (redundant features, extrapolating features).
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.features import Prepared
from kit.metrics import METRICS
from kit.runs.artifacts import read_config
from kit.runs.folds import Folds
from kit.spec import Competition

__all__ = ["TABLE_MODELS", "RunModels", "load_run", "fast_params", "FAST_ROUNDS", "FAST_ROWS"]

#: the model kinds `kit explain` reads (the CNN reads images; a blend has no model of its own)
TABLE_MODELS = ("lgbm", "rf", "nn")

#: the quick model of the drop tests: the competition's own LightGBM settings (its leaves and
#: regularisation suit its data: on the Porto Seguro twin they score Gini 0.217 where generic
#: 31-leaf trees score 0.150), at a rate of at least 0.1 for FAST_ROUNDS rounds (no early
#: stopping to choose), on at most FAST_ROWS training rows per fold: a drop test takes seconds
FAST_ROUNDS = 150
FAST_ROWS = 30_000
#: validation rows per fold that score a permutation or a drop test
SCORE_ROWS = 20_000


@dataclass(frozen=True, eq=False)
class RunModels:
    """One run of a table model, its data and its fitted models."""

    comp: Competition
    prepared: Prepared
    folds: Folds
    path: Path
    #: "lgbm", "rf" or "nn"
    model: str
    config: dict
    #: the model of each fold, in fold order
    fold_models: tuple = field(repr=False)
    #: the models behind the test predictions: (the refit on every row,) or the fold models
    final: tuple = field(repr=False)
    seed: int = 0
    threads: int | None = None
    #: quick-model scores already computed, shared by the runs of one `kit explain` (they depend on
    #: the data, the folds and the columns, not on the run's model): {key: per-fold scores}
    fast_cache: dict = field(default_factory=dict, repr=False)
    #: the run's metrics.json (its fold scores and training seconds)
    metrics: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def metric(self) -> str:
        return self.comp.spec.metric

    @property
    def greater_is_better(self) -> bool:
        return METRICS[self.metric].greater_is_better

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.prepared.X.columns)

    @property
    def scale(self) -> str:
        """What the model's predictions are, in words."""
        spec = self.comp.spec
        target = spec.target_columns[0]
        if spec.task == "binary":
            return f"probability of {target} = 1"
        return f"log1p({target})" if self.prepared.target_transform == "log1p" else target

    def predict_with(self, model: Any, X: Any) -> np.ndarray:
        """`model`'s predictions for X on the model's scale (the positive-class probability for binary)."""
        from kit.runs.cv import predict

        return predict(model, X)

    def predict(self, X: Any) -> np.ndarray:
        """The test-time model's predictions for X (the mean of the fold models where there is no refit)."""
        out = None
        for m in self.final:
            p = self.predict_with(m, X)
            out = p if out is None else out + p
        return out / len(self.final)

    def score(self, rows: np.ndarray, pred: np.ndarray) -> float:
        """The competition's metric of `pred` for training `rows`."""
        from kit.runs.train import score_rows

        return score_rows(self.comp.spec, self.prepared, rows, pred)

    def sample(self, rows: np.ndarray, n: int, salt: int = 0) -> np.ndarray:
        """At most `n` of `rows`, drawn with the run's seed, in row order."""
        rows = np.asarray(rows)
        if len(rows) <= n:
            return rows
        return np.sort(np.random.default_rng([self.seed, salt]).choice(rows, n, replace=False))

    def parts(self, max_rows: int = SCORE_ROWS):
        """Each fold model with (a sample of) its validation rows and their scorer, for
        kit.explain.importance.permutation_importance."""
        from kit.explain.importance import Part

        out = []
        per_fold = max(1, max_rows // len(self.folds))
        for k, ((_, va), m) in enumerate(zip(self.folds.splits, self.fold_models)):
            rows = self.sample(va, per_fold, salt=k)
            out.append(Part(predict=lambda X, m=m: self.predict_with(m, X), X=self.prepared.X[rows],
                            score=lambda p, rows=rows: self.score(rows, p)))
        return out

    def model_importance(self) -> dict[str, float] | None:
        """The model's own importance (LightGBM's gain, the forest's impurity), averaged over the
        final models, as shares; None for the network, which has none."""
        if not all(hasattr(m, "feature_importance") for m in self.final):
            return None
        total: dict[str, float] = {}
        for m in self.final:
            for f, v in m.feature_importance().iter_rows():
                total[f] = total.get(f, 0.0) + v / len(self.final)
        return total

    def fast_scores(self, dropped: Sequence[str] = (), *, reseed: int = 0) -> list[float]:
        """Per fold, the validation score of a quick LightGBM (`fast_params`) fitted without the
        `dropped` columns on (a sample of) the fold's training rows; `reseed` changes only the
        model's seed (its row and column subsampling), not the rows, to measure its noise."""
        from kit.models import categorical_for, make_model
        from kit.runs.cv import cross_validate

        prepared = self.prepared
        keep = [c for c in prepared.X.columns if c not in set(dropped)]
        key = (self.folds.fingerprint, self.seed, reseed, tuple(keep), repr(sorted(fast_params(self.comp).items())))
        if key in self.fast_cache:
            return list(self.fast_cache[key])
        cats = [c for c in categorical_for("lgbm", prepared.cat_features, prepared.ordered_features) if c in keep]
        model = make_model("lgbm", self.comp.spec.task, cat_features=cats, random_state=self.seed + 1000 * reseed,
                           n_jobs=self.threads or -1, **fast_params(self.comp))
        splits = [(self.sample(tr, FAST_ROWS, salt=100 + k), self.sample(va, SCORE_ROWS, salt=k))
                  for k, (tr, va) in enumerate(self.folds.splits)]
        weight = prepared.weight
        cv = cross_validate(model, prepared.X.select(keep), prepared.y, splits, eval_set=False,
                            sample_weight=weight)
        scores = [self.score(va, cv.oof[va]) for _, va in splits]
        self.fast_cache[key] = tuple(scores)
        return scores

    def own_scores(self, dropped: Sequence[str]) -> list[float]:
        """Per fold, the validation score of the run's own model (its kind, hyperparameters and
        seed) refitted on the shared folds without the `dropped` columns: what a drop suggested by
        the quick model really does (on the Bulldozers twin the quick model gained 0.0016 RMSLE
        without five drifting columns; the run's LightGBM lost 0.0016 on validation, 0.012 on the
        hidden test). Compare with `metrics["folds"]`, the same model with every column."""
        from kit.features import drop_features
        from kit.runs.train import fit_folds

        cv = fit_folds(self.comp, drop_features(self.prepared, dropped), self.folds, self.model,
                       dict(self.config.get("params", {})), seed=self.seed, threads=self.threads, log=lambda *_: None)
        return list(cv.fold_scores)

    def fast_score(self, dropped: Sequence[str] = ()) -> float:
        """The mean over folds of `fast_scores(dropped)`."""
        return float(np.mean(self.fast_scores(dropped)))

    def labels(self, feature: str, values: Any) -> list[str]:
        """Feature values as text: a coded category's level (0 is "missing"), else the value."""
        from kit.tabular import level_names

        levels = self.prepared.levels.get(feature)
        vals = values.to_list() if isinstance(values, pl.Series) else list(np.asarray(values).tolist())
        if levels is None:
            return ["missing" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v)) for v in vals]
        return level_names(vals, levels)


def fast_params(comp: Competition) -> dict:
    """The drop tests' quick LightGBM: the competition's defaults, faster (see FAST_ROUNDS)."""
    from kit.features import model_defaults

    base = {k: v for k, v in model_defaults(comp).get("lgbm", {}).items() if k != "n_jobs"}
    return {**base, "learning_rate": max(0.1, float(base.get("learning_rate", 0.1))), "n_estimators": FAST_ROUNDS,
            "early_stopping_rounds": None}


def _read_models(path: Path) -> dict[str, Any]:
    folder = path / "models"
    if not folder.is_dir():
        raise KitError(f"{path} has no models/ folder, so there is no fitted model to explain; train it again "
                       f"with `kit train` (it keeps the models)")
    return {p.stem: pickle.loads(p.read_bytes()) for p in sorted(folder.glob("*.pkl"))}


def resolve_run(runs_dir: Path, run: str | os.PathLike) -> Path:
    """A run given as a path, or as a name under the runs folder."""
    path = Path(run)
    if not path.exists():
        path = runs_dir / str(run)
    if not (path / "config.json").exists():
        have = sorted(p.name for p in runs_dir.iterdir() if (p / "config.json").exists()) if runs_dir.is_dir() else []
        raise KitError(f"no run {str(run)!r} in {runs_dir}"
                       + (f" (runs there: {', '.join(have)})" if have else " (no runs there yet)")
                       + "; train one with `kit train COMP --model lgbm` or `kit run COMP`")
    return path


def load_run(comp: Competition, folder: str | os.PathLike, run: str | os.PathLike, *,
             runs_dir: str | os.PathLike | None = None, threads: int | None = None,
             fast_cache: dict | None = None, prepared: dict | None = None) -> RunModels:
    """The run `run` (a folder, or a name under `runs_dir`) of `comp` on the data in `folder`,
    with the features it was trained on rebuilt and checked against its config. Pass the same
    `fast_cache` dict to the runs of one data folder to compute each drop test once, and the same
    `prepared` dict ({seed: the competition's features}) to build the features once."""
    from kit.features import drop_features, prepare
    from kit.runs.folds import read_folds

    folder = Path(folder)
    runs = Path(runs_dir) if runs_dir is not None else folder / "runs"
    path = resolve_run(runs, run)
    config = read_config(path)
    if config.get("competition") != comp.spec.name:
        raise KitError(f"{path} is a run of {config.get('competition')!r}, not {comp.spec.name}; "
                       f"explain it with `kit explain {config.get('competition')} {path}`")
    kind = config.get("model")
    if kind not in TABLE_MODELS:
        what = ("a blend, which has no model of its own; explain one of the runs it blends: "
                + ", ".join(Path(r).name for r in config.get("runs", []))) if kind == "blend" else \
            f"a {kind} run; kit explain reads the table models ({', '.join(TABLE_MODELS)})"
        raise KitError(f"{path.name} is {what}")
    seed = int(config.get("seed", 0))
    built = {} if prepared is None else prepared
    if seed not in built:
        built[seed] = prepare(comp, folder, seed=seed)
    prepared = drop_features(built[seed], config.get("dropped", []))
    if prepared.n_rows != config.get("train_rows", prepared.n_rows):
        raise KitError(f"{path.name} was trained on {config['train_rows']:,} rows but the data in {folder} gives "
                       f"{prepared.n_rows:,}; explain it on the data it was trained on, or train it again")
    folds = read_folds(path.parent)
    want = config.get("folds", {}).get("fingerprint")
    if folds is None or folds.fingerprint != want:
        raise KitError(f"the folds {path.name} was trained on ({want}) are not the ones in {path.parent} "
                       f"({folds.fingerprint if folds else 'none'}); train it again with "
                       f"`kit train {comp.spec.name} --model {kind} --name {path.name} --force`")
    models = _read_models(path)
    fold_models = tuple(models[f"fold_{k}"] for k in range(len(folds)) if f"fold_{k}" in models)
    if len(fold_models) != len(folds):
        raise KitError(f"{path}/models has {len(fold_models)} fold models for {len(folds)} folds; "
                       f"train it again with `kit train ... --force`")
    final = (models["all"],) if "all" in models else fold_models
    metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").exists() else {}
    return RunModels(comp, prepared, folds, path, kind, config, fold_models, final, seed, threads,
                     {} if fast_cache is None else fast_cache, metrics)
