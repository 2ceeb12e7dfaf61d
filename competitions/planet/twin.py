"""Synthetic twin of Planet: labels from a conditional sampler, JPEG chips drawn from the labels.

Labels come first, from a chain of conditional Bernoulli draws whose probabilities were
solved so that the 17 label frequencies and the main co-occurrences match the real
train_v2.csv (agriculture with road, habitation and cultivation; habitation with road;
artisinal_mine with water and bare_ground; conventional_mine with road; no primary mostly
in towns). Each chip is then painted from its labels, so every label has a visible cause:
forest texture for primary, fields, roads, rivers, towns, mines, burn scars, and weather as
an overlay. Rare labels are drawn small, haze lowers contrast and clouds hide the ground,
so a model has to earn its F2.

The real chips are much harder than clean drawings: their tags are one labeller's call (a
faint road, a field at the edge, a thin veil of haze are tagged or not), weather comes in
every strength (partly_cloudy from a wisp to most of the chip, haze from barely there to
thick) and exposure varies. So each chip paints what a labeller would have seen, not its
tags exactly (`_painted`: some tags too faint or small to see, some untagged look-alikes),
weather strengths overlap between the four tags, roads are often faint tracks, and the light
varies more. Calibrated so that on 800 twin chips (scripts/calibrate_planet.py, 200 held out)
the two default models land near what they scored on 800 real chips, mean F2 0.78 for the CNN
from scratch and 0.84 for image statistics + LightGBM: the clean twin gave 0.90 and 0.94, this
one 0.81 and 0.86 (seeds 0 and 1 alike, 2026-12-03). Every image has its own random stream keyed by its file
name: the same seed gives byte-identical files whatever the number of worker processes.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import polars as pl

from competitions.planet.spec import LABELS, SPEC
from kit.synth import rng as stream, write_csv, write_solution
from kit.progress import bar
from kit.synth import images as im

SIZES = {
    "tiny": {"train": 200, "test": 100, "additional": 50},
    "small": {"train": 2_000, "test": 1_000, "additional": 500},
    "full": {"train": 40_479, "test": 40_669, "additional": 20_522},
}
IMAGE_SIZE = 256
JPEG_QUALITY = 75  # the real chips carry the IJG quality-75 table (see their DQT marker)
#: images per worker task: big enough to amortise pickling, small enough to balance cores
BATCH = 256
#: below this many images a process pool costs more to start than it saves
POOL_MIN_IMAGES = 1_000

_COL = {name: i for i, name in enumerate(LABELS)}

# Weather: clear 28,431, partly_cloudy 7,261, haze 2,697, cloudy 2,089, none 1 of 40,479.
_WEATHER_P = {"clear": 28_431, "partly_cloudy": 7_261, "haze": 2_697, "cloudy": 2_089, "": 1}


def sample_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` label rows (bool, columns in `LABELS` order) with the real frequencies.

    A chain of conditional draws over the chips that are not cloudy (38,390 of 40,479 in
    the real data); each probability below is (real count of the pair) / (count of the
    parent), so expected counts match the real ones label by label.
    """
    y = np.zeros((n, len(LABELS)), dtype=bool)
    names = list(_WEATHER_P)
    p = np.array(list(_WEATHER_P.values()), dtype=np.float64)
    weather = rng.choice(len(names), size=n, p=p / p.sum())
    for k, name in enumerate(names):
        if name:
            y[:, _COL[name]] = weather == k
    ground = ~y[:, _COL["cloudy"]]  # cloudy chips carry no other label

    def draw(prob) -> np.ndarray:
        return ground & (rng.random(n) < prob)

    a = draw(0.3208)                                    # agriculture: 12,315 / 38,390
    r = draw(np.where(a, 0.490, 0.0781))                # road: 6,034 of them with agriculture
    h = draw(np.select([a & r, a, r], [0.3646, 0.0855, 0.2877], 0.0140))  # habitation: with a, r
    c = draw(np.where(a, 0.274, 0.0449))                # cultivation: 3,377 with agriculture
    w = draw(np.where(a, 0.220, 0.180))                 # water: 2,712 with agriculture
    am = draw(np.where(w, 0.0403, 0.00129))             # artisinal_mine: 299 of 339 by water
    bg = draw(0.0152 + 0.0198 * a + 0.10 * am)          # bare_ground: fields and mines
    cm = draw(np.where(r, 0.0074, 0.0013))              # conventional_mine: needs a road out
    sl = draw(np.where(r, 0.015, 0.0072))               # selective_logging: along roads
    sb = draw(np.where(a, 0.0097, 0.0034))              # slash_burn: at the forest edge
    bl = draw(np.full(n, 0.00865))                      # blooming
    bd = draw(np.full(n, 0.00263))                      # blow_down
    no_forest = np.where(h, 0.12, np.where(a, 0.025, 0.008))  # 877 non-cloudy chips lack primary
    pr = ground & (rng.random(n) >= no_forest)
    for name, col in (("agriculture", a), ("road", r), ("habitation", h), ("cultivation", c),
                      ("water", w), ("artisinal_mine", am), ("bare_ground", bg),
                      ("conventional_mine", cm), ("selective_logging", sl), ("slash_burn", sb),
                      ("blooming", bl), ("blow_down", bd), ("primary", pr)):
        y[:, _COL[name]] = col
    return y


