"""Checks of a data folder against the competition spec: files present, CSV headers as expected.

`check` reports every problem; `verify` raises one KitError listing them all, so a user
sees in one go what is missing or different rather than one file per run.
"""

from __future__ import annotations

import csv
import shlex
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kit.errors import KitError
from kit.spec import CompetitionSpec, FileSpec

_HEADER_LIMIT = 1 << 20  # a header line longer than 1 MiB is not a header


@dataclass(frozen=True)
class Problem:
    """One way a data folder differs from its spec."""

    #: the file's name in the spec
    file: str
    kind: Literal["missing", "empty", "header", "not_a_file", "not_a_folder"]
    #: what differs, for people
    detail: str


def read_header(path: str | os.PathLike) -> list[str]:
    """The column names on the first line of a CSV (quotes removed, BOM and CR stripped)."""
    with open(path, "rb") as fh:
        line = fh.readline(_HEADER_LIMIT)
    text = line.decode("utf-8", errors="replace").removeprefix("\ufeff").rstrip("\r\n")
    if not text:
        return []
    return next(csv.reader([text]))


def _header_detail(got: list[str], want: tuple[str, ...]) -> str:
    missing = [c for c in want if c not in got]
    extra = [c for c in got if c not in want]
    parts = []
    if missing:
        parts.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing[:8])}"
                     + (f" (+{len(missing) - 8} more)" if len(missing) > 8 else ""))
    if extra:
        parts.append(f"unexpected column{'s' if len(extra) > 1 else ''} {', '.join(extra[:8])}"
                     + (f" (+{len(extra) - 8} more)" if len(extra) > 8 else ""))
    if not parts:  # same names, another order (or a duplicated name)
        i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w) if len(got) == len(want) else min(
            len(got), len(want))
        have = got[i] if i < len(got) else "nothing"
        parts.append(f"column {i + 1} is {have}, expected {want[i] if i < len(want) else 'nothing'} "
                     f"(same names, another order)")
    return "; ".join(parts)


def _check_file(folder: Path, file: FileSpec) -> Problem | None:
    path = folder / file.name
    if not path.exists():
        return Problem(file.name, "missing", f"{file.name} is missing")
    if file.role == "images":
        if not path.is_dir():
            return Problem(file.name, "not_a_folder", f"{file.name} should be a folder of images")
        if next(path.iterdir(), None) is None:
            return Problem(file.name, "empty", f"{file.name}/ is empty")
        return None
    if not file.columns:
        return None  # documentation, archives of extras: presence is all kit needs
    if not path.is_file():
        return Problem(file.name, "not_a_file", f"{file.name} should be a CSV file, found a folder")
    got = read_header(path)
    if not got:
        return Problem(file.name, "empty", f"{file.name} is empty (no header line)")
    want = file.column_names
    if tuple(got) != want:
        return Problem(file.name, "header", f"{file.name} header differs: {_header_detail(got, want)}")
    return None


def check(spec: CompetitionSpec, folder: str | os.PathLike, *, names: tuple[str, ...] | None = None
          ) -> tuple[Problem, ...]:
    """Every difference between `folder` and the spec.

    Args:
        names: only these files of the spec (all present are checked, missing ones reported);
            default: every required file, plus the optional ones that are present.
    """
    folder = Path(folder)
    if names is None:
        files = [f for f in spec.files if f.required or (folder / f.name).exists()]
    else:
        unknown = [n for n in names if n not in {f.name for f in spec.files}]
        if unknown:
            raise KitError(f"{spec.name} ships no file {unknown[0]!r}; its files: "
                           f"{', '.join(f.name for f in spec.files)}")
        files = [spec.file(n) for n in names]
    return tuple(p for p in (_check_file(folder, f) for f in files) if p is not None)


def verify(spec: CompetitionSpec, folder: str | os.PathLike, *, names: tuple[str, ...] | None = None) -> None:
    """Raise one KitError listing every missing or different file; return None when all is well."""
    problems = check(spec, folder, names=names)
    if not problems:
        return
    n = len(problems)
    listed = "; ".join(p.detail for p in problems)
    raise KitError(
        f"{folder} does not match what {spec.name} ships ({n} problem{'s' if n > 1 else ''}): {listed}. "
        f"Download it again with `kit download {spec.name} --force` (or make the twin with "
        f"`kit generate {spec.name}`); if Kaggle changed its files, update competitions/{spec.name}/spec.py")


def _download_command(spec: CompetitionSpec, name: str) -> str:
    return f"`kit download {spec.name} --file {shlex.quote(name)}`"


def require(spec: CompetitionSpec, folder: str | os.PathLike) -> None:
    """Raise one KitError naming every required file missing from `folder`, each with the
    `kit download` command that fetches it; optional files (FileSpec.required=False) may be absent.

    Then each required table must be whole (`kit.data.tables.check_csv`: not empty, its columns in
    the header, rows, a last line not cut short): one line naming the file, line and fix.

    Cheap (existence, each table's first line and last 64 KiB), so commands call it before any work.
    """
    from kit.data.tables import check_csv

    folder = Path(folder)
    missing = [f.name for f in spec.files if f.required and not (folder / f.name).exists()]
    if not missing:
        for f in spec.files:
            if f.required and f.columns:
                check_csv(spec, f.name, folder)
        return
    listed = ", ".join(f"{name} ({_download_command(spec, name)})" for name in missing)
    n = len(missing)
    raise KitError(
        f"{spec.name} cannot start: {folder} lacks {n} required file{'s' if n > 1 else ''}: {listed}; "
        f"add `--data-dir {folder}` to each, or run `kit generate {spec.name}` in an empty folder for the twin")
