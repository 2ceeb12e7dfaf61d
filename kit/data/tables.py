"""Reading a competition's tables with the types its spec declares."""

from __future__ import annotations

import csv
import datetime
import os
from pathlib import Path

import polars as pl

from kit.errors import KitError
from kit.spec import CompetitionSpec, FileSpec

_POLARS = {"int": pl.Int64, "float": pl.Float64, "str": pl.String, "bool": pl.Boolean,
           "date": pl.String, "datetime": pl.String}
#: number columns are read as text and converted by `_number`, so that any lossless spelling
#: (31000.0 in an integer column, 1e5, " 7 ") reads, as it does in pandas
_NUMBERS = ("int", "float")
_INT64_LIMIT = 2.0**63


def data_dir(spec: CompetitionSpec, override: str | os.PathLike | None = None) -> Path:
    """The competition's data folder: `override`, else $KIT_DATA/<name>, else ./data/<name>."""
    if override is not None:
        return Path(override)
    return Path(os.environ.get("KIT_DATA", "data")) / spec.name


def polars_schema(file: FileSpec) -> dict[str, pl.DataType]:
    """The dtypes `file` holds once read (dates as text; `parse_dates` converts them)."""
    return {c.name: _POLARS[c.type] for c in file.columns}


def _path(spec: CompetitionSpec, file: FileSpec, folder: Path) -> Path:
    path = Path(folder) / file.name
    if not path.exists():
        raise KitError(
            f"{path} is missing; make the twin with `kit generate {spec.name} --data-dir {folder}` "
            f"or fetch the real data with `kit download {spec.name} --data-dir {folder}`")
    return path


def _fetch(spec: CompetitionSpec, file: FileSpec, folder: Path) -> str:
    """How to get `file` back as Kaggle ships it (the twin's folder can be regenerated instead)."""
    return (f"get it again with `kit download {spec.name} --file {file.name}` (or, for the twin, "
            f"`kit generate {spec.name} --data-dir {folder}` in an empty folder)")


