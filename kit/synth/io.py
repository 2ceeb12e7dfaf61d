"""Writing twin files exactly as Kaggle ships them (line endings, quoting, column order)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import polars as pl

from kit.atomic import open_atomic, write_atomic
from kit.spec import FileSpec


def _check_columns(df: pl.DataFrame, spec: FileSpec) -> None:
    if spec.columns and tuple(df.columns) != spec.column_names:
        raise ValueError(
            f"{spec.name}: columns {df.columns} do not match the spec {list(spec.column_names)}")


def _to_csv(df: pl.DataFrame, spec: FileSpec, header: bool) -> bytes:
    if spec.quote_style == "columns":
        return _by_column(df, spec, header)
    text = df.write_csv(
        include_header=header,
        line_terminator=spec.line_terminator,
        quote_style=spec.quote_style,
    )
    return text.encode()


def _by_column(df: pl.DataFrame, spec: FileSpec, header: bool) -> bytes:
    """Rows as R's write.csv writes them: header and factor columns quoted, numbers and
    dates bare, missing values blank (polars' non_numeric style would quote dates too)."""
    exprs = []
    for c in df.columns:
        text = pl.col(c).cast(pl.String)
        if c in spec.quoted_columns:
            text = pl.lit('"') + text + pl.lit('"')
        exprs.append(text.fill_null("").alias(c))
    term = spec.line_terminator
    out = df.select(exprs).write_csv(include_header=False, quote_style="never", line_terminator=term)
    if header:
        out = ",".join(f'"{c}"' for c in df.columns) + term + out
    return out.encode()


def write_csv(df: pl.DataFrame, folder: Path, spec: FileSpec) -> Path:
    """Write `df` as `folder/spec.name`, formatted like the real file, atomically."""
    _check_columns(df, spec)
    data = _to_csv(df, spec, header=True)
    return write_atomic(Path(folder) / spec.name, lambda tmp: tmp.write_bytes(data))


class CsvWriter:
    """Append chunks to one CSV with bounded memory (for `--size full`); the file appears whole
    when the block ends, or not at all.

    >>> # with CsvWriter(folder, spec) as w:
    >>> #     for chunk in chunks: w.write(chunk)
    """

    def __init__(self, folder: Path, spec: FileSpec, total: int | None = None):
        self.spec = spec
        self.total = total
        self.path = Path(folder) / spec.name
        self._stack = contextlib.ExitStack()
        self._fh = None
        self._header = True
        self.rows = 0

    def __enter__(self) -> "CsvWriter":
        from kit.progress import bar

        self._fh = self._stack.enter_context(open_atomic(self.path))
        self._bar = self._stack.enter_context(bar(total=self.total, desc=self.spec.name, unit="rows"))
        return self

    def write(self, df: pl.DataFrame) -> None:
        _check_columns(df, self.spec)
        self._fh.write(_to_csv(df, self.spec, header=self._header))
        self._header = False
        self.rows += df.height
        self._bar.update(df.height)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self._header:  # no chunk written: still a valid file with a header
            empty = pl.DataFrame(schema={c: pl.String for c in self.spec.column_names})
            self._fh.write(_to_csv(empty, self.spec, header=True))
        self._stack.__exit__(exc_type, exc, tb)  # the bar, then the file: renamed, or removed on an error


def usage_split(n: int, public_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Kaggle's Usage column: a random `public_fraction` of rows 'Public', the rest 'Private'."""
    public = np.zeros(n, dtype=bool)
    public[rng.permutation(n)[: int(round(n * public_fraction))]] = True
    return np.where(public, "Public", "Private")


SOLUTION_SPEC_NAME = "solution/solution.csv"


def write_solution(df: pl.DataFrame, folder: Path) -> Path:
    """Write the hidden answers: the submission's columns plus `Usage` (Public/Private)."""
    if df.columns[-1] != "Usage":
        raise ValueError("the solution's last column must be Usage")
    spec = FileSpec(name=SOLUTION_SPEC_NAME, role="extra")
    return write_csv(df, folder, spec)
