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
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["temp_path", "write_atomic", "open_atomic", "write_text", "write_json", "json_default", "atomic_dir",
           "file_lock"]


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
