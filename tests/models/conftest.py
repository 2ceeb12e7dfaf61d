"""Twin data for the model tests (the synthetic cases are in model_cases.py).

The twin features are deliberately simple (no kit.tabular): enough for a
model to beat the trivial baseline.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from kit.data.tables import read_table
from kit.spec import get

from model_cases import Data


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # other test processes share the cores; contention makes torch far slower, not faster
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def bulldozers(tiny_twin) -> Data:
    """Tiny Bulldozers twin, a few columns, log1p(price); the last fifth of the sales in time is valid."""
    spec = get("bulldozers").spec
    df = read_table(spec, "Train.csv", tiny_twin("bulldozers")).sort("saledate")
    cats = ["ModelID", "fiBaseModel", "fiProductClassDesc", "ProductSize", "state", "ProductGroup",
            "Enclosure", "Hydraulics"]
    X = df.select(
        *cats, "YearMade", "MachineHoursCurrentMeter",
        pl.col("saledate").dt.year().alias("saleYear"),
        (pl.col("saledate").dt.year() - pl.col("YearMade")).alias("age"),
        (pl.col("saledate").dt.epoch("d")).alias("saleElapsed"))
    y = np.log1p(df["SalePrice"].to_numpy().astype(np.float64))
    cut = int(len(df) * 0.8)
    return Data(X[:cut], y[:cut], X[cut:], y[cut:], cats)


@pytest.fixture(scope="session")
def porto(tiny_twin) -> Data:
    """Tiny Porto Seguro twin: all features, `_cat` columns categorical, a random 70/30 split."""
    spec = get("porto_seguro").spec
    df = read_table(spec, "train.csv", tiny_twin("porto_seguro"))
    feats = [c for c in df.columns if c not in ("id", "target") and not c.startswith("ps_calc")]
    perm = np.random.default_rng(0).permutation(len(df))
    df = df[perm]
    cut = int(len(df) * 0.7)
    X, y = df.select(feats), df["target"].to_numpy()
    return Data(X[:cut], y[:cut], X[cut:], y[cut:], [c for c in feats if c.endswith("_cat")])


@pytest.fixture(scope="session")
def porto_small(small_twin) -> Data:
    """The first 50,000 rows of the small Porto Seguro twin: 30,000 to fit, 20,000 (about 800
    positives) to score, enough for a normalized Gini that a weak model cannot reach by luck."""
    folder = small_twin("porto_seguro")
    df = read_table(get("porto_seguro").spec, "train.csv", folder).head(50_000)
    feats = [c for c in df.columns if c not in ("id", "target") and not c.startswith("ps_calc")]
    X, y = df.select(feats), df["target"].to_numpy()
    return Data(X[:30_000], y[:30_000], X[30_000:], y[30_000:], [c for c in feats if c.endswith("_cat")])


@pytest.fixture(scope="session")
def planet(tiny_twin) -> Data:
    """Tiny Planet twin as a table: colour statistics of each chip (per-channel mean, std, 10th and
    90th percentiles, a 4x4 grid of mean colours) and its 17 labels; the last 60 chips are valid."""
    from PIL import Image

    spec = get("planet").spec
    folder = tiny_twin("planet")
    tags = pl.read_csv(folder / "train_v2.csv")

    def stats(name: str) -> np.ndarray:
        with Image.open(folder / "train-jpg" / f"{name}.jpg") as im:  # CMYK JPEGs: convert
            px = np.asarray(im.convert("RGB").resize((32, 32)), dtype=np.float32) / 255
        grid = px.reshape(4, 8, 4, 8, 3).mean((1, 3)).ravel()
        q = np.quantile(px.reshape(-1, 3), [0.1, 0.9], axis=0).ravel()
        return np.concatenate([px.mean((0, 1)), px.std((0, 1)), q, grid])

    X = pl.DataFrame(np.stack([stats(n) for n in tags["image_name"]]))
    lists = tags["tags"].str.split(" ")
    Y = np.stack([lists.list.contains(lab).to_numpy() for lab in spec.submission.labels], 1).astype(np.int64)
    return Data(X[:140], Y[:140], X[140:], Y[140:], [])
