"""Synthetic twin of Porto Seguro's Safe Driver Prediction.

Every row (policy holder) is drawn independently from one population; ids 0..N-1 are
split at random between train and test, so the files interleave by id and carry no shift.
The claim probability is a weak logistic function of the features, tuned so that the
best achievable normalized Gini is about 0.30 (the real winners reached 0.29):

* latent factors make groups of correlated columns: a region factor behind ps_reg_01/02/03,
  a car factor behind ps_car_11/12/13/14/15 (ps_car_13 the strongest single feature) and a
  driver factor behind the ind ordinals; the risk uses the factors themselves, so a model
  gains by combining the noisy columns of a group;
* categorical effects: ps_ind_05_cat, the one-hot groups ps_ind_06..09_bin and
  ps_ind_16..18_bin (ps_ind_17_bin raises risk), ps_car_11_cat with 104 levels of
  Zipf-like frequency, each with its own effect (what target encoding recovers);
* missing values (-1) that carry risk: ps_car_07_cat and ps_ind_05_cat; missingness of
  ps_car_03_cat and ps_car_05_cat is correlated (one car-record factor);
* interactions: ps_car_13 x ps_reg_03 (a favourite engineered feature) and ps_ind_17_bin x
  ps_car_13;
* the 20 ps_calc_* columns are drawn independently of everything: pure noise, as in the
  real data.

Formats follow the real files: continuous columns are square roots on an integer grid
(value = sqrt(k) / scale, rounded to 10 decimals), a fifth of them off by one unit in the
last place (`0.7180703307999999`), missing floats written `-1.0`, LF, no quotes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import comb
from pathlib import Path

import numpy as np
import polars as pl
from scipy.special import expit, ndtr

from kit.synth import CsvWriter, rng, usage_split, write_csv, write_solution

from competitions.porto_seguro.spec import FEATURES, MISSING_RATES, SPEC

SIZES: dict[str, dict[str, int]] = {
    "tiny": {"train": 10_000, "test": 15_000, "chunk": 25_000},
    "small": {"train": 100_000, "test": 150_000, "chunk": 250_000},
    # real row counts; chunks keep peak memory to a few hundred MB
    "full": {"train": 595_212, "test": 892_816, "chunk": 200_000},
}

TARGET_RATE = SPEC.extra["target_rate"]
SAMPLE_VALUE = SPEC.extra["sample_submission_value"]
PUBLIC_FRACTION = SPEC.extra["public_fraction"]
# rows drawn once per seed to set the intercept, so the rate does not vary by chunk
CALIBRATION_ROWS = 200_000
# share of irrational grid values written one ulp off, as the real writer left them
ULP_NOISE = 0.2

# Category frequencies of the real train file (public EDAs), by level.
IND_01 = (0.30, 0.29, 0.08, 0.09, 0.10, 0.09, 0.03, 0.02)
IND_02 = {1: 0.726, 2: 0.207, 3: 0.048, 4: 0.019}
IND_03 = (0.07, 0.11, 0.15, 0.13, 0.11, 0.10, 0.08, 0.07, 0.06, 0.05, 0.04, 0.03)
IND_05 = {0: 0.889, 1: 0.014, 2: 0.007, 3: 0.014, 4: 0.031, 5: 0.003, 6: 0.035}
IND_06_09 = (0.394, 0.257, 0.164, 0.185)           # exactly one of ps_ind_06..09_bin is 1
IND_10_13 = (0.0004, 0.0017, 0.0094, 0.0009)       # rare flags; ps_ind_14 is their sum
IND_16_18 = (0.66, 0.121, 0.153, 0.066)            # 16, 17, 18 or none of them
REG_01 = (0.05, 0.06, 0.05, 0.06, 0.07, 0.09, 0.11, 0.14, 0.16, 0.21)
CAR_01 = (0.009, 0.0025, 0.0035, 0.011, 0.044, 0.030, 0.104, 0.301, 0.025, 0.034, 0.084, 0.347)
CAR_04 = (0.834, 0.054, 0.039, 0.0011, 0.0004, 0.0052, 0.0027, 0.0004, 0.035, 0.027)
CAR_06 = (0.185, 0.18, 0.0027, 0.02, 0.043, 0.0023, 0.033, 0.032, 0.012, 0.027, 0.052,
          0.221, 0.005, 0.013, 0.10, 0.035, 0.02, 0.016)
CAR_09 = (0.33, 0.04, 0.59, 0.03, 0.006)
CAR_10 = (0.008, 0.9918, 0.0002)
CAR_11 = (0.04, 0.13, 0.27, 0.56)
CALC_BIN = (0.12, 0.63, 0.55, 0.29, 0.35, 0.15)

# Risk effects on the logit scale. Categorical levels not listed have no effect.
# SIGNAL scales them all: at 0.88 the true probabilities reach a normalized Gini of about
# 0.30 and a default LightGBM trained on the full-size train file about 0.27, as on Kaggle.
SIGNAL = 0.88
IND_05_EFFECT = {-1: 0.9, 1: 0.25, 2: 0.55, 3: 0.2, 4: 0.35, 5: 0.1, 6: 0.55}
IND_02_EFFECT = {-1: 0.3, 2: 0.08, 3: 0.1, 4: 0.15}
IND_06_09_EFFECT = (-0.25, 0.05, 0.15, 0.15)
IND_16_18_EFFECT = (-0.15, 0.45, 0.05, 0.1)
CAR_07_EFFECT = {-1: 0.7, 0: 0.35}
CAR_03_EFFECT = {0: 0.05, 1: 0.15}
CAR_05_EFFECT = {0: -0.05, 1: 0.1}


def _normalised(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return p / p.sum()


def _ordinal(latent: np.ndarray, probs) -> np.ndarray:
    """Levels 0..len(probs)-1 with the given frequencies, monotone in a standard-normal latent."""
    edges = np.cumsum(_normalised(probs))[:-1]
    return np.searchsorted(edges, ndtr(latent), side="right").astype(np.int16)


def _mix(factor: np.ndarray, loading: float, g: np.random.Generator) -> np.ndarray:
    """A standard-normal latent with correlation `loading` to `factor`."""
    return loading * factor + np.sqrt(1 - loading**2) * g.standard_normal(factor.shape[0])


def _on_grid(x: np.ndarray, scale: float) -> np.ndarray:
    """Snap to sqrt(k)/scale for integer k, written as the real files do (10 decimals)."""
    k = np.rint((x * scale) ** 2)
    return np.round(np.sqrt(k) / scale, 10)


def _binomial_pmf(trials: int, p: float) -> np.ndarray:
    k = np.arange(trials + 1)
    return np.array([comb(trials, int(i)) for i in k]) * p**k * (1 - p) ** (trials - k)


def _lookup(codes: np.ndarray, table: dict[int, float]) -> np.ndarray:
    out = np.zeros(codes.shape[0])
    for level, effect in table.items():
        out[codes == level] = effect
    return out


@dataclass(frozen=True)
class _World:
    """What is drawn once per seed and shared by all rows: level effects and frequencies."""

    car_11_cat_freq: np.ndarray    # frequencies of levels 1..104
    car_11_cat_effect: np.ndarray  # logit effect of levels 1..104
    car_01_effect: np.ndarray
    car_04_effect: np.ndarray
    car_06_effect: np.ndarray
    car_09_effect: np.ndarray
    intercept: float = 0.0


def _world(seed: int) -> _World:
    g = rng(seed, "world")
    # Zipf-like frequencies over levels 1..103 in random order, level 104 the commonest
    zipf = 1.0 / np.arange(1, 104) ** 0.9
    freq = np.append(g.permutation(zipf) / zipf.sum() * 0.85, 0.15)
    car_04 = g.normal(0.2, 0.1, 10)
    car_04[0] = 0.0
    world = _World(
        car_11_cat_freq=freq,
        car_11_cat_effect=g.normal(0.0, 0.22, 104),
        car_01_effect=g.normal(0.0, 0.12, 12),
        car_04_effect=car_04,
        car_06_effect=g.normal(0.0, 0.1, 18),
        car_09_effect=g.normal(0.0, 0.1, 5),
    )
    # the intercept that gives the real claim rate over a large calibration sample
    _, risk = _rows(CALIBRATION_ROWS, rng(seed, "calibration"), world)
    b = float(np.log(TARGET_RATE / (1 - TARGET_RATE)))
    for _ in range(30):  # Newton steps on mean(sigmoid(risk + b)) = rate
        p = expit(risk + b)
        step = (p.mean() - TARGET_RATE) / (p * (1 - p)).mean()
        b -= step
        if abs(step) < 1e-9:
            break
    return replace(world, intercept=b)


def _rows(n: int, g: np.random.Generator, world: _World) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`n` independent rows: the feature columns (missing as -1) and their risk logit
    (without the intercept)."""
    col: dict[str, np.ndarray] = {}
    driver = g.standard_normal(n)
    region = g.standard_normal(n)
    car = g.standard_normal(n)

    # driver (ind) columns
    col["ps_ind_01"] = _ordinal(_mix(driver, 0.3, g), IND_01)
    ind_02 = g.choice(np.array(list(IND_02), dtype=np.int16), n, p=_normalised(list(IND_02.values())))
    col["ps_ind_02_cat"] = ind_02
    col["ps_ind_03"] = _ordinal(_mix(driver, -0.25, g), IND_03)
    col["ps_ind_04_cat"] = (g.random(n) < 0.42).astype(np.int16)
    col["ps_ind_05_cat"] = g.choice(np.array(list(IND_05), dtype=np.int16), n,
                                    p=_normalised(list(IND_05.values())))
    onehot = g.choice(4, n, p=_normalised(IND_06_09))
    for i in range(4):
        col[f"ps_ind_{6 + i:02d}_bin"] = (onehot == i).astype(np.int16)
    flags = [(g.random(n) < p).astype(np.int16) for p in IND_10_13]
    for i, f in enumerate(flags):
        col[f"ps_ind_{10 + i:02d}_bin"] = f
    col["ps_ind_14"] = np.sum(flags, axis=0).astype(np.int16)
    col["ps_ind_15"] = _ordinal(_mix(driver, -0.3, g), _binomial_pmf(13, 0.56))
    group = g.choice(4, n, p=_normalised(IND_16_18))
    for i in range(3):
        col[f"ps_ind_{16 + i:02d}_bin"] = (group == i).astype(np.int16)

    # region (reg) columns: three noisy views of one factor
    col["ps_reg_01"] = _ordinal(_mix(region, 0.7, g), REG_01) / 10.0
    u = ndtr(_mix(region, 0.6, g))
    col["ps_reg_02"] = np.minimum(np.floor(-4.9 * np.log1p(-u)), 18) / 10.0
    reg_03 = np.exp(np.log(0.83) + 0.37 * _mix(region, 0.9, g))
    col["ps_reg_03"] = _on_grid(np.clip(reg_03, 0.061, 4.04), 40)

    # car columns
    col["ps_car_01_cat"] = g.choice(12, n, p=_normalised(CAR_01)).astype(np.int16)
    col["ps_car_02_cat"] = (g.random(n) < 0.83).astype(np.int16)
    record = g.standard_normal(n)  # one factor behind the missing car_03 and car_05 records
    car_03_missing = ndtr(_mix(record, 0.8, g)) < MISSING_RATES["ps_car_03_cat"]
    car_05_missing = ndtr(_mix(record, 0.8, g)) < MISSING_RATES["ps_car_05_cat"]
    col["ps_car_03_cat"] = np.where(car_03_missing, -1, g.random(n) < 0.61).astype(np.int16)
    col["ps_car_04_cat"] = g.choice(10, n, p=_normalised(CAR_04)).astype(np.int16)
    col["ps_car_05_cat"] = np.where(car_05_missing, -1, g.random(n) < 0.56).astype(np.int16)
    col["ps_car_06_cat"] = g.choice(18, n, p=_normalised(CAR_06)).astype(np.int16)
    col["ps_car_07_cat"] = (g.random(n) < 0.948).astype(np.int16)  # 0: 5% of the non-missing
    col["ps_car_08_cat"] = (g.random(n) < 0.833).astype(np.int16)
    col["ps_car_09_cat"] = g.choice(5, n, p=_normalised(CAR_09)).astype(np.int16)
    col["ps_car_10_cat"] = g.choice(3, n, p=_normalised(CAR_10)).astype(np.int16)
    col["ps_car_11_cat"] = (g.choice(104, n, p=world.car_11_cat_freq) + 1).astype(np.int16)
    col["ps_car_11"] = _ordinal(_mix(car, 0.4, g), CAR_11)
    car_12 = np.clip(0.38 + 0.058 * _mix(car, 0.8, g), 0.1, 1.26)
    # most real ps_car_12 values sit on a few round points (sqrt(1000)/100, 0.4, ...)
    snap = g.random(n) < 0.75
    car_12 = np.where(snap, np.sqrt(np.rint((car_12 * 100) ** 2 / 200) * 200) / 100, car_12)
    col["ps_car_12"] = _on_grid(car_12, 100)
    car_13_z = _mix(car, 0.85, g)
    col["ps_car_13"] = _on_grid(np.clip(0.78 * np.exp(0.26 * car_13_z), 0.25, 3.72), 220)
    col["ps_car_14"] = _on_grid(np.clip(0.374 + 0.046 * _mix(car, 0.55, g), 0.1091, 0.6364), 100)
    col["ps_car_15"] = np.round(np.sqrt(np.clip(np.rint(10 + 3.2 * _mix(car, 0.6, g)), 0, 14)), 10)

    # calc columns: independent of everything else
    for i in range(1, 4):
        col[f"ps_calc_{i:02d}"] = g.integers(0, 10, n) / 10.0
    for i, (trials, p) in zip(range(4, 10), ((5, 0.47), (6, 0.315), (10, 0.769), (9, 0.334),
                                              (12, 0.769), (7, 0.334))):
        col[f"ps_calc_{i:02d}"] = g.binomial(trials, p, n).astype(np.int16)
    for i, (lam, top) in zip(range(10, 15), ((8.43, 25), (5.44, 19), (1.44, 10), (2.87, 13),
                                              (7.54, 23))):
        col[f"ps_calc_{i:02d}"] = np.minimum(g.poisson(lam, n), top).astype(np.int16)
    for i, p in zip(range(15, 21), CALC_BIN):
        col[f"ps_calc_{i:02d}_bin"] = (g.random(n) < p).astype(np.int16)

    # missing values at the real rates (car_03/05 were made above, with their factor)
    for name, rate in MISSING_RATES.items():
        if name in ("ps_car_03_cat", "ps_car_05_cat"):
            continue
        col[name] = np.where(g.random(n) < rate, -1, col[name]).astype(col[name].dtype)

    # risk: from the factors (seen only through noisy columns) and the written columns,
    # missing values included
    car_13s = np.clip(car_13_z, -3.5, 5)  # log(ps_car_13), standardised
    reg_03s = np.where(col["ps_reg_03"] < 0, 0.0,
                       (np.log(np.maximum(col["ps_reg_03"], 0.06)) - np.log(0.83)) / 0.37)
    risk = SIGNAL * (
        0.24 * car_13s
        + 0.15 * region
        + 0.10 * (col["ps_reg_02"] - 0.44) / 0.4
        + 0.05 * car
        - 0.035 * (col["ps_ind_15"] - 7.3)
        + 0.012 * (col["ps_ind_03"] - 4.0) ** 2
        + 0.03 * (col["ps_ind_01"] - 1.9)
        + 0.12 * (col["ps_ind_04_cat"] == 1)
        + _lookup(col["ps_ind_02_cat"], IND_02_EFFECT)
        + _lookup(col["ps_ind_05_cat"], IND_05_EFFECT)
        + np.asarray(IND_06_09_EFFECT)[onehot]
        + np.asarray(IND_16_18_EFFECT)[group]
        + _lookup(col["ps_car_07_cat"], CAR_07_EFFECT)
        + _lookup(col["ps_car_03_cat"], CAR_03_EFFECT)
        + _lookup(col["ps_car_05_cat"], CAR_05_EFFECT)
        + 0.1 * (col["ps_car_14"] < 0)
        + world.car_11_cat_effect[col["ps_car_11_cat"] - 1]
        + np.where(col["ps_car_01_cat"] < 0, 0.0, world.car_01_effect[col["ps_car_01_cat"]])
        + world.car_04_effect[col["ps_car_04_cat"]]
        + world.car_06_effect[col["ps_car_06_cat"]]
        + np.where(col["ps_car_09_cat"] < 0, 0.0, world.car_09_effect[col["ps_car_09_cat"]])
        + 0.08 * car_13s * reg_03s
        + 0.12 * car_13s * (group == 1)
    )

    # the real writer left some irrational grid values one ulp off (0.7180703307999999)
    for name in ("ps_reg_03", "ps_car_12", "ps_car_13", "ps_car_14", "ps_car_15"):
        x = col[name]
        nudge = (g.random(n) < ULP_NOISE) & (x > 0) & (np.round(x, 4) != x)
        toward = np.where(g.random(n) < 0.5, -np.inf, np.inf)
        col[name] = np.where(nudge, np.nextafter(x, toward), x)
    return {name: col[name] for name in FEATURES}, risk


