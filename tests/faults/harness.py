"""Bad inputs and faults as data: one `Case` per thing a user meets, run by test_faults.py.

Each case copies a tiny twin into a fresh folder (`{data}`), lets `setup` break something,
runs `kit ARGV` (in this process, or as a subprocess where signals or other processes are
involved) and checks what issue 12 asks of every failure:

- the exit code (2 for a user error);
- stderr is one line `kit CMD: error: ...` (or the case's own pattern) matching `match`, and
  no traceback;
- nothing lost: every file present before is still there with the same bytes, except the
  ones the case says may change (`changes`, glob patterns relative to the case folder);
- nothing half-written: no temp or staging leftovers (`.*.tmp*`, `.staging-*`, `.extract-*`).

`KIT_FAULTS_TABLE=FILE pytest tests/faults` also appends one Markdown row per case to FILE:
input, exit code, first line of the message, files before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: names of files a failed command must not leave behind
LEFTOVER = re.compile(r"(^\..*\.tmp(\..*)?$)|(^\.staging-)|(^\.extract-)")


@dataclass(frozen=True)
class Case:
    """One bad input or fault and what kit must do about it."""

    #: a short id, used as the pytest id
    id: str
    #: the kit arguments; "{data}" is the case's copy of the twin, "{tmp}" the case folder
    argv: Sequence[str]
    #: the regex the message must match (searched in the whole stderr)
    match: str
    #: the competition whose tiny twin is copied into {data}; None: {data} starts empty
    competition: str | None = "rossmann"
    #: breaks something before the command runs: setup(tmp, data)
    setup: Callable[[Path, Path], None] | None = None
    #: the expected exit code
    code: int = 2
    #: glob patterns (relative to {tmp}) of files the command may change or remove
    changes: tuple[str, ...] = ()
    #: run `python -m kit.cli` in a subprocess (signals, other processes, environment)
    subprocess: bool = False
    #: extra environment for a subprocess case
    env: dict[str, str] = field(default_factory=dict)
    #: more checks after the run: check(tmp, data, result)
    check: Callable[[Path, Path, Result], None] | None = None
    #: the message is one `kit CMD: error:` line (False for a case that succeeds or prints more)
    one_line: bool = True
    #: pytest marks for this case (e.g. ("slow",))
    marks: tuple[str, ...] = ()


@dataclass
class Result:
    code: int
    out: str
    err: str


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (relative path -> sha256 of its bytes)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_kit(argv: Sequence[str], *, in_subprocess: bool = False, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 120) -> Result:
    """`kit ARGV`: its exit code, stdout and stderr."""
    if in_subprocess:
        full_env = {**os.environ, **(env or {})}
        p = subprocess.run([sys.executable, "-m", "kit.cli", *argv], capture_output=True, text=True,
                           env=full_env, cwd=cwd, timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr)
    from kit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse
            code = e.code if isinstance(e.code, int) else 2
    return Result(code, out.getvalue(), err.getvalue())


def run_case(case: Case, tmp: Path, twin: Callable[[str], Path]) -> tuple[Result, dict, dict]:
    """Run `case` in the empty folder `tmp`; assert everything the module docstring lists."""
    data = tmp / "data"
    if case.competition:
        # as a download leaves it: the session's twin may hold caches and runs other tests made
        shutil.copytree(twin(case.competition), data, ignore=shutil.ignore_patterns(".kit-cache", "runs"))
    else:
        data.mkdir()
    if case.setup:
        case.setup(tmp, data)
    before = snapshot(tmp)
    argv = [a.format(data=data, tmp=tmp) for a in case.argv]
    result = run_kit(argv, in_subprocess=case.subprocess, env=case.env, cwd=tmp)
    after = snapshot(tmp)
    _record(case, argv, result, before, after, tmp)

    assert result.code == case.code, f"exit {result.code}, wanted {case.code}\n{result.err[-2000:]}"
    assert "Traceback" not in result.err, result.err[-3000:]
    assert re.search(case.match, result.err + ("" if case.one_line else result.out)), \
        f"{case.match!r} not in:\n{result.err}"
    if case.one_line:
        lines = [ln for ln in result.err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if re.match(r"kit [a-z]+: error: ", ln)]
        assert len(errors) == 1, f"wanted one error line, got:\n{result.err}"
    changed = [f for f in before if f not in after or before[f] != after[f]]
    allowed = [f for f in changed if any(Path(f).match(g) for g in case.changes)]
    assert sorted(changed) == sorted(allowed), f"files lost or replaced: {sorted(set(changed) - set(allowed))}"
    left = [f for f in after if f not in before and LEFTOVER.search(Path(f).name)]
    left += [d.relative_to(tmp).as_posix() for d in tmp.rglob(".staging-*") if d.is_dir()]
    assert not left, f"half-written leftovers: {left}"
    if case.check:
        case.check(tmp, data, result)
    return result, before, after


def _record(case: Case, argv, result: Result, before: dict, after: dict, tmp: Path) -> None:
    path = os.environ.get("KIT_FAULTS_TABLE")
    if not path:
        return
    first = next((ln for ln in result.err.splitlines() if ln.strip()), "(nothing on stderr)")
    first = first.replace(f"{tmp}/", "")
    lost = len([f for f in before if f not in after])
    changed = len([f for f in before if f in after and before[f] != after[f]])
    new = len([f for f in after if f not in before])
    cmd = " ".join(["kit", *[Path(a).name if "/" in a else a for a in argv]])
    row = (f"| {case.id} | `{cmd}` | {result.code} | {first.replace('|', '/')[:160]} | "
           f"{len(before)} -> {len(after)} ({lost} lost, {changed} changed, {new} new) |\n")
    with open(path, "a", encoding="utf-8") as f:
        f.write(row)
