"""Images for models: decode JPEGs once, downscale, and cache the pixels as one uint8 array.

`load_images(paths, size)` returns an (n, size, size, 3) uint8 RGB array. Each file is
decoded with Pillow and converted to RGB (Planet's JPEGs, real and twin, decode as CMYK);
JPEGs are decoded straight at a reduced scale where libjpeg can (`Image.draft`: 256 px ->
64 px costs a quarter of a full decode), then resized to `size` x `size`. Decoding runs in
a thread pool (Pillow releases the GIL while it decodes and resizes, and threads start in
no time where a process pool costs about a second and must pickle the pixels back) with a
progress bar.

The array is cached as a .npy in the `.kit-cache/images/` folder beside the image folder
(`data/planet/train-jpg/*.jpg` -> `data/planet/.kit-cache/images/`, where the table cache
lives), keyed by the files' names, sizes and modification times and the pixel size, so a
second epoch, fold or run reads one file instead of decoding thousands of JPEGs, and a
changed image is decoded again. Writes are atomic.

This module is separate from kit.models.cnn because it is data work with no torch in it:
any image model, an adversarial validation on images, or a notebook reads pixels the same way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kit import progress
from kit.atomic import write_atomic
from kit.errors import KitError

CACHE = ".kit-cache"
#: bump when decoding or resizing changes, so old caches are not read
FORMAT = 1
#: images per thread-pool task: enough to amortise the task, small enough for a smooth bar
_CHUNK = 64


def decode(path: str | os.PathLike, size: int) -> np.ndarray:
    """One image as a (size, size, 3) uint8 RGB array.

    Raises KitError naming the file when Pillow cannot read it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            # JPEG only: let libjpeg scale by 1/2, 1/4 or 1/8 while decoding (never below `size`)
            im.draft("RGB", (size, size))
            rgb = im.convert("RGB")
    except FileNotFoundError as err:
        raise KitError(f"image {path} does not exist; check the data folder") from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise KitError(f"cannot decode {path} as an image ({err}); re-download it or remove it "
                       "from the list") from err
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)  # antialiased when shrinking
    return np.asarray(rgb, dtype=np.uint8)


def _workers(n_jobs: int | None) -> int:
    if n_jobs is not None and n_jobs >= 1:
        return int(n_jobs)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _as_paths(paths: Sequence[str | os.PathLike]) -> list[str]:
    """The paths as absolute strings; a KitError for a bare string, an empty list or missing files."""
    if isinstance(paths, (str, os.PathLike)):
        raise KitError(f"paths must be a list of image files, got the single path {str(paths)!r}; "
                       "wrap it in a list")
    out = [os.path.abspath(p) for p in paths]
    if not out:
        raise KitError("no images to load: the list of paths is empty")
    return out


def _key(files: list[str], size: int) -> str:
    """A hash of every file's name, byte size and modification time, and the pixel size."""
    h = hashlib.sha256(f"format={FORMAT} size={size}\n".encode())
    missing = []
    for p in files:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            missing.append(p)
            continue
        h.update(f"{p}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    if missing:
        raise KitError(f"{len(missing)} of {len(files)} images do not exist (first: {missing[0]}); "
                       "check the data folder, or fetch the data (kit download / kit generate)")
    return h.hexdigest()[:16]


def cache_path(paths: Sequence[str | os.PathLike], size: int) -> Path:
    """Where `load_images` caches these images at this size.

    The name holds a hash of every file's name, byte size and modification time, so any
    change to the set or to a file gives a new name.
    """
    files = _as_paths(paths)
    folder = Path(files[0]).parent
    return folder.parent / CACHE / "images" / f"{folder.name}-{len(files)}x{size}px-{_key(files, size)}.npy"


def load_images(paths: Sequence[str | os.PathLike], size: int, *, cache: bool = True,
                n_jobs: int | None = None) -> np.ndarray:
    """Decode `paths` into an (n, size, size, 3) uint8 RGB array, in order.

    Args:
        paths: image files (JPEG, PNG, ...; any Pillow mode is converted to RGB).
        size: the side in pixels of the square images returned.
        cache: read and write the .npy cache (see the module docstring); a folder that
            cannot be written just goes uncached.
        n_jobs: decoding threads (default: the usable cores).

    >>> import tempfile
    >>> from PIL import Image
    >>> d = Path(tempfile.mkdtemp()) / "jpg"; d.mkdir()
    >>> Image.new("CMYK", (256, 256), (0, 255, 255, 0)).save(d / "red.jpg")
    >>> x = load_images([d / "red.jpg"], 64)
    >>> x.shape, x.dtype, x[0, 0, 0].tolist()
    ((1, 64, 64, 3), dtype('uint8'), [255, 0, 0])
    """
    if not (isinstance(size, (int, np.integer)) and size >= 1):
        raise KitError(f"size must be a positive number of pixels, got {size!r}")
    files = _as_paths(paths)
    target = cache_path(files, size) if cache else None
    if target is None:
        _key(files, size)  # the missing-file check
    if target is not None and target.exists():
        try:
            arr = np.load(target)
            if arr.shape == (len(files), size, size, 3) and arr.dtype == np.uint8:
                return arr
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    out = np.empty((len(files), size, size, 3), np.uint8)

    def fill(start: int) -> int:
        chunk = files[start:start + _CHUNK]
        for i, p in enumerate(chunk):
            out[start + i] = decode(p, size)
        return len(chunk)

    starts = range(0, len(files), _CHUNK)
    workers = min(_workers(n_jobs), len(starts))
    with progress.bar(total=len(files), desc="decode images", unit="img") as bar:
        if workers < 2:
            for s in starts:
                bar.update(fill(s))
        else:
            with ThreadPoolExecutor(workers) as pool:
                for done in pool.map(fill, starts):
                    bar.update(done)
    if target is not None:
        _save_atomic(out, target)
    return out


def _save_atomic(arr: np.ndarray, target: Path) -> None:
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.save would add .npy to a bare name
            np.save(f, arr)

    try:
        write_atomic(target, save)
    except PermissionError:
        pass  # a read-only data folder: the pixels are still returned, just not cached
