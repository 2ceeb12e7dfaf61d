"""The validation-strategy study: which validation scheme ranks models the way the test does?

It automates what the fast.ai course does by hand: build a handful of deliberately different
models (algorithms, feature sets, capacities), score each under each validation scheme
(random K-fold, time holdout, walk-forward, the most test-like training rows from
adversarial validation) and on the test, and report for each scheme how well its scores
track the test scores (Spearman and Kendall rank correlation, and the mean gap).

On a twin the test is scored on the hidden solution; on real data, where the test answers
are unknown, a pseudo-test is held out of the training data first (its last horizon for
forecasting competitions, a random fifth otherwise) and kept away from everything else.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from kit import progress
from kit.atomic import write_atomic, write_json
from kit.data.tables import join_lookups, read_table
from kit.errors import KitError
from kit.metrics import METRICS
from kit.spec import CompetitionSpec
from kit.submission import SOLUTION

LOG_TARGET = ("rmsle", "nwrmsle", "rmspe")


@dataclass(frozen=True)
class Candidate:
    """One model in the study: an algorithm, its capacity and the features it sees."""

    name: str
    model: str
    params: dict
    #: "all", "no_time" (no date parts or time column) or "no_cat" (continuous columns only)
    features: str = "all"
    description: str = ""


def default_candidates(threads: int = 1) -> tuple[Candidate, ...]:
    """Six models chosen to disagree: capacities, algorithms and feature sets all differ."""
    lgbm = dict(learning_rate=0.1, early_stopping_rounds=None, n_jobs=threads)
    return (
        Candidate("lgbm_big", "lgbm", {**lgbm, "n_estimators": 300, "num_leaves": 127, "min_child_samples": 5},
                  description="high-capacity boosting, every feature"),
        Candidate("lgbm_small", "lgbm", {**lgbm, "n_estimators": 40, "num_leaves": 7},
                  description="low-capacity boosting"),
        Candidate("lgbm_no_time", "lgbm", {**lgbm, "n_estimators": 200, "num_leaves": 31}, features="no_time",
                  description="boosting without date features"),
        Candidate("lgbm_no_cat", "lgbm", {**lgbm, "n_estimators": 200, "num_leaves": 31}, features="no_cat",
                  description="boosting on continuous columns only"),
        Candidate("rf_deep", "rf", {"n_estimators": 40, "min_samples_leaf": 1, "max_features": 0.5,
                                    "n_jobs": threads},
                  description="deep random forest (memorises neighbours)"),
        Candidate("ridge", "ridge", {"alpha": 1.0}, description="linear model on processed columns"),
    )


@dataclass(frozen=True)
class StudyData:
    """The frames a study runs on."""

    train: pl.DataFrame
    test: pl.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    #: True when the test is a pseudo-test held out of train (real data, no solution)
    pseudo_test: bool
    #: the validation windows' length and gap: the real test's (kit.runs.plan_validation)
    horizon_days: int | None = None
    gap_days: int = 0


@dataclass(frozen=True)
class SchemeResult:
    """How one validation scheme tracked the test across the candidates."""

    scheme: str
    scores: tuple[float, ...]
    spearman: float
    kendall: float
    #: mean of (validation score - test score); negative = optimistic for error metrics
    mean_gap: float
    mean_abs_gap: float


@dataclass(frozen=True)
class StudyReport:
    competition: str
    metric: str
    candidates: tuple[str, ...]
    test_scores: tuple[float, ...]
    schemes: tuple[SchemeResult, ...]
    pseudo_test: bool
    seconds: float
    notes: tuple[str, ...] = field(default=())

    def scheme(self, name: str) -> SchemeResult:
        return next(s for s in self.schemes if s.scheme == name)

    def table(self) -> pl.DataFrame:
        """Scores: one row per candidate, one column per scheme, plus the test."""
        cols = {"model": list(self.candidates)}
        for s in self.schemes:
            cols[s.scheme] = list(s.scores)
        cols["test"] = list(self.test_scores)
        return pl.DataFrame(cols)

    def summary(self) -> str:
        lines = [f"{self.competition}: {self.metric.upper()} of {len(self.candidates)} models under each scheme "
                 f"and on the {'pseudo-' if self.pseudo_test else ''}test"]
        t = self.table()
        names = [c for c in t.columns if c != "model"]
        lines.append("  " + "model".ljust(14) + "".join(n.rjust(14) for n in names))
        for row in t.iter_rows():
            lines.append("  " + row[0].ljust(14) + "".join(f"{v:14.4f}" for v in row[1:]))
        lines.append("")
        lines.append("  scheme          spearman   kendall   mean gap   |gap|   (correlation with the test: higher is better)")
        for s in sorted(self.schemes, key=lambda s: -s.spearman):
            lines.append(f"  {s.scheme:<14}{s.spearman:10.3f}{s.kendall:10.3f}{s.mean_gap:11.4f}{s.mean_abs_gap:8.4f}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"competition": self.competition, "metric": self.metric, "pseudo_test": self.pseudo_test,
                "seconds": self.seconds, "notes": list(self.notes),
                "scores": self.table().to_dicts(),
                "schemes": [{"scheme": s.scheme, "spearman": s.spearman, "kendall": s.kendall,
                             "mean_gap": s.mean_gap, "mean_abs_gap": s.mean_abs_gap} for s in self.schemes]}


# --------------------------------------------------------------------------- data


def load(spec: CompetitionSpec, folder: str | os.PathLike, *, seed: int = 0, horizon: int | None = None,
         gap: int | None = None) -> StudyData:
    """Train and test frames for the study, with the test's answers (or a pseudo-test).

    The features are exactly the columns the real test file has (a pseudo-test cut from train
    keeps none of train's extra columns, Rossmann's Customers say), and a pseudo-test is as long
    as the real test and as far after its training days."""
    from kit.runs import plan_validation
    from kit.spec import get

    folder = Path(folder)
    plan = plan_validation(get(spec.name), folder, horizon=horizon, gap=gap)
    if spec.task == "multilabel":
        raise KitError(f"the validation study works on tables; {spec.name} is an image competition "
                       "(use its CNN's validation folds instead)")
    target = spec.target_columns[0]
    train = join_lookups(spec, folder, read_table(spec, spec.train, folder))
    test = join_lookups(spec, folder, read_table(spec, spec.test, folder))
    test_columns = set(test.columns)
    solution = folder / SOLUTION
    if solution.exists():
        answers = pl.read_csv(solution, infer_schema_length=0).select(
            pl.col(spec.submission.id_column).alias("_id"), pl.col(spec.submission.value_column).cast(pl.Float64).alias("_y"))
        test = test.with_columns(pl.col(spec.id_column).cast(pl.String).alias("_id")).join(
            answers, on="_id", how="inner", maintain_order="left").drop("_id")
        y_test = test["_y"].to_numpy()
        test = test.drop("_y")
        pseudo = False
    else:
        train, test = _pseudo_test(spec, train, seed, plan.horizon_days, plan.gap_days)
        y_test = test[target].cast(pl.Float64).to_numpy()
        pseudo = True
    keep = [c for c in train.columns if c in test_columns or c == target]
    train = train.select(keep)
    if spec.metric == "rmspe":  # rows with no sales do not count; they only teach the model zeros
        train = train.filter(pl.col(target) > 0)
    y_train = train[target].cast(pl.Float64).to_numpy()
    test = test.select([c for c in keep if c != target])
    return StudyData(train=train, test=test, y_train=y_train, y_test=y_test, pseudo_test=pseudo,
                     horizon_days=plan.horizon_days, gap_days=plan.gap_days)


def _pseudo_test(spec: CompetitionSpec, train: pl.DataFrame, seed: int, horizon: int | None,
                 gap: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The last `horizon` days of train as the test, `gap` days before them left out (time-based);
    else a seeded random fifth."""
    if spec.time_column and horizon:
        last = train[spec.time_column].max()
        cut = pl.lit(last).cast(pl.Date) - pl.duration(days=horizon - 1)
        day = pl.col(spec.time_column).cast(pl.Date)
        return train.filter(day < cut - pl.duration(days=gap)), train.filter(day >= cut)
    mask = np.random.default_rng(seed).random(train.height) < 0.2
    s = pl.Series(mask)
    return train.filter(~s), train.filter(s)


