"""kit.tune: search spaces, pruning reports, resumable studies in a journal file, crashed
trials failed and retried, and many workers on one study in a real PostgreSQL server.

The PostgreSQL tests use KIT_TEST_POSTGRES when it is set (.ci/run starts a server and sets
it); otherwise they start their own with scripts/test_postgres.sh when PostgreSQL is installed,
and are skipped only when it is not, and KIT_REQUIRE_POSTGRES is unset (CI sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from kit.cli import main
from kit.errors import KitError
from kit.models import MODELS, FitProgress, make_model
from kit.spec import get
from kit import tune as kt
from kit.tune.recovery import host, owner
from kit.tune.storage import make_sampler

# tuning subprocesses, PostgreSQL: minutes in all
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
COMP = get("bulldozers")
# a single time-holdout fold on 5,000 rows: a trial takes about a second
FAST = ["--param", "n_estimators=120", "--param", "early_stopping_rounds=120", "--threads", "1"]


def _study(runs: Path, name: str = "bulldozers-lgbm", storage: str | None = None):
    kt.quiet_optuna()
    st = kt.make_storage(storage, runs, name)  # the journal with kit's own lock, as kit tune opens it
    return optuna.load_study(study_name=name, storage=st)


def _counts(study) -> dict[str, int]:
    out = {s.name: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] += 1
    return out


def _start_local_study(data: Path, runs: Path) -> subprocess.Popen:
    """`kit tune` with more trials than a test waits for, in a journal file under `runs`."""
    return _kit("tune", "bulldozers", "--model", "lgbm", "--trials", "30", "--data-dir", str(data),
                "--runs-dir", str(runs), *FAST)


def _journal(runs: Path):
    """A loader of the local study for _kill_mid_trial: None until its journal file exists."""
    return lambda: _study(runs) if kt.journal_path(runs, "bulldozers-lgbm").exists() else None


def _kit(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kit.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "KIT_PROGRESS": "0",
                                                                     **(env or {})})


# --------------------------------------------------------------------------- spaces and reports


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_has_a_space_its_estimator_accepts(model):
    assert set(kt.SPACES) == set(MODELS)
    task = {"cnn": "multilabel"}.get(model, "regression")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for _ in range(3):
        params = kt.SPACES[model](study.ask())
        est = make_model(model, task, **params)
        got = est.get_params()
        assert {k: got[k] for k in params} == params


def test_fixed_parameters_are_not_searched():
    # the study's sampler (PartialFixedSampler over TPE) returns the fixed value of a searched name
    study = optuna.create_study(sampler=make_sampler(0, {"num_leaves": 31, "n_estimators": 30}))
    for _ in range(3):
        trial = study.ask()
        params = kt.space_lgbm(trial)
        assert params["num_leaves"] == 31 and trial.params["num_leaves"] == 31
        assert "learning_rate" in trial.params and "n_estimators" not in trial.params
    assert len({t.params["learning_rate"] for t in study.trials}) == 3  # the rest is still searched


def test_fixed_values_the_search_cannot_hold_are_one_clear_message():
    assert kt.check_fixed("lgbm", {"num_leaves": 31, "n_estimators": 300, "objective": "huber"}) == []
    assert kt.check_fixed("lgbm", {"num_leaves": 1000}) == [
        "--param num_leaves=1000 is outside the searched range [7, 255]: every trial uses it as given"]
    with pytest.raises(KitError, match=r"draws width from \[16, 24, 32\]; fix it to one of those"):
        kt.check_fixed("cnn", {"width": 48})
    with pytest.raises(KitError, match="draws lr as a number"):
        kt.check_fixed("nn", {"lr": "fast"})


class _Trial:
    def __init__(self, prune_after: int):
        self.reports: list[tuple[float, int]] = []
        self.prune_after = prune_after

    def report(self, value, step):
        self.reports.append((value, step))

    def should_prune(self):
        return len(self.reports) >= self.prune_after

    def set_user_attr(self, key, value):
        self.user_attrs = {**getattr(self, "user_attrs", {}), key: value}


def test_reporter_signs_losses_to_the_direction_and_prunes():
    # a network's epoch loss (lower is better) in a study that maximises (Gini): reported negated
    t = _Trial(prune_after=2)
    r = kt.Reporter(t, maximize=True)
    r(FitProgress(1, "epoch", 5, valid_loss=0.25, train_loss=0.9))
    assert t.reports == [(-0.25, 1)]
    with pytest.raises(optuna.TrialPruned, match="epoch 2"):
        r(FitProgress(2, "epoch", 5, valid_loss=0.2, train_loss=0.8))
    # LightGBM's rounds: reported every REPORT_EVERY, as they are when minimising; none without a loss
    t = _Trial(prune_after=99)
    r = kt.Reporter(t, maximize=False)
    for step in range(1, 26):
        r(FitProgress(step, "round", 25, valid_loss=1.0 / step))
    r(FitProgress(30, "round", 30))
    assert t.reports == [(1.0 / 10, 10), (1.0 / 20, 20)]
    # a score LightGBM calls higher-is-better (auc) in a maximising study: as it is
    t = _Trial(prune_after=99)
    kt.Reporter(t, maximize=True)(FitProgress(10, "round", 10, valid_loss=0.7, higher_is_better=True))
    assert t.reports == [(0.7, 10)]
    with pytest.raises(optuna.TrialPruned, match="nan"):
        kt.Reporter(t, maximize=True)(FitProgress(1, "epoch", 5, valid_loss=float("nan")))


def test_lightgbm_reports_in_steps_of_boosting_work():
    """Rounds x rate: a trial at rate 0.01 reaches the step a trial at 0.1 reaches at round 50
    only at round 500, so the median pruner compares them at the same distance travelled."""
    steps = {}
    for rate in (0.1, 0.01):
        t = _Trial(prune_after=10**6)
        r = kt.Reporter(t, maximize=False, rate=rate)
        for step in range(1, 1001):
            r(FitProgress(step, "round", 1000, valid_loss=1.0))
        steps[rate] = [s for _, s in t.reports]
    assert steps[0.1][:3] == [1, 2, 3] and steps[0.01][:3] == [1, 2, 3]
    assert len(steps[0.1]) == int(1000 * 0.1 / kt.WORK_STEP) and len(steps[0.01]) == int(1000 * 0.01 / kt.WORK_STEP)
    # the warm-up in those steps: 2,000 rounds at 0.01, 200 at 0.1
    assert kt.WARMUP["lgbm"] * kt.WORK_STEP / 0.01 == 2000
    t = _Trial(prune_after=1)
    with pytest.raises(optuna.TrialPruned, match="pruned at round 50"):
        for step in range(1, 101):
            kt.Reporter(t, maximize=False, rate=0.01)(FitProgress(step * 50, "round", 5000, valid_loss=1.0))


def test_a_study_prunes_a_low_rate_only_against_trials_that_went_as_far():
    kt.quiet_optuna()
    s = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=kt.WARMUP["lgbm"],
                                                               n_min_trials=1))

    def curve(rate: float, rounds: int, trial) -> None:  # the loss a boosting run follows: e^-work
        r = kt.Reporter(trial, maximize=False, rate=rate)
        for step in range(1, rounds + 1):
            r(FitProgress(step, "round", rounds, valid_loss=float(np.exp(-step * rate))))

    s.optimize(lambda t: (curve(0.1, 300, t), 0.0)[1], n_trials=1)
    s.optimize(lambda t: (curve(0.01, 3000, t), 0.0)[1], n_trials=1)  # as far in work: never worse
    assert [t.state for t in s.trials] == [TrialState.COMPLETE, TrialState.COMPLETE]


def test_a_trials_line_says_value_time_and_parameters(tmp_path):
    from kit.tune.workers import describe

    kt.quiet_optuna()
    s = optuna.create_study(study_name="s", storage=kt.make_storage(None, tmp_path, "s"))
    s.optimize(lambda t: t.suggest_float("learning_rate", 0.01, 0.3, log=True) + t.suggest_int("num_leaves", 7, 9),
               n_trials=1)

    def pruned(t):
        t.suggest_int("num_leaves", 7, 9)
        t.set_user_attr("pruned_at", "round 600")
        raise optuna.TrialPruned()

    s.optimize(pruned, n_trials=1)
    done, cut = s.trials
    assert describe(done, "rmspe") == (f"trial 0 RMSPE {done.value:.5f} in 0s; learning_rate="
                                       f"{done.params['learning_rate']:.4g}, num_leaves={done.params['num_leaves']}")
    assert describe(cut, "rmspe").startswith("trial 1 pruned at round 600 in 0s; num_leaves=")


def test_a_killed_writer_leaves_no_lock_and_no_half_record(tmp_path, capfd):
    """kill -9 in the middle of a journal write: the next `kit tune` takes the lock at once (an
    flock the system drops), drops the half-written record and Optuna's leftover lock file, one
    line each, and no Optuna warning."""
    kt.quiet_optuna()
    s = optuna.create_study(study_name="s", storage=kt.make_storage(None, tmp_path, "s"))
    s.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    journal = kt.journal_path(tmp_path, "s")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "open(sys.argv[2], 'ab').write(b'{\"op_code\": 4, \"worker')\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"), str(journal) + ".flock", str(journal)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    (tmp_path / "tune" / "s.journal.lock").touch()  # what Optuna's own lock leaves
    holder.kill()
    holder.wait()
    capfd.readouterr()
    t0 = time.monotonic()
    again = optuna.load_study(study_name="s", storage=kt.make_storage(None, tmp_path, "s"))
    again.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert time.monotonic() - t0 < 5
    err = capfd.readouterr().err
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        "kit tune: removed the lock s.journal.lock a killed worker left on the study; continuing at once",
        "kit tune: dropped the half-written last record (22 bytes) a killed worker left in s.journal"]
    assert [t.state for t in again.trials] == [TrialState.COMPLETE] * 3
    assert journal.read_bytes().endswith(b"\n") and not (tmp_path / "tune" / "s.journal.lock").exists()


def test_a_dead_workers_trial_is_failed_and_queued_once(tmp_path):
    """Through Optuna's public API: a trial another process left RUNNING is told FAIL and queued
    again; a second look (another worker, or the same) neither fails nor queues it twice."""
    kt.quiet_optuna()
    mine = optuna.create_study(study_name="s", storage=kt.make_storage(None, tmp_path, "s"))
    theirs = optuna.load_study(study_name="s", storage=kt.make_storage(None, tmp_path, "s"))
    running = mine.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    # its owner: this pid, but a start time it never had, as a dead process whose pid came back
    running.set_user_attr("worker", {"host": host(), "pid": os.getpid(), "started": 0.0})
    alive = mine.ask()
    alive.set_user_attr("worker", owner())
    assert kt.fail_dead_trials(theirs) == [0]
    assert kt.fail_dead_trials(mine) == [] and kt.fail_dead_trials(theirs) == []
    with pytest.raises(ValueError, match="Cannot tell a FAIL trial"):  # what a worker that comes second sees
        mine.tell(0, state=TrialState.FAIL)
    states = {t.number: t.state for t in mine.get_trials(deepcopy=False)}
    assert states == {0: TrialState.FAIL, 1: TrialState.RUNNING, 2: TrialState.WAITING}
    retry = mine.trials[2]
    assert retry.system_attrs["failed_trial"] == 0 and retry.params == mine.trials[0].params
    # the parent of --workers names its dead child by pid: only that child's trials
    assert kt.fail_dead_trials(mine, {os.getpid() + 1}) == []
    assert kt.fail_dead_trials(mine, {os.getpid()}) == [1]


# --------------------------------------------------------------------------- the journal file


def test_same_seed_one_worker_same_best(tiny_twin, tmp_path, capsys):
    data = tiny_twin("bulldozers")
    best = []
    for i in range(2):
        runs = tmp_path / f"runs{i}"
        assert main(["tune", "bulldozers", "--model", "lgbm", "--trials", "5", "--data-dir", str(data),
                     "--runs-dir", str(runs), *FAST]) == 0
        s = _study(runs)
        best.append((s.best_trial.number, s.best_value, s.best_params, s.user_attrs["best_params"]))
        assert _counts(s)["COMPLETE"] + _counts(s)["PRUNED"] == 5
        assert (runs / "tune" / "bulldozers-lgbm" / "history.png").stat().st_size > 10_000
        assert (runs / "tune" / "bulldozers-lgbm" / "importance.png").exists()
        stored = json.loads((runs / "tune" / "bulldozers-lgbm" / "best_params.json").read_text())
        assert stored["params"] == s.user_attrs["best_params"] and stored["value"] == s.best_value
    assert best[0] == best[1]
    out = capsys.readouterr().out
    assert "use it: kit train bulldozers --model lgbm --params best" in out


def test_rerun_continues_the_study_and_train_uses_the_best(tiny_twin, tmp_path, capsys):
    data = tiny_twin("bulldozers")
    runs = tmp_path / "runs"
    args = ["tune", "bulldozers", "--model", "lgbm", "--trials", "3", "--data-dir", str(data),
            "--runs-dir", str(runs), *FAST]
    assert main(args) == 0
    first = [t.params for t in _study(runs).trials]
    assert len(first) == 3
    assert main(args) == 0
    s = _study(runs)
    # the same study, three more: numbers 0..5, the first three unchanged, and the new ones
    # are new points (a resumed sampler must not replay the seeded start)
    assert [t.number for t in s.trials] == list(range(6))
    assert [t.params for t in s.trials[:3]] == first
    assert not [t.params for t in s.trials[3:] if t.params in first]
    assert "3 finished trial(s) so far" in capsys.readouterr().out

    assert main(["train", "bulldozers", "--model", "lgbm", "--params", "best", "--data-dir", str(data),
                 "--runs-dir", str(runs), "--threads", "1"]) == 0
    config = json.loads((runs / "lgbm" / "config.json").read_text())
    best = s.user_attrs["best_params"]
    assert {k: config["params"][k] for k in best} == best
    metrics = json.loads((runs / "lgbm" / "metrics.json").read_text())
    assert metrics["oof"] == pytest.approx(s.best_value, rel=1e-9)  # same folds, same seed: same score

    # --params best for several models: the library call `kit run` makes
    lines: list[str] = []
    explicit = {"lgbm": {"num_leaves": 7}, "rf": {"n_estimators": 10}}
    got = kt.best_params_for(COMP, ["lgbm", "nn"], runs, params=explicit, log=lines.append)
    assert got == {"lgbm": {**kt.best_params(COMP, "lgbm", runs), "num_leaves": 7}, "rf": {"n_estimators": 10}}
    assert explicit == {"lgbm": {"num_leaves": 7}, "rf": {"n_estimators": 10}}  # not changed
    assert lines[0] == "--params best: lgbm uses its study's best trial"
    assert lines[1].startswith("--params best: nn keeps its defaults (no study 'bulldozers-nn' in ")
    assert not kt.journal_path(runs, "bulldozers-nn").exists()  # looking leaves no empty study behind
    assert kt.best_params_for(COMP, ["lgbm"], runs, study="other", log=lines.append) == {}
    assert "lgbm keeps its defaults (no study 'other-lgbm'" in lines[2]

    capsys.readouterr()
    assert main(["run", "bulldozers", "--model", "lgbm", "--model", "nn", "--params", "best", "--param",
                 "nn.epochs=1", "--no-adversarial", "--data-dir", str(data), "--runs-dir", str(runs),
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "--params best: lgbm uses its study's best trial" in out
    assert "--params best: nn keeps its defaults (no study 'bulldozers-nn'" in out
    config = json.loads((runs / "lgbm" / "config.json").read_text())
    assert {k: config["params"][k] for k in best} == best


def test_killed_run_loses_only_its_trial_in_flight(tiny_twin, tmp_path):
    data = tiny_twin("bulldozers")
    runs = tmp_path / "runs"
    proc = _start_local_study(data, runs)
    killed = _kill_mid_trial(_journal(runs), proc, min_finished=2)
    s = _study(runs)
    assert s.trials[killed].state == TrialState.RUNNING  # nobody has looked yet
    before = _counts(s)
    out = subprocess.run([sys.executable, "-m", "kit.cli", "tune", "bulldozers", "--model", "lgbm", "--trials",
                          "2", "--data-dir", str(data), "--runs-dir", str(runs), *FAST], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "KIT_PROGRESS": "0"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"trial(s) {killed} were left running by a dead worker" in out.stdout
    s = _study(runs)
    after = _counts(s)
    assert s.trials[killed].state == TrialState.FAIL
    retry = [t for t in s.trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retry[0].params == s.trials[killed].params
    assert after["RUNNING"] == 0 and after["FAIL"] == 1
    assert after["COMPLETE"] + after["PRUNED"] == before["COMPLETE"] + before["PRUNED"] + 2


def test_ctrl_c_queues_the_interrupted_trial_again(tiny_twin, tmp_path):
    data = tiny_twin("bulldozers")
    runs = tmp_path / "runs"
    proc = _start_local_study(data, runs)
    stopped = _kill_mid_trial(_journal(runs), proc, min_finished=1, sig=signal.SIGINT)
    assert proc.returncode == 130
    assert f"interrupted; trial {stopped} failed and will run again on the next kit tune" in proc.stdout.read()
    s = _study(runs)
    assert s.trials[stopped].state == TrialState.FAIL
    waiting = [t for t in s.trials if t.state == TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].system_attrs["failed_trial"] == stopped
    assert waiting[0].params == s.trials[stopped].params


def test_sigterm_takes_ctrl_c_path_and_the_next_tune_reruns_the_trial(tiny_twin, tmp_path):
    data = tiny_twin("bulldozers")
    runs = tmp_path / "runs"
    proc = _start_local_study(data, runs)
    stopped = _kill_mid_trial(_journal(runs), proc, min_finished=1, sig=signal.SIGTERM)
    out = proc.stdout.read()
    assert proc.returncode == 130, out
    assert f"interrupted; trial {stopped} failed and will run again on the next kit tune" in out
    assert "Traceback" not in out
    s = _study(runs)
    assert s.trials[stopped].state == TrialState.FAIL
    again = subprocess.run([sys.executable, "-m", "kit.cli", "tune", "bulldozers", "--model", "lgbm", "--trials",
                            "1", "--data-dir", str(data), "--runs-dir", str(runs), *FAST], cwd=ROOT,
                           capture_output=True, text=True, env={**os.environ, "KIT_PROGRESS": "0"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"(retry of trial {stopped})" in again.stdout
    retry = [t for t in _study(runs).trials if t.system_attrs.get("failed_trial") == stopped]
    assert len(retry) == 1 and retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)


def test_sigterm_to_the_parent_of_workers_stops_each_worker_the_same_way(tiny_twin, tmp_path):
    data = tiny_twin("bulldozers")
    runs = tmp_path / "runs"
    proc = _kit("tune", "bulldozers", "--model", "lgbm", "--trials", "30", "--workers", "2", "--data-dir", str(data),
                "--runs-dir", str(runs), *FAST)
    deadline = time.time() + 180
    while time.time() < deadline:  # both children in the middle of a trial
        s = _journal(runs)()
        running = [] if s is None else [t for t in s.get_trials(deepcopy=False)
                                        if t.state == TrialState.RUNNING and "params" in t.user_attrs]
        if len({t.user_attrs["worker"]["pid"] for t in running}) == 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    stopped = [line for line in out.splitlines() if "failed and will run again on the next kit tune" in line]
    assert len(stopped) >= 2, out
    c = _counts(_study(runs))
    assert c["RUNNING"] == 0 and c["FAIL"] >= 2 and c["WAITING"] == c["FAIL"]


def test_sigterm_is_ctrl_c_only_inside_the_block():
    from kit.tune.workers import sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises at once
    assert signal.getsignal(signal.SIGTERM) is before


def _kill_mid_trial(load, proc: subprocess.Popen, *, min_finished: int, pid: int | None = None,
                    sig=signal.SIGKILL) -> int:
    """Wait until the worker `pid` (default proc's) is in the middle of a trial after finishing
    `min_finished`, SIGKILL proc, and return that trial's number."""
    pid = pid or proc.pid
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, f"the worker ended before it could be killed:\n{proc.stdout.read()}"
        try:
            s = load()
        except KeyError:  # the study is not written yet
            s = None
        if s is not None:
            mine = [t for t in s.get_trials(deepcopy=False) if t.user_attrs.get("worker", {}).get("pid") == pid]
            done = sum(t.state.is_finished() for t in mine)
            # in the middle: its parameters drawn (user attribute "params"), its model training
            running = [t for t in mine if t.state == TrialState.RUNNING and "params" in t.user_attrs]
            if done >= min_finished and running:
                os.kill(proc.pid, sig)
                proc.wait(timeout=60)
                return running[0].number
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no trial was seen running")


def test_bad_input_is_one_clear_message(tiny_twin, tmp_path, capsys):
    data = tiny_twin("bulldozers")
    base = ["tune", "bulldozers", "--data-dir", str(data), "--runs-dir", str(tmp_path)]
    assert main([*base, "--model", "lgbm", "--trials", "0"]) == 2
    assert "--trials must be at least 1" in capsys.readouterr().err
    assert main([*base, "--model", "lgbm", "--workers", "2", "--storage", f"sqlite:///{tmp_path}/s.db"]) == 2
    assert "SQLite locks" in capsys.readouterr().err
    assert main([*base, "--model", "lgbm", "--storage", "redis://localhost"]) == 2
    assert "not supported; use postgresql://" in capsys.readouterr().err
    assert main(["tune", "bulldozers", "--model", "lgbm", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "kit generate bulldozers" in capsys.readouterr().err
    assert main(["train", "bulldozers", "--model", "nn", "--params", "best", "--data-dir", str(data),
                 "--runs-dir", str(tmp_path)]) == 2
    assert "no study 'bulldozers-nn'" in capsys.readouterr().err
    with pytest.raises(KitError, match="password|cannot open the study database"):
        kt.make_storage("postgresql://kit:secret@127.0.0.1:1/none", tmp_path, "x")
    try:
        kt.make_storage("postgresql://kit:secret@127.0.0.1:1/none", tmp_path, "x")
    except KitError as err:
        assert "secret" not in str(err) and "kit:***@127.0.0.1:1/none" in str(err)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_url():
    url = os.environ.get("KIT_TEST_POSTGRES")
    if url:
        yield url
        return
    has = shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not has:
        if os.environ.get("KIT_REQUIRE_POSTGRES"):
            pytest.fail("KIT_REQUIRE_POSTGRES is set but PostgreSQL is not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql; .ci/run installs it)")
    folder = tempfile.mkdtemp(prefix="kit-pg-")  # under /tmp: the postgres user must reach it
    script = ROOT / "scripts" / "test_postgres.sh"
    r = subprocess.run(["bash", str(script), "start", folder], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"could not start PostgreSQL: {r.stderr}")
    try:
        yield r.stdout.strip()
    finally:
        subprocess.run(["bash", str(script), "stop", folder], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_three_workers_finish_exactly_the_trials_asked(tiny_twin, tmp_path, postgres_url):
    data = tiny_twin("bulldozers")
    study = f"three-{uuid.uuid4().hex[:8]}"
    proc = _kit("tune", "bulldozers", "--model", "lgbm", "--trials", "9", "--workers", "3", "--storage",
                postgres_url, "--study", study, "--data-dir", str(data), "--runs-dir", str(tmp_path), *FAST)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    s = _study(tmp_path, study, postgres_url)
    c = _counts(s)
    assert c["COMPLETE"] + c["PRUNED"] == 9 and c["FAIL"] == 0 and c["RUNNING"] == 0 and c["WAITING"] == 0
    assert sorted(t.number for t in s.trials) == list(range(9))  # none lost, none twice
    pids = {t.user_attrs["worker"]["pid"] for t in s.trials}
    assert len(pids) >= 2, "the trials were not shared among the workers"
    assert {"worker 0", "worker 1", "worker 2"} <= {line.split(":")[0] for line in out.splitlines()}


def test_killed_worker_trial_is_failed_by_heartbeat_and_retried_by_another(tiny_twin, tmp_path, postgres_url):
    """Three workers as on three machines (a worker judges another host's trials only by the
    database's heartbeats): one is killed in the middle of a trial; a survivor marks it failed
    once its heartbeat is older than the grace period, and runs it again."""
    data = tiny_twin("bulldozers")
    study = f"kill-{uuid.uuid4().hex[:8]}"
    base = ["tune", "bulldozers", "--model", "lgbm", "--storage", postgres_url, "--study", study,
            "--heartbeat", "1", "--data-dir", str(data), "--runs-dir", str(tmp_path), *FAST]
    kit_main = _kit(*base, "--trials", "1")  # makes the study and the folds before the race
    assert kit_main.wait(timeout=120) == 0, kit_main.stdout.read()
    victim = _kit(*base, "--trials", "30", env={"KIT_TUNE_HOST": "machine-a"})
    others = [_kit(*base, "--trials", "10", env={"KIT_TUNE_HOST": f"machine-{h}"}) for h in "bc"]
    killed = _kill_mid_trial(lambda: _study(tmp_path, study, postgres_url), victim, min_finished=1)
    outs = [p.communicate(timeout=300)[0] for p in others]
    assert all(p.returncode == 0 for p in others), outs
    s = _study(tmp_path, study, postgres_url)
    c = _counts(s)
    assert s.trials[killed].state == TrialState.FAIL
    retry = [t for t in s.trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retry[0].params == s.trials[killed].params
    assert retry[0].user_attrs["worker"]["host"] in ("machine-b", "machine-c")
    by_victim = sum(t.state.is_finished() and t.state != TrialState.FAIL for t in s.trials
                    if t.user_attrs.get("worker", {}).get("host") == "machine-a")
    assert c["RUNNING"] == 0 and c["WAITING"] == 0 and c["FAIL"] == 1
    # exact: the first command's one, the victim's before it died, and ten for each survivor
    assert c["COMPLETE"] + c["PRUNED"] == 1 + by_victim + 20


def test_workers_command_survives_a_killed_child(tiny_twin, tmp_path, postgres_url):
    """`--workers 3`: one child killed mid-trial; the parent fails its trial at once, the
    survivors run it again, and the command still finishes exactly the trials asked."""
    import psutil

    data = tiny_twin("bulldozers")
    study = f"child-{uuid.uuid4().hex[:8]}"
    proc = _kit("tune", "bulldozers", "--model", "lgbm", "--trials", "12", "--workers", "3", "--storage",
                postgres_url, "--study", study, "--data-dir", str(data), "--runs-dir", str(tmp_path), *FAST)
    deadline = time.time() + 120
    killed = None
    while killed is None and time.time() < deadline:
        children = psutil.Process(proc.pid).children()
        try:
            s = _study(tmp_path, study, postgres_url)
        except (KitError, KeyError):
            time.sleep(0.1)
            continue
        running = [t for t in s.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
        child_pids = {c.pid for c in children}
        for t in running:
            if "params" not in t.user_attrs:
                continue
            pid = t.user_attrs.get("worker", {}).get("pid")
            if pid in child_pids and len(s.trials) >= 3:
                os.kill(pid, signal.SIGKILL)
                killed = t.number
                break
        time.sleep(0.05)
    assert killed is not None
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "died" in out
    s = _study(tmp_path, study, postgres_url)
    c = _counts(s)
    assert s.trials[killed].state == TrialState.FAIL
    retry = [t for t in s.trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert c["COMPLETE"] + c["PRUNED"] == 12 and c["RUNNING"] == 0 and c["FAIL"] == 1
