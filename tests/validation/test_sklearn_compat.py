"""kit's splitters and models speak scikit-learn: `cross_val_score(..., cv=splitter)` runs with
every splitter, and `sklearn.clone` copies every splitter and every model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from kit.errors import KitError
from kit.models import MODELS
from kit.validation.splits import (
    GroupKFold,
    KFold,
    MultilabelStratifiedKFold,
    StratifiedKFold,
    TimeHoldout,
    WalkForward,
)

N_STORES, N_DAYS = 6, 120


def panel() -> pd.DataFrame:
    """Six stores over 120 days: a date, a store, a numeric feature, a target and a 0/1 label."""
    rng = np.random.default_rng(0)
    dates = pd.date_range(dt.date(2015, 1, 1), periods=N_DAYS, freq="D")
    frame = pd.DataFrame({"date": np.tile(dates, N_STORES), "store": np.repeat(np.arange(N_STORES), N_DAYS)})
    frame["x"] = rng.normal(0, 1, len(frame))
    frame["y"] = 2 * frame["x"] + rng.normal(0, 0.1, len(frame))
    frame["label"] = (frame["x"] + rng.normal(0, 0.5, len(frame)) > 0).astype(int)
    return frame


def x_only():
    """A pipeline that picks the numeric column by name, so the frame's date column rides along."""
    return make_pipeline(ColumnTransformer([("x", "passthrough", ["x"])]), Ridge(alpha=1.0))


SPLITTERS = [
    TimeHoldout("date", horizon_days=30),
    TimeHoldout("date", horizon_days=20, gap_days=5),
    WalkForward("date", n_splits=3, horizon_days=15),
    WalkForward("date", n_splits=2, horizon_days=10, gap_days=2, window_days=40),
    KFold(4),
    KFold(3, shuffle=False),
    StratifiedKFold(5, random_state=3),
    GroupKFold(3, group_col="store"),
    MultilabelStratifiedKFold(4),
]


@pytest.mark.parametrize("splitter", SPLITTERS[:4], ids=repr)
@pytest.mark.parametrize("frame", ["pandas", "polars"])
def test_cross_val_score_with_time_splitters(splitter, frame):
    X = panel()
    y = X["y"].to_numpy()
    if frame == "polars":
        X = pl.from_pandas(X)
    scores = cross_val_score(x_only(), X, y, cv=splitter, scoring="neg_mean_absolute_error")
    assert len(scores) == splitter.get_n_splits()
    assert np.all(-scores < 0.2)  # the pipeline learnt y = 2x: the folds were real train/valid pairs
    dummy = cross_val_score(DummyRegressor(), X, y, cv=splitter)
    assert len(dummy) == splitter.get_n_splits() and np.all(dummy <= 0)


def test_cross_val_score_with_random_splitters():
    X = panel()
    y, label = X["y"].to_numpy(), X["label"].to_numpy()
    assert len(cross_val_score(x_only(), X, y, cv=KFold(4))) == 4
    assert len(cross_val_score(Ridge(), X[["x"]], y, cv=KFold(3, shuffle=False))) == 3
    scores = cross_val_score(make_pipeline(ColumnTransformer([("x", "passthrough", ["x"])]), LogisticRegression()),
                             X, label, cv=StratifiedKFold(5, random_state=3), scoring="roc_auc")
    assert len(scores) == 5 and np.all(scores > 0.8)
    # groups from the splitter's own column, or handed over by scikit-learn
    assert len(cross_val_score(x_only(), X, y, cv=GroupKFold(3, group_col="store"))) == 3
    assert len(cross_val_score(Ridge(), X[["x"]], y, cv=GroupKFold(3), groups=X["store"].to_numpy())) == 3


def test_cross_val_score_with_multilabel_stratified_kfold():
    rng = np.random.default_rng(1)
    X = rng.normal(0, 1, (200, 3))
    Y = (rng.random((200, 4)) < [0.5, 0.3, 0.1, 0.05]).astype(int)
    splitter = MultilabelStratifiedKFold(4)
    scores = cross_val_score(DummyClassifier(strategy="prior"), X, Y, cv=splitter)
    assert len(scores) == splitter.get_n_splits() == 4


@pytest.mark.parametrize("splitter", SPLITTERS, ids=repr)
def test_clone_copies_every_splitter(splitter):
    copy = clone(splitter)
    assert copy is not splitter and type(copy) is type(splitter)
    assert copy.get_params() == splitter.get_params() and repr(copy) == repr(splitter)
    X = panel()
    y = X[["label"]].assign(other=1 - X["label"]).to_numpy() if isinstance(splitter, MultilabelStratifiedKFold) \
        else X["label"].to_numpy()
    for (t1, v1), (t2, v2) in zip(splitter.split(X, y), copy.split(X, y), strict=True):
        assert np.array_equal(t1, t2) and np.array_equal(v1, v2)


def test_set_params_checks_like_the_constructor():
    s = KFold(3).set_params(n_splits=4)
    assert s.get_n_splits() == 4
    with pytest.raises(KitError, match="n_splits must be an integer >= 2, got 1"):
        KFold(3).set_params(n_splits=1)
    with pytest.raises(KitError, match="KFold has no parameter 'folds'"):
        KFold(3).set_params(folds=2)


MODEL_CLASSES = [cls for entry in MODELS.values() for cls in (entry.regressor, entry.classifier) if cls is not None]


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_clone_copies_every_model(cls):
    model = cls()
    copy = clone(model)
    assert copy is not model and type(copy) is cls
    assert copy.get_params() == model.get_params()
    tuned = clone(model.set_params(random_state=7))
    assert tuned.get_params() == model.get_params() and tuned.get_params()["random_state"] == 7
