"""Read-only data folders (issue 12 C), as Kaggle Notebooks mount their input: every command
that only reads the data works, caches and run folders go somewhere writable and say where,
and writing a twin there is one clear line.

`{data}` is a real read-only bind mount (tests/faults/readonly.py; skipped where mounting is
not permitted). Each case runs kit in the case folder with XDG_CACHE_HOME pointing into it, so
./runs and the per-user cache stay inside the case folder; its check undoes both and unmounts.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.faults.harness import Case
from tests.faults.readonly import environment, mount, unmount_check

#: the per-user cache and ./runs of a case, both inside the case folder
ENV = {"XDG_CACHE_HOME": "{tmp}/xdg", "KIT_CACHE": ""}
FAST = ["--threads", "1", "--param", "n_estimators=20"]


def exists(*patterns: str):
    """A check: each glob pattern (relative to the case folder) matches a file."""
    def check(tmp: Path, data: Path, result) -> None:
        for pat in patterns:
            assert list(tmp.glob(pat)), f"nothing matches {pat} in {sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob('*'))[:40]}"
    return check


def absent(*patterns: str):
    def check(tmp: Path, data: Path, result) -> None:
        for pat in patterns:
            assert not list(tmp.glob(pat)), f"{pat} should not exist: {list(tmp.glob(pat))}"
    return check


def said_once(regex: str):
    """A check: a line matching `regex` is on stderr exactly once."""
    def check(tmp: Path, data: Path, result) -> None:
        hits = [ln for ln in result.err.splitlines() if re.search(regex, ln)]
        assert len(hits) == 1, f"wanted {regex!r} once on stderr, got {len(hits)}:\n{result.err[-2000:]}"
    return check


def never_said(regex: str):
    def check(tmp: Path, data: Path, result) -> None:
        assert not re.search(regex, result.err), result.err[-2000:]
    return check


def ro(id: str, argv: list[str], match: str, *checks, code: int = 0, env: dict | None = None,
       read_only: bool = True, **kw) -> Case:
    """A case on a read-only `{data}` (a writable one with read_only=False): unmounted, its
    environment undone, then `checks` run once kit has run."""
    setup = (mount if read_only else environment)(**{**ENV, **(env or {})})
    return Case(id, argv, match, setup=setup, check=unmount_check(*checks), code=code, one_line=code != 0, **kw)


CACHES = r"data cannot be written: its caches go to .*xdg/kit/data-[0-9a-f]{10} \(set KIT_CACHE=DIR to choose\)"
RUNS = r"data cannot be written: run folders go to .*runs/data \(--runs-dir DIR to choose\)"

CASES = [
    ro("ro-generate", ["generate", "rossmann", "--size", "tiny", "--data-dir", "{data}"],
       r"cannot write the tiny twin of rossmann into .*data: Read-only file system; .*--data-dir",
       code=2, competition=None),
    ro("ro-train-runs-dir", ["train", "rossmann", "--model", "lgbm", "--data-dir", "{data}", "--runs-dir", "{tmp}/out", *FAST],
       r"its caches go to", exists("out/lgbm/metrics.json", "out/folds.json", "xdg/kit/data-*/train.csv.parquet"),
       said_once(CACHES), never_said("run folders go to")),
    ro("ro-train-default-runs", ["train", "rossmann", "--model", "lgbm", "--data-dir", "{data}", *FAST],
       r"run folders go to", exists("runs/data/lgbm/metrics.json", "runs/data/lgbm/test.parquet"),
       said_once(RUNS), said_once(CACHES)),
    ro("ro-train-kit-cache", ["train", "rossmann", "--model", "lgbm", "--data-dir", "{data}", "--runs-dir", "{tmp}/out", *FAST],
       r"", never_said("its caches go to"), exists("kc/data-*/train.csv.parquet", "kc/data-*/train.csv.json", "out/lgbm/metrics.json"),
       absent("xdg/kit"), env={"KIT_CACHE": "{tmp}/kc"}),
    ro("ro-kit-cache-read-only", ["train", "rossmann", "--model", "lgbm", "--data-dir", "{data}", "--runs-dir", "{tmp}/out"],
       r"KIT_CACHE=.*/data/kc cannot be written \(Read-only file system\); point KIT_CACHE at a writable folder, or unset it",
       absent("out/lgbm"), code=2, env={"KIT_CACHE": "{tmp}/data/kc"}),
    ro("ro-cache-in-home", ["baseline", "rossmann", "--data-dir", "{data}", "-o", "{tmp}/sub.csv"],
       r"its caches go to .*home/\.cache/kit/data-", exists("sub.csv", "home/.cache/kit/data-*/train.csv.parquet"),
       env={"XDG_CACHE_HOME": "", "HOME": "{tmp}/home"}),
    ro("ro-baseline-out", ["baseline", "rossmann", "--data-dir", "{data}", "-o", "{tmp}/sub.csv"],
       r"its caches go to", exists("sub.csv"), said_once(CACHES)),
    ro("ro-score", ["score", "rossmann", "{data}/sample_submission.csv", "--data-dir", "{data}"],
       r"public\s+[0-9.]+", never_said("cannot be written")),
    ro("ro-run", ["run", "rossmann", "--data-dir", "{data}", "--model", "lgbm", "--no-adversarial", "--threads", "1",
                  "--param", "lgbm.n_estimators=20"],
       r"run folders go to", exists("runs/data/submission.csv", "runs/data/lgbm/metrics.json"), said_once(RUNS)),
    ro("ro-run-adversarial-runs-dir", ["run", "rossmann", "--data-dir", "{data}", "--model", "lgbm", "--threads", "1",
                                       "--param", "lgbm.n_estimators=20", "--runs-dir", "{tmp}/out", "-o", "{tmp}/sub.csv"],
       r"its caches go to", exists("sub.csv", "out/adversarial/*", "out/lgbm/metrics.json"), absent("runs")),
    ro("ro-adversarial", ["adversarial", "rossmann", "--data-dir", "{data}", "--threads", "1"],
       r"run folders go to", exists("runs/data/adversarial/*"), said_once(RUNS), said_once(CACHES)),
    ro("ro-run-empty-folder", ["run", "rossmann", "--data-dir", "{data}", "--size", "tiny"],
       r"cannot write the tiny twin of rossmann into .*data: Read-only file system; pass --data-dir with a "
       r"writable folder \(e\.g\. --data-dir \./data/rossmann\)",
       absent("runs", "xdg"), code=2, competition=None),
    # a writable data folder keeps its caches and runs beside the data, and nothing is said
    ro("writable-data-folder", ["train", "rossmann", "--model", "lgbm", "--data-dir", "{data}", *FAST],
       r"", exists("data/.kit-cache/train.csv.parquet", "data/runs/lgbm/metrics.json"), absent("runs", "xdg"),
       never_said("cannot be written"), read_only=False),
    ro("writable-data-folder-kit-cache", ["baseline", "rossmann", "--data-dir", "{data}", "-o", "{tmp}/sub.csv"],
       r"", exists("kc/data-*/train.csv.parquet", "sub.csv"), never_said("cannot be written"),
       read_only=False, env={"KIT_CACHE": "{tmp}/kc"}),
]
