"""Hyperparameter tuning with Optuna that survives crashes and scales out to many workers.

The objective is the competition's metric, out of fold, on the same folds `kit train` uses
(`runs.load_folds`), so a tuned value is the value a run with those parameters scores.

- One search space per model (`SPACES`), drawn on top of the competition's defaults
  (`competitions/<name>/features.py` MODELS); a seeded TPE sampler (worker k of a study
  samples with seed + k, so parallel workers do not propose the same first trials).
- Pruning: LightGBM reports the validation loss every `REPORT_EVERY` rounds through a LightGBM
  callback, the networks report it after each epoch; both on the first fold (the only fold of
  the time-based competitions) to a median pruner. Values are signed to the study's direction.
- Storage: by default a journal file, `<runs>/tune/<study>.journal` (Optuna's JournalStorage:
  several processes on one machine may share it). `--storage postgresql://...` uses Optuna's
  RDB storage with heartbeats, for workers on many machines. SQLite is refused for parallel
  workers: it locks.
- Crashes: every trial records the host and process that runs it. A trial left RUNNING by a
  process that is gone is marked FAIL and queued again with the same parameters
  (`RetryHeartbeatStaleTrialCallback`): by the parent of `--workers` the moment a child dies,
  by any worker on the same host when it starts, and on PostgreSQL by the heartbeat of any
  worker anywhere once the dead one's heartbeat is older than the grace period.
- Budget: `trials` is the number of trials this command finishes (complete or pruned), shared
  by its workers through a counter; a killed worker's trial goes back to the budget, so the
  count is exact. Rerunning the command continues the same study.
- The best trial's model parameters are stored with the study (user attribute `best_params`)
  and in `<runs>/tune/<study>/best_params.json`; `kit train/run --params best` read the study.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kit.errors import KitError
from kit.spec import Competition

#: LightGBM reports its validation loss to the study every this many rounds (each report is a
#: write to the storage; every round would be thousands per trial)
REPORT_EVERY = 10

#: pruning waits this many reported steps (rounds for LightGBM, epochs for the networks)
WARMUP = {"lgbm": 50, "nn": 2, "cnn": 2}

#: a trial left RUNNING by a dead worker is queued again at most this many times
MAX_RETRY = 3


# --------------------------------------------------------------------------- search spaces


def space_lgbm(trial) -> dict:
    """Leaves, rate, leaf size, row and column sampling, L2 and categorical smoothing; the
    round count is left to early stopping."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 7, 255, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 500, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
    }


def space_rf(trial) -> dict:
    """Features per split and leaf size (fast.ai's two knobs); tree count and row sampling stay."""
    return {
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True),
    }


