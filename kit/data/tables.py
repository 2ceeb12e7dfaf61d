"""Reading a competition's tables with the types its spec declares."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from kit.errors import KitError
from kit.spec import CompetitionSpec, FileSpec

_POLARS = {"int": pl.Int64, "float": pl.Float64, "str": pl.String, "bool": pl.Boolean,
           "date": pl.String, "datetime": pl.String}


def data_dir(spec: CompetitionSpec, override: str | os.PathLike | None = None) -> Path:
    """The competition's data folder: `override`, else $KIT_DATA/<name>, else ./data/<name>."""
    if override is not None:
        return Path(override)
    return Path(os.environ.get("KIT_DATA", "data")) / spec.name


def polars_schema(file: FileSpec) -> dict[str, pl.DataType]:
    """The dtypes to read `file` with (dates as text; `parse_dates` converts them)."""
    return {c.name: _POLARS[c.type] for c in file.columns}


def _path(spec: CompetitionSpec, file: FileSpec, folder: Path) -> Path:
    path = Path(folder) / file.name
    if not path.exists():
        raise KitError(
            f"{path} is missing; make the twin with `kit generate {spec.name} --data-dir {folder}` "
            f"or fetch the real data with `kit download {spec.name} --data-dir {folder}`")
    return path


def _parse_dates(lf: pl.LazyFrame, file: FileSpec) -> pl.LazyFrame:
    exprs = []
    for name, fmt in file.date_formats:
        kind = file.column(name).type
        dtype = pl.Date if kind == "date" else pl.Datetime("us")
        exprs.append(pl.col(name).str.strptime(dtype, fmt, strict=True))
    return lf.with_columns(exprs) if exprs else lf


def scan_csv(spec: CompetitionSpec, name: str, folder: Path, *, parse_dates: bool = True) -> pl.LazyFrame:
    """A lazy frame straight over one of the competition's CSVs, typed as the spec says."""
    file = spec.file(name)
    path = _path(spec, file, folder)
    lf = pl.scan_csv(path, schema_overrides=polars_schema(file), infer_schema_length=0 if file.columns else 100)
    return _parse_dates(lf, file) if parse_dates else lf


def scan_table(spec: CompetitionSpec, name: str, folder: Path, *, cache: bool = True) -> pl.LazyFrame:
    """A lazy frame over one of the competition's tables, typed, dates parsed.

    With `cache` (the default) the CSV is parsed once into `<folder>/.kit-cache/` as Parquet
    and later scans read the Parquet; a cache older than its CSV is rebuilt. A folder that
    cannot be written falls back to reading the CSV.
    """
    from kit.data import cache as pq

    lf = scan_csv(spec, name, folder)
    if not cache:
        return lf
    file = spec.file(name)
    source = Path(folder) / file.name
    schema = {"columns": [[c.name, c.type] for c in file.columns], "dates": list(file.date_formats)}
    parquet, _ = pq.paths(source)
    if not pq.is_fresh(source, schema):
        try:
            pq.build(source, lf, schema)
        except PermissionError:
            return lf
        except pl.exceptions.ComputeError as err:
            raise KitError(f"{source} does not parse as the spec says: {str(err).splitlines()[0]}") from err
    return pl.scan_parquet(parquet)


def read_table(spec: CompetitionSpec, name: str, folder: Path, *, cache: bool = True) -> pl.DataFrame:
    """One of the competition's tables as a typed DataFrame (see `scan_table`)."""
    try:
        return scan_table(spec, name, folder, cache=cache).collect()
    except pl.exceptions.ComputeError as err:
        raise KitError(f"{Path(folder) / name} does not parse as the spec says: {str(err).splitlines()[0]}") from err


def join_lookups(spec: CompetitionSpec, folder: str | os.PathLike, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every extra table of the competition joined on, keyed by the table's first
    column, where that column is a unique key of the table and a column of `frame` (Rossmann's
    store.csv, Favorita's items.csv and stores.csv). Tables that are not there, or whose key
    repeats, are skipped; `frame` keeps its rows and their order.
    """
    folder = Path(folder)
    for f in spec.files:
        if f.role != "extra" or not f.columns or not (folder / f.name).exists():
            continue
        key = f.columns[0].name
        if key not in frame.columns or f.name in (spec.train, spec.test, spec.sample_submission):
            continue
        table = read_table(spec, f.name, folder)
        new = [c for c in table.columns if c not in frame.columns]
        if not new or table[key].n_unique() != table.height or table.height > frame.height:
            continue
        frame = frame.join(table.select(key, *new).with_columns(pl.col(key).cast(frame.schema[key])),
                           on=key, how="left", maintain_order="left")
    return frame
