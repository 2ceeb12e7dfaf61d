"""Where a study lives, and opening it: the journal file in the runs folder, or an RDB server.

- By default a journal file, `<runs>/tune/<study>.journal` (Optuna's JournalStorage: several
  processes on one machine may share it).
- `postgresql://...` uses Optuna's RDB storage with heartbeats, for workers on many machines.
- SQLite is refused for parallel workers: it locks.

The journal file's lock (kit.tune.journal_lock) is one the system drops when its holder dies, so
a `kill -9` never leaves a rerun waiting on it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.spec import Competition
from kit.tune.journal_lock import JournalLock
from kit.tune.recovery import MAX_RETRY

__all__ = ["WARMUP", "default_study_name", "journal_path", "quiet_optuna", "make_storage", "redact",
           "maximizes", "make_sampler", "open_study"]

#: pruning waits this many reported steps: epochs for the networks; for LightGBM steps of
#: boosting work (kit.tune.objective.WORK_STEP of rounds x learning rate: 40 steps are 400 rounds
#: at rate 0.05, 2,000 at 0.01), so a low rate is not pruned before it has moved as far as a high
#: one. Rossmann's trials stop early after 15-50 of work (rounds x rate); at 5 (10 steps) the
#: low rates were still behind and 13 of 20 trials were pruned, the best trial's rate among them
WARMUP = {"lgbm": 40, "nn": 2, "cnn": 2}
#: a step's median needs this many complete trials that reached it
MIN_TRIALS = 3


def default_study_name(comp: Competition, model: str) -> str:
    return f"{comp.spec.name}-{model}"


def journal_path(runs_dir: str | os.PathLike, study: str) -> Path:
    return Path(runs_dir) / "tune" / f"{study}.journal"


def quiet_optuna() -> None:
    """Optuna's own log lines and experimental-feature warnings off: kit says a line per trial,
    and a failed trial's warning would print the traceback of a Ctrl-C or SIGTERM that kit says
    in one line (an error in a trial still reaches kit's own handling: trials run with catch=())."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # PartialFixedSampler warns at every trial; kit.tune.spaces.check_fixed says it once
    warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range")


def make_storage(url: str | None, runs_dir: str | os.PathLike, study: str, *, workers: int = 1,
                 heartbeat: int = 30):
    """The study's storage: the journal file in the runs folder (url None), or an RDB URL.

    PostgreSQL (and MySQL) get heartbeats every `heartbeat` seconds with a grace period of
    twice that, after which a silent worker's trial is failed and queued again.
    """
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    quiet_optuna()
    if url is None:
        path = journal_path(runs_dir, study)
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalLock(path)))
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite"):
        if workers > 1:
            raise KitError("SQLite locks when several workers write at once; leave out --storage for the "
                           "local journal file (many workers on one machine), or use --storage postgresql://...")
    elif not scheme.startswith(("postgresql", "postgres", "mysql")):
        raise KitError(f"--storage {scheme}://... is not supported; use postgresql://USER:PASSWORD@HOST/DB "
                       "(or leave it out for a study file in the runs folder)")
    if heartbeat < 1:
        raise KitError(f"--heartbeat must be at least 1 second, got {heartbeat}")
    if url.lower().startswith(("postgresql://", "postgres://")):  # the driver kit depends on: psycopg 3
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        return RDBStorage(url, engine_kwargs={"pool_pre_ping": True}, heartbeat_interval=heartbeat,
                          grace_period=2 * heartbeat,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))
    except Exception as err:  # sqlalchemy's OperationalError and friends: say which database
        raise KitError(f"cannot open the study database {redact(url)}: {str(err).splitlines()[0]}; is the "
                       "server running and the database created (createdb)?") from None


def redact(url: str) -> str:
    """The URL without its password, for messages.

    >>> redact("postgresql://kit:secret@db:5432/kit")
    'postgresql://kit:***@db:5432/kit'
    """
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
    return url


def maximizes(comp: Competition) -> bool:
    """Whether the competition's metric is better higher (the study's direction)."""
    from kit.metrics import METRICS

    return METRICS[comp.spec.metric].greater_is_better


def make_sampler(seed: int, fixed: Mapping[str, Any] | None = None):
    """A seeded TPE sampler; with `fixed`, wrapped in Optuna's PartialFixedSampler so those
    names return their fixed value instead of being searched."""
    import optuna

    tpe = optuna.samplers.TPESampler(seed=seed, n_startup_trials=8)
    if not fixed:
        return tpe
    with warnings.catch_warnings():  # "experimental" since Optuna 2.4, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.PartialFixedSampler(dict(fixed), tpe)


def open_study(comp: Competition, model: str, runs_dir: str | os.PathLike, *, storage: str | None = None,
               study: str | None = None, workers: int = 1, heartbeat: int = 30, seed: int = 0,
               create: bool = True, fixed: Mapping[str, Any] | None = None):
    """The study of `model` (created when missing, unless `create` is False: then a missing
    study is a KitError), its sampler seeded and with the `fixed` hyperparameters not searched."""
    import optuna

    name = study or default_study_name(comp, model)
    if not create and storage is None and not journal_path(runs_dir, name).exists():
        raise _no_study(comp, model, runs_dir, storage, name)  # without leaving an empty journal behind
    st = make_storage(storage, runs_dir, name, workers=workers, heartbeat=heartbeat)
    direction = "maximize" if maximizes(comp) else "minimize"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=WARMUP.get(model, 0),
                                         n_min_trials=MIN_TRIALS)
    if not create:
        try:
            return optuna.load_study(study_name=name, storage=st, sampler=make_sampler(seed), pruner=pruner)
        except KeyError:
            raise _no_study(comp, model, runs_dir, storage, name) from None
    try:
        s = optuna.create_study(study_name=name, storage=st, sampler=make_sampler(seed), pruner=pruner,
                                direction=direction, load_if_exists=True)
    except optuna.exceptions.DuplicatedStudyError:  # another process created it at the same moment
        s = optuna.load_study(study_name=name, storage=st, sampler=make_sampler(seed), pruner=pruner)
    # a resumed study reseeds by its trial count: the same seed again would replay the random
    # start; a fresh study with the same seed still draws the same trials
    s.sampler = make_sampler(seed + 7919 * len(s.get_trials(deepcopy=False)), fixed)
    if s.direction.name.lower() != direction:
        raise KitError(f"study {name!r} was made to {s.direction.name.lower()}, but {comp.spec.metric} needs "
                       f"{direction}; pick another --study name")
    s.set_user_attr("competition", comp.spec.name)
    s.set_user_attr("model", model)
    s.set_user_attr("metric", comp.spec.metric)
    return s


def _no_study(comp: Competition, model: str, runs_dir, storage: str | None, name: str) -> KitError:
    where = redact(storage) if storage else journal_path(runs_dir, name)
    return KitError(f"no study {name!r} in {where}; run `kit tune {comp.spec.name} --model {model}` first "
                    "(with the same --storage/--study)")