def tags_column(y: np.ndarray) -> pl.Series:
    """Space-separated tags per row, alphabetical as in train_v2.csv."""
    cols = [pl.when(pl.lit(pl.Series(y[:, j]))).then(pl.lit(name)) for j, name in enumerate(LABELS)]
    return pl.select(pl.concat_str(cols, separator=" ", ignore_nulls=True).alias("tags")).to_series()


# --- drawing ---------------------------------------------------------------------------

_FOREST = (47.0, 66.0, 56.0)
_FIELDS = ((96, 110, 78), (118, 114, 90), (104, 92, 74), (84, 104, 70), (128, 124, 100))
_WATER = ((28, 38, 52), (40, 46, 58), (86, 82, 64), (118, 104, 84))  # clear, dark, muddy


def _where(rng: np.random.Generator, lo: float = 20, hi: float = 236) -> tuple[float, float]:
    cy, cx = rng.uniform(lo, hi, 2)
    return float(cy), float(cx)


def _wobble(rng: np.random.Generator, a: im.Area, cell: float) -> np.ndarray:
    """Edge noise for an irregular shape drawn in area `a`."""
    return im.smooth_noise(rng, (a.y.shape[0], a.x.shape[1]), cell)


def _pick(rng: np.random.Generator, colours) -> np.ndarray:
    return np.asarray(colours[rng.integers(len(colours))], dtype=np.float32)


