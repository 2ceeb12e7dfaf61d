"""Models read kit.tabular.Processed frames: categorical columns and embedding sizes come with them."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kit.data.tables import read_table
from kit.errors import KitError
from kit.models import make_model
from kit.spec import get
from kit.tabular import TabularProcessor

from model_cases import FAST as _FAST

# 4,000 rows: bigger batches than the synthetic cases' keep the network's step count small
FAST = {**_FAST, "nn": {**_FAST["nn"], "batch_size": 256, "lr": 3e-3}}


@pytest.fixture(scope="module")
def processed(tiny_twin):
    spec = get("bulldozers").spec
    df = read_table(spec, "Train.csv", tiny_twin("bulldozers")).sort("saledate")
    cols = ["ModelID", "ProductSize", "state", "Enclosure", "YearMade", "MachineHoursCurrentMeter", "saledate"]
    cut = 4000
    proc = TabularProcessor(cat_names=["ModelID"]).fit(df[:cut].select(cols))
    y = np.log1p(df["SalePrice"].to_numpy().astype(np.float64))
    return proc.transform(df[:cut].select(cols)), y[:cut], proc.transform(df[cut:].select(cols)), y[cut:]


@pytest.mark.parametrize("name", ["rf", "lgbm", "nn"])
def test_fit_and_predict_on_processed(processed, name):
    train, y, valid, yv = processed
    m = make_model(name, "regression", **FAST[name]).fit(train, y)
    assert m.schema_.cat_names == train.cat_names
    assert m.schema_.cardinalities == tuple(train.cardinalities[c] for c in train.cat_names)
    pred = m.predict(valid)
    assert pred.shape == (len(valid),)
    assert np.mean((pred - yv) ** 2) < np.var(yv)
    if name == "nn":
        sizes = [e.num_embeddings for e in m.model_.embeds]
        assert sizes == [train.cardinalities[c] for c in train.cat_names]


def test_codes_beyond_the_table_count_as_unknown(processed):
    train, y, valid, _ = processed
    m = make_model("nn", "regression", **{**FAST["nn"], "epochs": 1}).fit(train, y)
    col = train.cat_names[0]
    big = type(valid)(valid.frame.with_columns(pl.lit(10 ** 6).alias(col)), valid.cat_names,
                      valid.cont_names, valid.cardinalities)
    zero = type(valid)(valid.frame.with_columns(pl.lit(0).alias(col)), valid.cat_names,
                       valid.cont_names, valid.cardinalities)
    np.testing.assert_allclose(m.predict(big), m.predict(zero))


def test_cat_features_must_agree_with_processed(processed):
    train, y, _, _ = processed
    with pytest.raises(KitError, match=r"disagrees with the Processed object's categorical columns"):
        make_model("lgbm", "regression", cat_features=["YearMade"], **FAST["lgbm"]).fit(train, y)