# --------------------------------------------------------------------------- fitting


def _columns(data: StudyData, spec: CompetitionSpec, features: str) -> list[str]:
    target = spec.target_columns[0]
    cols = [c for c in data.train.columns if c not in (target, spec.id_column)]
    if features == "no_time" and spec.time_column:
        cols = [c for c in cols if c != spec.time_column]
    if features == "no_cat":
        cols = [c for c in cols if data.train.schema[c].is_numeric() and c != spec.time_column]
    return cols


class _CandidateModel(BaseEstimator):
    """A candidate as one scikit-learn estimator: kit.tabular.TabularProcessor fitted on the
    training rows, then the model on the processed columns; new rows are transformed by the
    same processor at predict time (so every fold fits its own processor, as a test would).

    Args:
        model: "ridge" (Ridge, or LogisticRegression with C = 1 / alpha for binary targets) or a
            kit model name for kit.models.make_model.
        params: the model's hyperparameters.
        task: the competition's task ("regression" or "binary").
        columns: the columns of X to use.
        date_names: the date columns among them (expanded into date parts).
        log_target: fit on log1p(y) and predict expm1 of the model's output (clipped at 0).
    """

    def __init__(self, model: str = "lgbm", params: dict | None = None, task: str = "regression",
                 columns: tuple[str, ...] = (), date_names: tuple[str, ...] = (), log_target: bool = False) -> None:
        self.model = model
        self.params = params
        self.task = task
        self.columns = columns
        self.date_names = date_names
        self.log_target = log_target

    def fit(self, X: pl.DataFrame, y: np.ndarray) -> _CandidateModel:
        from kit.tabular import TabularProcessor

        params = dict(self.params or {})
        self.processor_ = TabularProcessor(date_names=list(self.date_names),
                                           normalize=self.model in ("ridge", "nn"))
        tr = self.processor_.fit_transform(X.select(list(self.columns)))
        y = np.asarray(y, np.float64)
        target = np.log1p(np.clip(y, 0, None)) if self.log_target else y
        if self.model == "ridge":
            from sklearn.linear_model import LogisticRegression, Ridge

            model = (LogisticRegression(C=1.0 / params.get("alpha", 1.0), max_iter=300)
                     if self.task == "binary" else Ridge(**params))
            self.model_ = model.fit(self._matrix(tr), target)
        else:
            from kit.models import categorical_for, make_model

            cats = categorical_for(self.model, tr.cat_names, tr.ordered_names)
            self.model_ = make_model(self.model, self.task, cat_features=cats, **params)
            self.model_.fit(tr.frame, target)
        return self

    def _matrix(self, processed):
        return processed.frame.to_numpy().astype(np.float64) if self.model == "ridge" else processed.frame

    def _features(self, X: pl.DataFrame):
        return self._matrix(self.processor_.transform(X.select(list(self.columns))))


