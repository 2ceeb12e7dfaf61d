"""Seeds, sizes and the staged, atomic `generate` driver."""

from __future__ import annotations

import json
import os
import re
import shutil
import zlib
from pathlib import Path

import numpy as np

from kit.atomic import clear_leftovers, staging_dir, write_json
from kit.errors import KitError
from kit.spec import SIZES

MARKER = ".kit-twin.json"
#: generate's staging folders: .staging-PID-RANDOM
STAGING = ".staging-"
STAGING_PATTERN = re.escape(STAGING) + r"(\d+)-\w+"


def stable_hash(*parts: object) -> int:
    """A hash of `parts` that is the same in every process (unlike `hash`)."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode())


def rng(seed: int, *stream: object) -> np.random.Generator:
    """An independent random stream for (`seed`, `stream`...).

    Each table or effect draws from its own stream, so changing how one table is made
    does not change the others.
    """
    return np.random.default_rng([int(seed), *(stable_hash(s) for s in stream)])


def generate(competition, data_dir: Path, *, size: str = "small", seed: int = 0, force: bool = False,
             log=None) -> Path:
    """Write the synthetic twin of `competition` into `data_dir`.

    Files are written into a staging folder inside `data_dir` and moved into place only
    when the whole twin is complete, so an interrupted run never leaves a twin that looks
    complete. Rerunning with the same size and seed rewrites identical bytes.

    A file no twin wrote is never replaced: a folder without the twin marker that holds a
    file of the twin's names is refused, even with `force`. A folder holding other files
    (not a twin's) is refused unless `force`, which writes the twin beside them and leaves
    them as they are; the twin of another competition is replaced only with `force`. Staging
    folders of killed runs are removed first, one `log` line each (stderr by default).
    """
    if size not in SIZES:
        raise KitError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    from kit.data.cache import require_writable

    twin = competition.load("twin")
    data_dir = Path(data_dir)
    # a read-only mount (Kaggle Notebooks' input) would otherwise fail halfway with a traceback
    require_writable(data_dir, f"the {size} twin of {competition.name}",
                     f"write the twin into a writable folder with --data-dir DIR (e.g. --data-dir "
                     f"./data/{competition.name})")
    data_dir.mkdir(parents=True, exist_ok=True)
    clear_leftovers(data_dir, STAGING_PATTERN, "staging folder", log)
    names = [f.name for f in competition.spec.files] + ["solution"]
    _refuse_foreign(competition.spec.name, data_dir, names, force)  # before minutes of work
    # a fresh name per call: two runs writing into one folder never share their staging
    with staging_dir(data_dir, STAGING) as staging:
        twin.generate(staging, size=size, seed=seed)
        _check_written(competition.spec, staging)
        staged = sorted(staging.iterdir())
        _refuse_foreign(competition.spec.name, data_dir, [e.name for e in staged], force)
        marker = {"competition": competition.name, "size": size, "seed": seed}
        # marked before the first file moves: a run killed among the moves leaves files the next
        # `generate` knows as a twin's (and replaces), not as real data it must refuse to touch
        write_json(data_dir / MARKER, {**marker, "complete": False}, indent=1)
        for entry in staged:
            target = data_dir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
        write_json(data_dir / MARKER, marker, indent=1)
    return data_dir


def foreign_files(data_dir: Path) -> list[str]:
    """The entries of `data_dir` that no twin wrote: everything but kit's own (hidden names,
    runs/) when the folder has no twin marker, nothing when it has one."""
    data_dir = Path(data_dir)
    if (data_dir / MARKER).exists() or not data_dir.is_dir():
        return []
    from kit.data.download import MANIFEST

    return sorted(p.name for p in data_dir.iterdir()
                  if p.name == MANIFEST or not (p.name.startswith(".") or p.name == "runs"))


def _refuse_foreign(name: str, data_dir: Path, twin_names: list[str], force: bool) -> None:
    other = (twin_info(data_dir) or {}).get("competition", name)
    if other != name and not force:  # a mistyped --data-dir: its runs were trained on that twin
        raise KitError(f"{data_dir} holds the twin of {other}, not of {name}; write the {name} twin into another "
                       f"folder (--data-dir), or add --force to replace the {other} twin")
    foreign = foreign_files(data_dir)
    if not foreign:
        return
    clash = [f for f in twin_names if f in foreign]  # the spec's order: train and test first
    if clash:
        raise KitError(
            f"{data_dir} holds {_listed(clash)}, which no twin wrote (real data?), and the {name} twin would "
            f"replace them; kit never replaces them, even with --force: write the twin into another folder "
            f"(--data-dir), or move them away first")
    if not force:
        raise KitError(
            f"{data_dir} is not a twin's folder: it holds {_listed(foreign)}; write the twin into another "
            f"folder (--data-dir), or add --force to write it beside them (they are left as they are)")


def _listed(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _check_written(spec, folder: Path) -> None:
    """A generator bug, not a user error: every required file must be there."""
    missing = [f.name for f in spec.files if f.required and not (folder / f.name).exists()]
    if not (folder / "solution" / "solution.csv").exists():
        missing.append("solution/solution.csv")
    if missing:
        raise RuntimeError(f"twin of {spec.name} did not write: {', '.join(missing)}")


def twin_info(data_dir: Path) -> dict | None:
    """What `generate` recorded in `data_dir`, or None for real (downloaded) data."""
    path = Path(data_dir) / MARKER
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):  # damaged by hand: still a twin's folder, whose twin is unknown
        return {}
    return info if isinstance(info, dict) else {}
