"""`kit run`: data (a twin when the folder has none) -> adversarial check -> the competition's
default models on shared folds -> blend -> a checked submission -> its offline score."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from kit.data.cache import require_writable
from kit.data.cache import runs_dir as default_runs
from kit.errors import KitError
from kit.metrics import METRICS, score_interval
from kit.runs.artifacts import RunResult
from kit.runs.blend import blend_runs
from kit.runs.folds import load_folds, plan_validation
from kit.runs.train import train
from kit.spec import Competition

__all__ = ["StepTime", "RunSummary", "run_all"]


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
    #: the expected test score (the final model's mean over folds) and an 80% interval for one more
    #: window or fold like them (kit.metrics.score_interval; None with one fold)
    expected: float | None = None
    expected_range: tuple[float, float] | None = None
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
        if self.expected is not None:
            spread = ("one fold: no spread to give" if self.expected_range is None else
                      "80% range {:.5f}..{:.5f} from the fold scores' spread".format(*self.expected_range))
            lines.append(f"expected test {self.metric.upper()}: {self.expected:.5f} ({spread}; "
                         "every choice scored out of sample)")
        if self.public is not None:
            lines.append(f"hidden solution: public {self.public:.5f}  private {self.private:.5f}"
                         + (f"   constant baseline: public {self.baseline_public:.5f}  "
                            f"private {self.baseline_private:.5f}" if self.baseline_public is not None else ""))
        return "\n".join(lines)


def _ensure_data(comp: Competition, folder: Path, size: str, seed: int, log) -> StepTime | None:
    """Write the twin when `folder` has no train file; refuse a folder that holds other data."""
    from kit.synth import generate
    from kit.synth.core import MARKER

    spec = comp.spec
    if (folder / spec.train).exists():
        return None
    others = [p.name for p in folder.iterdir() if p.name != "runs"] if folder.exists() else []
    if others and not (folder / MARKER).exists():
        raise KitError(f"{folder} holds files ({', '.join(sorted(others)[:4])}{', ...' if len(others) > 4 else ''}) "
                       f"but no {spec.train}; finish the download with `kit download {spec.name} --data-dir "
                       f"{folder}`, or point --data-dir at an empty folder to run on a twin")
    require_writable(folder, f"the {size} twin of {spec.name}",
                     f"pass --data-dir with a writable folder (e.g. --data-dir ./data/{spec.name}) to run on "
                     f"a twin, or put the competition's files in {folder}")
    t = time.perf_counter()
    log(f"no {spec.train} in {folder}: writing the {size} twin (seed {seed})")
    generate(comp, folder, size=size, seed=seed)
    return StepTime("generate twin", time.perf_counter() - t, note=size)


def _adversarial_step(comp: Competition, folder: Path, runs_dir: Path, seed: int, threads: int | None,
                      log, horizon: int | None = None) -> StepTime:
    """A quick adversarial validation of the raw train and test files (recent train only for
    forecasting competitions, so huge files stay cheap); skipped for image competitions."""
    from kit.data.tables import scan_table
    from kit.validation.adversarial import AdversarialConfig, recent_rows, run_adversarial, write_report

    spec = comp.spec
    if spec.task == "multilabel":
        log("adversarial: skipped; it compares table columns and this competition's inputs are images")
        return StepTime("adversarial", 0.0, note="skipped: images")
    t = time.perf_counter()
    train = scan_table(spec, spec.train, folder)
    horizon = horizon or spec.horizon_days
    if spec.time_column and horizon:
        train = recent_rows(train, spec.time_column, 4 * horizon + 1)
    test = scan_table(spec, spec.test, folder).collect()
    # a quick look, not the full `kit adversarial`: fewer folds, rows, refits and rounds
    config = AdversarialConfig(id_col=spec.id_column, target_cols=spec.target_columns, time_col=spec.time_column,
                               n_folds=3, max_rows=50_000, max_drop_steps=1, n_estimators=60,
                               num_threads=threads, seed=seed)
    report = run_adversarial(train.collect(), test, config)
    write_report(report, runs_dir / "adversarial")
    top = ", ".join(f.name for f in report.features[:3])
    log(f"adversarial: train vs test AUC {report.auc_mean:.3f} ± {report.auc_std:.3f}; top drifters {top} "
        f"(report in {runs_dir / 'adversarial'})")
    return StepTime("adversarial", time.perf_counter() - t,
                    note=f"AUC {report.auc_mean:.3f}; leans on {report.top_drifter}")


def _offline_scores(comp: Competition, folder: Path, submission: Path) -> dict:
    """Public and private scores of the submission and of the constant baseline, on a twin."""
    from kit import baseline
    from kit.submission import SOLUTION, score

    if not (folder / SOLUTION).exists():
        return {}
    s = score(comp.spec, submission, folder)
    b = score(comp.spec, baseline.submission(comp.spec, folder), folder)
    return dict(public=s.public, private=s.private, baseline_public=b.public, baseline_private=b.private)


def run_all(comp: Competition, folder: str | os.PathLike, *, size: str = "small", seed: int = 0,
            models: Sequence[str] | None = None, runs_dir: str | os.PathLike | None = None,
            submission: str | os.PathLike | None = None, threads: int | None = None,
            adversarial: bool = True, params: dict[str, dict] | None = None, horizon: int | None = None,
            gap: int | None = None, n_folds: int | None = None, drop: Sequence[str] = (), log=print) -> RunSummary:
    """Data (a twin made when the folder has none) -> adversarial check -> the competition's
    default models -> blend -> a checked submission -> its offline score where answers exist.

    `params` overrides hyperparameters per model: {"lgbm": {"n_estimators": 50}}; `horizon`,
    `gap` and `n_folds` override the validation plan (kit.runs.plan_validation); `drop` leaves
    feature columns out of every model (kit.features.drop_features).
    """
    from kit.features import default_models, drop_features, prepare
    from kit.submission import write_submission

    spec = comp.spec
    folder = Path(folder)
    names = list(models) if models else list(default_models(comp))
    unused = sorted(set(params or {}) - set(names))
    if unused:
        raise KitError(f"--param names {', '.join(unused)}, which this run does not train ({', '.join(names)})")
    steps = [s for s in [_ensure_data(comp, folder, size, seed, log)] if s is not None]
    from kit.data.schema import require

    require(spec, folder)  # every required file there before minutes of work
    runs_dir = default_runs(folder, runs_dir)  # ./runs/<name> for a read-only data folder
    plan = plan_validation(comp, folder, horizon=horizon, gap=gap, n_folds=n_folds)
    if adversarial:
        steps.append(_adversarial_step(comp, folder, runs_dir, seed, threads, log, plan.horizon_days))
    t = time.perf_counter()
    prepared = drop_features(prepare(comp, folder, seed=seed), drop)
    folds = load_folds(comp, prepared, runs_dir, seed=seed, plan=plan)
    log(f"features: {prepared.n_rows:,} training rows, {len(prepared.X_test):,} test rows; "
        f"{len(folds)} fold(s) ({folds.scheme})")
    for note in (*folds.notes, *prepared.notes):
        log(f"  {note}")
    steps.append(StepTime("features + folds", time.perf_counter() - t,
                          note=f"{prepared.n_rows:,} rows, {len(folds)} fold(s)"))
    results: list[RunResult] = []
    for name in names:
        log(f"training {name} ...")
        r = train(comp, prepared, folds, name, runs_dir / name, params=(params or {}).get(name), seed=seed,
                  threads=threads, log=log)
        results.append(r)
        steps.append(StepTime(name, r.seconds, r.score))
    final = results[0]
    if len(results) > 1:
        final = blend_runs(comp, prepared, [r.path for r in results], runs_dir / "blend", log=log)
        steps.append(StepTime("blend", final.seconds, final.score,
                              note=", ".join(f"{k} {v:.2f}" for k, v in final.params["weights"].items())))
    out = Path(submission) if submission else runs_dir / "submission.csv"
    t = time.perf_counter()
    write_submission(spec, folder, prepared, final.test, out, final.thresholds)
    steps.append(StepTime("submission", time.perf_counter() - t, note="checked like kit submit"))
    return RunSummary(competition=spec.name, metric=spec.metric, steps=tuple(steps), submission=out,
                      best=final.name, expected=final.score,
                      expected_range=score_interval(final.fold_scores,
                                                    greater_is_better=METRICS[spec.metric].greater_is_better),
                      **_offline_scores(comp, folder, out))