class _CandidateRegressor(RegressorMixin, _CandidateModel):
    def predict(self, X: pl.DataFrame) -> np.ndarray:
        pred = np.asarray(self.model_.predict(self._features(X)), dtype=np.float64).reshape(-1)
        return np.clip(np.expm1(pred), 0, None) if self.log_target else pred


class _CandidateClassifier(ClassifierMixin, _CandidateModel):
    def fit(self, X: pl.DataFrame, y: np.ndarray) -> _CandidateClassifier:
        super().fit(X, y)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pl.DataFrame) -> np.ndarray:
        p = np.asarray(self.model_.predict_proba(self._features(X)), np.float64).reshape(len(X), -1)[:, -1]
        return np.column_stack([1 - p, p])

    def predict(self, X: pl.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)


def _estimator(cand: Candidate, spec: CompetitionSpec, data: StudyData) -> _CandidateModel:
    cols = _columns(data, spec, cand.features)
    cls = _CandidateClassifier if spec.task == "binary" else _CandidateRegressor
    return cls(model=cand.model, params=dict(cand.params), task=spec.task, columns=tuple(cols),
               date_names=(spec.time_column,) if spec.time_column in cols else (),
               log_target=spec.metric in LOG_TARGET)


def schemes(spec: CompetitionSpec, data: StudyData, *, n_folds: int = 3, seed: int = 0,
            adversarial_rows: np.ndarray | None = None) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The validation schemes to compare, as lists of (train_idx, valid_idx)."""
    from kit.validation.splits import KFold, StratifiedKFold, TimeHoldout, WalkForward

    out: dict[str, list] = {}
    if spec.task == "binary":
        out["random_kfold"] = list(StratifiedKFold(n_folds, random_state=seed).split(data.train, data.y_train))
    else:
        out["random_kfold"] = list(KFold(n_folds, random_state=seed).split(data.train))
    horizon = data.horizon_days or spec.horizon_days
    if spec.time_column and horizon:
        out["time_holdout"] = list(TimeHoldout(spec.time_column, horizon, data.gap_days).split(data.train))
        out["walk_forward"] = list(WalkForward(spec.time_column, n_folds, horizon, data.gap_days).split(data.train))
    if adversarial_rows is not None and len(adversarial_rows):
        valid = np.sort(adversarial_rows)
        train = np.setdiff1d(np.arange(data.train.height), valid)
        out["adversarial"] = [(train, valid)]
    return out


def _score_candidates(spec: CompetitionSpec, data: StudyData, candidates: tuple[Candidate, ...],
                      plans: dict[str, list]) -> tuple[dict[str, list[float]], list[float]]:
    """Each candidate's mean fold score under each scheme, and its score on the test (one fit
    on every training row)."""
    from sklearn.base import clone

    from kit.runs.cv import cross_validate, predict

    metric = METRICS[spec.metric]
    val_scores: dict[str, list[float]] = {name: [] for name in plans}
    test_scores = []
    total = len(candidates) * (1 + sum(len(v) for v in plans.values()))
    with progress.bar(total=total, desc="study fits", unit="fit") as bar:
        for cand in candidates:
            estimator = _estimator(cand, spec, data)
            for name, folds in plans.items():
                cv = cross_validate(estimator, data.train, data.y_train, folds,
                                    scorer=lambda t, p, w=None: metric(t, p), log=lambda _line: bar.update(1))
                val_scores[name].append(float(np.mean(cv.fold_scores)))
            model = clone(estimator).fit(data.train, data.y_train)
            test_scores.append(metric(data.y_test, predict(model, data.test)))
            bar.update(1)
    return val_scores, test_scores


def run_study(spec: CompetitionSpec, folder: str | os.PathLike, *, candidates: tuple[Candidate, ...] | None = None,
              n_folds: int = 3, seed: int = 0, threads: int = 1, adversarial: bool = True,
              horizon: int | None = None, gap: int | None = None) -> StudyReport:
    """Score every candidate under every scheme and on the test; correlate the two. Time
    windows are as long as the test (`horizon`, `gap` override)."""
    from scipy.stats import kendalltau, spearmanr

    t0 = time.perf_counter()
    data = load(spec, folder, seed=seed, horizon=horizon, gap=gap)
    candidates = candidates or default_candidates(threads)
    notes: list[str] = []
    adv_rows = None
    if adversarial:
        from kit.validation.adversarial import run_adversarial

        n_valid = max(1, min(len(data.test), data.train.height // 5))
        target = spec.target_columns[0]
        report = run_adversarial(data.train.drop(target), data.test,
                                 time_col=spec.time_column, n_test_like=n_valid, num_threads=threads,
                                 max_drop_steps=0, seed=seed)
        adv_rows = report.test_like_rows
        notes.append(f"adversarial AUC {report.auc_mean:.3f}; its {len(adv_rows):,} most test-like train rows "
                     "form the 'adversarial' validation set")
    plans = schemes(spec, data, n_folds=n_folds, seed=seed, adversarial_rows=adv_rows)
    val_scores, test_scores = _score_candidates(spec, data, candidates, plans)
    test_arr = np.array(test_scores)
    results = []
    for name, scores in val_scores.items():
        s = np.array(scores)
        rho = float(spearmanr(s, test_arr).statistic)
        tau = float(kendalltau(s, test_arr).statistic)
        results.append(SchemeResult(name, tuple(scores), rho, tau, float(np.mean(s - test_arr)),
                                    float(np.mean(np.abs(s - test_arr)))))
    return StudyReport(competition=spec.name, metric=spec.metric, candidates=tuple(c.name for c in candidates),
                       test_scores=tuple(test_scores), schemes=tuple(results), pseudo_test=data.pseudo_test,
                       seconds=time.perf_counter() - t0, notes=tuple(notes))


# --------------------------------------------------------------------------- output


def plot(report: StudyReport, path: str | os.PathLike) -> Path:
    """Validation score against test score, one panel per scheme, with the y = x line."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no backend to pick

    k = len(report.schemes)
    fig = Figure(figsize=(4.2 * k, 4.2))
    axes = fig.subplots(1, k, squeeze=False)
    test = np.array(report.test_scores)
    for ax, s in zip(axes[0], report.schemes):
        v = np.array(s.scores)
        ax.scatter(v, test, s=30)
        for name, x, y in zip(report.candidates, v, test):
            ax.annotate(name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        lo, hi = float(min(v.min(), test.min())), float(max(v.max(), test.max()))
        pad = (hi - lo) * 0.08 or 0.01
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=0.8, ls="--")
        if lo > 0 and hi / lo > 3:  # one weak model would squeeze the others into a corner
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(f"{s.scheme}\nSpearman {s.spearman:.2f}, Kendall {s.kendall:.2f}", fontsize=10)
        ax.set_xlabel(f"validation {report.metric.upper()}")
        ax.set_ylabel(f"{'pseudo-' if report.pseudo_test else ''}test {report.metric.upper()}")
    fig.suptitle(f"{report.competition}: does the validation score rank models like the test?")
    fig.tight_layout()
    return write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))


def write_report(report: StudyReport, out_dir: str | os.PathLike) -> tuple[Path, Path, Path]:
    """study.png, study.json and study.csv (the score table), written atomically."""
    out = Path(out_dir)
    png = plot(report, out / "study.png")
    js = write_json(out / "study.json", report.to_dict(), indent=1)
    csv = write_atomic(out / "study.csv", lambda tmp: report.table().write_csv(tmp))
    return png, js, csv
