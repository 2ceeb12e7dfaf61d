"""`kit tune` faults: bad inputs, unreachable or unsuitable storages, leftovers of a killed worker."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import Case, Result

TUNE = ["tune", "rossmann", "--data-dir", "{data}"]
#: a trial on the tiny twin in a second or two
FAST = ["--param", "n_estimators=60", "--param", "early_stopping_rounds=20", "--threads", "1"]


def _killed_writer(tmp: Path, data: Path) -> None:
    """What `kill -9` in the middle of a journal write leaves: Optuna's lock file and a record
    cut before its newline."""
    tune = data / "runs" / "tune"
    tune.mkdir(parents=True)
    (tune / "rossmann-lgbm.journal").write_bytes(b'{"op_code":0,"worker_id":"ab')
    (tune / "rossmann-lgbm.journal.lock").touch()


def _took_over(tmp: Path, data: Path, result: Result) -> None:
    out = result.out + result.err
    assert "removed the lock rossmann-lgbm.journal.lock" in out
    assert "dropped the half-written last record" in out
    assert "taking longer than" not in out and "Forcibly" not in out  # Optuna's lock warnings
    assert not (data / "runs" / "tune" / "rossmann-lgbm.journal.lock").exists()
    assert "1 complete" in result.out or "1 pruned" in result.out


def _no_password(tmp: Path, data: Path, result: Result) -> None:
    assert "secret" not in result.err and "kit:***@127.0.0.1:1/none" in result.err


CASES = [
    Case("tune-trials-zero", [*TUNE, "--model", "lgbm", "--trials", "0"],
         r"--trials must be at least 1, got 0; give the trials to run"),
    Case("tune-trials-negative", [*TUNE, "--model", "lgbm", "--trials", "-3"], r"--trials must be at least 1, got -3"),
    Case("tune-workers-zero", [*TUNE, "--model", "lgbm", "--workers", "0"], r"--workers must be at least 1, got 0"),
    Case("tune-timeout-negative", [*TUNE, "--model", "lgbm", "--timeout", "-5"],
         r"--timeout must be a positive number of seconds, got -5"),
    Case("tune-timeout-zero", [*TUNE, "--model", "lgbm", "--timeout", "0", "--trials", "3"],
         r"--timeout must be a positive number of seconds, got 0"),
    Case("tune-unknown-model", [*TUNE, "--model", "xgb"], r"no search space for model 'xgb'; tunable models: lgbm"),
    Case("tune-sqlite-parallel-workers", [*TUNE, "--model", "lgbm", "--workers", "2", "--storage",
                                          "sqlite:///{tmp}/s.db"], r"SQLite locks when several workers write"),
    Case("tune-storage-unsupported", [*TUNE, "--model", "lgbm", "--storage", "redis://localhost"],
         r"--storage redis://\.\.\. is not supported; use postgresql://"),
    Case("tune-storage-unreachable", [*TUNE, "--model", "lgbm", "--storage", "postgresql://kit:secret@127.0.0.1:1/none"],
         r"cannot open the study database postgresql\+psycopg://kit:\*\*\*@127\.0\.0\.1:1/none", check=_no_password),
    Case("tune-heartbeat-zero", [*TUNE, "--model", "lgbm", "--heartbeat", "0", "--storage",
                                 "postgresql://kit:secret@127.0.0.1:1/none"], r"--heartbeat must be at least 1 second"),
    Case("tune-no-data", ["tune", "rossmann", "--model", "lgbm", "--data-dir", "{data}"],
         r"no train\.csv in .*kit generate rossmann", competition=None),
    Case("train-params-best-without-study", ["train", "rossmann", "--model", "lgbm", "--params", "best",
                                             "--data-dir", "{data}"], r"no study 'rossmann-lgbm' in .*kit tune rossmann"),
    Case("tune-after-kill-9-takes-the-lock-at-once", [*TUNE, "--model", "lgbm", "--trials", "1", *FAST],
         r"removed the lock rossmann-lgbm\.journal\.lock", setup=_killed_writer, code=0, one_line=False,
         changes=("data/runs/tune/*",), check=_took_over),
]
