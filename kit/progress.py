"""Progress bars for long work: tqdm on a terminal, silent elsewhere unless asked."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


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