def generate(out: Path, *, size: str, seed: int) -> None:
    """Write train.csv, test.csv, sample_submission.csv and solution/solution.csv into `out`."""
    cfg = SIZES[size]
    n_train, n_test = cfg["train"], cfg["test"]
    total = n_train + n_test
    out = Path(out)
    world = _world(seed)
    # ids 0..total-1, a random subset of them train: the two files interleave by id
    is_train = np.zeros(total, dtype=bool)
    is_train[rng(seed, "split").permutation(total)[:n_train]] = True

    test_ids, test_target = [], []
    with CsvWriter(out, SPEC.train_file) as train_w, CsvWriter(out, SPEC.test_file) as test_w:
        for c, start in enumerate(range(0, total, cfg["chunk"])):
            stop = min(start + cfg["chunk"], total)
            g = rng(seed, "rows", c)
            cols, risk = _rows(stop - start, g, world)
            target = (g.random(stop - start) < expit(risk + world.intercept)).astype(np.int8)
            ids = np.arange(start, stop, dtype=np.int64)
            frame = pl.DataFrame({"id": ids, "target": target, **cols})
            mask = pl.Series(is_train[start:stop])
            train_w.write(frame.filter(mask))
            test_w.write(frame.filter(~mask).drop("target"))
            test_ids.append(ids[~is_train[start:stop]])
            test_target.append(target[~is_train[start:stop]])
    ids = np.concatenate(test_ids)
    write_csv(pl.DataFrame({"id": ids, "target": np.full(n_test, SAMPLE_VALUE)}), out,
              SPEC.sample_submission_file)
    write_solution(pl.DataFrame({
        "id": ids,
        "target": np.concatenate(test_target),
        "Usage": usage_split(n_test, PUBLIC_FRACTION, rng(seed, "usage")),
    }), out)