def draw_chip(labels: np.ndarray, rng: np.random.Generator, grid: im.Grid, seed: int) -> np.ndarray:
    """One chip, channel-first float RGB (see kit.synth.images), caused by its label row.

    `rng` is the chip's own stream; `seed` picks the shared texture tiles it crops from.
    """
    has = _painted({name: bool(labels[j]) for j, name in enumerate(LABELS)}, rng)
    s = grid.size
    # canopy: a grain of tree crowns over a slow brightness swell
    grain = im.crop(rng, im.noise_tile(seed, s, 3.5), s)
    swell = im.crop(rng, im.noise_tile(seed, s, 64.0), s)
    texture = None
    if has["agriculture"] or not has["primary"]:
        texture = 0.04 * swell  # fields are smoother than forest
        texture += 0.03 * grain
        texture += 1.0
    if has["primary"]:
        lum = 0.14 * grain
        lum += 0.05 * swell
        lum += 1.0
        img = lum[None] * np.asarray(_FOREST, dtype=np.float32)[:, None, None]
    else:
        # no forest in view: the ground is open land (pasture, town outskirts, bare soil)
        img = texture[None] * _pick(rng, _FIELDS)[:, None, None]

    if has["agriculture"]:
        # large rectangular fields, cleared in blocks along one orientation
        theta = rng.uniform(0, np.pi)
        for _ in range(rng.integers(2, 6)):
            cy, cx = _where(rng, 0, 256)
            hh, hw = rng.uniform(18, 60), rng.uniform(25, 80)
            a = grid.around(cy, cx, np.hypot(hh, hw) + 2)
            m = im.rect(a, cy, cx, hh, hw, theta + rng.normal(0, 0.05), soft=1.5)
            im.paint(img, m, _pick(rng, _FIELDS)[:, None, None] * a.cut(texture)[None], area=a)

    if has["cultivation"]:
        # small irregular clearings inside the forest
        for _ in range(rng.integers(1, 5)):
            cy, cx = _where(rng)
            r = rng.uniform(6, 18)
            a = grid.around(cy, cx, r + 12)
            m = im.disc(a, cy, cx, r, soft=1.5, wobble=3.0 * _wobble(rng, a, 12))
            im.paint(img, m, (88, 100, 72), area=a, strength=0.85)

    if has["bare_ground"]:
        cy, cx = _where(rng)
        r = rng.uniform(10, 30)
        a = grid.around(cy, cx, r + 20)
        m = im.disc(a, cy, cx, r, soft=2.0, wobble=5.0 * _wobble(rng, a, 20))
        im.paint(img, m, (132, 118, 98), area=a)

    if has["slash_burn"]:
        cy, cx = _where(rng)
        r = rng.uniform(6, 16)
        a = grid.around(cy, cx, r + 12)
        m = im.disc(a, cy, cx, r, soft=1.5, wobble=3.0 * _wobble(rng, a, 10))
        im.paint(img, m, (26, 25, 23), area=a, strength=0.9)

    if has["blow_down"]:
        # a patch of fallen trees: parallel light streaks replace the crown grain
        cy, cx = _where(rng)
        r = rng.uniform(12, 28)
        a = grid.around(cy, cx, r + 12)
        u, _ = im.uv(a, cy, cx, rng.uniform(0, np.pi))
        streak = 0.5 + 0.5 * np.sin(u * np.float32(2 * np.pi / 4.0) + 1.5 * a.cut(grain))
        m = im.disc(a, cy, cx, r, soft=3.0, wobble=3.0 * swell)
        im.paint(img, m * streak, (92, 100, 70), area=a, strength=0.8)

    if has["blooming"]:
        # pink-purple crowns scattered over a part of the canopy
        cy, cx = _where(rng)
        r = rng.uniform(30, 60)
        a = grid.around(cy, cx, r + 8)
        region = im.disc(a, cy, cx, r, soft=8.0)
        dots = im.spots(rng, region.shape, 0.006, 1)
        im.paint(img, region * dots, (138, 96, 122), area=a, strength=0.8)

    if has["selective_logging"]:
        # narrow cut trails: a spine with a few side branches, faint
        cy, cx = _where(rng, 40, 216)
        ang = rng.uniform(0, np.pi)
        length = rng.uniform(60, 140)
        a = grid.around(cy, cx, length / 2 + 30)
        trails = im.line(a, cy, cx, ang, 1.2, length=length, soft=1.0)
        for _ in range(rng.integers(2, 5)):
            t = rng.uniform(-length / 3, length / 3)
            b_ang = ang + np.pi / 2 + rng.normal(0, 0.3)
            off = rng.uniform(8, 25) * rng.choice([-1, 1])
            by = cy + t * np.sin(ang) + off * np.sin(b_ang)
            bx = cx + t * np.cos(ang) + off * np.cos(b_ang)
            trails = np.maximum(trails, im.line(a, by, bx, b_ang, 1.0, length=2 * abs(off), soft=1.0))
        im.paint(img, trails, (100, 96, 76), area=a, strength=0.7)

    full = grid.full
    if has["water"]:
        if rng.random() < 0.7:  # a river winding across the chip
            cy, cx = _where(rng, 60, 196)
            m = im.meander(full, rng, cy, cx, rng.uniform(0, np.pi), rng.uniform(4, 22),
                           amplitude=rng.uniform(5, 30), wavelength=rng.uniform(80, 220))
            im.paint(img, m, _pick(rng, _WATER))
        else:  # a lake or an oxbow
            cy, cx = _where(rng)
            r = rng.uniform(10, 35)
            a = grid.around(cy, cx, r + 20)
            m = im.disc(a, cy, cx, r, soft=2.0, wobble=5.0 * _wobble(rng, a, 25))
            im.paint(img, m, _pick(rng, _WATER), area=a)

    if has["artisinal_mine"]:
        # churned mud beside the water, dotted with bright turquoise or ochre pits
        cy, cx = _where(rng)
        r = rng.uniform(10, 24)
        a = grid.around(cy, cx, r + 15)
        area = im.disc(a, cy, cx, r, soft=2.0, wobble=4.0 * _wobble(rng, a, 14))
        im.paint(img, area, (128, 116, 92), area=a)
        pit = (150, 180, 160) if rng.random() < 0.5 else (190, 176, 120)
        im.paint(img, area * im.spots(rng, area.shape, 0.02, 1), pit, area=a)

    if has["conventional_mine"]:
        # a big open pit with bright terraces in rings
        cy, cx = _where(rng, 50, 206)
        r = rng.uniform(18, 34)
        a = grid.around(cy, cx, r + 3)
        d = np.sqrt((a.y - np.float32(cy)) ** 2 + (a.x - np.float32(cx)) ** 2)
        rings = 0.75 + 0.25 * np.sin(d * np.float32(2 * np.pi / 5.0))
        pit = im.disc(a, cy, cx, r, soft=2.0)
        im.paint(img, pit, np.asarray((176, 170, 156), np.float32)[:, None, None] * rings[None], area=a)

    if has["road"]:
        # thin straight light lines, sometimes a second road crossing the first
        for _ in range(1 if rng.random() < 0.6 else 2):
            cy, cx = _where(rng, 30, 226)
            m = im.line(full, cy, cx, rng.uniform(0, np.pi), rng.uniform(1.0, 3.5), soft=1.0,
                        bend=rng.normal(0, 6))
            # dirt tracks half hidden by the canopy are as common as clean paved roads
            im.paint(img, m, (156, 146, 124) if rng.random() < 0.7 else (140, 140, 138),
                     strength=rng.uniform(0.4, 0.9))

    if has["habitation"]:
        # a bright cluster of small rectangular roofs on a grid of streets
        cy, cx = _where(rng)
        r = rng.uniform(12, 40)
        a = grid.around(cy, cx, r + 20)
        town = im.disc(a, cy, cx, r, soft=2.0, wobble=5.0 * _wobble(rng, a, 16))
        im.paint(img, town, (124, 118, 106), area=a)
        roofs = im.blocks(rng, town.shape, int(rng.integers(4, 7)), 0.55)
        roof = (205, 200, 192) if rng.random() < 0.6 else (168, 104, 82)
        im.paint(img, town * roofs, roof, area=a, strength=0.85)

    _weather(img, has, rng, grid)

    # sun and sensor: exposure and a colour cast per chip
    img *= (rng.uniform(EXPOSURE[0], EXPOSURE[1]) * (1 + rng.normal(0, CAST, 3))).astype(np.float32)[:, None, None]
    return img


