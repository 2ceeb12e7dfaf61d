"""Blue Book for Bulldozers' feature code: hand-computed features on hand-made sales, the rows
and test order on the tiny twin, and a LightGBM on the features beating the simple prices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

import kit.spec
from kit.data.tables import read_table
from kit.features import prepare
from kit.metrics import rmsle
from kit.models import make_model
from kit.validation.splits import default_splitter

COMP = kit.spec.get("bulldozers")
SPEC = COMP.spec
F = COMP.load("features")


def _sales(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"SalesID": list(range(1, n + 1)), "MachineID": list(range(101, 101 + n)),
            "saledate": [dt.datetime(2011, 7, 2)] * n, "YearMade": [2001] * n}
    return pl.DataFrame({**base, **columns})


# ---------------------------------------------------------------- hand-made sales


def test_impossible_years_are_missing_and_age_is_in_years():
    sold = [dt.datetime(2011, 7, 2), dt.datetime(2011, 7, 2), dt.datetime(2011, 7, 2), dt.datetime(2011, 7, 2),
            dt.datetime(2004, 1, 1)]
    frame = _sales(YearMade=[1000, 1899, 2013, 2012, 2000], saledate=sold)
    out = F.clean(frame)
    # 1000 is "unknown", 1899 a typo, 2013 is two years after a 2011 sale; a 2012 model can sell in 2011
    assert out["YearMade"].to_list() == [None, None, None, 2012, 2000]
    # from 1 January of YearMade: 2011-07-02 is 182 days into 2011; 2004-01-01 is 1461 days after 2000-01-01
    assert out["age"].to_list()[:3] == [None, None, None]
    np.testing.assert_allclose(out["age"].to_list()[3:], [(182 - 365) / 365.25, 1461 / 365.25])
    assert frame["YearMade"].to_list() == [1000, 1899, 2013, 2012, 2000]  # the input is untouched


def test_ordered_categories_become_ordered_codes():
    sizes = ["Mini", "Compact", "Small", "Medium", "Large / Medium", "Large", None]
    bands = ["Low", "Medium", "High", None, "Low", "High", "Medium"]
    out = F.clean(_sales(ProductSize=sizes, UsageBand=bands))
    assert out["ProductSize"].to_list() == [1, 2, 3, 4, 5, 6, 0]
    assert out["UsageBand"].to_list() == [1, 2, 3, 0, 1, 3, 2]


def test_unreported_hours_are_missing():
    out = F.clean(_sales(MachineHoursCurrentMeter=[0, 3500, None]))
    assert out["MachineHoursCurrentMeter"].to_list() == [None, 3500, None]


def test_the_appendix_fills_an_unknown_year_of_manufacture():
    train = _sales(YearMade=[1000, 2005, 1000], SalePrice=[10_000, 20_000, 30_000])
    test = _sales(YearMade=[1000])
    appendix = pl.DataFrame({"MachineID": [101, 102, 103], "MfgYear": [2003, 2004, None],
                             "fiManufacturerDesc": ["Caterpillar", "Komatsu", "Volvo"],
                             "PrimaryLower": [4.0, None, 10.0], "PrimaryUpper": [5.0, None, 12.0]})
    frames = F.build(train, test, appendix=appendix)
    # the file's own year wins; the appendix fills 1000; unknown in both stays missing
    assert frames.train["YearMade"].to_list() == [2003, 2005, None]
    np.testing.assert_allclose(frames.train["age"].to_list()[:2], [(2922 + 182) / 365.25, (2191 + 182) / 365.25])
    assert frames.train["fiManufacturerDesc"].to_list() == ["Caterpillar", "Komatsu", "Volvo"]
    assert "MfgYear" not in frames.train.columns
    assert frames.test["YearMade"].to_list() == [2003]


# ---------------------------------------------------------------- the tiny twin


@pytest.fixture(scope="module")
def twin(tiny_twin):
    return tiny_twin("bulldozers")


@pytest.fixture(scope="module")
def prepared(twin):
    return prepare(COMP, twin)


def test_rows_target_and_test_order(twin, prepared):
    train = read_table(SPEC, "Train.csv", twin).sort("saledate", maintain_order=True)
    test = read_table(SPEC, "Test.csv", twin)
    assert prepared.n_rows == train.height
    np.testing.assert_allclose(prepared.y, np.log1p(train["SalePrice"].to_numpy()))
    assert prepared.target_transform == "log1p"
    assert prepared.dates.to_list() == train["saledate"].to_list()
    assert prepared.test_ids.to_list() == test["SalesID"].to_list()
    assert prepared.X.columns == prepared.X_test.columns
    for gone in ("SalesID", "MachineID", "SalePrice", "saledate", "MfgYear"):
        assert gone not in prepared.X.columns
    assert {"fiModelDesc", "state", "datasource", "auctioneerID", "saledate_month"} <= set(prepared.cat_features)
    assert not {"ProductSize", "UsageBand", "age", "YearMade", "ModelID"} & set(prepared.cat_features)
    size = train["ProductSize"].replace_strict(list(F.ORDERED["ProductSize"]), [1, 2, 3, 4, 5, 6], default=0)
    assert prepared.X["ProductSize"].to_list() == size.cast(pl.Float32).to_list()


def test_lightgbm_beats_the_constant_and_the_product_class_mean(prepared):
    tr, va = next(default_splitter(SPEC).split(pl.DataFrame({"saledate": prepared.dates})))
    start = prepared.dates.max() - dt.timedelta(days=SPEC.horizon_days - 1)
    assert prepared.dates[va].dt.date().min() >= start.date() > prepared.dates[tr].dt.date().max()
    y = np.asarray(prepared.y)
    truth = prepared.y_target()[va]
    model = make_model("lgbm", "regression", cat_features=list(prepared.cat_features), n_jobs=1,
                       n_estimators=200, learning_rate=0.1, early_stopping_rounds=None)
    model.fit(prepared.X[tr], y[tr])
    score = rmsle(truth, prepared.to_target(model.predict(prepared.X[va])))
    # the best constant for RMSLE on the holdout itself: the mean of log1p(price)
    constant = rmsle(truth, np.full(len(va), np.expm1(np.log1p(truth).mean())))
    frame = pl.DataFrame({"cls": prepared.X["fiProductClassDesc"], "y": y})
    means = frame[tr].group_by("cls").agg(m=pl.col("y").mean())
    by_class = frame[va].join(means, on="cls", how="left", maintain_order="left")["m"].fill_null(y[tr].mean())
    class_mean = rmsle(truth, np.expm1(by_class.to_numpy()))
    assert constant > 0.5 and class_mean < constant
    assert score < 0.75 * class_mean, (score, class_mean, constant)
