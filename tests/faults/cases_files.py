"""Issue 12, part B: nothing lost, nothing overwritten silently, no leftovers.

- `kit generate` never replaces a file no twin wrote (real data), even with --force;
  --force only lets it write beside other files, which it leaves as they are;
- leftovers of killed processes (generate's `.staging-PID-*`, download's `.kit-download.lock`
  and `.kit-download-PID-*`, atomic_dir's `.NAME.PID....tmp`) are removed at the next start,
  one line each, and never while their owner lives;
- `kit train` / `kit blend` refuse to replace an existing run folder unless --force;
- every report lives in the runs folder: RUNS/adversarial, RUNS/study.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

from tests.faults.harness import Case, Result

#: `python -m kit`, which subprocess cases run, needs kit/__main__.py
_NO_MAIN = ("skip",) if not (Path(__file__).resolve().parents[2] / "kit" / "__main__.py").exists() else ()

#: lock files held open by a setup until its check runs (a live holder)
_HELD: list[int] = []
#: the dead pid each setup used, by case id, for its check
_PIDS: dict[str, int] = {}


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped): what a kill -9 leaves behind."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _real(tmp: Path, data: Path) -> None:
    """The twin's files as if downloaded from Kaggle: no twin marker."""
    (data / ".kit-twin.json").unlink()


def _notes(tmp: Path, data: Path) -> None:
    (data / "notes.txt").write_text("my notes\n")


def _fake_run(data: Path, name: str) -> None:
    run = data / "runs" / name
    (run / "models").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": "lgbm", "competition": "rossmann"}))
    (run / "metrics.json").write_text(json.dumps({"oof": 0.1}))
    (run / "models" / "fold_0.pkl").write_bytes(b"hours of training")


def _leftover_staging(tmp: Path, data: Path) -> None:
    pid = _PIDS["generate-removes-dead-staging"] = _dead_pid()
    staging = data / f".staging-{pid}-k9x_2ab1"
    staging.mkdir()
    (staging / "train.csv").write_bytes(b"half a twin" * 1000)


def _leftover_lock(tmp: Path, data: Path) -> None:
    pid = _PIDS["download-takes-over-dead-lock"] = _dead_pid()
    (data / ".kit-download.lock").write_text(str(pid))


def _leftover_download(tmp: Path, data: Path) -> None:
    pid = _PIDS["download-removes-dead-staging"] = _dead_pid()
    (data / f".kit-download-{pid}-ab12cd34").mkdir()
    (data / f".kit-download-{pid}-ab12cd34" / "train.csv.part").write_bytes(b"partial")
    (data / ".kit-download.lock").write_text(str(pid))


