"""LightGBM: early stopping, native categorical splits, one booster per label."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.models import LightGBMClassifier, LightGBMRegressor

from model_cases import synthetic

CATS = ["shop", "color"]


def test_early_stopping_keeps_the_best_round():
    d = synthetic("regression", n=400)
    m = LightGBMRegressor(n_estimators=500, learning_rate=0.3, early_stopping_rounds=20, cat_features=CATS,
                          n_jobs=1).fit(d.X, d.y, eval_set=(d.X_valid, d.y_valid))
    best = m.best_iteration_
    assert 1 <= best < 500
    # every tree trained is kept (the 20 rounds past the best too: kit.runs' nested round choice
    # may predict at a later round), and the model predicts at the best round
    assert m.boosters_[0].current_iteration() == best + 20 == len(m.curves_[0])
    # the same trees grown without stopping (deterministic): the kept round has the lowest
    # validation error of the rounds run, and 20 more rounds did not beat it
    full = LightGBMRegressor(n_estimators=best + 20, learning_rate=0.3, cat_features=CATS, n_jobs=1).fit(d.X, d.y)
    M = m.schema_.encode(d.X_valid).matrix()
    b = full.boosters_[0]
    errors = [np.mean((b.predict(M, num_iteration=k) - d.y_valid) ** 2) for k in range(1, best + 21)]
    assert int(np.argmin(errors)) + 1 == best
    np.testing.assert_allclose(m.predict(d.X_valid), b.predict(M, num_iteration=best))


def test_without_eval_set_every_round_counts():
    d = synthetic("regression", n=200)
    m = LightGBMRegressor(n_estimators=25, cat_features=CATS, n_jobs=1).fit(d.X, d.y)
    assert m.best_iteration_ == 25


def test_categories_split_as_sets_not_by_code_order():
    # the effect alternates with the code, so no threshold on the code can separate it in one split
    rng = np.random.default_rng(0)
    shop = rng.integers(0, 10, 3000)
    X = pl.DataFrame({"shop": shop, "x": rng.normal(size=3000)})
    y = np.where(shop % 2 == 0, 1.0, -1.0) + rng.normal(size=3000) * 0.1
    stump = dict(n_estimators=1, learning_rate=1.0, num_leaves=2, min_child_samples=5, n_jobs=1)
    native = LightGBMRegressor(cat_features=["shop"], **stump).fit(X, y)
    numeric = LightGBMRegressor(**stump).fit(X, y)
    assert native.score(X, y) > 0.95
    assert numeric.score(X, y) < 0.5
    tree = native.boosters_[0].dump_model()["tree_info"][0]["tree_structure"]
    assert tree["decision_type"] == "==" and tree["split_feature"] == 0
    assert tree["threshold"] == "1||3||5||7||9"  # codes 1, 3, ... are shops 0, 2, ...: the even ones


def test_multilabel_one_booster_per_label():
    d = synthetic("multilabel", n=400)
    m = LightGBMClassifier(n_estimators=300, learning_rate=0.2, early_stopping_rounds=10, cat_features=CATS,
                           n_jobs=1).fit(d.X, d.y, eval_set=(d.X_valid, d.y_valid))
    assert len(m.boosters_) == 3
    assert m.best_iteration_.shape == (3,) and (m.best_iteration_ < 300).all()
    # each label's booster is that label's own binary model
    single = LightGBMClassifier(n_estimators=300, learning_rate=0.2, early_stopping_rounds=10, cat_features=CATS,
                                n_jobs=1).fit(d.X, d.y[:, 1], eval_set=(d.X_valid, d.y_valid[:, 1]))
    np.testing.assert_allclose(m.predict_proba(d.X_valid)[:, 1], single.predict_proba(d.X_valid)[:, 1])


def test_feature_importance_names_the_users_columns():
    d = synthetic("regression", n=300)
    imp = LightGBMRegressor(n_estimators=30, cat_features=CATS, n_jobs=1).fit(d.X, d.y).feature_importance()
    assert sorted(imp["feature"]) == ["color", "shop", "x1", "x2"]
    assert imp["importance"].sum() == pytest.approx(1.0)
    assert imp["feature"][0] in ("x1", "shop")


def test_bad_eval_set_and_params():
    d = synthetic("regression", n=100)
    with pytest.raises(KitError, match=r"eval_set X must have the columns the model was fitted on, but it lacks"):
        LightGBMRegressor(cat_features=CATS).fit(d.X, d.y, eval_set=(d.X_valid.drop("x1"), d.y_valid))
    with pytest.raises(KitError, match=r"eval_set must be a pair \(X_valid, y_valid\)"):
        LightGBMRegressor(cat_features=CATS).fit(d.X, d.y, eval_set=(d.X_valid,))
    with pytest.raises(KitError, match=r"learning_rate must be in \(0, 1\], got 0"):
        LightGBMRegressor(learning_rate=0, cat_features=CATS).fit(d.X, d.y)
    with pytest.raises(KitError, match=r"n_jobs must be -1 \(all cores\) or a positive count, got 0"):
        LightGBMRegressor(n_jobs=0, cat_features=CATS).fit(d.X, d.y)


def test_sample_weight_weighs_the_loss():
    # no feature can split: the single leaf predicts the weighted mean, 0.25 * 0 + 0.75 * 1
    X = pl.DataFrame({"x": np.zeros(100)})
    y = np.repeat([0.0, 1.0], 50)
    w = np.repeat([1.0, 3.0], 50)
    one = dict(n_estimators=1, learning_rate=1.0, n_jobs=1)
    assert LightGBMRegressor(**one).fit(X, y).predict(X[:1])[0] == pytest.approx(0.5)
    assert LightGBMRegressor(**one).fit(X, y, sample_weight=w).predict(X[:1])[0] == pytest.approx(0.75)
    assert LightGBMClassifier(**one).fit(X, y, sample_weight=w).predict_proba(X[:1])[0, 1] == pytest.approx(0.75)
    # a zero weight drops the row from the loss: the x=0 leaf ignores its outlier
    X2 = pl.DataFrame({"x": np.repeat([0.0, 1.0], 4)})
    y2 = np.array([1.0, 1.0, 1.0, 100.0, 5.0, 5.0, 5.0, 5.0])
    w2 = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    stump = LightGBMRegressor(n_estimators=1, learning_rate=1.0, num_leaves=2, min_child_samples=1,
                              n_jobs=1).fit(X2, y2, sample_weight=w2)
    np.testing.assert_allclose(stump.predict(pl.DataFrame({"x": [0.0, 1.0]})), [1.0, 5.0], rtol=1e-6)


def test_eval_sample_weight_is_the_early_stopping_score():
    d = synthetic("regression", n=400)
    w = np.where(np.arange(len(d.y_valid)) % 2 == 0, 1.25, 1.0)
    m = LightGBMRegressor(n_estimators=200, learning_rate=0.3, early_stopping_rounds=10, cat_features=CATS,
                          n_jobs=1).fit(d.X, d.y, eval_set=(d.X_valid, d.y_valid), eval_sample_weight=w)
    b = m.boosters_[0]
    weighted = np.sum(w * (m.predict(d.X_valid) - d.y_valid) ** 2) / np.sum(w)
    assert b.best_score["valid"]["l2"] == pytest.approx(weighted, rel=1e-5)


def test_bad_sample_weight():
    d = synthetic("regression", n=100)
    m = LightGBMRegressor(n_estimators=5, cat_features=CATS, n_jobs=1)
    with pytest.raises(KitError, match=r"sample_weight must be one weight per row \(\d+\), got shape \(3,\)"):
        m.fit(d.X, d.y, sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(KitError, match=r"sample_weight must be finite and non-negative .* 1 negative"):
        m.fit(d.X, d.y, sample_weight=np.r_[-1.0, np.ones(len(d.y) - 1)])
    with pytest.raises(KitError, match=r"eval_sample_weight weighs the eval_set rows, but no eval_set"):
        m.fit(d.X, d.y, eval_sample_weight=np.ones(len(d.y)))
