"""Porto Seguro feature code on the tiny twin: -1 read as missing, the noise columns dropped,
categories declared, test ids in order, and LightGBM finding the signal on a held-out part."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kit.data.tables import read_table
from kit.features import Prepared, default_models
from kit.metrics import normalized_gini
from kit.models import make_model
from kit.spec import get
from kit.validation.splits import StratifiedKFold

from competitions.porto_seguro import features
from competitions.porto_seguro.features import prepare

COMP = get("porto_seguro")
SPEC = COMP.spec
CATS = ("ps_ind_02_cat", "ps_ind_04_cat", "ps_ind_05_cat", *(f"ps_car_{i:02d}_cat" for i in range(1, 12)))


@pytest.fixture(scope="module")
def folder(tiny_twin):
    return tiny_twin("porto_seguro")


@pytest.fixture(scope="module")
def raw(folder):
    return read_table(SPEC, "train.csv", folder), read_table(SPEC, "test.csv", folder)


@pytest.fixture(scope="module")
def prepared(folder) -> Prepared:
    return prepare(SPEC, folder)


def test_shapes_target_and_ids(prepared, raw, folder):
    train, test = raw
    assert prepared.X.height == train.height == 10_000 and prepared.X_test.height == test.height == 15_000
    assert prepared.y.dtype.kind == "i" and set(np.unique(prepared.y)) == {0, 1}
    assert np.array_equal(prepared.y, train["target"].to_numpy())
    assert 0.02 < prepared.y.mean() < 0.05  # the real claim rate is 3.6%
    assert prepared.test_ids.to_list() == test["id"].to_list()
    # the sample submission lists the test ids in the same order
    assert prepared.test_ids.to_list() == pl.read_csv(folder / SPEC.sample_submission)["id"].to_list()
    assert prepared.X.columns == prepared.X_test.columns
    assert "id" not in prepared.X.columns and "target" not in prepared.X.columns
    assert prepared.folds is None and prepared.dates is None and prepared.target_transform == "identity"


def test_no_calc_columns_and_categories(prepared):
    assert not [c for c in prepared.X.columns if "_calc_" in c]
    assert prepared.cat_features == CATS
    # 57 shipped features - 20 ps_calc_*, plus the flags of ps_reg_03 and ps_car_14, n_missing
    # and the ps_car_13 x ps_reg_03 interaction
    assert prepared.X.width == 37 + 2 + 1 + 1
    assert prepared.X.columns[-2:] == ["n_missing", features.INTERACTION]
    assert [c for c in prepared.X.columns if c.endswith("_na")] == ["ps_reg_03_na", "ps_car_14_na"]
    # _bin columns stay 0/1 numbers
    bins = [c for c in prepared.X.columns if c.endswith("_bin")]
    assert len(bins) == 11
    assert prepared.X.select(pl.col(bins).is_in([0, 1]).all()).row(0) == (True,) * 11


def test_minus_one_becomes_missing(prepared, raw):
    train, test = raw
    for frame, X in ((train, prepared.X), (test, prepared.X_test)):
        for c in ("ps_reg_03", "ps_car_14", "ps_car_03_cat", "ps_car_07_cat", "ps_ind_05_cat"):
            was = (frame[c] == -1).to_numpy()
            assert was.sum() > 0, c
            assert np.array_equal(X[c].is_null().to_numpy(), was), c
            # the values that were not -1 are unchanged
            assert X[c].drop_nulls().to_list() == frame[c].filter(~pl.Series(was)).to_list()
        assert (X.select(pl.exclude("n_missing", "^.*_na$")) == -1).sum_horizontal().sum() == 0
    # the twin writes ps_car_03_cat missing in about 69% of rows, as the real file
    assert prepared.X["ps_car_03_cat"].null_count() / prepared.X.height == pytest.approx(0.69, abs=0.03)


def test_flags_and_missing_count(prepared, raw):
    train, _ = raw
    X = prepared.X
    assert np.array_equal(X["ps_reg_03_na"].to_numpy(), (train["ps_reg_03"] == -1).cast(pl.Int8).to_numpy())
    used = [c for c in features.feature_columns(SPEC)]
    expect = train.select(pl.sum_horizontal(pl.col(c) == -1 for c in used)).to_series().to_numpy()
    assert np.array_equal(X["n_missing"].to_numpy(), expect)
    # by hand on the first row: its -1s among the used columns
    row = train.row(0, named=True)
    assert X["n_missing"][0] == sum(row[c] == -1 for c in used)
    # rows lacking a car_03 record tend to lack car_05 too: the count reaches 2 and beyond
    assert X["n_missing"].max() >= 3


def test_interaction_is_the_product_and_missing_with_reg_03(prepared, raw):
    train, _ = raw
    got = prepared.X[features.INTERACTION]
    missing = (train["ps_reg_03"] == -1).to_numpy()
    assert np.array_equal(got.is_null().to_numpy(), missing)
    expect = (train["ps_car_13"] * train["ps_reg_03"]).to_numpy()[~missing]
    assert np.allclose(got.drop_nulls().to_numpy(), expect)
    # by hand on the first row with both present
    i = int(np.flatnonzero(~missing)[0])
    assert got[i] == pytest.approx(train["ps_car_13"][i] * train["ps_reg_03"][i])


def test_missing_as_null_leaves_input_alone():
    frame = pl.DataFrame({"a_cat": [3, -1, 2], "b": [-1.0, 0.5, 1.0]})
    out = features.missing_as_null(frame, ["a_cat", "b"])
    assert out["a_cat"].to_list() == [3, None, 2] and out["b"].to_list() == [None, 0.5, 1.0]
    assert frame["a_cat"].to_list() == [3, -1, 2]  # not mutated


def test_models_are_known_and_lightgbm_finds_the_signal(prepared):
    assert list(default_models(COMP)) == ["lgbm"] and set(features.MODELS) == {"lgbm", "nn"}
    assert "lgbm" in features.MODELS
    train_idx, valid_idx = next(StratifiedKFold(3, random_state=0).split(prepared.X, prepared.y))
    X, y = prepared.X, prepared.y
    params = {**features.MODELS["lgbm"], "n_estimators": 400, "learning_rate": 0.05}
    model = make_model("lgbm", "binary", cat_features=list(prepared.cat_features), n_jobs=1, **params)
    model.fit(X[train_idx], y[train_idx], eval_set=(X[valid_idx], y[valid_idx]))
    gini = normalized_gini(y[valid_idx], model.predict_proba(X[valid_idx])[:, 1])
    # the true probabilities reach about 0.30; 6.7k tiny rows hold ~240 positives
    assert gini > 0.12
    top = model.feature_importance().head(8)["feature"].to_list()
    assert "ps_car_13" in top  # the twin's strongest single column
    assert model.predict_proba(prepared.X_test).shape == (prepared.X_test.height, 2)
