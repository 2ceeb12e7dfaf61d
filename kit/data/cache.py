"""Parquet cache of a competition's tables, and where kit writes what a data folder needs.

The tables are parsed once into `<cache>/<file>.parquet`, beside a small JSON that records
the source file's size and modification time and the spec's schema. A cache whose record
does not match the source any more is rebuilt, so editing or re-downloading a file is
picked up. Both files are written atomically (`kit.atomic`), the record last, so a crash
never leaves a cache that looks complete.

Where `<cache>` is (`cache_dir`; kit.images keeps its pixels there too):

- `$KIT_CACHE/<name>-<hash>` when KIT_CACHE is set (name and hash of the data folder's
  resolved path, so two data folders never share a cache);
- else `<data folder>/.kit-cache` when the data folder can be written;
- else (a read-only data folder: Kaggle Notebooks mount their input so) the per-user cache,
  `$XDG_CACHE_HOME/kit/<name>-<hash>` or `~/.cache/kit/<name>-<hash>`, said once on stderr.

Run folders (`runs_dir`) default to `<data folder>/runs`, and for a data folder that cannot be
written to `./runs/<name>` in the working directory (a notebook's output folder), said once too.
Whether a folder can be written is found by trying: permission bits say nothing to root, nor
about a read-only mount.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kit.atomic import temp_path, write_atomic, write_text
from kit.errors import KitError

if TYPE_CHECKING:  # polars only for the annotation: kit.images and the CLI import this module
    import polars as pl

CACHE = ".kit-cache"
ENV = "KIT_CACHE"
FORMAT = 3  # bump when the cache layout or parsing changes (3: a cache vouches for unique test ids)

#: the fallback lines already said in this process: each once, not once per table
_said: set[str] = set()
#: caches found fresh in this process, by (source, its size and mtime, schema, where caches go):
#: a warm read costs one stat of the source and one of the Parquet file, no JSON, no probe file
_known: dict[tuple, Path] = {}


def why_not_writable(folder: str | os.PathLike) -> str | None:
    """None when files can be written in `folder`, else why not (the OS's words).

    Found by creating and removing a temporary file in `folder`, or in its nearest existing
    parent when it is not there yet (nothing is created for a question): os.access and the
    permission bits are not enough, as root may write anywhere except on a read-only mount.
    """
    here = Path(folder).absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    probe = temp_path(here / "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as err:
        return err.strerror or str(err)
    probe.unlink(missing_ok=True)
    return None


def writable(folder: str | os.PathLike) -> bool:
    """Whether files can be written in `folder` (see `why_not_writable`)."""
    return why_not_writable(folder) is None


def require_writable(folder: str | os.PathLike, what: str, fix: str) -> None:
    """A KitError naming `folder`, why, and `fix` when `what` (e.g. "the twin") cannot be written there."""
    why = why_not_writable(folder)
    if why is not None:
        raise KitError(f"cannot write {what} into {folder}: {why}; {fix}")


def key(folder: str | os.PathLike) -> str:
    """`<name>-<hash>` of the data folder's resolved path: one cache per data folder."""
    path = Path(folder).resolve()
    return f"{path.name or 'root'}-{hashlib.sha256(str(path).encode()).hexdigest()[:10]}"


def user_cache() -> Path:
    """The per-user cache folder: $XDG_CACHE_HOME/kit, else ~/.cache/kit."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).absolute() / "kit"


def say(line: str) -> None:
    """`line` on stderr, once per process."""
    if line not in _said:
        _said.add(line)
        print(f"kit: {line}", file=sys.stderr)


def cache_dir(data_folder: str | os.PathLike) -> Path:
    """Where the caches for `data_folder` go (see the module docstring); a KitError when
    KIT_CACHE is set to a folder that cannot be written."""
    data_folder = Path(data_folder)
    chosen = os.environ.get(ENV)
    if chosen:
        where = Path(chosen).expanduser().absolute() / key(data_folder)
        why = why_not_writable(where)
        if why is not None:
            raise KitError(f"{ENV}={chosen} cannot be written ({why}); point {ENV} at a writable folder, "
                           f"or unset it to cache beside the data or in {user_cache()}")
        return where
    beside = data_folder / CACHE
    if writable(beside):
        return beside
    where = user_cache() / key(data_folder)
    say(f"{data_folder} cannot be written: its caches go to {where} (set {ENV}=DIR to choose)")
    return where


def runs_dir(data_folder: str | os.PathLike, given: str | os.PathLike | None = None) -> Path:
    """`given`, else `<data folder>/runs`, else for a data folder that cannot be written
    `./runs/<name>` (a notebook's working directory is its output), else the per-user cache's
    `<name>-<hash>/runs`; a fallback is said once on stderr."""
    if given:
        return Path(given)
    data_folder = Path(data_folder)
    default = data_folder / "runs"
    if writable(default):
        return default
    here = Path.cwd() / "runs" / Path(data_folder).resolve().name
    where = here if writable(here) else user_cache() / key(data_folder) / "runs"
    say(f"{data_folder} cannot be written: run folders go to {where} (--runs-dir DIR to choose)")
    return where


def _fingerprint(source: Path, schema: dict) -> dict:
    st = source.stat()
    return {"format": FORMAT, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "schema": _schema_hash(schema)}


def paths(source: Path) -> tuple[Path, Path]:
    """The cached Parquet file of `source` and the JSON record that vouches for it."""
    source = Path(source)
    folder = cache_dir(source.parent)
    rel = source.name
    return folder / f"{rel}.parquet", folder / f"{rel}.json"


def _schema_hash(schema: dict) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:16]


def _memo_key(source: Path, schema: dict) -> tuple:
    st = source.stat()
    where = tuple(os.environ.get(k) for k in (ENV, "XDG_CACHE_HOME", "HOME"))
    return str(source.absolute()), st.st_size, st.st_mtime_ns, _schema_hash(schema), where


def is_fresh(source: Path, schema: dict) -> bool:
    return fresh(source, schema) is not None


def fresh(source: Path, schema: dict) -> Path | None:
    """The Parquet cache of `source` when its record matches the source and `schema`, else None.
    Remembered for the process (keyed by the source's size and mtime), so warm reads do not
    re-read the record or probe the cache folder."""
    source = Path(source)
    memo = _memo_key(source, schema)
    known = _known.get(memo)
    if known is not None and known.exists():
        return known
    parquet, meta = paths(source)
    if not (parquet.exists() and meta.exists()):
        return None
    try:
        if json.loads(meta.read_text()) != _fingerprint(source, schema):
            return None
    except (OSError, ValueError):
        return None
    _known[memo] = parquet
    return parquet


def build(source: Path, lf: pl.LazyFrame, schema: dict) -> Path:
    """Stream `lf` (the typed scan of `source`) into the Parquet cache; return its path (an
    OSError where the cache folder cannot be written: kit.data.tables then reads the CSV uncached)."""
    return _write(source, schema, lambda tmp: lf.sink_parquet(tmp, compression=COMPRESSION, row_group_size=ROW_GROUP))


def store(source: Path, frame: pl.DataFrame, schema: dict) -> Path:
    """Write `frame` (the parsed `source`, already in memory) as its Parquet cache: the CSV is
    parsed once, and the cache is written from what was parsed (an OSError where it cannot be)."""
    return _write(source, schema, lambda tmp: frame.write_parquet(tmp, compression=COMPRESSION,
                                                                 row_group_size=ROW_GROUP))


#: lz4: Favorita's 3M-row small train written in 232-252 ms against zstd's 369-436 ms, read as fast,
#: at 2.4x the size (23.5 MB vs 9.8 MB); the cache is local, its write is on the first run's path
COMPRESSION = "lz4"
ROW_GROUP = 256_000


def clear_seen() -> None:
    """Forget which caches this process found fresh (as a new process would; for benchmarks)."""
    _known.clear()


def forget(source: Path, schema: dict) -> None:
    """Remove the cache of `source` (a table found unusable after it was written)."""
    _known.pop(_memo_key(source, schema), None)
    for path in paths(source):
        path.unlink(missing_ok=True)


def _write(source: Path, schema: dict, write) -> Path:
    parquet, meta = paths(source)
    write_atomic(parquet, write)
    write_text(meta, json.dumps(_fingerprint(source, schema)))  # last: it vouches for the Parquet file
    _known[_memo_key(source, schema)] = parquet
    return parquet
