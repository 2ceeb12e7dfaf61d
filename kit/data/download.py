"""`kit download`: fetch a competition's files with the official client, safely and once.

The steps, each safe to interrupt:

1. If `<folder>/.kit-manifest.json` says the requested files are here and their sizes and
   sha256 hashes still match, do nothing (no network, no credentials needed).
2. Otherwise download into a staging folder of the run's own, `<folder>/.kit-download-*/`,
   after wiping those of interrupted runs, so a partial file is never mistaken for a complete one.
3. Extract what Kaggle ships (the bundle zip, and the .7z / .tar.7z / .zip inside it)
   with `kit.data.archive.extract`, which refuses entries that would land outside.
4. Rename the results into place, then write the manifest, last and atomically: a folder
   without a manifest (or with one that no longer matches) is downloaded again.
5. Check the folder against the spec (`kit.data.schema.verify`) and build the Parquet
   cache of its tables, so later commands read Parquet, not CSV.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kit.atomic import clear_leftovers, owner_lock, write_text
from kit.data import archive
from kit.errors import KitError
from kit.spec import CompetitionSpec

MANIFEST = ".kit-manifest.json"
STAGING = ".kit-download"
LOCK = ".kit-download.lock"
FORMAT = 1
#: the manifest's source key for the whole-competition bundle
BUNDLE = "*"


@dataclass(frozen=True)
class DownloadResult:
    """What `download` did."""

    folder: Path
    #: True when the manifest showed the files already here and intact: nothing was fetched
    up_to_date: bool
    #: why it downloaded ("" when up to date): "no manifest", "train.csv changed", "--force"...
    reason: str
    #: the files Kaggle sent this run, as named on Kaggle (empty when up to date)
    fetched: tuple[str, ...]
    #: the files and folders in place for this request, as named in the data folder
    files: tuple[str, ...]
    #: bytes downloaded this run
    bytes: int
    #: the tables whose Parquet cache is ready
    cached: tuple[str, ...]


# --------------------------------------------------------------------------- names


def bundle_name(spec: CompetitionSpec) -> str:
    """The name of the zip Kaggle sends for the whole competition."""
    return f"{spec.slug}.zip"


def remote_name(spec: CompetitionSpec, name: str) -> str:
    """The name Kaggle lists for a file of the spec (`train.csv` -> `train.csv.7z` for Favorita).

    Names that are not in the spec are taken as Kaggle names and passed through.
    """
    try:
        file = spec.file(name)
    except KeyError:
        return name
    if file.archive and file.archive != bundle_name(spec):
        return file.archive
    return file.name


# --------------------------------------------------------------------------- manifest


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _walk(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def _sizes(path: Path) -> dict:
    """Cheap facts about an entry: kind, total size, file count."""
    if path.is_dir():
        files = _walk(path)
        return {"kind": "dir", "size": sum(p.stat().st_size for p in files), "files": len(files)}
    return {"kind": "file", "size": path.stat().st_size}


def fingerprint(path: str | os.PathLike) -> dict:
    """Kind, size and sha256 of a file, or of a folder (a hash over its files' paths and hashes)."""
    path = Path(path)
    facts = _sizes(path)
    if facts["kind"] == "file":
        facts["sha256"] = _hash_file(path)
        return facts
    files = _walk(path)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        hashes = list(pool.map(_hash_file, files))
    h = hashlib.sha256()
    for p, digest in zip(files, hashes):
        h.update(f"{p.relative_to(path).as_posix()}\t{p.stat().st_size}\t{digest}\n".encode())
    facts["sha256"] = h.hexdigest()
    return facts


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest of a downloaded folder, or None (none, unreadable or from another format)."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _write_manifest(folder: Path, manifest: dict) -> None:
    write_text(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _fresh_staging(folder: Path, log=None) -> Path:
    """A new staging folder of this run's own, after wiping what dead runs left (the caller holds
    the folder's lock, so no live download is using one): partial files are never reused."""
    legacy = folder / STAGING  # the one name of older versions, with no pid in it
    if legacy.is_dir():
        shutil.rmtree(legacy, ignore_errors=True)
    clear_leftovers(folder, re.escape(STAGING) + r"-(\d+)-\w+", "download folder", log)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING}-{os.getpid()}-", dir=folder))


def _requested_entries(manifest: dict, wanted: tuple[str, ...] | None) -> list[str] | str:
    """The entries a request covers, or the reason the manifest cannot say."""
    sources = manifest.get("sources", {})
    if wanted is None:
        if not manifest.get("complete"):
            return "only some files were downloaded before"
        return sorted(manifest.get("entries", {}))
    missing = [w for w in wanted if w not in sources]
    if missing:
        return f"{missing[0]} was not downloaded yet"
    return sorted({e for w in wanted for e in sources[w]})


def stale_reason(spec: CompetitionSpec, folder: str | os.PathLike, wanted: tuple[str, ...] | None) -> str | None:
    """None when the manifest shows the requested files in place and intact, else why not."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return "no manifest: first download, or the last one did not finish"
    if manifest.get("slug") != spec.slug:
        return f"the manifest is for {manifest.get('slug')!r}"
    names = _requested_entries(manifest, wanted)
    if isinstance(names, str):
        return names
    recorded = manifest.get("entries", {})
    for name in names:  # sizes first: cheap, and catches most damage
        if name not in recorded:
            return f"the manifest has no record of {name}"
        path = folder / name
        if not path.exists():
            return f"{name} is missing"
        facts = _sizes(path)
        want = {k: recorded[name].get(k) for k in facts}
        if facts != want:
            return f"{name} changed size since it was downloaded"
    for name in names:
        if fingerprint(folder / name)["sha256"] != recorded[name]["sha256"]:
            return f"{name} changed since it was downloaded (sha256 differs)"
    return None


# --------------------------------------------------------------------------- the steps


@contextlib.contextmanager
def _locked(folder: Path, log=None) -> Iterator[None]:
    """One download per folder at a time. The lock file holds the owner's pid and goes when the
    download ends; one a killed download left is taken over, with one line saying so."""
    with owner_lock(folder / LOCK, f"another `kit download` (pid {{pid}}) is writing into {folder}; wait for "
                                   f"it to finish, then rerun", log):
        yield


def _check_space(folder: Path, need: int) -> None:
    free = shutil.disk_usage(folder).free
    if need > free:
        raise KitError(f"the download needs at least {need / 1e6:,.1f} MB in {folder} (more once extracted) but "
                       f"only {free / 1e6:,.1f} MB are free: free some space or use --data-dir on a bigger disk")


def _unpack(spec: CompetitionSpec, fetched: Path, out: Path) -> list[str]:
    """Move or extract one downloaded file into `out`; return the top-level names it produced.

    Archives inside archives (Favorita's bundle holds train.csv.7z) are extracted in turn,
    unless the spec names the archive itself as a file to keep.
    """
    keep = {f.name for f in spec.files}
    if not archive.is_archive(fetched) or fetched.name in keep:
        os.replace(fetched, out / fetched.name)
        return [fetched.name]
    produced: list[str] = []
    pending = [fetched]
    for _ in range(4):  # bundle -> archive -> tar: three levels at most in what Kaggle ships
        nested = []
        for arch in pending:
            for path in archive.extract(arch, out):
                if path.is_file() and archive.is_archive(path) and path.name not in keep:
                    nested.append(path)
                elif path.name not in produced:
                    produced.append(path.name)
            arch.unlink()
        if not nested:
            break
        pending = nested
    return produced


def _fetch(spec: CompetitionSpec, kaggle, staging: Path, wanted: tuple[str, ...] | None) -> tuple[dict, list, int]:
    """Download into `staging`; return ({source: [names]}, fetched Kaggle names, bytes)."""
    listed = {f.name: f.size for f in kaggle.list_files(spec)}
    if wanted is not None:
        unknown = [w for w in wanted if listed and w not in listed]
        if unknown:
            raise KitError(f"Kaggle lists no file {unknown[0]!r} for {spec.slug}; its files: "
                           f"{', '.join(sorted(listed)) or 'none'}")
    _check_space(staging.parent, sum(listed.get(w, 0) for w in wanted) if wanted else sum(listed.values()))
    out = staging / "out"
    out.mkdir()
    jobs = [(BUNDLE, None)] if wanted is None else [(w, w) for w in wanted]
    sources: dict[str, list[str]] = {}
    fetched: list[str] = []
    size = 0
    for i, (key, name) in enumerate(jobs):
        into = staging / f"fetch-{i}"
        into.mkdir()
        if name is None:
            kaggle.download_all(spec, into)
        else:
            kaggle.download_file(spec, name, into)
        got = sorted(p for p in into.iterdir() if p.is_file() and not p.name.endswith(".kaggle-partial"))
        if not got:
            raise KitError(f"the kaggle client reported success for {name or spec.slug} but wrote no file; rerun")
        produced: list[str] = []
        for path in got:
            fetched.append(path.name)
            size += path.stat().st_size
            produced += _unpack(spec, path, out)
        sources[key] = sorted(set(produced))
    return sources, fetched, size


def _cache(spec: CompetitionSpec, folder: Path, names: tuple[str, ...]) -> tuple[str, ...]:
    from kit.data.tables import scan_table
    from kit.progress import track

    tables = [f.name for f in spec.files if f.columns and f.name in names and (folder / f.name).is_file()]
    for name in track(tables, total=len(tables), desc="caching tables", unit="table"):
        scan_table(spec, name, folder)
    return tuple(tables)


def _clear_twin(folder: Path) -> None:
    """Real data replaces a twin: its marker and hidden answers would now lie."""
    from kit.synth.core import MARKER

    (folder / MARKER).unlink(missing_ok=True)
    shutil.rmtree(folder / "solution", ignore_errors=True)


def download(spec: CompetitionSpec, folder: str | os.PathLike, *, files: list[str] | tuple[str, ...] | None = None,
             force: bool = False, kaggle=None, cache: bool = True, log=None) -> DownloadResult:
    """Download a competition's data (or some of its files) into `folder`, verify it, cache its tables.

    Args:
        files: only these files (spec names such as "train.csv", or names as Kaggle lists them);
            default: the whole competition bundle.
        force: download again even when the manifest says the files are here and intact;
            also replaces a synthetic twin in `folder`.
        kaggle: a `kit.kaggle_api.Kaggle` (default: one with the default retries).
        cache: build the Parquet cache of the tables (default True).
        log: where the lines about leftovers of killed downloads go (default: stderr).
    """
    from kit.data.schema import verify
    from kit.synth.core import twin_info

    folder = Path(folder)
    wanted = None if files is None else tuple(dict.fromkeys(remote_name(spec, n) for n in files))
    if wanted == ():
        raise KitError("no files named: pass file names, or none to download the whole competition")
    folder.mkdir(parents=True, exist_ok=True)
    spec_names = {f.name for f in spec.files}
    with _locked(folder, log):
        reason = "--force" if force else stale_reason(spec, folder, wanted)
        if reason is None:
            entries = _requested_entries(read_manifest(folder) or {}, wanted)
            fetched: tuple[str, ...] = ()
            size = 0
        else:
            if twin_info(folder) is not None and not force:
                raise KitError(
                    f"{folder} holds a synthetic twin (made by `kit generate {spec.name}`); download the real "
                    f"data into another folder with --data-dir, or replace the twin with --force")
            if kaggle is None:
                from kit.kaggle_api import Kaggle
                from kit.progress import enabled

                kaggle = Kaggle(quiet=not enabled())
            staging = _fresh_staging(folder, log)
            try:
                sources, fetched_list, size = _fetch(spec, kaggle, staging, wanted)
                out = staging / "out"
                made = sorted({n for names in sources.values() for n in names})
                facts = {name: fingerprint(out / name) for name in made}
                if twin_info(folder) is not None:
                    _clear_twin(folder)
                for name in made:
                    dest = folder / name
                    if dest.is_dir() and not dest.is_symlink():
                        shutil.rmtree(dest)
                    elif dest.exists() or dest.is_symlink():
                        dest.unlink()
                    os.replace(out / name, dest)
                old = read_manifest(folder)
                keep_old = old is not None and old.get("slug") == spec.slug and wanted is not None
                manifest = {
                    "format": FORMAT, "competition": spec.name, "slug": spec.slug,
                    "complete": wanted is None or bool(keep_old and old.get("complete")),
                    "sources": {**(old["sources"] if keep_old else {}), **sources},
                    "entries": {**(old["entries"] if keep_old else {}), **facts},
                    "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                }
                _write_manifest(folder, manifest)
            except OSError as err:
                if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
                    raise KitError(f"the disk is full while writing into {folder} ({err.strerror}): free some "
                                   f"space or use --data-dir on a bigger disk, then rerun; nothing incomplete "
                                   f"was kept") from None
                raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            entries = made
            fetched = tuple(fetched_list)
    in_spec = tuple(n for n in entries if n in spec_names)
    verify(spec, folder, names=None if wanted is None else in_spec)
    cached = _cache(spec, folder, in_spec) if cache else ()
    return DownloadResult(folder=folder, up_to_date=reason is None, reason=reason or "", fetched=fetched,
                          files=tuple(entries), bytes=size, cached=cached)
