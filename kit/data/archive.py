"""Safe extraction of what Kaggle ships: .zip, .7z and .tar.7z (and plain .tar / .tar.gz).

Every entry is checked before anything is written: an entry whose path is absolute, climbs
out with `..`, or is a link is refused, and the whole archive with it. Entries are
extracted into a staging folder inside the target and moved into place only when the
whole archive came out, so an interrupted extraction never leaves a file that looks done.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from kit.atomic import clear_leftovers, staging_dir
from kit.errors import KitError

SUFFIXES = (".tar.7z", ".tar.gz", ".tgz", ".tar", ".zip", ".7z")
#: extraction staging folders: .extract-ARCHIVE-PID-RANDOM
STAGING_PATTERN = r"\.extract-.+-(\d+)-\w+"


def is_archive(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(SUFFIXES)


def _unsafe(name: str) -> str | None:
    """Why an entry name would escape the target folder, or None when it is safe."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if p.is_absolute() or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "is an absolute path"
    if ".." in p.parts:
        return "climbs out of the folder with '..'"
    return None


def _refuse(archive: Path, entry: str, why: str) -> KitError:
    return KitError(
        f"refusing to extract {archive.name}: entry {entry!r} {why}, which could write outside "
        f"the data folder; nothing was extracted. Delete {archive} and download it again from Kaggle")


def _check_zip(archive: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = zf.infolist()
    for m in members:
        why = _unsafe(m.filename)
        if why is None and stat.S_ISLNK(m.external_attr >> 16):
            why = "is a symbolic link"
        if why:
            raise _refuse(archive, m.filename, why)
    return members


def _check_tar(archive: Path, tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tf.getmembers()
    for m in members:
        why = _unsafe(m.name)
        if why is None and (m.issym() or m.islnk()):
            why = "is a link"
        if why is None and not (m.isfile() or m.isdir()):
            why = "is a device or special file"
        if why:
            raise _refuse(archive, m.name, why)
    return members


def _extract_7z(archive: Path, staging: Path) -> None:
    import py7zr

    try:
        with py7zr.SevenZipFile(archive, "r") as z:
            for info in z.list():
                why = _unsafe(info.filename)
                if why is None and getattr(info, "is_symlink", False):
                    why = "is a symbolic link"
                if why:
                    raise _refuse(archive, info.filename, why)
            z.extractall(path=staging)
    except (py7zr.exceptions.Bad7zFile, EOFError) as err:
        raise KitError(f"{archive} is not a complete 7z archive ({err}); delete it and download again") from err


def _extract_tar(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            members = _check_tar(archive, tf)
            tf.extractall(staging, members=members, filter="data")
    except (tarfile.ReadError, EOFError) as err:
        raise KitError(f"{archive} is not a complete tar archive ({err}); delete it and download again") from err


def _extract_zip(archive: Path, staging: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _check_zip(archive, zf)
            bad = zf.testzip()
            if bad is not None:
                raise KitError(f"{archive}: entry {bad!r} is corrupt (CRC mismatch); delete it and download again")
            zf.extractall(staging, members=members)
    except zipfile.BadZipFile as err:
        raise KitError(f"{archive} is not a complete zip archive ({err}); delete it and download again") from err


def extract(archive: str | os.PathLike, target: str | os.PathLike, log=None) -> list[Path]:
    """Extract `archive` into `target` safely; return the top-level paths it produced.

    A `.tar.7z` is a tar inside a 7z: both layers are checked. Staging folders that killed
    extractions left in `target` are removed first, one `log` line each (stderr by default).
    """
    archive, target = Path(archive), Path(target)
    if not is_archive(archive):
        raise KitError(f"{archive.name} is not an archive kit can extract ({', '.join(SUFFIXES)})")
    target.mkdir(parents=True, exist_ok=True)
    clear_leftovers(target, STAGING_PATTERN, "extraction folder", log)
    # a fresh name per call: two extractions into one folder never share their staging
    with staging_dir(target, f".extract-{archive.name}-") as staging:
        name = archive.name.lower()
        if name.endswith(".tar.7z"):
            inner = staging / ".inner"
            inner.mkdir()
            _extract_7z(archive, inner)
            tars = [p for p in inner.rglob("*") if p.is_file()]
            for tar in tars:
                _extract_tar(tar, staging)
            shutil.rmtree(inner)
        elif name.endswith(".7z"):
            _extract_7z(archive, staging)
        elif name.endswith(".zip"):
            _extract_zip(archive, staging)
        else:
            _extract_tar(archive, staging)
        produced = []
        for entry in sorted(staging.iterdir()):
            dest = target / entry.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            elif dest.exists() or dest.is_symlink():
                dest.unlink()
            os.replace(entry, dest)
            produced.append(dest)
        return produced