def space_nn(trial) -> dict:
    """Two hidden layers (width, half width), their dropout, embedding dropout, rate, decay."""
    width = trial.suggest_int("width", 64, 1024, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    return {
        "layers": (width, max(8, width // 2)),
        "dropout": (dropout, dropout),
        "emb_dropout": trial.suggest_float("emb_dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 0.3, log=True),
    }


def space_cnn(trial) -> dict:
    """Width of the ResNet, rate and decay; image size and epochs stay (they set the cost)."""
    return {
        "width": trial.suggest_categorical("width", [16, 24, 32]),
        "lr": trial.suggest_float("lr", 1e-3, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 0.1, log=True),
    }


SPACES: dict[str, Callable[[Any], dict]] = {"lgbm": space_lgbm, "rf": space_rf, "nn": space_nn, "cnn": space_cnn}


# --------------------------------------------------------------------------- storage


def default_study_name(comp: Competition, model: str) -> str:
    return f"{comp.spec.name}-{model}"


def journal_path(runs_dir: Path, study: str) -> Path:
    return Path(runs_dir) / "tune" / f"{study}.journal"


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_storage(url: str | None, runs_dir: Path, study: str, *, workers: int = 1, heartbeat: int = 30):
    """The study's storage: the journal file in the runs folder (url None), or an RDB URL.

    PostgreSQL (and MySQL) get heartbeats every `heartbeat` seconds with a grace period of
    twice that, after which a silent worker's trial is failed and queued again.
    """
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    _quiet_optuna()
    if url is None:
        path = journal_path(runs_dir, study)
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
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
        raise KitError(f"cannot open the study database {_redact(url)}: {str(err).splitlines()[0]}; is the "
                       "server running and the database created (createdb)?") from None


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
    return url


# --------------------------------------------------------------------------- dead workers


def _host() -> str:
    """This worker's machine: KIT_TUNE_HOST when set (containers that share a hostname), else
    the hostname. Workers judge a trial's process only on their own host; elsewhere the
    database's heartbeats decide."""
    return os.environ.get("KIT_TUNE_HOST") or socket.gethostname()


def _me() -> dict:
    import psutil

    pid = os.getpid()
    return {"host": _host(), "pid": pid, "started": psutil.Process(pid).create_time()}


def _alive(owner: dict) -> bool:
    """Whether the process `owner` (host, pid, start time) is still running; True when it runs
    on another host (only its heartbeat can tell)."""
    import psutil

    if owner.get("host") != _host():
        return True
    try:
        proc = psutil.Process(int(owner["pid"]))
        return abs(proc.create_time() - float(owner["started"])) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, KeyError, ValueError):
        return False


def fail_dead_trials(study, pids: set[int] | None = None) -> list[int]:
    """Mark FAIL every RUNNING trial whose worker process on this host is gone (or, with `pids`,
    is one of those), and queue each again with the same parameters. Returns their numbers."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    failed = []
    retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get("worker")
        if owner is None:
            continue
        dead = (int(owner.get("pid", -1)) in pids and owner.get("host") == _host()) if pids else not _alive(owner)
        if not dead:
            continue
        try:
            ok = study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except Exception:  # another worker got there first (the trial is finished already)
            continue
        if ok is False:
            continue
        retry(study, study._storage.get_trial(t._trial_id))
        failed.append(t.number)
    return failed


# --------------------------------------------------------------------------- objective


class _Reporter:
    """Reports a validation loss to the trial and prunes; used as a LightGBM callback (env)
    and as the networks' epoch callback (epoch, train_loss, valid_loss)."""

    def __init__(self, trial, maximize: bool):
        self.trial = trial
        self.maximize = maximize

    def _report(self, value: float, step: int, lower_is_better: bool = True) -> None:
        import optuna

        if not math.isfinite(value):
            raise optuna.TrialPruned(f"validation loss {value} at step {step}")
        # pruners read intermediate values in the study's direction
        signed = -value if self.maximize == lower_is_better else value
        self.trial.report(signed, step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}")

    def __call__(self, progress) -> None:
        """A kit.models.FitProgress from the model's fit: LightGBM's rounds are reported every
        REPORT_EVERY, the networks' epochs each."""
        if progress.valid_loss is None or (progress.unit == "round" and progress.step % REPORT_EVERY):
            return
        self._report(float(progress.valid_loss), progress.step, lower_is_better=not progress.higher_is_better)


class _FixedFirst:
    """The trial, except that a parameter the user fixed (--param) is not searched."""

    def __init__(self, trial, fixed: dict):
        self._trial, self._fixed = trial, fixed

    def __getattr__(self, name):
        attr = getattr(self._trial, name)
        if not name.startswith("suggest_"):
            return attr

        def suggest(param, *args, **kwargs):
            return self._fixed[param] if param in self._fixed else attr(param, *args, **kwargs)

        return suggest


def _jsonable(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


@dataclass
class _Context:
    comp: Competition
    prepared: Any
    folds: Any
    model: str
    seed: int
    threads: int | None
    fixed: dict


def objective(ctx: _Context, trial) -> float:
    """The competition's metric out of fold for the trial's parameters."""
    from kit.runs import fit_folds, model_params, oof_score

    trial.set_user_attr("worker", _me())
    drawn = SPACES[ctx.model](_FixedFirst(trial, ctx.fixed))
    params = {**drawn, **ctx.fixed}
    resolved = model_params(ctx.comp, ctx.model, params, threads=ctx.threads)
    trial.set_user_attr("params", _jsonable({k: v for k, v in resolved.items() if k != "n_jobs"}))
    reporter = _Reporter(trial, _greater(ctx.comp))

    def callbacks(k: int) -> list:
        return [reporter] if k == 0 else []

    cv = fit_folds(ctx.comp, ctx.prepared, ctx.folds, ctx.model, resolved, seed=ctx.seed,
                   threads=ctx.threads, callbacks=callbacks, log=lambda *a, **k: None)
    score, fold_scores, _ = oof_score(ctx.comp, ctx.prepared, ctx.folds, cv, log=lambda *a, **k: None)
    trial.set_user_attr("fold_scores", [float(s) for s in fold_scores])
    best = getattr(cv.models[0], "best_iteration_", None)
    if best is not None and np.ndim(best) == 0:
        trial.set_user_attr("best_iteration", int(best))
    if not math.isfinite(score):
        raise KitError(f"trial {trial.number} scored {score}")
    return float(score)


def _greater(comp: Competition) -> bool:
    from kit.metrics import METRICS

    return METRICS[comp.spec.metric].greater_is_better


# --------------------------------------------------------------------------- the study


@dataclass(frozen=True)
class TuneResult:
    study: str
    storage: str
    complete: int
    pruned: int
    failed: int
    best_value: float | None
    best_params: dict | None
    best_trial: int | None
    finished_here: int
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


def open_study(comp: Competition, model: str, runs_dir: Path, *, storage: str | None = None,
               study: str | None = None, workers: int = 1, heartbeat: int = 30, seed: int = 0,
               create: bool = True):
    import optuna

    name = study or default_study_name(comp, model)
    st = make_storage(storage, runs_dir, name, workers=workers, heartbeat=heartbeat)
    direction = "maximize" if _greater(comp) else "minimize"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=WARMUP.get(model, 0))
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=8)
    if not create:
        try:
            return optuna.load_study(study_name=name, storage=st, sampler=sampler, pruner=pruner)
        except KeyError:
            where = storage and _redact(storage) or journal_path(runs_dir, name)
            raise KitError(f"no study {name!r} in {where}; run `kit tune {comp.spec.name} --model {model}` first "
                           "(with the same --storage/--study)") from None
    s = optuna.create_study(study_name=name, storage=st, sampler=sampler, pruner=pruner, direction=direction,
                            load_if_exists=True)
    # a resumed study reseeds by its trial count: the same seed again would replay the random
    # start; a fresh study with the same seed still draws the same trials
    s.sampler = optuna.samplers.TPESampler(seed=seed + 7919 * len(s.get_trials(deepcopy=False)), n_startup_trials=8)
    if s.direction.name.lower() != direction:
        raise KitError(f"study {name!r} was made to {s.direction.name.lower()}, but {comp.spec.metric} needs "
                       f"{direction}; pick another --study name")
    s.set_user_attr("competition", comp.spec.name)
    s.set_user_attr("model", model)
    s.set_user_attr("metric", comp.spec.metric)
    return s


def best_params(comp: Competition, model: str, runs_dir: Path, *, storage: str | None = None,
                study: str | None = None) -> dict:
    """The model parameters of the study's best trial (what `--params best` uses)."""
    s = open_study(comp, model, runs_dir, storage=storage, study=study, create=False)
    stored = s.user_attrs.get("best_params")
    if stored is None:
        raise KitError(f"study {s.study_name!r} has no finished trial yet; run `kit tune {comp.spec.name} "
                       f"--model {model}` until one completes")
    if s.user_attrs.get("model", model) != model:
        raise KitError(f"study {s.study_name!r} tunes {s.user_attrs['model']}, not {model}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()}


def _record_best(s, out_dir: Path | None) -> float | None:
    """Store the best trial's parameters with the study (and in out_dir/best_params.json);
    returns its value, None before any trial completes."""
    from optuna.trial import TrialState

    done = s.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return None
    best = s.best_trial
    s.set_user_attr("best_params", best.user_attrs.get("params", {}))
    s.set_user_attr("best_value", best.value)
    s.set_user_attr("best_trial", best.number)
    if out_dir is not None:
        from kit.atomic import write_json

        write_json(out_dir / "best_params.json", {"study": s.study_name, "trial": best.number, "value": best.value,
                                                    "params": best.user_attrs.get("params", {})})
    return best.value


class _Budget:
    """Trials left to finish, shared by the workers of one command (a counter in shared memory,
    or a plain int for one worker). `in_flight` is 1 while this worker runs a trial it took a
    ticket for: when the worker dies, the parent gives that ticket back."""

    def __init__(self, n: int | None, shared=None, in_flight=None):
        self.shared = shared
        self.n = n
        self.in_flight = in_flight

    def take(self) -> bool:
        if self.shared is None:
            if self.n is None:
                return True
            if self.n <= 0:
                return False
            self.n -= 1
            return True
        with self.shared.get_lock():
            if self.shared.value <= 0:
                return False
            self.shared.value -= 1
            if self.in_flight is not None:
                self.in_flight.value = 1
            return True

    def done(self) -> None:
        if self.in_flight is not None:
            self.in_flight.value = 0

    def give_back(self, k: int = 1) -> None:
        if self.shared is None:
            if self.n is not None:
                self.n += k
        else:
            with self.shared.get_lock():
                self.shared.value += k


def _work(comp_name: str, folder: str, runs_dir: str, model: str, budget: _Budget, deadline: float | None,
          storage: str | None, study: str | None, worker: int, seed: int, threads: int | None,
          heartbeat: int, fixed: dict, log, data: tuple | None = None) -> int:
    """One worker: open the study, take trials from the budget until it or the time runs out.

    `data` is (prepared, folds) when the caller has them already (one worker in-process)."""
    from kit.features import prepare
    from kit.runs import load_folds
    from kit.spec import get

    comp = get(comp_name)
    s = open_study(comp, model, Path(runs_dir), storage=storage, study=study, heartbeat=heartbeat,
                   seed=seed + worker)
    if data is None:
        prepared = prepare(comp, folder, seed=seed)
        data = prepared, load_folds(comp, prepared, Path(runs_dir), seed=seed)
    prepared, folds = data
    ctx = _Context(comp, prepared, folds, model, seed, threads, fixed)
    metric = comp.spec.metric.upper()
    finished = 0
    while (deadline is None or time.time() < deadline) and budget.take():
        revived = fail_dead_trials(s)  # same host: a dead process is seen at once, no heartbeat needed
        if revived:
            log(f"worker {worker}: trial(s) {', '.join(map(str, revived))} were left running by a dead worker: "
                "marked failed and queued again")
        try:
            s.optimize(lambda t: objective(ctx, t), n_trials=1, catch=())
        except KeyboardInterrupt:  # Ctrl-C: fail the trial in flight (if Optuna did not) and queue it again
            queued = fail_dead_trials(s, {os.getpid()})
            t = _last_own_trial(s)
            if not queued and t is not None and t.state.name == "FAIL" and not any(
                    x.system_attrs.get("failed_trial") == t.number for x in s.get_trials(deepcopy=False)):
                from optuna.storages import RetryHeartbeatStaleTrialCallback

                RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(s, t)
                queued = [t.number]
            if queued:
                log(f"worker {worker}: interrupted; trial {queued[0]} marked failed and queued for the next run")
            raise
        budget.done()
        t = _last_own_trial(s)
        state = t.state.name.lower() if t is not None else "?"
        if t is not None and t.state.name in ("COMPLETE", "PRUNED"):
            finished += 1
        if t is not None and t.state.name == "PRUNED":
            unit = "round" if model == "lgbm" else "epoch"
            value = f"pruned at {unit} {max(t.intermediate_values, default=0)}"
        elif t is not None and t.state.name == "COMPLETE":
            value = f"{metric} {t.value:.5f}"
        else:
            value = state
        best = _record_best(s, None)  # stored with the study as it goes: a killed run keeps its best
        retry = " (retry of trial " + str(t.system_attrs["failed_trial"]) + ")" if t is not None and \
            "failed_trial" in t.system_attrs else ""
        log(f"worker {worker}: trial {t.number if t is not None else '?'}{retry} {value}"
            f"{'' if best is None else f'  [best {best:.5f}]'}")
    return finished


def _last_own_trial(s):
    pid = os.getpid()
    own = [t for t in s.get_trials(deepcopy=False)
           if t.user_attrs.get("worker", {}).get("pid") == pid and t.state.is_finished()]
    return max(own, key=lambda t: t.datetime_complete or t.datetime_start) if own else None


def _child(args: tuple, shared, in_flight) -> None:
    (comp_name, folder, runs_dir, model, deadline, storage, study, worker, seed, threads, heartbeat, fixed) = args
    os.environ["KIT_PROGRESS"] = "0"  # several workers' bars on one terminal are noise; each logs its trials
    try:
        _work(comp_name, folder, runs_dir, model, _Budget(None, shared, in_flight), deadline, storage, study, worker, seed,
              threads, heartbeat, fixed, log=lambda m: print(m, flush=True))
    except KitError as err:
        print(f"worker {worker}: error: {err}", flush=True)
        raise SystemExit(2) from None


def tune(comp: Competition, folder: str | os.PathLike, model: str, *, trials: int | None = 20,
         timeout: float | None = None, storage: str | None = None, study: str | None = None, workers: int = 1,
         seed: int = 0, threads: int | None = None, heartbeat: int = 30, runs_dir: str | os.PathLike | None = None,
         params: dict | None = None, log=print) -> TuneResult:
    """Run (or continue) the study of `model` on the competition's data in `folder`.

    `trials`: how many trials this call finishes (complete or pruned), shared by `workers`
    processes; None runs until `timeout` seconds. `params` fixes hyperparameters outside the
    search (on top of the competition's defaults).
    """
    from optuna.trial import TrialState

    if model not in SPACES:
        raise KitError(f"no search space for model {model!r}; tunable models: {', '.join(SPACES)}")
    if trials is None and timeout is None:
        raise KitError("give --trials N or --timeout SECONDS (or both), or the study would never stop")
    if trials is not None and trials < 1:
        raise KitError(f"--trials must be at least 1, got {trials}")
    if workers < 1:
        raise KitError(f"--workers must be at least 1, got {workers}")
    spec = comp.spec
    folder = Path(folder)
    if not (folder / spec.train).exists():
        raise KitError(f"no {spec.train} in {folder}: run `kit generate {spec.name}` (a twin) or "
                       f"`kit download {spec.name}` first")
    runs_dir = Path(runs_dir) if runs_dir else folder / "runs"
    if spec.task == "multilabel" and model != "cnn":
        raise KitError(f"{spec.name} trains on images: tune the cnn")
    fixed = dict(params or {})
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
    t0 = time.time()
    deadline = None if timeout is None else t0 + timeout
    s = open_study(comp, model, runs_dir, storage=storage, study=study, workers=workers, heartbeat=heartbeat,
                   seed=seed)
    before = {st: len(s.get_trials(deepcopy=False, states=(st,))) for st in (TrialState.COMPLETE, TrialState.PRUNED)}
    log(f"study {s.study_name}: {sum(before.values())} finished trial(s) so far; "
        f"{'until ' + str(timeout) + ' s' if trials is None else str(trials) + ' more'} with {workers} worker(s), "
        f"{threads} thread(s) each")
    # the folds are computed once here, so the workers share them rather than race to write them
    from kit.features import prepare
    from kit.runs import load_folds

    prepared = prepare(comp, folder, seed=seed)
    folds = load_folds(comp, prepared, runs_dir, seed=seed)
    if workers == 1:
        _work(spec.name, str(folder), str(runs_dir), model, _Budget(trials), deadline, storage, study, 0, seed,
              threads, heartbeat, fixed, log, data=(prepared, folds))
    else:
        _run_workers(spec.name, folder, runs_dir, model, trials, deadline, storage, study, workers, seed, threads,
                     heartbeat, fixed, s, log)
    out_dir = runs_dir / "tune" / s.study_name
    _record_best(s, out_dir)
    plots = plot_study(s, out_dir, spec.metric)
    counts = {st: len(s.get_trials(deepcopy=False, states=(st,)))
              for st in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    finished_here = counts[TrialState.COMPLETE] + counts[TrialState.PRUNED] - sum(before.values())
    has_best = counts[TrialState.COMPLETE] > 0
    return TuneResult(
        study=s.study_name, storage=_redact(storage) if storage else str(journal_path(runs_dir, s.study_name)),
        complete=counts[TrialState.COMPLETE], pruned=counts[TrialState.PRUNED], failed=counts[TrialState.FAIL],
        best_value=s.best_value if has_best else None,
        best_params=s.best_trial.user_attrs.get("params") if has_best else None,
        best_trial=s.best_trial.number if has_best else None, finished_here=finished_here, plots=plots,
        seconds=time.time() - t0)


def _run_workers(comp_name, folder, runs_dir, model, trials, deadline, storage, study, workers, seed, threads,
                 heartbeat, fixed, s, log) -> None:
    """`workers` processes sharing a budget; a child that dies has its trial failed, queued
    again and its budget given back, and the others finish the work."""
    ctx = mp.get_context("spawn")
    shared = ctx.Value("i", trials if trials is not None else 2**31 - 1)
    procs = []
    flights = {}
    for k in range(workers):
        args = (comp_name, str(folder), str(runs_dir), model, deadline, storage, study, k, seed, threads,
                heartbeat, fixed)
        flights[k] = ctx.Value("i", 0)
        p = ctx.Process(target=_child, args=(args, shared, flights[k]), name=f"kit-tune-{k}")
        p.start()
        procs.append(p)
    live = list(procs)
    while live:
        for p in list(live):
            p.join(timeout=0.2)
            if p.exitcode is None:
                continue
            live.remove(p)
            if p.exitcode == 0:
                continue
            lost = fail_dead_trials(s, {p.pid})  # unless a sibling saw the dead process first
            k = int(p.name.rsplit("-", 1)[1])
            _Budget(None, shared).give_back(flights[k].value)  # its unfinished trial is to be run again
            log(f"worker {p.name.rsplit('-', 1)[1]} (pid {p.pid}) died (exit code {p.exitcode})"
                + (f"; trial(s) {', '.join(map(str, lost))} marked failed and queued again" if lost else ""))
            if not live:
                raise KitError("every worker stopped with an error (see above); fix it and rerun the same "
                               "command to continue the study")


# --------------------------------------------------------------------------- pictures


def plot_study(s, out_dir: Path, metric: str) -> tuple[Path, ...]:
    """history.png (each trial's value, pruned ones marked, the best so far) and
    importance.png (fANOVA parameter importances, with 3 or more complete trials)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    out_dir.mkdir(parents=True, exist_ok=True)
    trials = s.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if not done:
        return ()
    maximize = s.direction.name == "MAXIMIZE"
    fig, ax = plt.subplots(figsize=(8, 4.5))
    xs = [t.number for t in done]
    ys = [t.value for t in done]
    ax.scatter(xs, ys, s=18, color="#1f77b4", label="complete")
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    if pruned:  # no final value to plot: a faint line at the trial's number
        ax.vlines([t.number for t in pruned], *ax.get_ylim(), colors="#d62728", alpha=0.2, label="pruned")
    order = np.argsort(xs)
    ys_sorted = np.asarray(ys)[order]
    best = np.maximum.accumulate(ys_sorted) if maximize else np.minimum.accumulate(ys_sorted)
    ax.step(np.asarray(xs)[order], best, where="post", color="#ff7f0e", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric.upper()} out of fold ({'higher' if maximize else 'lower'} is better)")
    ax.set_title(f"{s.study_name}: {len(done)} complete, {len(pruned)} pruned")
    ax.legend(loc="best")
    fig.tight_layout()
    history = out_dir / "history.png"
    _save(fig, history)
    plt.close(fig)
    paths = [history]
    if len(done) >= 3:
        import optuna

        try:
            imp = optuna.importance.get_param_importances(s, params=None)
        except (RuntimeError, ValueError):  # too few distinct values to tell
            imp = {}
        if imp:
            names = list(imp)[::-1]
            fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1.2))
            ax.barh(names, [imp[n] for n in names], color="#2ca02c")
            ax.set_xlabel("importance (fANOVA share of the variance of the objective)")
            ax.set_title(f"{s.study_name}: which parameters matter ({len(done)} trials)")
            fig.tight_layout()
            importance = out_dir / "importance.png"
            _save(fig, importance)
            plt.close(fig)
            paths.append(importance)
    return tuple(paths)


def _save(fig, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)

