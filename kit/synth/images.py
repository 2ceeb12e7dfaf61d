"""Drawing pieces for synthetic image twins: textures, soft masks, blending, JPEG writing.

Images are float32 RGB in [0, 255] stored channel-first, shape (3, size, size), so that
blending a colour is a per-plane operation (several times faster in numpy than
broadcasting over a trailing axis of 3). Masks are float32 in [0, 1].

Shapes are drawn in an `Area`: the whole image (`Grid.full`) or a window around a feature
(`Grid.around`), so a small feature costs a small window, not a full-image pass. A mask
drawn in an area is painted back with the same area.

>>> g = Grid(16)
>>> a = g.around(8.0, 8.0, 2.0)         # rows and columns 5..11
>>> m = disc(a, 8.0, 8.0, 2.0, soft=0.5)
>>> m.shape, float(m.max()), float(m[0, 0])
((7, 7), 1.0, 0.0)
>>> img = canvas(16, (10.0, 20.0, 30.0))
>>> paint(img, m, (250.0, 250.0, 250.0), area=a)
>>> int(img[0, 8, 8]), int(img[0, 0, 0])
(250, 10)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from kit.synth.core import rng


@dataclass(frozen=True)
class Area:
    """A window of an image: pixel-centre coordinates and the slices that cut it out."""

    #: row coordinates, shape (h, 1); column coordinates, shape (1, w): masks broadcast to (h, w)
    y: np.ndarray
    x: np.ndarray
    rows: slice
    cols: slice

    def cut(self, a: np.ndarray) -> np.ndarray:
        """The part of a full-size mask or image (channel-first) inside this area."""
        return a[..., self.rows, self.cols]


@dataclass(frozen=True)
class Grid:
    """A square image's coordinate system; hands out areas to draw in."""

    size: int

    def window(self, r0: int, r1: int, c0: int, c1: int) -> Area:
        r0, c0 = max(0, r0), max(0, c0)
        r1, c1 = max(r0 + 1, min(self.size, r1)), max(c0 + 1, min(self.size, c1))
        return Area(y=np.arange(r0, r1, dtype=np.float32)[:, None],
                    x=np.arange(c0, c1, dtype=np.float32)[None, :],
                    rows=slice(r0, r1), cols=slice(c0, c1))

    @property
    def full(self) -> Area:
        return self.window(0, self.size, 0, self.size)

    def around(self, cy: float, cx: float, radius: float) -> Area:
        """The square window holding everything within `radius` of (cy, cx), clipped to the image."""
        r = int(np.ceil(radius)) + 1
        return self.window(int(cy) - r, int(cy) + r + 1, int(cx) - r, int(cx) + r + 1)


def _ramp(d: np.ndarray, soft: float) -> np.ndarray:
    """1 inside (d <= 0), 0 outside (d >= soft), linear in between: anti-aliased edges."""
    return np.clip(0.5 - d / np.float32(max(soft, 1e-3)), 0.0, 1.0).astype(np.float32, copy=False)


