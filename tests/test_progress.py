"""kit.progress.FitLog: no fit is silent for more than about 10 s, checked on a fake clock."""

from __future__ import annotations

import threading

import pytest

from kit import progress
from kit.models import FitProgress
from kit.progress import FitLog


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_at_most_every_ten_seconds_and_at_the_last_step():
    clock, lines = Clock(), []
    log = FitLog("lgbm", lines.append, clock=clock).begin("fold 1/3")
    for step in range(1, 101):  # 0.3 s a round: a line at 10.2 s, 20.4 s, and the last round
        clock.now += 0.3
        log(FitProgress(step, "round", 100, valid_loss=1.0 / step))
    assert lines == ["  lgbm fold 1/3: round 34/100, valid loss 0.029412 (10s)",
                     "  lgbm fold 1/3: round 68/100, valid loss 0.014706 (20s)",
                     "  lgbm fold 1/3: round 100/100, valid loss 0.01 (30s)"]


def test_epochs_say_train_and_valid_loss_and_a_score_is_called_a_score():
    clock, lines = Clock(), []
    log = FitLog("nn", lines.append, clock=clock).begin("refit on all rows")
    clock.now += 17  # one slow epoch: said at once
    log(FitProgress(1, "epoch", 10, valid_loss=0.25, train_loss=0.5))
    clock.now += 3
    log(FitProgress(2, "epoch", 10, valid_loss=0.2, train_loss=0.4))
    clock.now += 12
    log(FitProgress(3, "epoch", 10, valid_loss=0.8, higher_is_better=True))
    assert lines == ["  nn refit on all rows: epoch 1/10, train loss 0.5, valid loss 0.25 (17s)",
                     "  nn refit on all rows: epoch 3/10, valid score 0.8 (32s)"]


def test_tick_speaks_for_a_fit_without_steps():
    clock, lines = Clock(), []
    log = FitLog("rf", lines.append, clock=clock).begin("fold 2/3")
    clock.now += 9
    log.tick()
    assert lines == []
    clock.now += 2
    log.tick()
    clock.now += 5
    log.tick()  # 5 s after the last line: quiet
    assert lines == ["  rf fold 2/3: fitting (11s)"]
    log.begin("fold 3/3")  # a new stage restarts the clock
    clock.now += 10
    log.tick()
    assert lines[-1] == "  rf fold 3/3: fitting (10s)"


def test_the_heartbeat_thread_ticks_while_the_block_runs():
    clock, lines, said = Clock(), [], threading.Event()

    def log(line):
        lines.append(line)
        said.set()

    fit_log = FitLog("rf", log, every=0.02, clock=clock).begin("fold 1/1")
    with fit_log.heartbeat():
        clock.now += 1  # the fake clock says a second passed: the thread's next tick speaks
        assert said.wait(5)
    assert lines[0] == "  rf fold 1/1: fitting (1s)"
    assert not [t for t in threading.enumerate() if t.name == "kit-fit-heartbeat"]


def test_every_is_read_when_a_log_is_made(monkeypatch):
    monkeypatch.setattr(progress, "EVERY", 0.0)
    lines = []
    log = FitLog("x", lines.append, clock=Clock()).begin("fold 1/1")
    log(FitProgress(1, "round", 5))
    assert lines == ["  x fold 1/1: round 1/5 (0s)"]


@pytest.mark.parametrize("model", ["lgbm", "rf", "nn"])
def test_train_says_each_fold_and_the_refit(tmp_path, monkeypatch, model):
    """Every fit of `kit train` (each fold, each fold's refit, the refit on all rows) says where
    it is; here with a line per step (EVERY 0), so that no test has to wait 10 s."""
    from tests.runs.test_runs import FAST_LGBM, _rossmann_like

    from kit.runs import load_folds, train
    from kit.spec import get

    monkeypatch.setattr(progress, "EVERY", 0.0)
    comp, p = get("rossmann"), _rossmann_like()
    folds = load_folds(comp, p, tmp_path)
    lines: list[str] = []
    params = {"lgbm": FAST_LGBM, "rf": {"n_estimators": 40, "n_jobs": 1}, "nn": {"epochs": 2}}[model]
    train(comp, p, folds, model, tmp_path / model, params=params, log=lines.append)
    if model == "lgbm":
        assert any(ln.startswith("  lgbm fold 1/3: round 1/60, valid loss") for ln in lines)
        # one fit per fold (scored at the round the other folds chose), then the refit on all rows
        assert not any("refit on the whole fold" in ln for ln in lines)
        assert any(ln.startswith("  lgbm fold 3/3: RMSPE") and "from the other folds" in ln for ln in lines)
        assert any(ln.startswith("  lgbm refit on all rows: round ") for ln in lines)
    elif model == "nn":  # time folds: every epoch on the whole fold, no validation rows, still said
        assert "  nn fold 1/3: epoch 1/2, train loss" in "\n".join(lines)
        assert any(ln.startswith("  nn refit on all rows: epoch 2/2, train loss ") for ln in lines)
    else:  # the forest reports no steps (its heartbeat speaks for it) but takes the callbacks
        assert any(ln.startswith("  rf refit on all rows") for ln in lines)