#: chance that a tagged land label is painted too faint or too small to see
MISSED = {"agriculture": 0.2, "road": 0.35, "water": 0.35, "cultivation": 0.5, "habitation": 0.3,
          "bare_ground": 0.5, "selective_logging": 0.5, "blooming": 0.4, "blow_down": 0.4, "slash_burn": 0.4,
          "artisinal_mine": 0.2, "conventional_mine": 0.2}
#: chance that an untagged look-alike is painted on a chip whose ground shows
SPURIOUS = {"cultivation": 0.1, "road": 0.08, "water": 0.08, "agriculture": 0.06, "bare_ground": 0.04,
            "habitation": 0.02}
#: the per-chip exposure range and the spread of the colour cast
EXPOSURE = (0.75, 1.25)
CAST = 0.06


def _painted(has: dict[str, bool], rng: np.random.Generator) -> dict[str, bool]:
    """What the chip shows for its tags: a labeller's call, not a rule (see the module docstring)."""
    out = dict(has)
    for name, p in MISSED.items():
        if out[name] and rng.random() < p:
            out[name] = False
    if not has["cloudy"]:
        for name, p in SPURIOUS.items():
            if not out[name] and rng.random() < p:
                out[name] = True
    # the weather tag is drawn at a strength of its own (see _weather), so it is not changed here
    return out


def _weather(img: np.ndarray, has: dict[str, bool], rng: np.random.Generator, grid: im.Grid) -> None:
    s = grid.size
    if has["haze"]:
        # a whitish veil of uneven thickness: low contrast, brighter; from barely there to thick
        veil = np.clip(rng.uniform(0.08, 0.7) + 0.12 * im.smooth_noise(rng, s, 90), 0.05, 0.85)
        im.paint(img, veil, (165, 164, 160))
    elif has["clear"] and rng.random() < 0.15:
        # clear, by the labeller's call: a thin veil or a wisp of cloud that did not count
        if rng.random() < 0.5:
            im.paint(img, np.clip(rng.uniform(0.05, 0.22) + 0.06 * im.smooth_noise(rng, s, 90), 0, 0.3),
                     (165, 164, 160))
        else:
            _clouds(img, rng, s, rng.uniform(0.005, 0.04))
    elif has["partly_cloudy"]:
        # a few white cloud blobs, each with its shadow cast to one side; from a wisp to most of the chip
        _clouds(img, rng, s, rng.uniform(0.02, 0.85))
    elif has["cloudy"]:
        # grey-white cover hiding (almost) all the ground, now and then with a thin patch
        thick = np.clip(rng.uniform(0.7, 0.97) + 0.12 * im.smooth_noise(rng, s, rng.uniform(40, 100)), 0.55, 1.0)
        tone = 205 + 22 * im.smooth_noise(rng, s, 30)
        im.paint(img, thick, tone[None])


