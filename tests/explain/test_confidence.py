"""kit.explain.confidence: group means against numpy, folding, deciles, levels, and a real forest."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.explain.confidence import confidence_by, plot_confidence


def _rows(c):
    return {r["label"]: r for r in c.table.to_dicts()}


def test_group_means_match_numpy():
    rng = np.random.default_rng(0)
    n = 500
    cat = rng.choice(["Large", "Medium", "Small", "Mini"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    pred, std = rng.normal(10, 1, n), rng.gamma(2.0, 0.1, n)
    c = confidence_by(pred, std, cat, by="ProductSize", scale="log1p(SalePrice)")
    rows = _rows(c)
    assert set(rows) == {"Large", "Medium", "Small", "Mini"}
    assert c.overall_std == pytest.approx(std.mean())
    for label, r in rows.items():
        m = cat == label
        assert r["rows"] == m.sum()
        assert r["share"] == pytest.approx(m.mean())
        assert r["mean_prediction"] == pytest.approx(pred[m].mean())
        assert r["mean_std"] == pytest.approx(std[m].mean())
        assert r["relative"] == pytest.approx(std[m].mean() / std.mean())
    assert c.table["mean_std"].is_sorted(descending=True)
    assert c.table.columns == ["label", "rows", "share", "mean_prediction", "mean_std", "relative"]


def test_rarest_categories_fold_into_other():
    # 6 categories with 60, 50, 40, 30, 20, 10 rows; keep 3
    cat = np.repeat(list("abcdef"), [60, 50, 40, 30, 20, 10])
    std = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [60, 50, 40, 30, 20, 10])
    c = confidence_by(np.zeros(210), std, pl.Series(cat), by="state", scale="sales", max_categories=3)
    rows = _rows(c)
    assert set(rows) == {"a", "b", "c", "other"}
    assert rows["other"]["rows"] == 60
    assert rows["other"]["mean_std"] == pytest.approx((30 * 4 + 20 * 5 + 10 * 6) / 60)
    assert c.table["label"].to_list() == ["other", "c", "b", "a"]
    assert c.table["rows"].sum() == 210
    # with room for all, nothing is folded
    assert "other" not in _rows(confidence_by(np.zeros(210), std, cat, by="state", scale="s"))


def test_a_float_column_with_many_values_is_binned_into_deciles():
    x = np.arange(1000, dtype=float)
    x[:10] = np.nan
    std = x / 100
    c = confidence_by(np.zeros(1000), np.nan_to_num(std), x, by="age", scale="y")
    assert c.grouping == "deciles"
    rows = _rows(c)
    assert rows["missing"]["rows"] == 10
    bins = [r for r in rows if r != "missing"]
    assert len(bins) == 10 and all(b.startswith("[") for b in bins)
    assert sum(rows[b]["rows"] for b in bins) == 990
    assert all(abs(rows[b]["rows"] - 99) <= 1 for b in bins)
    # the top decile (closed on the right, holding the maximum) is the least sure here
    assert c.table["label"][0].endswith("999]")
    # a float column with few values stays categorical
    few = confidence_by(np.zeros(6), np.ones(6), np.array([1.0, 2, 2, 3, 3, 3]), by="k", scale="y")
    assert few.grouping == "categories" and set(_rows(few)) == {"1.0", "2.0", "3.0"}


def test_codes_are_shown_through_levels():
    codes = np.array([0, 1, 1, 2, 2, 2, 3])
    std = np.array([9.0, 1, 3, 2, 2, 2, 5])
    c = confidence_by(np.arange(7.0), std, codes, by="ProductSize", scale="y", levels=["Large", "Medium", "Small"])
    rows = _rows(c)
    assert {k: v["rows"] for k, v in rows.items()} == {"missing": 1, "Large": 2, "Medium": 3, "Small": 1}
    assert rows["Large"]["mean_std"] == 2.0 and rows["Large"]["mean_prediction"] == 1.5
    assert c.table["label"].to_list() == ["missing", "Small", "Large", "Medium"]  # ties by label
    with pytest.raises(KitError, match=r"codes outside 0..2 \(e.g. 3\) but levels names 2"):
        confidence_by(np.arange(7.0), std, codes, by="ProductSize", scale="y", levels=["Large", "Medium"])
    with pytest.raises(KitError, match="levels need 'ProductSize' as integer codes"):
        confidence_by(np.arange(3.0), np.ones(3), np.array(["a", "b", "c"]), by="ProductSize", scale="y",
                      levels=["a"])


def test_bad_inputs_say_what_to_pass():
    with pytest.raises(KitError, match=r"std must be 1-D with 3 values \(one per row of prediction\), got shape \(2,\)"):
        confidence_by(np.zeros(3), np.zeros(2), np.zeros(3), by="x", scale="y")
    with pytest.raises(KitError, match="category 'x' must have one value per row: prediction has 3, it has 4"):
        confidence_by(np.zeros(3), np.zeros(3), np.zeros(4), by="x", scale="y")
    with pytest.raises(KitError, match="std has 1 NaN or infinite values"):
        confidence_by(np.zeros(3), np.array([0, np.nan, 1]), np.zeros(3), by="x", scale="y")


def test_outputs_round_trip_and_the_plot_reads():
    c = confidence_by(np.arange(6.0), np.array([1.0, 1, 2, 2, 3, 3]), np.array(list("aabbcc")), by="size",
                      scale="log1p(SalePrice)")
    d = json.loads(json.dumps(c.to_dict()))
    assert d["rows"] == 6 and d["table"][0]["label"] == "c" and d["scale"] == "log1p(SalePrice)"
    assert c.to_frame()["by"].unique().to_list() == ["size"]
    ax = plot_confidence(c).axes[0]
    assert ax.get_title() == "where the forest is unsure: spread of its trees by size"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]  # most unsure (c) on top
    assert any("2 rows" in t.get_text() for t in ax.texts)


def test_a_forest_is_least_sure_of_its_rare_noisy_category():
    from kit.models import ForestRegressor

    rng = np.random.default_rng(0)
    n = 1500
    size = rng.choice(["Large", "Medium", "Rare"], size=n, p=[0.5, 0.47, 0.03])
    x = rng.normal(size=n)
    level = np.select([size == "Large", size == "Medium"], [1.0, 2.0], 0.0)
    y = level + 0.1 * x + np.where(size == "Rare", rng.normal(0, 3, n), 0.0)
    X = pl.DataFrame({"size": size, "x": x})
    forest = ForestRegressor(n_estimators=20, n_jobs=1, cat_features=["size"], random_state=0).fit(X, y)
    out = forest.predict_with_std(X)
    c = confidence_by(out.value, out.std, X["size"], by="size", scale="y")
    assert c.table["label"][0] == "Rare"
    assert c.table["relative"][0] > 3
