"""Hyperparameter tuning with Optuna that survives crashes and scales out to many workers.

    result = kit.tune.tune(comp, folder, "lgbm", trials=40, workers=2)
    params = kit.tune.best_params(comp, "lgbm", folder / "runs")    # what --params best uses

One module per concern:

    spaces.py     one search space per model (SPACES), drawn on top of the competition's
                  defaults; values fixed with --param are not searched (PartialFixedSampler)
    storage.py    the journal file in the runs folder, or PostgreSQL with heartbeats; open_study
                  (a seeded TPE sampler: worker k samples with seed + k, so parallel workers do
                  not propose the same first trials; a median pruner)
    objective.py  the competition's metric out of fold on the shared folds; pruning reports
                  (LightGBM in steps of boosting work, rounds x rate); a line per ~10 s of a trial
    journal_lock.py  the journal file's lock, which a killed worker cannot leave behind
    recovery.py   a trial left RUNNING by a dead worker is failed and queued again
    workers.py    TuneJob (what each worker gets), the shared trial budget, the worker processes;
                  SIGTERM takes Ctrl-C's path (the trial in flight failed and queued again)
    best.py       the best trial's parameters, stored with the study; --params best
    plots.py      history.png and importance.png
    tuning.py     tune(): the `kit tune` command's work, and its TuneResult

The study is rerun-safe: rerunning a command continues the same study, `trials` is the exact
number of trials a command finishes, and a killed worker's trial is run again.
"""

from kit.tune.best import best_params, best_params_for, record_best
from kit.tune.objective import REPORT_EVERY, WORK_STEP, Reporter, objective
from kit.tune.plots import plot_study
from kit.tune.recovery import MAX_RETRY, fail_dead_trials
from kit.tune.spaces import SPACES, check_fixed, space_cnn, space_lgbm, space_nn, space_rf
from kit.tune.storage import WARMUP, default_study_name, journal_path, make_storage, open_study, quiet_optuna
from kit.tune.tuning import TuneResult, tune
from kit.tune.workers import Interrupted, TuneJob

__all__ = [
    "SPACES", "space_lgbm", "space_rf", "space_nn", "space_cnn", "check_fixed", "REPORT_EVERY", "WORK_STEP", "WARMUP",
    "MAX_RETRY", "Reporter", "objective", "default_study_name", "journal_path", "make_storage", "open_study",
    "quiet_optuna", "fail_dead_trials", "record_best", "best_params", "best_params_for", "plot_study",
    "TuneJob", "TuneResult", "tune", "Interrupted",
]
