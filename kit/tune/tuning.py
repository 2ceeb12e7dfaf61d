"""`tune`: run (or continue) a model's study on a competition's data, with one or many workers."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from kit.errors import KitError
from kit.spec import Competition
from kit.tune.best import record_best
from kit.tune.plots import plot_study
from kit.tune.spaces import SPACES, check_fixed
from kit.tune.storage import default_study_name, journal_path, redact
from kit.tune.workers import Budget, TuneJob, run_workers, work

__all__ = ["TuneResult", "tune"]


@dataclass(frozen=True)
class TuneResult:
    """Where a study stands after a `tune` call."""

    #: the study's name, and where it lives (the journal file, or the URL without its password)
    study: str
    storage: str
    #: the study's trials by state, all commands together
    complete: int
    pruned: int
    failed: int
    #: the best trial's value, model parameters and number (None before any trial completes)
    best_value: float | None
    best_params: dict | None
    best_trial: int | None
    #: trials finished (complete or pruned) by this call's workers
    finished_here: int
    #: the pictures written (history.png, importance.png)
    plots: tuple[Path, ...]
    seconds: float

    def table(self, metric: str) -> str:
        lines = [f"study {self.study} ({self.storage}): {self.complete} complete, {self.pruned} pruned, "
                 f"{self.failed} failed; {self.finished_here} finished by this command in {self.seconds:.0f}s"]
        if self.best_value is not None:
            lines.append(f"best: trial {self.best_trial}, {metric.upper()} {self.best_value:.5f}")
            lines += [f"  {k} = {v}" for k, v in (self.best_params or {}).items()]
        lines += [f"plot: {p}" for p in self.plots]
        return "\n".join(lines)


def _check(comp: Competition, folder: Path, model: str, trials: int | None, timeout: float | None,
           workers: int) -> None:
    spec = comp.spec
    if model not in SPACES:
        raise KitError(f"no search space for model {model!r}; tunable models: {', '.join(SPACES)}")
    if trials is None and timeout is None:
        raise KitError("give --trials N or --timeout SECONDS (or both), or the study would never stop")
    if trials is not None and trials < 1:
        raise KitError(f"--trials must be at least 1, got {trials}; give the trials to run, e.g. --trials 20")
    if timeout is not None and not timeout > 0:
        raise KitError(f"--timeout must be a positive number of seconds, got {timeout:g}; e.g. --timeout 3600, "
                       "or leave it out and give --trials")
    if workers < 1:
        raise KitError(f"--workers must be at least 1, got {workers}; e.g. --workers 2 (one per core or two)")
    if not (folder / spec.train).exists():
        raise KitError(f"no {spec.train} in {folder}: run `kit generate {spec.name}` (a twin) or "
                       f"`kit download {spec.name}` first")
    if spec.task == "multilabel" and model != "cnn":
        raise KitError(f"{spec.name} trains on images: tune the cnn")


def _counts(s) -> dict[str, int]:
    from optuna.trial import TrialState

    return {st.name: len(s.get_trials(deepcopy=False, states=(st,)))
            for st in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}


def tune(comp: Competition, folder: str | os.PathLike, model: str, *, trials: int | None = 20,
         timeout: float | None = None, storage: str | None = None, study: str | None = None, workers: int = 1,
         seed: int = 0, threads: int | None = None, heartbeat: int = 30, runs_dir: str | os.PathLike | None = None,
         params: dict | None = None, plan=None, log=print) -> TuneResult:
    """Run (or continue) the study of `model` on the competition's data in `folder`.

    `trials`: how many trials this call finishes (complete or pruned), shared by `workers`
    processes; None runs until `timeout` seconds. `params` fixes hyperparameters outside the
    search (on top of the competition's defaults). `plan` is the validation plan
    (kit.runs.plan_validation; default: from the data).
    """
    from kit.data import cache
    from kit.features import prepare
    from kit.runs import load_folds, plan_validation

    folder = Path(folder)
    _check(comp, folder, model, trials, timeout, workers)
    fixed = dict(params or {})
    notes = check_fixed(model, fixed)
    t0 = time.time()
    job = TuneJob(competition=comp.spec.name, data_dir=folder,
                  runs_dir=cache.runs_dir(folder, runs_dir), model=model,
                  study=study or default_study_name(comp, model), storage=storage, seed=seed,
                  threads=threads if threads is not None else max(1, (os.cpu_count() or 1) // workers),
                  heartbeat=heartbeat, fixed=fixed, deadline=None if timeout is None else t0 + timeout,
                  workers=workers, plan=plan or plan_validation(comp, folder))
    s = job.open_study(comp)
    before = _counts(s)
    for note in notes:
        log(note)
    log(f"study {s.study_name}: {before['COMPLETE'] + before['PRUNED']} finished trial(s) so far; "
        f"{'until ' + str(timeout) + ' s' if trials is None else str(trials) + ' more'} with {workers} worker(s), "
        f"{job.threads} thread(s) each")
    # the folds are computed once here, so the workers share them rather than compute them each
    prepared = prepare(comp, folder, seed=seed)
    folds = load_folds(comp, prepared, job.runs_dir, seed=seed, plan=job.plan)
    if workers == 1:
        work(job, 0, Budget(trials), log, data=(prepared, folds))
    else:
        run_workers(job, trials, s, log)
    out_dir = job.runs_dir / "tune" / s.study_name
    record_best(s, out_dir)
    plots = plot_study(s, out_dir, comp.spec.metric)
    after = _counts(s)
    best = s.best_trial if after["COMPLETE"] else None
    return TuneResult(
        study=s.study_name, storage=redact(storage) if storage else str(journal_path(job.runs_dir, s.study_name)),
        complete=after["COMPLETE"], pruned=after["PRUNED"], failed=after["FAIL"],
        best_value=None if best is None else best.value,
        best_params=None if best is None else best.user_attrs.get("params"),
        best_trial=None if best is None else best.number,
        finished_here=after["COMPLETE"] + after["PRUNED"] - before["COMPLETE"] - before["PRUNED"], plots=plots,
        seconds=time.time() - t0)
