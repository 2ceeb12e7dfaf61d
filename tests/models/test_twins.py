"""Every model beats the trivial baseline on a competition twin, scored by the competition's metric."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kit.baseline import _best_tag_set
from kit.metrics import mean_f2, normalized_gini, rmsle
from kit.models import make_model
from kit.spec import get

# single-threaded and small: these run beside other test processes
SETTINGS = {
    "regression": {
        "rf": {"n_estimators": 40, "n_jobs": 1},
        "lgbm": {"n_estimators": 300, "learning_rate": 0.05, "n_jobs": 1},
        "nn": {"epochs": 5, "batch_size": 256, "lr": 3e-3, "device": "cpu"},
    },
    "binary": {
        "rf": {"n_estimators": 40, "max_samples": 10_000, "min_samples_leaf": 25, "n_jobs": 1},
        "lgbm": {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 50, "n_jobs": 1},
        "nn": {"epochs": 3, "batch_size": 512, "lr": 3e-3, "device": "cpu"},
    },
    "multilabel": {
        "rf": {"n_estimators": 60, "min_samples_leaf": 1, "n_jobs": 1},
        "lgbm": {"n_estimators": 100, "learning_rate": 0.1, "min_child_samples": 5, "n_jobs": 1},
        "nn": {"epochs": 30, "batch_size": 32, "lr": 1e-2, "device": "cpu"},
    },
}


def fit(name, task, d):
    model = make_model(name, task, cat_features=d.cat_features or None, **SETTINGS[task][name])
    # LightGBM stops early on the validation rows, as a competitor would
    return model.fit(d.X, d.y, eval_set=(d.X_valid, d.y_valid)) if name == "lgbm" else model.fit(d.X, d.y)


@pytest.mark.parametrize("name", ["rf", "lgbm", "nn"])
def test_bulldozers_rmsle(bulldozers, name):
    d = bulldozers
    price = np.expm1(d.y_valid)
    # the constant a competitor would submit: the geometric mean price of the training sales
    baseline = rmsle(price, np.full(len(price), np.expm1(d.y.mean())))
    score = rmsle(price, np.expm1(fit(name, "regression", d).predict(d.X_valid)))
    # measured: baseline 0.66; rf 0.32, lgbm 0.30, nn 0.38
    assert score < 0.7 * baseline, (score, baseline)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rf", "lgbm", "nn"])
def test_porto_seguro_gini(porto_small, name):
    d = porto_small
    baseline = normalized_gini(d.y_valid, np.full(len(d.y_valid), d.y.mean()))
    score = normalized_gini(d.y_valid, fit(name, "binary", d).predict_proba(d.X_valid)[:, 1])
    # measured: rf 0.22, lgbm 0.22, nn 0.15; the winning Gini on the real data was 0.29
    assert score > baseline + 0.1, (score, baseline)


@pytest.mark.parametrize("name", ["rf", "lgbm", "nn"])
def test_planet_mean_f2(planet, tiny_twin, name):
    d = planet
    labels = get("planet").spec.submission.labels
    tags = pl.read_csv(tiny_twin("planet") / "train_v2.csv")["tags"][:140]
    best = set(_best_tag_set(tags, labels).split())
    baseline = mean_f2(d.y_valid, np.array([[lab in best for lab in labels]] * len(d.y_valid)))
    # F2 weighs recall 4x: a low threshold, as Planet competitors used
    score = mean_f2(d.y_valid, fit(name, "multilabel", d).predict_proba(d.X_valid) > 0.2)
    # measured: baseline 0.71; rf 0.88, lgbm 0.85, nn 0.86
    assert score > baseline + 0.05, (score, baseline)
