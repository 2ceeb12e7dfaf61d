"""A really read-only folder for tests: a read-only bind mount of the folder onto itself.

As root (CI, this sandbox) permission bits stop no write, so `chmod` proves nothing; a
read-only mount refuses every write with EROFS, as Kaggle Notebooks' /kaggle/input does.
Where mounting is not permitted (no root, no `mount`, a container without CAP_SYS_ADMIN) the
test is skipped with the reason.

- `read_only(path)`: a context manager, unmounted when the block ends whatever happens;
- the `read_only_folder` fixture: `read_only_folder(path)` mounts, the teardown unmounts;
- `mount(**env)` (or `environment(**env)`) / `unmount_check(...)`: a fault case's `setup` and `check`
  (tests/faults/cases_readonly.py). The harness runs `check` only when its own assertions
  pass, so every mount (and the setup's environment) is also recorded here: the next case's
  setup and the interpreter's exit undo whatever a failed case left, and no mount outlives
  the test session.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: folders this process mounted read-only and has not unmounted yet
MOUNTED: list[Path] = []


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60)


@functools.cache
def why_no_mount() -> str | None:
    """None when a read-only bind mount works here, else why not (the skip reason)."""
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "no mount/umount command on this machine"
    if os.geteuid() != 0:
        return "read-only bind mounts need root (CI runs these tests as root)"
    scratch = Path(tempfile.mkdtemp(prefix="kit-ro-probe-"))
    try:
        p = _run("mount", "--bind", str(scratch), str(scratch))
        if p.returncode:
            return f"mount --bind is not permitted here: {p.stderr.strip()}"
        try:
            p = _run("mount", "-o", "remount,bind,ro", str(scratch))
            if p.returncode:
                return f"remount read-only is not permitted here: {p.stderr.strip()}"
            try:
                (scratch / "x").write_text("x")
            except OSError:
                return None
            return "a read-only bind mount still accepted a write"
        finally:
            _run("umount", str(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _mount(path: Path) -> None:
    reason = why_no_mount()
    if reason:
        pytest.skip(reason)
    p = _run("mount", "--bind", str(path), str(path))
    if p.returncode:
        pytest.fail(f"mount --bind {path}: {p.stderr.strip()}")
    MOUNTED.append(path)
    p = _run("mount", "-o", "remount,bind,ro", str(path))
    if p.returncode:
        unmount(path)
        pytest.fail(f"remount read-only {path}: {p.stderr.strip()}")


def unmount(path: Path) -> None:
    """Unmount `path` if this process mounted it (lazily where something still holds it open)."""
    if path in MOUNTED:
        if _run("umount", str(path)).returncode:
            _run("umount", "-l", str(path))
        MOUNTED.remove(path)


@atexit.register
def unmount_all() -> None:
    """Unmount every folder this process mounted, and undo every case setup's environment."""
    for path in list(MOUNTED):
        unmount(path)
    while PATCHES:
        PATCHES.pop().undo()


@contextlib.contextmanager
def read_only(path: str | os.PathLike) -> Iterator[Path]:
    """`path` mounted read-only on itself for the block."""
    path = Path(path).resolve()
    _mount(path)
    try:
        yield path
    finally:
        unmount(path)


@pytest.fixture()
def read_only_folder() -> Iterator[Callable[[str | os.PathLike], Path]]:
    """`read_only_folder(path)` mounts `path` read-only until the test ends."""
    done: list[Path] = []

    def mount(path: str | os.PathLike) -> Path:
        path = Path(path).resolve()
        _mount(path)
        done.append(path)
        return path

    try:
        yield mount
    finally:
        for path in done:
            unmount(path)


# --------------------------------------------------------------------------- fault cases

#: what a case's setup changed in this process (environment, working directory), undone by its check
PATCHES: list[pytest.MonkeyPatch] = []


def environment(**env: str) -> Callable[[Path, Path], None]:
    """A Case's setup: the working directory the case folder (where ./runs goes) and `env` set
    ("{tmp}" in a value is the case folder; "" removes the variable), undone by `unmount_check`.
    Whatever an earlier failed case left is undone first."""
    def setup(tmp: Path, data: Path) -> None:
        unmount_all()
        mp = pytest.MonkeyPatch()
        PATCHES.append(mp)
        mp.chdir(tmp)
        for name, value in env.items():
            if value:
                mp.setenv(name, value.format(tmp=tmp))
            else:
                mp.delenv(name, raising=False)
    return setup


def mount(**env: str) -> Callable[[Path, Path], None]:
    """A Case's setup: `environment(**env)`, then `data` read-only."""
    def setup(tmp: Path, data: Path) -> None:
        environment(**env)(tmp, data)
        _mount(data.resolve())
    return setup


def unmount_check(*checks: Callable) -> Callable:
    """A Case's check: unmount `data`, undo the setup's environment, then run `checks`
    (each check(tmp, data, result))."""
    def check(tmp: Path, data: Path, result) -> None:
        unmount_all()
        for c in checks:
            c(tmp, data, result)
    return check
