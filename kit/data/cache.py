"""Parquet cache of a competition's tables: parse each CSV once, then read columns lazily.

The cache lives in `<data dir>/.kit-cache/<file>.parquet`, beside a small JSON that records
the source file's size and modification time and the spec's schema. A cache whose record
does not match the source any more is rebuilt, so editing or re-downloading a file is
picked up. Both files are written atomically (`kit.atomic`), the record last, so a crash
never leaves a cache that looks complete.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl

from kit.atomic import write_atomic, write_text

CACHE = ".kit-cache"
FORMAT = 2  # bump when the cache layout or parsing changes


def _fingerprint(source: Path, schema: dict) -> dict:
    st = source.stat()
    spec_hash = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:16]
    return {"format": FORMAT, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "schema": spec_hash}


def paths(source: Path) -> tuple[Path, Path]:
    folder = source.parent / CACHE
    rel = source.name
    return folder / f"{rel}.parquet", folder / f"{rel}.json"


def is_fresh(source: Path, schema: dict) -> bool:
    parquet, meta = paths(source)
    if not (parquet.exists() and meta.exists()):
        return False
    try:
        return json.loads(meta.read_text()) == _fingerprint(source, schema)
    except (OSError, ValueError):
        return False


def build(source: Path, lf: pl.LazyFrame, schema: dict) -> Path:
    """Stream `lf` (the typed scan of `source`) into the Parquet cache; return its path."""
    parquet, meta = paths(source)
    write_atomic(parquet, lambda tmp: lf.sink_parquet(tmp, compression="zstd", row_group_size=256_000))
    write_text(meta, json.dumps(_fingerprint(source, schema)))  # last: it vouches for the Parquet file
    return parquet
