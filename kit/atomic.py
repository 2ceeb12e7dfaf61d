"""Atomic writes: a file or a folder appears whole or not at all, whoever else writes beside it.

Every writer in kit goes through here. A temporary name is unique per process, thread and call
(`.NAME.PID.THREAD.RANDOM.tmp`, in the destination's folder so the final rename never crosses a
file system), so two processes writing the same file never trip over each other's temp file:
the last rename wins and each reader sees one whole version.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_json(d / "a.json", {"x": 1}).read_text()
'{\\n  "x": 1\\n}\\n'
>>> with atomic_dir(d / "run") as tmp:
...     _ = (tmp / "f.txt").write_text("hi")
>>> sorted(p.name for p in d.iterdir())
['a.json', 'run']
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["temp_path", "write_atomic", "open_atomic", "write_text", "write_json", "json_default", "atomic_dir",
           "file_lock", "pid_alive", "staging_dir", "clear_leftovers", "owner_lock", "recover_swap"]

#: the pid inside a name made by `temp_path`: .STEM.PID.THREAD.RANDOM.tmpSUFFIX
_TEMP_PID = r"\.(\d+)\.\d+\.[0-9a-f]{8}\.tmp"


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh hidden name beside `path`, unique to this process, thread and call; it keeps the
    destination's suffix, so writers that pick a format by suffix (matplotlib) still do."""
    path = Path(path)
    tag = f"{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}"
    return path.with_name(f".{path.stem}.{tag}.tmp{path.suffix}")


def write_atomic(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary path beside `path`, then rename it into place.

    On any error the temporary file is removed and `path` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """`path` open for writing under a temporary name, renamed into place when the block ends
    without an error and removed otherwise (for writers that stream chunk after chunk)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # streamed files are the big ones: a killed writer's temp file would otherwise stay forever
    _clear_temps(path)
    tmp = temp_path(path)
    try:
        with open(tmp, mode) as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`text` into `path`, atomically."""
    return write_atomic(path, lambda p: p.write_text(text))


def json_default(obj: Any) -> Any:
    """JSON for what json.dumps does not know: numpy scalars and arrays, paths, tuples' elements."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> Path:
    """`obj` as indented JSON (with a final newline) into `path`, atomically."""
    return write_text(path, json.dumps(obj, indent=indent, default=json_default) + "\n")


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """An exclusive lock on `path`, a file (created if missing) or a folder, for the block;
    other holders wait.

    The operating system drops it when the process dies, so a killed holder never leaves a
    stale lock behind. Locking a folder leaves no file at all.
    """
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY if path.is_dir() else os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Build a folder in a temporary place and swap it in for `dest` when the block ends.

    Readers see the old folder or the new one, each whole. Two writers of the same `dest`
    each build their own temporary folder; the swaps take turns under a lock on the parent
    folder, so the last to finish wins whole and nothing is mixed. On an error the temporary folder goes and
    `dest` is untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _clear_temps(dest)
    recover_swap(dest)
    tmp = temp_path(dest)
    tmp.mkdir()
    try:
        yield tmp
        with file_lock(dest.parent):
            old = None
            if dest.exists():
                old = temp_path(dest.with_name(dest.name + ".old"))
                os.replace(dest, old)
            os.replace(tmp, dest)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- leftovers of dead processes


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (on this machine); a pid we may not signal still counts as alive."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _held(path: Path) -> bool:
    """Whether a live process holds the flock on `path` (owners of staging folders lock them)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also drops the lock we may just have taken
    return False


def _say(log: Callable[[str], Any] | None, message: str) -> None:
    if log is None:
        print(message, file=sys.stderr)
    else:
        log(message)


def clear_leftovers(folder: str | os.PathLike, pattern: str, what: str,
                    log: Callable[[str], Any] | None = None) -> list[Path]:
    """Remove the entries of `folder` whose whole name matches `pattern` (its first group: the
    owner's pid) and whose owner has ended: its pid is gone and nobody holds a lock on them.

    A kill -9 skips every `finally`, so a staging folder can only be cleaned by the next start;
    one line per entry says so (on stderr unless `log` is given). Returns what was removed.
    """
    folder = Path(folder)
    regex = re.compile(pattern)
    removed = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:  # missing or unreadable: nothing of ours to clean there
        return removed
    for entry in entries:
        m = regex.fullmatch(entry.name)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or pid_alive(pid) or _held(entry):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
        except OSError:  # a read-only folder: leave it; the command's own writes will say why
            continue
        removed.append(entry)
        _say(log, f"removed the leftover {what} {entry} of a process that ended (pid {pid})")
    return removed


def _clear_temps(path: Path) -> None:
    clear_leftovers(path.parent, rf"\.{re.escape(path.stem)}{_TEMP_PID}{re.escape(path.suffix)}",
                    "temporary copy of " + path.name)


def recover_swap(dest: Path) -> None:
    """A writer killed between atomic_dir's two renames left `dest` missing and its previous
    version under a temporary `.old` name: put it back (the only copy), else remove it."""
    pattern = rf"\.{re.escape(dest.name)}{_TEMP_PID}\.old"
    if not dest.exists() and dest.parent.is_dir():
        for entry in sorted(dest.parent.iterdir()):
            m = re.fullmatch(pattern, entry.name)
            if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
                try:
                    os.replace(entry, dest)
                except OSError:  # another command restored it first, or the folder is read-only
                    break
                _say(None, f"restored {dest} from {entry.name}, left mid-swap by a process that ended "
                           f"(pid {m.group(1)})")
                break
    clear_leftovers(dest.parent, pattern, f"previous copy of {dest.name}")


@contextlib.contextmanager
def staging_dir(parent: str | os.PathLike, prefix: str) -> Iterator[Path]:
    """A fresh folder `PREFIX<pid>-<random>` in `parent`, locked by this process for the block and
    removed after it; `clear_leftovers(parent, re.escape(PREFIX) + r"(\\d+)-\\w+", ...)` removes
    the ones of processes that ended."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


@contextlib.contextmanager
def owner_lock(path: str | os.PathLike, busy: str, log: Callable[[str], Any] | None = None) -> Iterator[None]:
    """An exclusive lock file holding its owner's pid, removed when the block ends.

    Another holder is refused at once with KitError(`busy`, where "{pid}" is the holder's pid).
    A file left by a killed owner is not held (the system drops a dead process's flock): it is
    taken over with one line saying so.
    """
    from kit.errors import KitError

    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise KitError(busy.replace("{pid}", pid)) from None
        # the holder before us may have removed the file as we opened it: lock the file at `path`
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        before = os.read(fd, 32).decode(errors="replace").strip()
        if before:
            _say(log, f"removed the leftover lock {path} of a process that ended (pid {before})")
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # still ours: nobody else could take it while we held it
        os.close(fd)
