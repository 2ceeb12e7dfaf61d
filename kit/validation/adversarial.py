"""Adversarial validation: can a classifier tell the training rows from the test rows?

A LightGBM classifier learns "is this row from the test file?" with stratified K-fold
cross-validation (kit.runs.cross_validate on kit's StratifiedKFold). Its out-of-fold AUC
says how different the two files are: about 0.5, the test is a random sample of the same
population and a random K-fold is a fair validation; clearly above 0.5, the test differs and
only a validation set that looks like it can be trusted. The report says what differs and
what to do about it:

* each feature's share of the classifier's gain, and a model-free drift statistic
  (Kolmogorov-Smirnov or total variation: kit.validation.drift);
* the *drop loop*: drop the feature the classifier leans on most, refit, repeat until the
  AUC nears 0.5 -- the features dropped on the way are the ones to drop or transform;
* the training rows that look most like the test (highest out-of-fold test probability),
  a validation set for when no time order is available.

The time column of a forecasting competition separates train from test on its own (the
test is the future), so it is left out by default, with every column derived from it:
a function of one calendar part (year, quarter, month, ISO week, day of month, weekday,
day of year, year-month) or, where dates repeat, the date itself in another form.

The steps, each a function here: check the inputs, sample rows, choose columns, encode
(kit.validation.drift), fit, the drop loop, the test-like rows. The report, its plot and
its files are in kit.validation.adversarial_report.

Example (with tiny frames: the test's `x` is shifted)::

    >>> import numpy as np, polars as pl
    >>> g = np.random.default_rng(0)
    >>> train = pl.DataFrame({"x": g.normal(0, 1, 600), "z": g.normal(0, 1, 600)})
    >>> test = pl.DataFrame({"x": g.normal(2, 1, 300), "z": g.normal(0, 1, 300)})
    >>> rep = run_adversarial(train, test, max_drop_steps=1, num_threads=1)
    >>> rep.top_drifter, rep.auc_mean > 0.8, rep.drop_path[0].dropped
    ('x', True, 'x')
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.validation.adversarial_report import (
    THRESHOLD,
    AdversarialFiles,
    AdversarialReport,
    DropStep,
    FeatureDrift,
    LeftOut,
    default_out_dir,
    plot,
    write_report,
)
from kit.validation.adversary import AdversaryClassifier, default_threads
from kit.validation.drift import (
    MAX_NATIVE_LEVELS,
    Matrix,
    auc,
    derived_from_time,
    encode,
    feature_drifts,
    ks_distance,
    tv_distance,
)

__all__ = ["AdversarialConfig", "AdversaryClassifier", "AdversarialReport", "FeatureDrift", "DropStep", "LeftOut",
           "AdversarialFiles", "run_adversarial", "adversarial_for", "adversarial_files", "read_frame",
           "write_report", "plot", "ks_distance", "tv_distance", "derived_from_time", "default_out_dir", "auc",
           "default_threads", "THRESHOLD", "MAX_NATIVE_LEVELS"]


@dataclass(frozen=True)
class AdversarialConfig:
    """How adversarial validation runs; `run_adversarial(train, test, **fields)` builds one.

    The features are the columns train and test share, minus `id_col`, `target_cols`, `drop`
    and (unless `keep_time`) `time_col` and the columns derived from it. Text and booleans
    are native LightGBM categoricals, dates are days since 1970.
    """

    #: the id column; dropped from the features, kept in the report's `scores` when train has it
    id_col: str | None = None
    #: the target column(s), dropped (a bare string is one column)
    target_cols: Sequence[str] = ()
    #: more columns to leave out (each must exist in train or test; a bare string is one column)
    drop: Sequence[str] = ()
    #: the date column of a forecasting competition (see the module docstring)
    time_col: str | None = None
    #: keep `time_col` and its derived columns as features
    keep_time: bool = False
    #: stratified folds (the same folds for every refit, so AUCs compare)
    n_folds: int = 5
    #: the classifier sees at most this many rows of each side (seeded sample); drift
    #: statistics and the test-like scores use every row
    max_rows: int = 200_000
    #: and at most this many rows of the larger side per row of the smaller (None: no cap).
    #: The AUC does not depend on the class balance and its precision is set by the smaller
    #: side, so more majority rows only cost time.
    max_ratio: float | None = 5.0
    #: AUC at or below which train and test count as alike
    threshold: float = THRESHOLD
    #: most refits of the drop loop (0: no loop)
    max_drop_steps: int = 10
    #: how many test-like train rows to mark (None: as many as the test has, at most a fifth of train)
    n_test_like: int | None = None
    #: LightGBM's boosting rounds, learning rate and leaves per tree
    n_estimators: int = 100
    learning_rate: float = 0.1
    num_leaves: int = 31
    #: LightGBM threads (None: half the cores this process may use, at least one). LightGBM's
    #: OpenMP threads spin while they wait, so when they outnumber the free cores it slows
    #: down many times over (10x measured on 2 shared cores).
    num_threads: int | None = None
    #: seeds the subsample, the folds and LightGBM
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("target_cols", "drop"):  # a bare string would match its substrings
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if not 0.5 <= self.threshold < 1:
            raise KitError(f"threshold is an AUC between 0.5 and 1, got {self.threshold}")
        if self.n_folds < 2:
            raise KitError(f"n_folds must be at least 2 for cross-validation, got {self.n_folds}")
        if self.max_ratio is not None and self.max_ratio < 1:
            raise KitError(f"max_ratio is the most rows of the larger side per row of the smaller, at least 1; "
                           f"got {self.max_ratio}")


# ----------------------------------------------------------------------------- the steps


def _check_columns(train: pl.DataFrame, test: pl.DataFrame, names: Sequence[str], what: str) -> None:
    unknown = [c for c in names if c not in train.columns and c not in test.columns]
    if unknown:
        shared = [c for c in train.columns if c in test.columns]
        raise KitError(f"{what} names {', '.join(map(repr, unknown))}, a column in neither train nor test; "
                       f"the shared columns are: {', '.join(shared) or '(none)'}")


def _check_inputs(train: pl.DataFrame, test: pl.DataFrame, cfg: AdversarialConfig) -> None:
    if not any(c in test.columns for c in train.columns):
        raise KitError(f"train and test share no column (train: {', '.join(train.columns)}; test: "
                       f"{', '.join(test.columns)}); pass two tables with the same columns, or check the "
                       "files' header and separator")
    if train.height == 0 or test.height == 0:
        raise KitError(f"adversarial validation needs rows on both sides; train has {train.height:,}, "
                       f"test has {test.height:,}")
    if min(train.height, test.height, cfg.max_rows) < cfg.n_folds:
        raise KitError(f"{cfg.n_folds}-fold cross-validation needs at least {cfg.n_folds} rows on each side; "
                       f"train has {train.height:,}, test {test.height:,}: use fewer folds")
    _check_columns(train, test, cfg.drop, "drop")
    _check_columns(train, test, cfg.target_cols, "target_cols")
    for name, col in (("id_col", cfg.id_col), ("time_col", cfg.time_col)):
        if col is not None:
            _check_columns(train, test, [col], name)


def _subsample(n: int, cap: int, gen: np.random.Generator) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(gen.choice(n, cap, replace=False))


def _sample_rows(n_train: int, n_test: int, cfg: AdversarialConfig) -> tuple[np.ndarray, np.ndarray]:
    """The train and test rows the classifier sees (seeded; all of them when under the caps)."""
    gen = np.random.default_rng(cfg.seed)
    cap_tr, cap_te = min(n_train, cfg.max_rows), min(n_test, cfg.max_rows)
    if cfg.max_ratio is not None:
        cap_tr, cap_te = (min(cap_tr, math.ceil(cfg.max_ratio * cap_te)),
                          min(cap_te, math.ceil(cfg.max_ratio * cap_tr)))
    return _subsample(n_train, cap_tr, gen), _subsample(n_test, cap_te, gen)


def _choose_columns(train: pl.DataFrame, test: pl.DataFrame, cfg: AdversarialConfig, tr_rows: np.ndarray,
                    te_rows: np.ndarray) -> tuple[list[str], list[LeftOut], list[str]]:
    """The columns to compare, those left out (with the reason), and notes about both."""
    shared = [c for c in train.columns if c in test.columns]
    left_out, notes = [], []
    only_train = [c for c in train.columns if c not in test.columns]
    only_test = [c for c in test.columns if c not in train.columns]
    if only_train or only_test:
        notes.append("only in train: " + (", ".join(only_train) or "-") + "; only in test: "
                     + (", ".join(only_test) or "-") + " (not compared)")
    for c in shared:
        if c == cfg.id_col:
            left_out.append(LeftOut(c, "id column"))
        elif c in cfg.target_cols:
            left_out.append(LeftOut(c, "target"))
        elif c in cfg.drop:
            left_out.append(LeftOut(c, "on request (drop)"))
    used = [c for c in shared if c not in {lo.column for lo in left_out}]
    if cfg.time_col is not None and cfg.time_col in used and not cfg.keep_time:
        sample = pl.concat([train.select(used)[tr_rows], test.select(used)[te_rows]], how="vertical_relaxed")
        derived = derived_from_time(sample, cfg.time_col, used)
        left_out.append(LeftOut(cfg.time_col, "time column"))
        left_out += [LeftOut(c, why) for c, why in derived.items()]
        gone = [cfg.time_col, *derived]
        notes.append(f"left out {', '.join(gone)}: the test is the future, so the date (and what is "
                     "computed from it) tells train from test on its own; keep_time / --keep-time keeps them")
        used = [c for c in used if c not in gone]
    if not used:
        raise KitError(f"no feature left to compare: every column train and test share was left out "
                       f"({', '.join(f'{lo.column}: {lo.reason}' for lo in left_out)}); drop fewer columns "
                       f"(train: {', '.join(train.columns)}; test: {', '.join(test.columns)})")
    return used, left_out, notes


@dataclass(frozen=True)
class _Fit:
    """One cross-validated fit of the classifier on some of the columns."""

    fold_aucs: tuple[float, ...]
    gain: np.ndarray  # per column fitted, summed over folds
    oof: np.ndarray  # out-of-fold test probability of every row
    models: tuple = field(repr=False)

    @property
    def auc_mean(self) -> float:
        return float(np.mean(self.fold_aucs))

    @property
    def auc_std(self) -> float:
        return float(np.std(self.fold_aucs))


def _fitter(X: np.ndarray, y: np.ndarray, mat: Matrix, cfg: AdversarialConfig) -> Callable[[list[int], str], _Fit]:
    """`fit(cols, desc)`: cross-validate the classifier on columns `cols` of X, on the same
    stratified folds every time (so the drop loop's AUCs compare), a progress bar per fit."""
    from kit.progress import bar
    from kit.runs.cv import cross_validate
    from kit.validation.splits import StratifiedKFold

    folds = list(StratifiedKFold(cfg.n_folds, random_state=cfg.seed).split(X, y))
    threads = cfg.num_threads if cfg.num_threads is not None else default_threads()

    def fit(cols: list[int], desc: str) -> _Fit:
        model = AdversaryClassifier(
            categorical=tuple(i for i, c in enumerate(cols) if mat.kinds[c] == "categorical"),
            n_estimators=cfg.n_estimators, learning_rate=cfg.learning_rate, num_leaves=cfg.num_leaves,
            num_threads=threads, seed=cfg.seed)
        with bar(total=len(folds), desc=desc, unit="fold") as b:
            cv = cross_validate(model, X[:, cols], y, folds, scorer=lambda t, p, w=None: auc(t, p),
                                log=lambda _line: b.update(1), name=desc, score_name="AUC")
        gain = np.sum([m.feature_importances_ for m in cv.models], axis=0)
        return _Fit(cv.fold_scores, gain, cv.oof, cv.models)

    return fit


def _drop_loop(fit: Callable[[list[int], str], _Fit], first: _Fit, mat: Matrix,
               cfg: AdversarialConfig) -> tuple[list[DropStep], list[int], str | None]:
    """Drop the feature the classifier leans on most, refit, repeat: the features dropped on the
    way are what makes the test different. Returns the steps, the columns left and a note."""
    from kit.progress import bar

    path: list[DropStep] = []
    cols, current = list(range(len(mat.names))), first
    with bar(total=cfg.max_drop_steps, desc="drop loop", unit="refit") as b:
        while current.auc_mean > cfg.threshold and len(path) < cfg.max_drop_steps and len(cols) > 1:
            top = cols[int(np.argmax(current.gain))]
            cols = [c for c in cols if c != top]
            current = fit(cols, f"without {mat.names[top]}")
            path.append(DropStep(mat.names[top], current.auc_mean, current.auc_std))
            b.update(1)
    note = None
    if first.auc_mean <= cfg.threshold:
        note = f"AUC {first.auc_mean:.3f} is at or below {cfg.threshold}: nothing to drop"
    elif path and path[-1].auc_mean <= cfg.threshold:
        note = (f"without {', '.join(s.dropped for s in path)} the AUC falls to "
                f"{path[-1].auc_mean:.3f}: these are the features to drop or transform")
    elif len(cols) == 1:
        last = path[-1].auc_mean if path else first.auc_mean
        note = (f"{mat.names[cols[0]]}, the last feature left, still separates train from test "
                f"(AUC {last:.3f}): drop or transform it too")
    elif cfg.max_drop_steps > 0:
        note = (f"after {len(path)} drops the AUC is still {path[-1].auc_mean:.3f}: the difference is "
                "spread over many features; validate on test-like rows (or raise --max-steps)")
    return path, cols, note


def _predict_mean(models: Sequence[AdversaryClassifier], X: np.ndarray) -> np.ndarray:
    """Mean test probability of `models`; rows that repeat are predicted once (Rossmann's 800k
    unseen train rows hold about 10k distinct feature rows, and prediction was most of the run)."""
    if len(X) > 10_000 and pl.from_numpy(X).n_unique() < len(X) // 2:
        uniq, inverse = np.unique(X, axis=0, return_inverse=True)
        return np.mean([m.predict_proba(uniq)[:, 1] for m in models], axis=0)[inverse.ravel()]
    return np.mean([m.predict_proba(X)[:, 1] for m in models], axis=0)


def _test_like(train: pl.DataFrame, n_test: int, mat: Matrix, tr_rows: np.ndarray, first: _Fit,
               cfg: AdversarialConfig) -> tuple[np.ndarray, pl.DataFrame]:
    """The most test-like train rows (read-only, most test-like first) and every train row's score.

    Every train row gets an out-of-sample score: out-of-fold where the classifier saw it,
    the fold models' mean where it was left out of the subsample."""
    score = np.empty(train.height)
    score[tr_rows] = first.oof[:len(tr_rows)]
    unseen = np.setdiff1d(np.arange(train.height), tr_rows, assume_unique=True)
    if len(unseen):
        score[unseen] = _predict_mean(first.models, mat.train[unseen])
    k = cfg.n_test_like if cfg.n_test_like is not None else max(1, min(n_test, train.height // 5))
    k = int(min(max(k, 0), train.height))
    test_like = np.argsort(-score, kind="stable")[:k]
    cols_out = {"row": pl.Series("row", np.arange(train.height), dtype=pl.Int64)}
    for c in (cfg.id_col, cfg.time_col):
        if c is not None and c in train.columns:
            cols_out[c] = train[c]
    mask = np.zeros(train.height, dtype=bool)
    mask[test_like] = True
    scores = (pl.DataFrame(cols_out)
              .with_columns(adversarial_score=pl.Series(score), test_like=pl.Series(mask))
              .sort(["adversarial_score", "row"], descending=[True, False]))
    test_like.setflags(write=False)
    return test_like, scores


# ----------------------------------------------------------------------------- entry points


def _config(config: AdversarialConfig | None, options: dict) -> AdversarialConfig:
    known = [f.name for f in dataclasses.fields(AdversarialConfig)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"run_adversarial got unknown option(s) {', '.join(map(repr, unknown))}; "
                        f"the options are: {', '.join(known)}")
    return dataclasses.replace(config or AdversarialConfig(), **options)


def run_adversarial(train: pl.DataFrame, test: pl.DataFrame, config: AdversarialConfig | None = None,
                    **options) -> AdversarialReport:
    """Train a LightGBM classifier to tell `train` rows from `test` rows and report what differs.

    Args:
        train, test: the two tables (not modified).
        config: how to run (default AdversarialConfig()); `options` are AdversarialConfig
            fields that override it: `run_adversarial(train, test, id_col="id", n_folds=3)`.
    """
    cfg = _config(config, options)
    _check_inputs(train, test, cfg)
    tr_rows, te_rows = _sample_rows(train.height, test.height, cfg)
    used, left_out, notes = _choose_columns(train, test, cfg, tr_rows, te_rows)
    mat, skipped = encode(train, test, used)
    left_out += skipped
    if not mat.names:
        raise KitError("none of the shared columns is numeric, text, boolean or a date: "
                       + ", ".join(f"{lo.column} ({lo.reason})" for lo in skipped))
    n_tr, n_te = len(tr_rows), len(te_rows)
    X = np.concatenate([mat.train[tr_rows], mat.test[te_rows]])
    y = np.concatenate([np.zeros(n_tr, np.int64), np.ones(n_te, np.int64)])
    fit = _fitter(X, y, mat, cfg)
    first = fit(list(range(len(mat.names))), "adversarial fit")
    path, _, note = _drop_loop(fit, first, mat, cfg)
    if note is not None:
        notes.append(note)
    test_like, scores = _test_like(train, test.height, mat, tr_rows, first, cfg)
    return AdversarialReport(
        auc_mean=first.auc_mean, auc_std=first.auc_std, fold_aucs=first.fold_aucs,
        features=tuple(feature_drifts(mat, first.gain)), drop_path=tuple(path), left_out=tuple(left_out),
        notes=tuple(notes), test_like_rows=test_like, scores=scores, n_train=train.height, n_test=test.height,
        n_train_used=n_tr, n_test_used=n_te, n_folds=cfg.n_folds, threshold=cfg.threshold, seed=cfg.seed,
        id_column=cfg.id_col if cfg.id_col in train.columns else None,
        time_column=cfg.time_col if cfg.time_col in train.columns else None)


def recent_rows(train: pl.DataFrame | pl.LazyFrame, time_col: str, days: int):
    """The rows of `train` in its last `days` days (by `time_col`), lazily where it is lazy."""
    lf = train.lazy()
    last = lf.select(pl.col(time_col).max()).collect().item()
    out = lf.filter(pl.col(time_col) > pl.lit(last) - pl.duration(days=days))
    return out if isinstance(train, pl.LazyFrame) else out.collect()


def adversarial_for(spec, folder: str | os.PathLike, config: AdversarialConfig | None = None, *,
                    recent_days: int | None = None, **options) -> AdversarialReport:
    """Adversarial validation of a competition's train and test tables (typed, cached).

    `recent_days`: compare the test with the train rows of the last that many days only (the
    validation windows of a forecasting competition) instead of all of train.

    `spec` is a CompetitionSpec (or a Competition). Without a `config`, the spec names the id,
    target and time columns; `options` are AdversarialConfig fields, as for `run_adversarial`.
    """
    from kit.data.tables import read_table

    spec = getattr(spec, "spec", spec)
    train = read_table(spec, spec.train, Path(folder))
    if recent_days is not None:
        if not spec.time_column:
            raise KitError(f"{spec.name}'s test is not a later period: it has no recent train days to compare; "
                           "leave out --horizon")
        train = recent_rows(train, spec.time_column, recent_days)
    test = read_table(spec, spec.test, Path(folder))
    if config is None:
        options.setdefault("id_col", spec.id_column)
        options.setdefault("target_cols", spec.target_columns)
        options.setdefault("time_col", spec.time_column)
    return run_adversarial(train, test, config, **options)


def read_frame(path: str | os.PathLike) -> pl.DataFrame:
    """A CSV or Parquet file as a frame, ISO dates parsed; a KitError if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path} does not exist or is not a file; give the path of a CSV or Parquet table")
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, try_parse_dates=True, infer_schema_length=100_000)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        raise KitError(f"cannot read {path} as a table: {str(err).splitlines()[0]}") from err


def adversarial_files(train_path: str | os.PathLike, test_path: str | os.PathLike,
                      config: AdversarialConfig | None = None, **options) -> AdversarialReport:
    """Adversarial validation of any two table files (CSV or Parquet); options as `run_adversarial`."""
    return run_adversarial(read_frame(train_path), read_frame(test_path), config, **options)
