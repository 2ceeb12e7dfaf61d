"""Trials left RUNNING by a worker that died: failed and queued again with the same parameters.

Every trial records the host and process that runs it (user attribute "worker"). A trial
whose process on this host is gone is marked FAIL (`study.tell`) and queued again with the
same parameters (Optuna's `RetryHeartbeatStaleTrialCallback`): by the parent of `--workers`
the moment a child dies, and by any worker on the same host before each trial. On PostgreSQL
the heartbeats do the same for workers on other hosts (kit.tune.storage.make_storage).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

__all__ = ["MAX_RETRY", "host", "owner", "alive", "fail_dead_trials", "requeue"]

#: a trial left RUNNING by a dead worker is queued again at most this many times
MAX_RETRY = 3


def host() -> str:
    """This worker's machine: KIT_TUNE_HOST when set (containers that share a hostname), else
    the hostname. Workers judge a trial's process only on their own host; elsewhere the
    database's heartbeats decide."""
    return os.environ.get("KIT_TUNE_HOST") or socket.gethostname()


def owner() -> dict:
    """This process as a trial's owner: host, pid and start time (a reused pid is told apart)."""
    import psutil

    pid = os.getpid()
    return {"host": host(), "pid": pid, "started": psutil.Process(pid).create_time()}


def alive(who: dict) -> bool:
    """Whether the process `who` (an `owner()`) is still running; True when it runs on another
    host (only its heartbeat can tell)."""
    import psutil

    if who.get("host") != host():
        return True
    try:
        proc = psutil.Process(int(who["pid"]))
        return abs(proc.create_time() - float(who["started"])) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, KeyError, ValueError):
        return False


def requeue(study, trial) -> None:
    """Queue the failed `trial` (a FrozenTrial) again with the same parameters, at most
    MAX_RETRY times; the copy records the original in system attribute "failed_trial"."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, trial)


def fail_dead_trials(study, pids: Iterable[int] | None = None) -> list[int]:
    """Mark FAIL every RUNNING trial whose worker process on this host is gone (or, with `pids`,
    is one of those), and queue each again with the same parameters. Returns their numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    pids = set(pids or ())
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = t.user_attrs.get("worker")
        if who is None:  # not started by kit, or its parameters not drawn yet
            continue
        dead = (int(who.get("pid", -1)) in pids and who.get("host") == host()) if pids else not alive(who)
        if not dead:
            continue
        try:
            # without skip_if_finished: a trial another worker failed first must raise (ValueError),
            # or both would queue it again
            frozen = study.tell(t.number, state=TrialState.FAIL)
        except (UpdateFinishedTrialError, ValueError):  # finished meanwhile, by another worker
            continue
        requeue(study, frozen)
        failed.append(t.number)
    return failed