def _clouds(img: np.ndarray, rng: np.random.Generator, s: int, cover: float) -> None:
    """White cloud blobs over about `cover` of the chip, each with its shadow cast to one side."""
    field = im.smooth_noise(rng, s, rng.uniform(35, 80))
    cut = np.quantile(field, 1 - cover)
    cloud = np.clip((field - cut) * 2.5, 0.0, 1.0) ** 0.7
    dy, dx = rng.integers(-18, 19, 2)
    shadow = np.roll(cloud, (int(dy), int(dx)), axis=(0, 1))
    img *= (1 - 0.45 * shadow)[None]
    im.paint(img, cloud, (228, 228, 226), strength=0.97)


def _write_images(task: tuple[str, tuple[str, ...], np.ndarray, int]) -> int:
    """Draw and save one batch of chips; runs in a worker process."""
    folder, names, labels, seed = task
    grid = im.Grid(IMAGE_SIZE)
    for name, row in zip(names, labels):
        chip = draw_chip(row, stream(seed, "planet-image", name), grid, seed)
        im.save_cmyk_jpeg(chip, Path(folder) / f"{name}.jpg", quality=JPEG_QUALITY)
    return len(names)


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def write_images(jobs: list[tuple[Path, list[str], np.ndarray]], seed: int) -> None:
    """For each (folder, names, labels) job, write `names[i].jpg` drawn from `labels[i]`.

    Big sets go to one process pool shared by all folders (a pool costs about a second to
    start); small ones are drawn here. Chips depend on their own name's stream only, so
    the bytes are the same either way.
    """
    tasks = []
    for folder, names, labels in jobs:
        Path(folder).mkdir(parents=True, exist_ok=True)
        tasks += [(str(folder), tuple(names[i:i + BATCH]), labels[i:i + BATCH], seed)
                  for i in range(0, len(names), BATCH)]
    workers = min(_workers(), len(tasks))
    total = sum(len(t[1]) for t in tasks)
    with bar(total=total, desc="JPEGs", unit="img") as progress:
        if total < POOL_MIN_IMAGES or workers < 2:
            for t in tasks:
                progress.update(_write_images(t))
            return
        # spawn, not fork: the parent may hold polars/BLAS thread pools that fork would copy locked
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for done in pool.map(_write_images, tasks):
                progress.update(done)


def generate(out: Path, *, size: str, seed: int) -> None:
    """Write train_v2.csv, the three JPEG folders, the sample submission and the solution."""
    n = SIZES[size]
    out = Path(out)
    y_train = sample_labels(n["train"], stream(seed, "planet-labels", "train"))
    y_test = sample_labels(n["test"], stream(seed, "planet-labels", "test"))
    y_add = sample_labels(n["additional"], stream(seed, "planet-labels", "additional"))

    train_names = [f"train_{i}" for i in range(n["train"])]
    test_names = [f"test_{i}" for i in range(n["test"])]
    add_names = [f"file_{i}" for i in range(n["additional"])]

    write_csv(pl.DataFrame({"image_name": train_names, "tags": tags_column(y_train)}), out,
              SPEC.file("train_v2.csv"))
    ids = test_names + add_names
    write_csv(pl.DataFrame({"image_name": ids,
                            "tags": [SPEC.extra["sample_submission_tags"]] * len(ids)}),
              out, SPEC.file("sample_submission_v2.csv"))
    # Public = test-jpg, Private = test-jpg-additional (about 40k / 20k, as on the real board)
    usage = ["Public"] * len(test_names) + ["Private"] * len(add_names)
    write_solution(pl.DataFrame({"image_name": ids, "tags": tags_column(np.vstack([y_test, y_add])),
                                 "Usage": usage}), out)

    write_images([(out / "train-jpg", train_names, y_train),
                  (out / "test-jpg", test_names, y_test),
                  (out / "test-jpg-additional", add_names, y_add)], seed)