def _count_lines(path: Path) -> int:
    """Lines in `path` as an editor counts them (a last line without a newline counts)."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def _last_line(path: Path, size: int) -> tuple[bytes, bool, int] | None:
    """The last non-blank line of `path`, whether it is also the first (the header), and how many
    blank lines follow it; None where that line is longer than the block read from the end
    (nothing is checked then)."""
    block = 1 << 16
    with open(path, "rb") as fh:
        fh.seek(max(0, size - block))
        raw = fh.read()
    tail = raw.rstrip(b"\r\n")
    blank = max(0, raw[len(tail):].count(b"\n") - 1)  # the first newline ends the last line
    cut = tail.rfind(b"\n")
    if cut < 0:
        return (tail, True, blank) if size <= block else None
    return tail[cut + 1:].rstrip(b"\r"), False, blank


def check_csv(spec: CompetitionSpec, name: str, folder: Path) -> Path:
    """`folder`/`name` when it is a whole table: not empty, the spec's columns in its header, at
    least one row, and a last line as long as the header (a download or copy cut short leaves a
    last line with fewer fields or an open quote, which polars would read silently as nulls).
    Raise a one-line KitError naming the file, the line and the fix otherwise. Cheap: it reads the
    first line and the last 64 KiB, and counts lines only to report a cut file."""
    from kit.data.schema import read_header

    file = spec.file(name)
    path = _path(spec, file, folder)
    if not file.columns or not path.is_file():
        return path
    size = path.stat().st_size
    got = read_header(path) if size else []
    if not got:
        raise KitError(f"{path} is empty ({size} bytes, no header line); a table needs its header and rows; "
                       f"{_fetch(spec, file, folder)}")
    missing = [c for c in file.column_names if c not in got]
    if missing:
        extra = [c for c in got if c not in file.column_names]
        also = f"; unexpected column{'s' * (len(extra) > 1)} {', '.join(extra[:8])}" if extra else ""
        more = f" (+{len(missing) - 8} more)" if len(missing) > 8 else ""
        raise KitError(f"{path} does not parse as the spec says: its header lacks column{'s' * (len(missing) > 1)} "
                       f"{', '.join(missing[:8])}{more}{also} "
                       f"(the spec expects {','.join(file.column_names)}); restore the header, or "
                       f"{_fetch(spec, file, folder)}")
    last = _last_line(path, size)
    if last is None:
        return path
    text, only_header, blank = last
    if only_header:
        raise KitError(f"{path} has a header but no rows; {_fetch(spec, file, folder)}")
    if blank:  # polars reads each as a row of nulls: a test id that is null, a target that is missing
        n = _count_lines(path)
        lines = f"line {n}" if blank == 1 else f"lines {n - blank + 1}..{n}"
        raise KitError(f"{path} {lines} {'is' if blank == 1 else 'are'} blank, after the last row, and would "
                       f"read as {'a row' if blank == 1 else 'rows'} of empty values; delete the blank "
                       f"line{'s' * (blank > 1)} at the end of the file")
    fields = next(csv.reader([text.decode("utf-8", errors="replace")]), [])
    if text.count(b'"') % 2 or len(fields) < len(got):
        what = ("ends inside a quoted field (an unclosed quote)" if text.count(b'"') % 2
                else f"has {len(fields)} of the header's {len(got)} fields")
        raise KitError(f"{path} line {_count_lines(path)} {what}: the file was cut short (an interrupted "
                       f"download or copy); {_fetch(spec, file, folder)}")
    return path


def check_unique_ids(spec: CompetitionSpec, path: Path, ids: pl.Series) -> None:
    """Raise a KitError naming the first test id that appears twice in `ids` (the id column of
    `path`, in file order) and its first two lines (header = line 1)."""
    dup = ids.is_duplicated() & ids.is_not_null()
    if not dup.any():
        return
    value = ids.filter(dup)[0]
    rows = (ids == value).arg_true().head(2).to_list()
    raise KitError(f"{path}: test id {spec.id_column} {value} appears on lines {rows[0] + 2} and {rows[1] + 2}; "
                   f"each test row needs its own id, so a submission can name it once; remove the duplicate "
                   f"row, or get the file again with `kit download {spec.name} --file {spec.test}`")


def _check_ids(spec: CompetitionSpec, name: str, folder: Path, frame: pl.LazyFrame | pl.DataFrame) -> None:
    """The test file's ids are unique (cheap: one column, read once per command)."""
    if name != spec.test or spec.id_column not in spec.file(name).column_names:
        return
    ids = frame.select(spec.id_column)
    ids = ids.collect() if isinstance(ids, pl.LazyFrame) else ids
    check_unique_ids(spec, Path(folder) / name, ids.to_series())


def _value(text: pl.Expr, number: pl.Expr, integer: pl.Expr, kind: str) -> pl.Expr:
    """The column as its spec type from its stripped `text`, read as a float (`number`) and as an
    integer (`integer`): null where blank or where the type cannot hold it."""
    if kind == "float":
        return number
    whole = number.is_finite() & (number == number.round(0)) & (number.abs() < _INT64_LIMIT)
    # the integer reading first: integers past 2**53 would lose digits through a float
    return pl.coalesce(integer, pl.when(whole).then(number).cast(pl.Int64))


def _bad(name: str, kind: str) -> pl.Expr:
    """True where the column holds text that its spec type cannot hold."""
    text = pl.col(name).str.strip_chars()
    value = _value(text, text.cast(pl.Float64, strict=False), text.cast(pl.Int64, strict=False), kind)
    return (text != "") & value.is_null()


def _numbers(lf: pl.LazyFrame, file: FileSpec) -> pl.LazyFrame:
    """`lf` (number columns as text) with its number columns converted by `_value`.

    In stages through temporary columns: polars does not share the subexpressions of one nested
    expression here, and the staged form reads a file about 4x faster.
    """
    kinds = {c.name: c.type for c in file.columns if c.type in _NUMBERS}
    if not kinds:
        return lf
    f, i, v = (lambda n: f"__kit_f_{n}"), (lambda n: f"__kit_i_{n}"), (lambda n: f"__kit_v_{n}")
    lf = lf.with_columns(pl.col(n).str.strip_chars() for n in kinds)
    lf = lf.with_columns([pl.col(n).cast(pl.Float64, strict=False).alias(f(n)) for n in kinds]
                         + [pl.col(n).cast(pl.Int64, strict=False).alias(i(n)) for n in kinds])
    lf = lf.with_columns(_value(pl.col(n), pl.col(f(n)), pl.col(i(n)), k).alias(v(n)) for n, k in kinds.items())
    # The strict cast sees only the unreadable values (null elsewhere), so it fails exactly when a
    # column holds one, inside the same streaming pass; `parse_error` then names the line.
    failing = {n: pl.when((pl.col(n) != "") & pl.col(v(n)).is_null()).then(pl.col(n)).cast(pl.Int64, strict=True)
               for n in kinds}
    lf = lf.with_columns(pl.coalesce(v(n), failing[n]).cast(_POLARS[k]).alias(n) for n, k in kinds.items())
    return lf.drop([name(n) for n in kinds for name in (f, i, v)])


