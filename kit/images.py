"""Images for models: decode JPEGs once, downscale, and cache the pixels as one uint8 array.

`load_images(paths, size)` returns an (n, size, size, 3) uint8 RGB array. Each file is
decoded with Pillow and converted to RGB (Planet's JPEGs, real and twin, decode as CMYK);
JPEGs are decoded straight at a reduced scale where libjpeg can (`Image.draft`: 256 px ->
64 px costs a quarter of a full decode), then resized to `size` x `size`. Decoding runs in
a thread pool (Pillow releases the GIL while it decodes and resizes, and threads start in
no time where a process pool costs about a second and must pickle the pixels back) with a
progress bar.

The array is cached as a .npy in the `images/` folder of the data folder's cache, where the
table cache lives (`data/planet/train-jpg/*.jpg` -> `data/planet/.kit-cache/images/`; under
$KIT_CACHE, or the per-user cache for a data folder that cannot be written: see
kit.data.cache), keyed by the files' names, sizes and modification times and the pixel size,
so a second epoch, fold or run reads one file instead of decoding thousands of JPEGs, and a
changed image is decoded again. Writes are atomic.

`decode(path, size, mode)` keeps another Pillow mode where asked ("CMYK": the 4 channels a
Planet JPEG holds), and `map_images(paths, size, fn, ...)` runs a function over the decoded
images a chunk at a time and caches its (n, width) result the same way (kit.image_stats: per-chip
statistics for table models), so no more than a chunk of pixels is ever in memory.

This module is separate from kit.models.cnn because it is data work with no torch in it:
any image model, an adversarial validation on images, or a notebook reads pixels the same way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kit import progress
from kit.atomic import write_atomic
from kit.data.cache import cache_dir
from kit.errors import KitError

#: bump when decoding or resizing changes, so old caches are not read
FORMAT = 1
#: images per thread-pool task: enough to amortise the task, small enough for a smooth bar
_CHUNK = 64


def decode(path: str | os.PathLike, size: int, mode: str = "RGB") -> np.ndarray:
    """One image as a (size, size, channels) uint8 array in Pillow `mode` ("RGB": 3 channels;
    "CMYK": 4, every channel a Planet JPEG holds).

    Raises KitError naming the file when Pillow cannot read it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            # JPEG only: let libjpeg scale by 1/2, 1/4 or 1/8 while decoding (never below `size`)
            im.draft(im.mode if mode != "RGB" else "RGB", (size, size))
            rgb = im.convert(mode)
    except FileNotFoundError as err:
        raise KitError(f"image {path} does not exist; check the data folder") from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise KitError(f"cannot decode {path} as an image ({err}); re-download it or remove it "
                       "from the list") from err
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)  # antialiased when shrinking
    arr = np.asarray(rgb, dtype=np.uint8)
    return arr if arr.ndim == 3 else arr[..., None]


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


def _key(files: list[str], size: int, extra: str = "") -> str:
    """A hash of every file's name, byte size and modification time, the pixel size and `extra`."""
    h = hashlib.sha256(f"format={FORMAT} size={size}{extra}\n".encode())
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


def cache_path(paths: Sequence[str | os.PathLike], size: int, *, kind: str = "images", version: str = "") -> Path:
    """Where `load_images` (kind "images") or `map_images` (its own kind) caches what it
    computed from these images at this size.

    The name holds a hash of every file's name, byte size and modification time (and of
    `version`), so any change to the set, to a file or to the computation gives a new name.
    """
    files = _as_paths(paths)
    folder = Path(files[0]).parent
    extra = f" {kind} {version}" if kind != "images" or version else ""
    return (cache_dir(folder.parent) / kind /
            f"{folder.name}-{len(files)}x{size}px-{_key(files, size, extra)}.npy")


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

    _in_chunks(fill, len(files), n_jobs, "decode images")
    if target is not None:
        _save_atomic(out, target)
    return out


def _in_chunks(fill, n: int, n_jobs: int | None, desc: str) -> None:
    """`fill(start)` for every chunk start of n images, on a thread pool, with a progress bar."""
    starts = range(0, n, _CHUNK)
    workers = min(_workers(n_jobs), len(starts))
    with progress.bar(total=n, desc=desc, unit="img") as bar:
        if workers < 2:
            for s in starts:
                bar.update(fill(s))
        else:
            with ThreadPoolExecutor(workers) as pool:
                for done in pool.map(fill, starts):
                    bar.update(done)


def map_images(paths: Sequence[str | os.PathLike], size: int, fn: Callable[[np.ndarray], np.ndarray], *,
               width: int, kind: str, version: str = "1", mode: str = "RGB", cache: bool = True,
               n_jobs: int | None = None) -> np.ndarray:
    """`fn` over the decoded images, a chunk at a time: an (n, width) float32 array, cached.

    Each chunk of images is decoded at `size` px in Pillow `mode` into a (b, size, size,
    channels) uint8 array and `fn` turns it into (b, width) numbers (e.g. per-image statistics,
    kit.image_stats), so memory holds a chunk of pixels, never all of them. The result is cached
    like `load_images`' pixels, under `<cache>/<kind>/`, keyed by the files and `version`
    (bump it when `fn` changes).
    """
    if not (isinstance(size, (int, np.integer)) and size >= 1):
        raise KitError(f"size must be a positive number of pixels, got {size!r}")
    files = _as_paths(paths)
    target = cache_path(files, size, kind=kind, version=f"{version} {mode} {width}") if cache else None
    if target is None:
        _key(files, size)  # the missing-file check
    if target is not None and target.exists():
        try:
            arr = np.load(target)
            if arr.shape == (len(files), width) and arr.dtype == np.float32:
                return arr
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    out = np.empty((len(files), width), np.float32)

    def fill(start: int) -> int:
        chunk = files[start:start + _CHUNK]
        out[start:start + len(chunk)] = fn(np.stack([decode(p, size, mode) for p in chunk]))
        return len(chunk)

    _in_chunks(fill, len(files), n_jobs, kind)
    if target is not None:
        _save_atomic(out, target)
    return out


def _save_atomic(arr: np.ndarray, target: Path) -> None:
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.save would add .npy to a bare name
            np.save(f, arr)

    try:
        write_atomic(target, save)
    except OSError:
        pass  # a cache that cannot be written (full disk, read-only): the result is still returned, uncached
