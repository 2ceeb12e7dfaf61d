"""Several `kit` commands at once on one data folder and one runs folder: each finishes, none
sees another's half-written file, and what is left is whole.

The races these guard against were seen for real: a temp name shared by two writers
(`.history.png.tmp.png`, `.folds.parquet.tmp`, `.same.tmp/models/all.pkl`) renamed away under
the other one, and two processes creating one study in a fresh journal at the same moment.
Races are intermittent, so the commands run a few times.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from kit.features import prepare
from kit.runs import predict, read_config, read_folds, read_run, score_rows, take
from kit.spec import get
from kit.synth import generate
from kit.tune import journal_path, make_storage

ROOT = Path(__file__).resolve().parents[1]
COMP = get("rossmann")
RUN_FILES = ("config.json", "metrics.json", "oof.parquet", "test.parquet", "models/fold_0.pkl", "models/all.pkl")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    """A fresh tiny rossmann twin for this module: its table cache is made by the racing
    commands themselves."""
    folder = tmp_path_factory.mktemp("rossmann-tiny")
    generate(COMP, folder, size="tiny", seed=0)
    return folder


def _kit(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kit.cli", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "KIT_PROGRESS": "0", "OMP_NUM_THREADS": "1"})


def _all_succeed(procs: list[subprocess.Popen]) -> list[str]:
    """Wait for every command; each must exit 0 without a traceback. Returns their stdouts."""
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, f"exit {p.returncode}\n{out}\n{err}"
        assert "Traceback" not in err, err
    return [out for out, _ in outs]


def _leftovers(folder: Path) -> list[str]:
    """Temporary files or folders (kit.atomic names them .NAME.PID.THREAD.RANDOM.tmp...)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp" in p.name)


def test_three_tunes_on_a_fresh_runs_folder_share_one_study(twin, tmp_path):
    runs = tmp_path / "runs"
    procs = [_kit("tune", "rossmann", "--model", "lgbm", "--trials", 2, "--threads", 1, "--param",
                  "n_estimators=30", "--data-dir", twin, "--runs-dir", runs) for _ in range(3)]
    _all_succeed(procs)
    study = optuna.load_study(study_name="rossmann-lgbm", storage=make_storage(None, runs, "rossmann-lgbm"))
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert sorted(t.number for t in study.trials) == list(range(6))
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 6, states
    assert journal_path(runs, "rossmann-lgbm").exists() and read_folds(runs) is not None
    assert (runs / "tune" / "rossmann-lgbm" / "history.png").stat().st_size > 10_000
    assert _leftovers(runs) == [] and _leftovers(twin) == []


def test_plots_drawn_by_several_processes_at_once(tmp_path):
    """Every worker of every command draws the study's pictures when it ends: same files, same moment."""
    study = optuna.create_study(study_name="s", storage=make_storage(None, tmp_path, "s"))
    for i in range(4):
        trial = study.ask()
        study.tell(trial, trial.suggest_float("x", 0, 1) + trial.suggest_float("y", 0, 1) * i)
    draw = ("import sys, optuna; from kit.tune import make_storage, plot_study; "
            "s = optuna.load_study(study_name='s', storage=make_storage(None, sys.argv[1], 's'))\n"
            "for _ in range(4): plot_study(s, sys.argv[1] + '/plots', 'rmse')")
    procs = [subprocess.Popen([sys.executable, "-c", draw, str(tmp_path)], cwd=ROOT, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    errs = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["history.png", "importance.png"]


def _check_whole_run(run_dir: Path, prepared) -> int:
    """The run folder holds every file of one and the same run: its metrics are its oof's,
    and its oof is its fold model's. Returns that run's n_estimators."""
    for f in RUN_FILES:
        assert (run_dir / f).is_file(), f"{run_dir}/{f} is missing"
    run = read_run(run_dir)
    config = read_config(run_dir)
    folds = sorted(set(run.oof_fold.tolist()))
    per_fold = [score_rows(COMP.spec, prepared, run.oof_rows[run.oof_fold == k], run.oof[run.oof_fold == k])
                for k in folds]
    assert run.score == pytest.approx(np.mean(per_fold), rel=1e-12)  # the mean over folds
    fold_0 = pickle.loads((run_dir / "models" / "fold_0.pkl").read_bytes())
    assert fold_0.get_params()["n_estimators"] == config["params"]["n_estimators"]
    rows = run.oof_rows[run.oof_fold == 0]
    np.testing.assert_allclose(predict(fold_0, take(prepared.X, rows)), run.oof[run.oof_fold == 0], rtol=1e-9)
    return config["params"]["n_estimators"]


def test_two_trains_of_one_name_leave_one_whole_run(twin, tmp_path):
    prepared = prepare(COMP, twin)
    runs = tmp_path / "runs"
    winners = set()
    for _ in range(3):  # the first round also races on the folds of a fresh runs folder
        # two sizes, so a folder mixed from both runs would show
        procs = [_kit("train", "rossmann", "--model", "lgbm", "--name", "same", "--param", f"n_estimators={n}",
                      "--force", "--threads", 1, "--data-dir", twin, "--runs-dir", runs) for n in (30, 31)]
        _all_succeed(procs)
        winners.add(_check_whole_run(runs / "same", prepared))
        assert read_config(runs / "same")["folds"]["fingerprint"] == read_folds(runs).fingerprint
        assert _leftovers(runs) == [] and _leftovers(twin) == []
        assert sorted(p.name for p in runs.iterdir()) == ["folds.json", "folds.parquet", "same"]
    assert winners <= {30, 31}