def _parse_dates(lf: pl.LazyFrame, file: FileSpec) -> pl.LazyFrame:
    exprs = []
    for name, fmt in file.date_formats:
        kind = file.column(name).type
        dtype = pl.Date if kind == "date" else pl.Datetime("us")
        exprs.append(pl.col(name).str.strptime(dtype, fmt, strict=True))
    return lf.with_columns(exprs) if exprs else lf


def scan_csv(spec: CompetitionSpec, name: str, folder: Path, *, parse_dates: bool = True,
             lenient: bool = True) -> pl.LazyFrame:
    """A lazy frame straight over one of the competition's CSVs, typed as the spec says.

    Number columns take any lossless spelling; a value the type cannot hold (46173.2 in an
    integer column) fails the collect, and `parse_error` turns that failure into one line.
    `lenient=False` lets polars parse numbers itself: about 5x faster, but it refuses every
    spelling but the plain one (31000.0 in an integer column, " 7 ").
    """
    file = spec.file(name)
    path = check_csv(spec, name, folder)
    as_text = lenient and file.columns
    read = {c.name: pl.String if as_text and c.type in _NUMBERS else _POLARS[c.type] for c in file.columns}
    lf = pl.scan_csv(path, schema_overrides=read, infer_schema_length=0 if file.columns else 100)
    lf = _numbers(lf, file) if as_text else lf
    return _parse_dates(lf, file) if parse_dates else lf


def _first_bad(path: Path, file: FileSpec) -> tuple[int, str, str, str] | None:
    """(line, column, value, expected) of the first value in `path` its spec type cannot hold."""
    checks = {c.name: _bad(c.name, c.type) for c in file.columns if c.type in _NUMBERS}
    for name, fmt in file.date_formats:
        dtype = pl.Date if file.column(name).type == "date" else pl.Datetime("us")
        text = pl.col(name).str.strip_chars()
        checks[name] = (text != "") & text.str.strptime(dtype, fmt, strict=False).is_null()
    if not checks:
        return None
    text = pl.scan_csv(path, infer_schema_length=0).with_row_index("_row")
    rows = text.select(pl.col("_row").filter(bad).min().alias(c) for c, bad in checks.items()).collect().row(0)
    found = [(r, c) for r, c in zip(rows, checks) if r is not None]
    if not found:
        return None
    row, col = min(found)
    value = text.filter(pl.col("_row") == row).select(col).collect().item()
    kind = file.column(col).type
    expected = dict(file.date_formats).get(col) or ("a whole number" if kind == "int" else "a number")
    return row + 2, col, value, expected  # + 2: the header is line 1 (lines as an editor counts them
    # where no quoted field spans lines)


def parse_error(spec: CompetitionSpec, name: str, folder: Path, err: Exception) -> KitError:
    """One line for a table that does not parse: the file, line, column and value where it can be
    found (header = line 1), and the fix."""
    file = spec.file(name)
    path = Path(folder) / file.name
    try:
        bad = _first_bad(path, file)
    except pl.exceptions.PolarsError:
        bad = None
    if bad is None:
        return KitError(f"{path} does not parse as the spec says: {str(err).splitlines()[0]}")
    line, col, value, expected = bad
    kind = spec.file(name).column(col).type
    if col in dict(file.date_formats):
        example = datetime.datetime(2015, 7, 31, 13, 45).strftime(expected)
        return KitError(
            f"{path} line {line}: column {col} holds {value!r}, which is not a {kind} in the format {expected} "
            f"(e.g. {example}); write the dates in that format, or change {col}'s format in "
            f"competitions/{spec.name}/spec.py (date_formats)")
    return KitError(
        f"{path} line {line}: column {col} holds {value!r}, which is not {expected} (the spec reads "
        f"{col} as {kind}); fix the value in the file, or change the column's type in "
        f"competitions/{spec.name}/spec.py")