def _live_lock(tmp: Path, data: Path) -> None:
    fd = os.open(data / ".kit-download.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, str(os.getpid()).encode())
    _HELD.append(fd)


def _release(tmp: Path, data: Path, result: Result) -> None:
    while _HELD:
        os.close(_HELD.pop())
    assert (data / ".kit-download.lock").exists()  # the live holder's lock is left alone


def _said_removed(case_id: str, what: str):
    def check(tmp: Path, data: Path, result: Result) -> None:
        pid = _PIDS[case_id]
        assert f"removed the leftover {what}" in result.err and f"(pid {pid})" in result.err, result.err
        assert not [p for p in data.iterdir() if str(pid) in p.name], sorted(p.name for p in data.iterdir())
    return check


def _twin_written_beside(tmp: Path, data: Path, result: Result) -> None:
    assert (data / "notes.txt").read_text() == "my notes\n"
    assert (data / "train.csv").exists() and (data / ".kit-twin.json").exists()


def _run_replaced(tmp: Path, data: Path, result: Result) -> None:
    run = data / "runs" / "mine"
    assert json.loads((run / "config.json").read_text())["params"]["n_estimators"] == 5
    assert not (run / "models" / "fold_0.pkl").read_bytes() == b"hours of training"
    assert not [p.name for p in run.parent.iterdir() if ".tmp" in p.name]
    assert "removed the leftover temporary copy of mine" in result.err, result.err


def _dead_run_temp(tmp: Path, data: Path) -> None:
    _fake_run(data, "mine")
    pid = _dead_pid()
    temp = data / "runs" / f".mine.{pid}.140000000000.0123abcd.tmp"
    (temp / "models").mkdir(parents=True)
    (temp / "models" / "fold_0.pkl").write_bytes(b"half a run")


def _mid_swap(tmp: Path, data: Path) -> None:
    """kill -9 between atomic_dir's two renames: the run sits under its temporary `.old` name."""
    _fake_run(data, "lgbm")
    old = data / "runs" / f".lgbm.{_dead_pid()}.140000000000.0123abcd.tmp.old"
    os.replace(data / "runs" / "lgbm", old)


def _restored(tmp: Path, data: Path, result: Result) -> None:
    assert (data / "runs" / "lgbm" / "models" / "fold_0.pkl").read_bytes() == b"hours of training"
    assert "restored" in result.err and "left mid-swap by a process that ended" in result.err, result.err
    assert sorted(p.name for p in (data / "runs").iterdir()) == ["lgbm"]


def _report_in(*parts: str):
    def check(tmp: Path, data: Path, result: Result) -> None:
        where = Path(str(tmp), *parts)
        assert where.is_dir(), f"no report in {where}"
        assert str(where) in result.out, result.out
        assert not (tmp / "reports").exists() and not (data.parent / "reports").exists()
    return check


_GEN = ["generate", "rossmann", "--size", "tiny", "--data-dir", "{data}"]
_TRAIN = ["train", "rossmann", "--model", "lgbm", "--data-dir", "{data}"]
_QUICK_ADV = ["--folds", "2", "--max-rows", "2000", "--max-steps", "1", "--threads", "1"]

CASES = [
    # 1. generate over real data
    Case("generate-over-real-data", _GEN, r"holds train\.csv, test\.csv, .*which no twin wrote.*another folder \(--data-dir\)",
         setup=_real),
    Case("generate-over-real-data-force", [*_GEN, "--force"], r"which no twin wrote.*even with --force", setup=_real),
    Case("generate-over-real-seed-1", [*_GEN, "--seed", "1"], r"sample_submission\.csv.*which no twin wrote",
         setup=_real),
    Case("generate-into-folder-of-other-files", _GEN, r"is not a twin's folder: it holds notes\.txt.*--force",
         competition=None, setup=_notes),
    Case("generate-beside-other-files-force", [*_GEN, "--force"], r"wrote the tiny twin", competition=None,
         setup=_notes, code=0, one_line=False, check=_twin_written_beside),
    Case("generate-into-half-download", _GEN, r"holds sample_submission\.csv, which no twin wrote",
         competition=None, setup=lambda tmp, data: [(data / n).write_text("x\n") for n in
                                                    (".kit-manifest.json", "sample_submission.csv")]),
    Case("generate-over-bare-manifest", _GEN, r"not a twin's folder: it holds \.kit-manifest\.json.*--force",
         competition=None, setup=lambda tmp, data: (data / ".kit-manifest.json").write_text("{}\n")),
    Case("generate-over-own-twin", _GEN, r"wrote the tiny twin of rossmann", code=0, one_line=False),
    Case("generate-over-twin-other-seed", [*_GEN, "--seed", "3"], r"wrote the tiny twin of rossmann \(seed 3\)",
         code=0, one_line=False, changes=("data/*.csv", "data/solution/*", "data/.kit-twin.json")),
    Case("generate-over-other-competition-twin", _GEN, r"holds the twin of porto_seguro, not of rossmann.*--force",
         competition="porto_seguro"),
    Case("generate-over-other-competition-twin-force", [*_GEN, "--force"], r"wrote the tiny twin of rossmann",
         competition="porto_seguro", code=0, one_line=False,
         changes=("data/*.csv", "data/solution/*", "data/.kit-twin.json")),
    Case("generate-over-damaged-marker", _GEN, r"wrote the tiny twin of rossmann", code=0, one_line=False,
         setup=lambda tmp, data: (data / ".kit-twin.json").write_text("{not json"), changes=("data/.kit-twin.json",)),
    Case("generate-beside-old-runs", _GEN, r"wrote the tiny twin", competition=None, code=0, one_line=False,
         setup=lambda tmp, data: _fake_run(data, "lgbm")),
    # 2. leftovers of killed processes
    Case("generate-removes-dead-staging", _GEN, r"removed the leftover staging folder .*\.staging-\d+-k9x_2ab1 of a "
         r"process that ended \(pid \d+\)", code=0, one_line=False, setup=_leftover_staging,
         changes=("data/.staging-*/*",), check=_said_removed("generate-removes-dead-staging", "staging folder")),
    Case("download-takes-over-dead-lock", ["download", "rossmann", "--data-dir", "{data}"],
         r"(?s)removed the leftover lock .*\.kit-download\.lock of a process that ended \(pid \d+\).*holds a synthetic "
         r"twin", setup=_leftover_lock, changes=("data/.kit-download.lock",),
         check=_said_removed("download-takes-over-dead-lock", "lock")),
    Case("download-removes-dead-staging", ["download", "rossmann", "--data-dir", "{data}"],
         r"(?s)removed the leftover download folder .*of a process that ended \(pid \d+\).*no Kaggle credentials",
         competition=None, setup=_leftover_download, subprocess=True,
         env={"HOME": "/nonexistent-kit-faults", "KAGGLE_CONFIG_DIR": "/nonexistent-kit-faults",
              "KAGGLE_API_TOKEN": "", "KAGGLE_USERNAME": "", "KAGGLE_KEY": ""},
         changes=("data/.kit-download*", "data/.kit-download-*/*"),
         check=_said_removed("download-removes-dead-staging", "download folder"), marks=_NO_MAIN),
    Case("download-while-another-runs", ["download", "rossmann", "--data-dir", "{data}"],
         r"another `kit download` \(pid \d+\) is writing into .*wait for it to finish", setup=_live_lock,
         check=_release),
    # 3. existing runs
    Case("train-over-existing-run", _TRAIN, r"runs/lgbm already holds a run and would be replaced; add --force.*"
         r"--name OTHER", setup=lambda tmp, data: _fake_run(data, "lgbm")),
    Case("train-name-over-existing-run", [*_TRAIN, "--name", "mine"], r"runs/mine already holds a run",
         setup=lambda tmp, data: _fake_run(data, "mine")),
    Case("train-over-run-left-mid-swap", _TRAIN, r"runs/lgbm already holds a run.*--force",
         setup=_mid_swap, changes=("data/runs/.lgbm.*/*", "data/runs/.lgbm.*/models/*", "data/runs/lgbm/*"),
         check=_restored),
    Case("train-over-a-non-run-folder", [*_TRAIN, "--runs-dir", "{tmp}/r"], r"r/lgbm already holds a folder",
         setup=lambda tmp, data: (tmp / "r" / "lgbm").mkdir(parents=True)),
    Case("blend-over-run-blend", ["blend", "rossmann", "lgbm", "rf", "--data-dir", "{data}"],
         r"runs/blend already holds a run and would be replaced; add --force",
         setup=lambda tmp, data: [_fake_run(data, n) for n in ("lgbm", "rf", "blend")]),
    Case("blend-named-as-its-input", ["blend", "rossmann", "lgbm", "rf", "--name", "lgbm", "--force",
                                      "--data-dir", "{data}"],
         r"blend's folder .*runs/lgbm is one of the runs it blends.*--name OTHER",
         setup=lambda tmp, data: [_fake_run(data, n) for n in ("lgbm", "rf")]),
    Case("train-force-replaces-and-cleans", [*_TRAIN, "--name", "mine", "--force", "--param", "n_estimators=5",
                                             "--threads", "1"],
         r"out-of-fold RMSPE", code=0, one_line=False, setup=_dead_run_temp,
         changes=("data/runs/mine/*", "data/runs/mine/models/*", "data/runs/.mine.*/models/*"), check=_run_replaced,
         ),
    # 4. one place for reports
    Case("adversarial-report-in-runs", ["adversarial", "rossmann", "--data-dir", "{data}", *_QUICK_ADV],
         r"wrote .*runs/adversarial", code=0, one_line=False, check=_report_in("data", "runs", "adversarial"),
         ),
    Case("adversarial-report-in-runs-dir", ["adversarial", "rossmann", "--data-dir", "{data}", "--runs-dir",
                                            "{tmp}/myruns", *_QUICK_ADV],
         r"wrote .*myruns/adversarial", code=0, one_line=False, check=_report_in("myruns", "adversarial"),
         ),
    Case("study-report-in-runs", ["study", "rossmann", "--data-dir", "{data}", "--folds", "2", "--threads", "1",
                                  "--no-adversarial"],
         r"wrote .*runs/study/study\.png", code=0, one_line=False, check=_report_in("data", "runs", "study"),
         marks=("slow",)),
]
