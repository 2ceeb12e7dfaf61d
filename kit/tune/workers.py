"""Workers: processes that take trials of one study until their command's budget or time runs out.

- A `TuneJob` (frozen, picklable) is all a worker needs; `--workers N` spawns N processes
  that each get it whole, with their worker number.
- Budget: `trials` is the number of trials the command finishes (complete or pruned), shared
  by its workers through a counter; a killed worker's trial goes back to the budget, so the
  count is exact. Rerunning the command continues the same study.
- A worker that dies has its RUNNING trial failed and queued again (kit.tune.recovery) by the
  parent at once, and its ticket given back; the other workers run it.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.spec import Competition
from kit.tune.best import record_best
from kit.tune.objective import TrialData, objective
from kit.tune.recovery import fail_dead_trials, requeue
from kit.tune.storage import open_study

__all__ = ["TuneJob", "Budget", "Interrupted", "work", "run_workers", "sigterm_as_interrupt", "describe"]


@dataclass(frozen=True)
class TuneJob:
    """One `tune` command, as every one of its workers sees it (picklable: spawned workers get
    it whole)."""

    #: the competition's registry name (each worker process looks it up itself)
    competition: str
    #: the folder with the competition's data files
    data_dir: Path
    #: the runs folder: the shared folds, and the journal file (tune/STUDY.journal) without `storage`
    runs_dir: Path
    #: the model tuned, a key of kit.tune.SPACES
    model: str
    #: the study's name
    study: str
    #: a database URL (postgresql://...), or None for the journal file in the runs folder
    storage: str | None = None
    #: the seed of the folds and the models; worker k's sampler draws with seed + k
    seed: int = 0
    #: threads per model fit (None: the model's default)
    threads: int | None = None
    #: database storages: seconds between a worker's heartbeats (grace period twice that)
    heartbeat: int = 30
    #: hyperparameters fixed outside the search (--param), on top of the competition's defaults
    fixed: dict = field(default_factory=dict)
    #: time.time() after which no worker starts a new trial; None: no time limit
    deadline: float | None = None
    #: worker processes of this command
    workers: int = 1
    #: the validation windows and folds (kit.runs.plan_validation), shared with `kit train`/`run`
    plan: Any = None

    def open_study(self, comp: Competition, worker: int = 0):
        """The study, as worker `worker` samples it (seed + worker)."""
        return open_study(comp, self.model, self.runs_dir, storage=self.storage, study=self.study,
                          workers=self.workers, heartbeat=self.heartbeat, seed=self.seed + worker, fixed=self.fixed)


class Budget:
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


def work(job: TuneJob, worker: int, budget: Budget, log, data: tuple | None = None) -> int:
    """One worker: open the study, take trials from the budget until it or the time runs out;
    returns how many it finished (complete or pruned).

    `data` is (prepared, folds) when the caller has them already (one worker in-process)."""
    from kit.features import prepare
    from kit.runs import load_folds
    from kit.spec import get

    comp = get(job.competition)
    s = job.open_study(comp, worker)
    if data is None:
        prepared = prepare(comp, job.data_dir, seed=job.seed)
        data = prepared, load_folds(comp, prepared, job.runs_dir, seed=job.seed, plan=job.plan)
    trial_data = TrialData(comp, data[0], data[1], job.model, job.seed, job.threads, dict(job.fixed),
                           log=log, worker=worker)
    finished = 0
    with sigterm_as_interrupt() as signalled:
        while (job.deadline is None or time.time() < job.deadline) and budget.take():
            revived = fail_dead_trials(s)  # same host: a dead process is seen at once, no heartbeat needed
            if revived:
                log(f"worker {worker}: trial(s) {', '.join(map(str, revived))} were left running by a dead "
                    "worker: marked failed and queued again")
            try:
                s.optimize(lambda t: objective(trial_data, t), n_trials=1, catch=())
            except BaseException as err:
                if not (isinstance(err, KeyboardInterrupt) or signalled.hit):
                    raise
                with _signals(signal.SIG_IGN, signal.SIGINT, signal.SIGTERM):  # a second signal must not cut the requeue
                    message = _interrupted(s, worker, log)
                raise Interrupted(message) from None
            budget.done()
            t = last_own_trial(s)
            if t is not None and t.state.name in ("COMPLETE", "PRUNED"):
                finished += 1
            best = record_best(s)  # stored with the study as it goes: a killed run keeps its best
            log(f"worker {worker}: {describe(t, comp.spec.metric)}{'' if best is None else f'  [best {best:.5f}]'}")
    return finished


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM in a worker; its message says what became of the trial in flight."""


class Signalled:
    """Whether a SIGTERM came during the block: a KeyboardInterrupt raised inside native code
    (polars, LightGBM) can come out as another exception ("Exception ignored ... TypeError"), and
    the flag still says what happened."""

    def __init__(self) -> None:
        self.hit = False

    def __call__(self, signum, frame):
        self.hit = True
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[Signalled]:
    """SIGTERM takes Ctrl-C's path (KeyboardInterrupt) for the block: the trial in flight is
    failed and queued again rather than left RUNNING. Yields the flag that says it came."""
    flag = Signalled()
    with _signals(flag, signal.SIGTERM):
        yield flag


