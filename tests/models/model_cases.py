"""Data and fast settings shared by the model tests.

`synthetic(task)` is a small table with a signal the tests can check: an integer-coded
categorical column (`shop`), a string categorical (`color`), and two continuous columns, one
with missing values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

#: settings that make each model fit in well under a second on tiny data, single-threaded
FAST = {
    "rf": {"n_estimators": 12, "n_jobs": 1},
    "lgbm": {"n_estimators": 40, "min_child_samples": 5, "n_jobs": 1},
    "nn": {"epochs": 6, "batch_size": 32, "lr": 1e-2, "layers": (32, 16), "dropout": (0.0, 0.0), "device": "cpu"},
}
CATS = ["shop", "color"]


@dataclass(frozen=True)
class Data:
    X: pl.DataFrame
    y: np.ndarray
    X_valid: pl.DataFrame
    y_valid: np.ndarray
    cat_features: list[str]


def synthetic(task: str, n: int = 400, seed: int = 0) -> Data:
    rng = np.random.default_rng(seed)
    m = n + n // 2
    shop = rng.integers(0, 8, m)
    color = rng.choice(["red", "green", "blue"], m)
    x1 = rng.normal(size=m)
    x2 = np.where(rng.random(m) < 0.1, np.nan, rng.normal(size=m))
    X = pl.DataFrame({"shop": shop, "color": color, "x1": x1, "x2": x2})
    effect = np.array([-1.5, -1.0, -0.5, 0.0, 0.3, 0.8, 1.2, 2.0])[shop]
    signal = effect + 1.5 * x1 + (color == "red") + rng.normal(size=m) * 0.3
    if task == "regression":
        y = signal
    elif task == "binary":
        y = (signal > 0.2).astype(np.int64)
    else:
        y = np.column_stack([signal > 0.2, color == "blue", x1 > 0.5]).astype(np.int64)
    return Data(X[:n], y[:n], X[n:], y[n:], list(CATS))


