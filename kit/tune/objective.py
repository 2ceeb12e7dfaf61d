"""The objective: the competition's metric out of fold, on the same folds `kit train` uses
(`kit.runs.load_folds`), so a tuned value is the value a run with those parameters scores.

Pruning: LightGBM reports its validation loss after each `WORK_STEP` of boosting work (rounds
times the learning rate), the networks after each epoch, both on the first fold (the only fold
of the time-based competitions), through the models' fit callbacks (kit.models.FitProgress) to
the study's median pruner. Measured in work, a trial at rate 0.01 is compared at round 500 with
one at rate 0.1 at round 50: both have moved their predictions as far, where counting rounds
pruned every low rate at round 50. Values are signed to the study's direction.

Each trial says where it is about every 10 s (kit.progress.FitLog) in the worker's log.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kit.errors import KitError
from kit.progress import FitLog
from kit.spec import Competition
from kit.tune.recovery import owner
from kit.tune.spaces import SPACES
from kit.tune.storage import maximizes

__all__ = ["REPORT_EVERY", "WORK_STEP", "Reporter", "TrialData", "objective", "jsonable"]

#: without a learning rate, LightGBM reports to the study every this many rounds (each report is
#: a write to the storage; every round would be thousands per trial)
REPORT_EVERY = 10
#: with a learning rate, a report per this much boosting work (rounds x rate): every 10 rounds
#: at rate 0.05, every 50 at 0.01; the steps the study sees count these
WORK_STEP = 0.5


class Reporter:
    """A fit callback that reports the validation loss to the trial and prunes.

    With `rate` (LightGBM's learning rate) rounds are reported as steps of boosting work
    (`WORK_STEP`), so trials of any rate are compared at the same distance travelled."""

    def __init__(self, trial, maximize: bool, rate: float | None = None):
        self.trial = trial
        self.maximize = maximize
        self.rate = rate if rate is not None and rate > 0 else None
        self.last = 0
        self.where = ""

    def report(self, value: float, step: int, lower_is_better: bool = True) -> None:
        """Report `value` at `step`, signed to the study's direction; raise TrialPruned when the
        pruner says so, or when the value is not finite (a diverged fit)."""
        import optuna

        if not math.isfinite(value):
            raise optuna.TrialPruned(f"validation loss {value} at step {step}")
        # pruners read intermediate values in the study's direction
        signed = -value if self.maximize == lower_is_better else value
        self.trial.report(signed, step)
        if self.trial.should_prune():
            where = self.where or f"step {step}"
            self.trial.set_user_attr("pruned_at", where)  # what the worker's line says
            raise optuna.TrialPruned(f"pruned at {where}")

    def __call__(self, progress) -> None:
        """A kit.models.FitProgress from the model's fit: LightGBM's rounds as steps of work
        (or every REPORT_EVERY rounds without a rate), the networks' epochs each."""
        if progress.valid_loss is None:
            return
        step = progress.step
        if progress.unit == "round":
            if self.rate is None:
                if step % REPORT_EVERY:
                    return
            else:
                step = int(progress.step * self.rate / WORK_STEP + 1e-9)
                if step <= self.last:
                    return
                self.last = step
        self.where = f"{progress.unit} {progress.step}"
        self.report(float(progress.valid_loss), step, lower_is_better=not progress.higher_is_better)


def jsonable(params: dict) -> dict:
    """Tuples as lists, so the parameters can be stored as a trial's user attribute."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


@dataclass(frozen=True, eq=False)
class TrialData:
    """What every trial of one worker scores on."""

    comp: Competition
    #: the competition's prepared features (kit.features.prepare)
    prepared: Any
    #: its shared folds (kit.runs.load_folds)
    folds: Any
    model: str
    seed: int
    #: threads per model fit (None: the model's default)
    threads: int | None
    #: hyperparameters fixed outside the search (--param); they win over the drawn ones
    fixed: dict = field(default_factory=dict)
    #: where a running trial says where it is (about every 10 s); None: silent
    log: Callable[[str], Any] | None = None
    #: the worker's number, for those lines
    worker: int = 0


def _silent(*args, **kwargs) -> None:
    """A log that drops its lines: a trial's fold lines would drown the workers' one line per trial."""


def objective(data: TrialData, trial) -> float:
    """The competition's metric out of fold for the trial's parameters."""
    from kit.runs import fit_folds, model_params, oof_score

    trial.set_user_attr("worker", owner())
    # the study's PartialFixedSampler returns the fixed values of searched names; the fixed names
    # the space does not search reach the model here
    params = {**SPACES[data.model](trial), **data.fixed}
    resolved = model_params(data.comp, data.model, params, threads=data.threads)
    trial.set_user_attr("params", jsonable({k: v for k, v in resolved.items() if k != "n_jobs"}))
    rate = resolved.get("learning_rate") if data.model == "lgbm" else None
    reporter = Reporter(trial, maximizes(data.comp), rate=rate)

    def callbacks(k: int) -> list:
        return [reporter] if k == 0 else []

    progress = FitLog(f"worker {data.worker}: trial {trial.number}", data.log) if data.log else None
    cv = fit_folds(data.comp, data.prepared, data.folds, data.model, resolved, seed=data.seed,
                   threads=data.threads, callbacks=callbacks, log=_silent, progress=progress)
    score, fold_scores, _ = oof_score(data.comp, data.prepared, data.folds, cv, log=_silent)
    trial.set_user_attr("fold_scores", [float(s) for s in fold_scores])
    best = getattr(cv.models[0], "best_iteration_", None)
    if best is not None and np.ndim(best) == 0:
        trial.set_user_attr("best_iteration", int(best))
    if not math.isfinite(score):
        raise KitError(f"trial {trial.number} scored {score}")
    return float(score)