@contextlib.contextmanager
def _signals(handler, *signums: int) -> Iterator[None]:
    """`handler` for `signums` during the block; only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {n: signal.signal(n, handler) for n in signums}
    try:
        yield
    finally:
        for n, h in before.items():
            signal.signal(n, h)


def _interrupted(s, worker: int, log) -> str:
    """Ctrl-C: fail the trial in flight (if Optuna did not) and queue it again; returns the line
    that says so."""
    queued = fail_dead_trials(s, {os.getpid()})
    t = last_own_trial(s)
    if not queued and t is not None and t.state.name == "FAIL" and not any(
            x.system_attrs.get("failed_trial") == t.number for x in s.get_trials(deepcopy=False)):
        requeue(s, t)
        queued = [t.number]
    if not queued:
        return "interrupted between trials; nothing was lost"
    message = f"interrupted; trial {queued[0]} failed and will run again on the next kit tune"
    log(f"worker {worker}: {message}")
    return message


def describe(t, metric: str) -> str:
    """'trial 7 (retry of trial 3) RMSPE 0.12345 in 12s; num_leaves=31, learning_rate=0.05',
    or '... pruned at round 600 in 8s; ...'."""
    if t is None:
        return "trial ? ?"
    if t.state.name == "PRUNED":
        value = f"pruned at {t.user_attrs.get('pruned_at', f'step {t.last_step}')}"
    elif t.state.name == "COMPLETE":
        value = f"{metric.upper()} {t.value:.5f}"
    else:
        value = t.state.name.lower()
    retry = f" (retry of trial {t.system_attrs['failed_trial']})" if "failed_trial" in t.system_attrs else ""
    took = ""
    if t.datetime_start is not None and t.datetime_complete is not None:
        took = f" in {(t.datetime_complete - t.datetime_start).total_seconds():.0f}s"
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
    return f"trial {t.number}{retry} {value}{took}" + (f"; {params}" if params else "")


def last_own_trial(s):
    """The trial this process finished last, None before any."""
    pid = os.getpid()
    own = [t for t in s.get_trials(deepcopy=False)
           if t.user_attrs.get("worker", {}).get("pid") == pid and t.state.is_finished()]
    return max(own, key=lambda t: t.datetime_complete or t.datetime_start) if own else None


def _child(job: TuneJob, worker: int, shared, in_flight) -> None:
    os.environ["KIT_PROGRESS"] = "0"  # several workers' bars on one terminal are noise; each logs its trials
    try:
        work(job, worker, Budget(None, shared, in_flight), log=lambda m: print(m, flush=True))
    except KitError as err:
        print(f"worker {worker}: error: {err}", flush=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # its line is said; the parent says the command's
        raise SystemExit(130) from None


def _stop(procs: dict, s) -> None:
    """The parent was interrupted: each live child gets SIGTERM (Ctrl-C's path: its trial is failed
    and queued again), and the parent waits for them before passing the interrupt on."""
    with _signals(signal.SIG_IGN, signal.SIGINT, signal.SIGTERM):
        for p in procs.values():
            if p.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        for p in procs.values():
            p.join(timeout=60)
        fail_dead_trials(s, {p.pid for p in procs.values()})  # a child that could not say so itself
    raise Interrupted("interrupted; each worker's trial in flight failed and will run again on the next "
                      "kit tune") from None


def run_workers(job: TuneJob, trials: int | None, s, log) -> None:
    """`job.workers` processes sharing a budget of `trials` on the study `s`; a child that dies
    has its trial failed, queued again and its budget given back, and the others finish the work."""
    ctx = mp.get_context("spawn")
    shared = ctx.Value("i", trials if trials is not None else 2**31 - 1)
    flights = {k: ctx.Value("i", 0) for k in range(job.workers)}
    procs = {}
    for k in range(job.workers):
        p = ctx.Process(target=_child, args=(job, k, shared, flights[k]), name=f"kit-tune-{k}")
        p.start()
        procs[k] = p
    try:
        with sigterm_as_interrupt():
            _watch(dict(procs), shared, flights, s, log)
    except KeyboardInterrupt:
        _stop(procs, s)


def _watch(live: dict, shared, flights: dict, s, log) -> None:
    """Wait for the children; a child that dies has its trial failed and queued again."""
    while live:
        for k, p in list(live.items()):
            p.join(timeout=0.2)
            if p.exitcode is None:
                continue
            del live[k]
            if p.exitcode == 0:
                continue
            lost = fail_dead_trials(s, {p.pid})  # unless a sibling saw the dead process first
            Budget(None, shared).give_back(flights[k].value)  # its unfinished trial is to be run again
            log(f"worker {k} (pid {p.pid}) died (exit code {p.exitcode})"
                + (f"; trial(s) {', '.join(map(str, lost))} marked failed and queued again" if lost else ""))
            if not live:
                raise KitError("every worker stopped with an error (see above); fix it and rerun the same "
                               "command to continue the study")