def _schema(file: FileSpec) -> dict:
    """What of the spec a cache depends on (a change rebuilds it)."""
    return {"columns": [[c.name, c.type] for c in file.columns], "dates": list(file.date_formats)}


def _parse(spec: CompetitionSpec, name: str, folder: Path) -> pl.DataFrame:
    """The CSV checked whole (`check_csv`), parsed with the spec's types and its test ids found
    unique: polars' own number parsing first, as most files spell numbers plainly; the lenient
    reading (numbers as text, then checked) only for a file it refuses."""
    try:
        frame = scan_csv(spec, name, folder, lenient=False).collect()
    except pl.exceptions.PolarsError:
        try:
            frame = scan_csv(spec, name, folder).collect()
        except pl.exceptions.PolarsError as err:
            raise parse_error(spec, name, folder, err) from err
    _check_ids(spec, name, folder, frame)
    return frame


def _cache(spec: CompetitionSpec, name: str, folder: Path) -> tuple[Path | None, pl.DataFrame | None]:
    """(the fresh Parquet cache, None), or where it was missing or stale (None, the parsed table),
    its cache written from that parse (skipped where the cache folder cannot be written)."""
    from kit.data import cache as pq

    file = spec.file(name)
    source = Path(folder) / file.name
    schema = _schema(file)
    if source.is_file():
        parquet = pq.fresh(source, schema)  # one stat when this process has seen it fresh
        if parquet is not None:  # the file is as it was when it was checked and parsed
            return parquet, None
        if source.stat().st_size > STREAM_BYTES:
            try:
                return _stream(spec, name, folder, source, schema), None
            except OSError:  # the cache cannot be written: parse it in memory instead
                pass
    frame = _parse(spec, name, folder)
    try:
        pq.store(source, frame, schema)
    except OSError:  # the cache cannot be written (read-only, full): the parse is still good
        pass
    return None, frame


#: a CSV larger than this streams into its cache (bounded memory; Favorita's train.csv is 4.7 GB)
#: instead of being parsed whole in memory and written from there
STREAM_BYTES = 1 << 30


def _stream(spec: CompetitionSpec, name: str, folder: Path, source: Path, schema: dict) -> Path:
    """The cache of a large CSV written by a streaming scan (polars' own number parsing first)."""
    from kit.data import cache as pq

    try:
        parquet = pq.build(source, scan_csv(spec, name, folder, lenient=False), schema)
    except pl.exceptions.PolarsError:
        try:
            parquet = pq.build(source, scan_csv(spec, name, folder), schema)
        except pl.exceptions.PolarsError as err:
            raise parse_error(spec, name, folder, err) from err
    try:
        _check_ids(spec, name, folder, pl.scan_parquet(parquet))
    except KitError:
        pq.forget(source, schema)
        raise
    return parquet


def scan_table(spec: CompetitionSpec, name: str, folder: Path, *, cache: bool = True) -> pl.LazyFrame:
    """A lazy frame over one of the competition's tables, typed, dates parsed.

    With `cache` (the default) the CSV is parsed once and written from that parse into its
    cache folder as Parquet (kit.data.cache.cache_dir); later scans read the Parquet, with no
    look at the CSV beyond its size and modification time. A cache older than its CSV is
    rebuilt. A folder that cannot be written falls back to parsing the CSV. The CSV is checked
    whole (`check_csv`) and the test file's ids must be unique before a cache vouches for it.
    """
    if cache:
        parquet, frame = _cache(spec, name, folder)
        return pl.scan_parquet(parquet) if parquet is not None else frame.lazy()
    lf = scan_csv(spec, name, folder)
    try:
        _check_ids(spec, name, folder, lf)
    except pl.exceptions.PolarsError as err:
        raise parse_error(spec, name, folder, err) from err
    return lf


def read_table(spec: CompetitionSpec, name: str, folder: Path, *, cache: bool = True) -> pl.DataFrame:
    """One of the competition's tables as a typed DataFrame (see `scan_table`)."""
    if not cache:
        return _parse(spec, name, folder)
    parquet, frame = _cache(spec, name, folder)
    return pl.read_parquet(parquet) if parquet is not None else frame


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
