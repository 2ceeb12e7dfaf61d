"""The journal file's lock: one a killed worker cannot leave behind.

Optuna's file locks (JournalFileOpenLock, JournalFileSymlinkLock) are files that exist while
held: a worker killed with -9 while writing leaves one, and the next `kit tune` waits 30 s for
its grace period, with three warnings. `JournalLock` is an flock on `<journal>.flock`
(kit.atomic.file_lock), which the system drops when its holder dies: the next writer takes it
at once. Taking it over also repairs what a killed writer may leave: Optuna's own leftover
`<journal>.lock` is removed, and a half-written last record (a line without its newline, which
no reader has taken) is dropped, each with one line.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from kit.atomic import file_lock, write_atomic

__all__ = ["JournalLock"]


class JournalLock:
    """A lock object for Optuna's JournalFileBackend (it calls acquire and release)."""

    def __init__(self, journal: str | os.PathLike, log=None):
        self.journal = Path(journal)
        self.path = self.journal.with_name(self.journal.name + ".flock")
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self._held: contextlib.ExitStack | None = None
        self._clear_optuna_lock()

    def acquire(self) -> bool:
        stack = contextlib.ExitStack()
        stack.enter_context(file_lock(self.path))
        self._held = stack
        try:
            self._repair_tail()
        except BaseException:
            self.release()
            raise
        return True

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()

    def _clear_optuna_lock(self) -> None:
        """Optuna's open lock left by a worker killed mid-write (kit before this lock used it)."""
        old = self.journal.with_name(self.journal.name + ".lock")
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
            self.log(f"kit tune: removed the lock {old.name} a killed worker left on the study; continuing at once")

    def _repair_tail(self) -> None:
        """Under the lock: a last record without its newline was cut by a killed writer (every
        writer writes whole lines under this lock); no reader has taken it, so it is dropped."""
        try:
            size = self.journal.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(self.journal, "rb") as f:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
        keep = data[:data.rfind(b"\n") + 1]
        write_atomic(self.journal, lambda tmp: tmp.write_bytes(keep))
        self.log(f"kit tune: dropped the half-written last record ({len(data) - len(keep)} bytes) a killed "
                 f"worker left in {self.journal.name}")
