"""Progress for long work: tqdm bars on a terminal, and lines a log keeps.

`bar`/`track` draw bars on a terminal (silent elsewhere unless KIT_PROGRESS=1). `FitLog` makes
sure no fit is silent for more than about `EVERY` seconds, on a terminal or in a log file: it
is a fit callback (each kit model's fit gives it a `kit.models.FitProgress` per round or
epoch) that says at most one line per `EVERY` seconds, plus the last step, and its
`heartbeat()` says a line when a fit without steps (the forest) has been quiet that long:

    fit_log = FitLog("lgbm", log=print)
    with fit_log.heartbeat():
        model.fit(X, y, callbacks=[fit_log.begin("fold 1/3")])
    # "  lgbm fold 1/3: round 120/1000, valid loss 0.1234 (10s)"
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: seconds a fit may go without a line
EVERY = 10.0


def enabled() -> bool:
    """Bars show on a terminal; KIT_PROGRESS=1 forces them on, KIT_PROGRESS=0 off."""
    flag = os.environ.get("KIT_PROGRESS")
    if flag is not None:
        return flag not in ("0", "", "false", "no")
    return sys.stderr.isatty()


def bar(total: int | None = None, desc: str = "", unit: str = "it"):
    """A tqdm bar (a no-op one when progress is off). Use as a context manager."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled(), leave=False,
                dynamic_ncols=True, file=sys.stderr)


def track(items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """Iterate with a progress bar."""
    with bar(total=total, desc=desc, unit=unit) as b:
        for item in items:
            yield item
            b.update(1)


class FitLog:
    """A fit callback that says where a long fit is, at most one line per `every` seconds.

    `begin(stage)` names what comes next ("fold 2/3", "refit on all rows") and returns the
    callback itself. `clock` is injectable (tests use a fake one rather than sleep).
    """

    def __init__(self, name: str, log: Callable[[str], Any] = print, *, every: float | None = None,
                 clock: Callable[[], float] | None = None):
        self.name = name
        self.log = log
        self.every = EVERY if every is None else every  # read at call time: tests set EVERY
        self.clock = clock or time.monotonic
        self.stage = ""
        self.started = self.last = self.clock()
        self.latest = None
        # the heartbeat thread and the fit's own thread both say lines
        self._lock = threading.Lock()

    def begin(self, stage: str) -> FitLog:
        """Start the clock on `stage`; returns self (the callback to give the fit)."""
        with self._lock:
            self.stage = stage
            self.started = self.last = self.clock()
            self.latest = None
        return self

    def __call__(self, progress) -> None:
        """A kit.models.FitProgress: said when `every` seconds passed since the last line, or
        when it is the last step planned."""
        with self._lock:
            self.latest = progress
            now = self.clock()
            if progress.step >= progress.total or now - self.last >= self.every:
                self._say(now)

    def tick(self) -> None:
        """A line when nothing was said for `every` seconds (what the heartbeat calls)."""
        with self._lock:
            now = self.clock()
            if now - self.last >= self.every:
                self._say(now)

    def _say(self, now: float) -> None:
        self.last = now
        self.log(self.line(now))

    def line(self, now: float) -> str:
        """'  NAME STAGE: round 120/1000, valid loss 0.1234 (10s)'."""
        head = f"  {self.name} {self.stage}".rstrip()
        seconds = f"({now - self.started:.0f}s)"
        p = self.latest
        if p is None:
            return f"{head}: fitting {seconds}"
        parts = [f"{p.unit} {p.step}/{p.total}"]
        if p.train_loss is not None:
            parts.append(f"train loss {p.train_loss:.5g}")
        if p.valid_loss is not None:
            parts.append(f"valid {'score' if p.higher_is_better else 'loss'} {p.valid_loss:.5g}")
        return f"{head}: {', '.join(parts)} {seconds}"

    @contextlib.contextmanager
    def heartbeat(self) -> Iterator[FitLog]:
        """While the block runs, a thread calls `tick` about every second: a fit that reports
        no steps (the forest), or one slow step, still says a line every `every` seconds."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(min(1.0, max(0.01, self.every / 4))):
                self.tick()

        thread = threading.Thread(target=beat, name="kit-fit-heartbeat", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
