"""Seeds, sizes and the staged, atomic `generate` driver."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np

from kit.atomic import write_json
from kit.errors import KitError
from kit.spec import SIZES

MARKER = ".kit-twin.json"


def stable_hash(*parts: object) -> int:
    """A hash of `parts` that is the same in every process (unlike `hash`)."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode())


def rng(seed: int, *stream: object) -> np.random.Generator:
    """An independent random stream for (`seed`, `stream`...).

    Each table or effect draws from its own stream, so changing how one table is made
    does not change the others.
    """
    return np.random.default_rng([int(seed), *(stable_hash(s) for s in stream)])


def generate(competition, data_dir: Path, *, size: str = "small", seed: int = 0) -> Path:
    """Write the synthetic twin of `competition` into `data_dir`.

    Files are written into a staging folder inside `data_dir` and moved into place only
    when the whole twin is complete, so an interrupted run never leaves a twin that looks
    complete. Rerunning with the same size and seed rewrites identical bytes.
    """
    if size not in SIZES:
        raise KitError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    twin = competition.load("twin")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    # a fresh name per call: two runs writing into one folder never share their staging
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=data_dir))
    try:
        twin.generate(staging, size=size, seed=seed)
        _check_written(competition.spec, staging)
        for entry in sorted(staging.iterdir()):
            target = data_dir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
        marker = {"competition": competition.name, "size": size, "seed": seed}
        write_json(data_dir / MARKER, marker, indent=1)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data_dir


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
    return json.loads(path.read_text()) if path.exists() else None