def uv(a: Area, cy: float, cx: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along (u) and across (v) a direction `angle` through (cy, cx)."""
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    dy, dx = a.y - np.float32(cy), a.x - np.float32(cx)
    return dx * c + dy * s, dy * c - dx * s


def canvas(size: int, colour) -> np.ndarray:
    """A flat (3, size, size) image of one colour."""
    return np.broadcast_to(np.asarray(colour, np.float32)[:, None, None], (3, size, size)).copy()


def smooth_noise(rng: np.random.Generator, shape: int | tuple[int, int], cell: float) -> np.ndarray:
    """Zero-mean, unit-variance noise of `shape` with features about `cell` pixels wide.

    Random values on a grid of half-cell spacing, smoothed on that small grid with a
    binomial filter (which hides the grid's squares), then upsampled bicubically in C by
    Pillow: a fraction of the cost of filtering at full size, and alike at these scales.
    """
    h, w = (shape, shape) if isinstance(shape, int) else shape
    step = max(cell / 2, 1.0)
    smooth = 2 if cell >= 4 else 0
    gh, gw = (int(np.ceil(n / step)) + 1 + 2 * smooth for n in (h, w))
    g = rng.standard_normal((gh, gw), dtype=np.float32)
    for _ in range(smooth):  # [1 2 1] / 4 along each axis; each pass trims one cell per side
        g = 0.25 * g[:-2] + 0.5 * g[1:-1] + 0.25 * g[2:]
        g = 0.25 * g[:, :-2] + 0.5 * g[:, 1:-1] + 0.25 * g[:, 2:]
    # sample between the outer cell centres, where bicubic has neighbours on all sides
    box = (0.5, 0.5, 0.5 + w / step, 0.5 + h / step)
    res = np.asarray(Image.fromarray(np.ascontiguousarray(g)).resize((w, h), Image.BICUBIC, box=box))
    res = res - np.float32(res.mean())
    return res / np.float32(max(float(res.std()), 1e-6))


@lru_cache(maxsize=16)
def noise_tile(seed: int, size: int, cell: float) -> np.ndarray:
    """A (2*size, 2*size) tile of `smooth_noise`, made once per process and seed.

    Cropping chips from a tile (`crop`) gives each image its own texture for the cost of
    a slice; the tile depends only on (seed, size, cell), so worker processes agree.
    """
    tile = smooth_noise(rng(seed, "noise-tile", size, cell), 2 * size, cell)
    tile.flags.writeable = False  # shared by every chip: never paint on it
    return tile


def crop(rng: np.random.Generator, tile: np.ndarray, size: int) -> np.ndarray:
    """A random size x size window of `tile`, in one of its 8 orientations (a copy)."""
    r, c = rng.integers(0, tile.shape[0] - size + 1), rng.integers(0, tile.shape[1] - size + 1)
    out = tile[r:r + size, c:c + size]
    k = int(rng.integers(8))
    out = np.rot90(out, k % 4)
    # a C-ordered copy: later full-image passes over a rotated view would be strided
    return np.ascontiguousarray(out.T if k >= 4 else out)


def box_blur(a: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)-square window of a 2-D array, edges repeated; separable cumulative sums."""
    out = a.astype(np.float32, copy=True)
    if radius <= 0:
        return out
    k = 2 * radius + 1
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float32)
        if axis == 0:
            out = (c[k:] - c[:-k]) / np.float32(k)
        else:
            out = (c[:, k:] - c[:, :-k]) / np.float32(k)
    return out


def disc(a: Area, cy: float, cx: float, r: float, *, soft: float = 1.0,
         wobble: np.ndarray | None = None) -> np.ndarray:
    """A filled circle; `wobble` (noise in pixels, full-size or area-size) makes its edge irregular."""
    d = np.sqrt((a.y - np.float32(cy)) ** 2 + (a.x - np.float32(cx)) ** 2) - np.float32(r)
    if wobble is not None:
        d = d + (a.cut(wobble) if wobble.shape != d.shape else wobble)
    return _ramp(d, soft)


def rect(a: Area, cy: float, cx: float, half_h: float, half_w: float, angle: float, *,
         soft: float = 1.0) -> np.ndarray:
    """A filled rectangle centred on (cy, cx), its long side `half_w` turned by `angle` radians."""
    u, v = uv(a, cy, cx, angle)
    return _ramp(np.maximum(np.abs(u) - np.float32(half_w), np.abs(v) - np.float32(half_h)), soft)


def line(a: Area, cy: float, cx: float, angle: float, width: float, *, length: float | None = None,
         soft: float = 1.0, bend: float = 0.0) -> np.ndarray:
    """A straight band through (cy, cx) at `angle`; `length` makes it a segment.

    `bend` curves it into a parabola (pixels of offset at 100 px from the centre).
    """
    u, v = uv(a, cy, cx, angle)
    if bend:
        v = v - np.float32(bend) * (u / np.float32(100.0)) ** 2
    d = np.abs(v) - np.float32(width / 2)
    if length is not None:
        d = np.maximum(d, np.abs(u) - np.float32(length / 2))
    return _ramp(d, soft)


def meander(a: Area, rng: np.random.Generator, cy: float, cx: float, angle: float, width: float, *,
            amplitude: float, wavelength: float, soft: float = 1.5) -> np.ndarray:
    """A winding band (a river): a line displaced by two sines of random phase."""
    u, v = uv(a, cy, cx, angle)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    k = np.float32(2 * np.pi / wavelength)
    centre = np.float32(amplitude) * (np.sin(k * u + np.float32(p1))
                                      + np.float32(0.45) * np.sin(np.float32(2.3) * k * u + np.float32(p2)))
    return _ramp(np.abs(v - centre) - np.float32(width / 2), soft)


def spots(rng: np.random.Generator, shape: tuple[int, int], density: float, radius: int) -> np.ndarray:
    """Scattered square-ish spots: random seed pixels grown by a box blur, then clipped to 1."""
    seeds = (rng.random(shape, dtype=np.float32) < density).astype(np.float32)
    return np.minimum(box_blur(seeds, radius) * np.float32((2 * radius + 1) ** 2), 1.0)


def blocks(rng: np.random.Generator, shape: tuple[int, int], block: int, fill: float) -> np.ndarray:
    """A grid of square blocks, each on with probability `fill` (roofs, plots), one-pixel gaps."""
    n = (-(-shape[0] // block), -(-shape[1] // block))
    on = (rng.random(n) < fill).astype(np.float32)
    tile = np.ones((block, block), dtype=np.float32)
    tile[-1:, :] = 0.0
    tile[:, -1:] = 0.0
    return np.kron(on, tile)[: shape[0], : shape[1]]


def paint(img: np.ndarray, mask: np.ndarray, colour, *, area: Area | None = None,
          strength: float = 1.0) -> None:
    """Blend `colour` into `img` (in place) where `mask` is on.

    `colour` is an RGB triple or a channel-first image (full-size, or area-size); `mask`
    is full-size or, with `area`, the size of that area.
    """
    sub = img if area is None else area.cut(img)
    col = np.asarray(colour, dtype=np.float32)
    if col.ndim == 1:
        col = col[:, None, None]
    elif area is not None and col.shape[1:] != sub.shape[1:]:
        col = area.cut(col)
    # in place, one temporary: a second full-size temporary alive at once costs more
    # (fresh pages from the allocator) than the arithmetic
    d = sub - col
    d *= mask
    if strength != 1.0:
        d *= np.float32(strength)
    sub -= d


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """A channel-first float image as (size, size, 3) bytes, rounded and clipped."""
    out = np.clip(img + np.float32(0.5), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def save_cmyk_jpeg(img: np.ndarray, path: Path, *, quality: int = 90) -> None:
    """Save a channel-first float RGB image as a 4-channel (CMYK) JPEG, as Planet's chips decode.

    The planes are C = 255 - R, M = 255 - G, Y = 255 - B, K = 0, exactly what Pillow's
    RGB -> CMYK conversion gives, so `Image.open(path).convert("RGB")` returns the pixels.
    Pillow's encoder is deterministic: the same pixels give the same bytes.
    """
    inv = np.float32(255.5) - img
    inv = np.clip(inv, 0, 255, out=inv).astype(np.uint8)
    planes = [Image.fromarray(inv[c]) for c in range(3)] + [Image.new("L", inv.shape[1:][::-1], 0)]
    Image.merge("CMYK", planes).save(path, "JPEG", quality=quality)
