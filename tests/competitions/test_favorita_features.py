"""Favorita feature code: hand-computed features on a hand-made mini download, the fold's
time rules, the test rows and dead series on the tiny twin, and LightGBM against the
14-day-mean baseline."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.metrics import nwrmsle
from kit.models import make_model
from kit.spec import get

from competitions.favorita import features
from competitions.favorita.features import HISTORY, prepare

SPEC = get("favorita").spec
FIRST, LAST = dt.date(2017, 2, 1), dt.date(2017, 8, 15)
LN2, LN3, LN5 = math.log(2), math.log(3), math.log(5)


def _day(s: str) -> pl.Expr:
    return pl.lit(dt.date.fromisoformat(s))


def _write_mini(folder: Path, first: dt.date = FIRST) -> Path:
    """Three series over first..2017-08-15, and a test of four pairs x 16 days.

    A (store 1, item 10): 1 unit a day to 07-26, a return on 07-27, 1 on 07-28, no row on 07-29,
       3 on 07-30 (promoted), then 2 a day; promoted on 08-01 too
    B (store 2, item 10): 5 units a day in February only (dead at the validation origin)
    C (store 2, item 20, perishable): 4 units every Monday, promoted on July's Mondays
    item 30 appears only in the test
    """
    folder.mkdir(parents=True, exist_ok=True)
    days = pl.DataFrame({"date": pl.date_range(first, LAST, eager=True)})
    a = days.with_columns(store_nbr=pl.lit(1), item_nbr=pl.lit(10), unit_sales=(
        pl.when(pl.col("date") <= _day("2017-07-26")).then(1.0)
        .when(pl.col("date") == _day("2017-07-27")).then(-2.0)
        .when(pl.col("date") == _day("2017-07-28")).then(1.0)
        .when(pl.col("date") == _day("2017-07-29")).then(None)
        .when(pl.col("date") == _day("2017-07-30")).then(3.0)
        .otherwise(2.0)),
        onpromotion=pl.col("date").is_in([dt.date(2017, 7, 30), dt.date(2017, 8, 1)]))
    b = days.filter(pl.col("date").dt.month() == 2).with_columns(
        store_nbr=pl.lit(2), item_nbr=pl.lit(10), unit_sales=pl.lit(5.0), onpromotion=pl.lit(False))
    c = days.filter(pl.col("date").dt.weekday() == 1).with_columns(
        store_nbr=pl.lit(2), item_nbr=pl.lit(20), unit_sales=pl.lit(4.0),
        onpromotion=pl.col("date").dt.month() == 7)
    train = (pl.concat([a, b, c]).drop_nulls("unit_sales").sort("date", "store_nbr", "item_nbr")
             .with_row_index("id").select("id", "date", "store_nbr", "item_nbr", "unit_sales",
                                          pl.col("onpromotion").cast(pl.String).str.to_titlecase()))
    train.write_csv(folder / "train.csv")
    pairs = pl.DataFrame({"store_nbr": [1, 1, 2, 2], "item_nbr": [10, 30, 10, 20]})
    test = (pl.DataFrame({"date": pl.date_range(LAST + dt.timedelta(1), LAST + dt.timedelta(16), eager=True)})
            .join(pairs, how="cross").sort("date", "store_nbr", "item_nbr")
            .with_columns(id=pl.int_range(10_000, 10_064),
                          onpromotion=(pl.col("store_nbr") == 1) & (pl.col("item_nbr") == 10)
                          & (pl.col("date") == _day("2017-08-20"))))
    test.select("id", "date", "store_nbr", "item_nbr",
                pl.col("onpromotion").cast(pl.String).str.to_titlecase()).write_csv(folder / "test.csv")
    pl.DataFrame({"item_nbr": [10, 20, 30], "family": ["GROCERY I", "PRODUCE", "DAIRY"],
                  "class": [1002, 2002, 2112], "perishable": [0, 1, 1]}).write_csv(folder / "items.csv")
    pl.DataFrame({"store_nbr": [1, 2], "city": ["Quito", "Guayaquil"], "state": ["Pichincha", "Guayas"],
                  "type": ["D", "A"], "cluster": [13, 5]}).write_csv(folder / "stores.csv")
    return folder


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    folder = _write_mini(tmp_path_factory.mktemp("favorita-mini"))
    return prepare(SPEC, folder, n_origins=6, origin_step=6, train_series=None)


def _rows(frame: pl.DataFrame, store: int, item: int) -> pl.DataFrame:
    """The rows of one mini series, with their position in `frame` as _row (items 10 and 20
    differ by family; X holds no item number)."""
    family = {10: "GROCERY I", 20: "PRODUCE"}[item]
    return frame.with_row_index("_row").filter(pl.col("store_nbr") == store, pl.col("family") == family)


def test_origins_end_before_the_validation_window():
    train, valid = features.origins(FIRST, LAST, horizon=16, n_origins=6, step=6)
    assert valid == dt.date(2017, 7, 31)  # its 16 target days are 07-31..08-15, the last of train
    # 06-21 is the first day with 140 days of history; 06-15 would need days before February
    assert [str(t) for t in train] == ["2017-06-21", "2017-06-27", "2017-07-03", "2017-07-09", "2017-07-15"]
    assert {t.weekday() for t in train} == {0, 1, 2, 5, 6}  # a 6-day step rotates the weekday


def test_hand_computed_features_at_the_validation_origin(mini):
    p = mini
    tr, va = p.folds[0]
    X = p.X[va]
    a = _rows(X, 1, 10)
    assert a.height == 16 and a["day_ahead"].to_list() == list(range(16))
    first = a.row(0, named=True)
    # 07-28: 1 unit, 07-29: no row (0), 07-30: 3 units
    assert first["mean_3"] == pytest.approx((LN2 + 0 + math.log(4)) / 3, rel=1e-6)
    # 07-24..26: 1 unit, 07-27: a return (0), 07-28: 1, 07-29: none, 07-30: 3
    assert first["mean_7"] == pytest.approx((4 * LN2 + math.log(4)) / 7, rel=1e-6)
    assert first["mean_140"] == pytest.approx((137 * LN2 + math.log(4)) / 140, rel=1e-6)
    assert first["days_since_last_sale"] == 1 and first["days_since_first_sale"] == 140
    assert first["sale_days_14"] == 12  # 14 days less the return and the missing day
    assert first["promo_14"] == 1 and first["promo_ahead"] == 1
    assert first["weekday"] == 0 and first["mday"] == 31  # 2017-07-31 is a Monday
    assert a["promo_day"].to_list() == [0, 1] + [0] * 14  # promoted on 08-01
    np.testing.assert_allclose(p.y[a["_row"].to_numpy() + len(tr)], LN3, rtol=1e-6)  # 2 units a day
    assert set(p.weight[a["_row"].to_numpy() + len(tr)]) == {1.0}

    c = _rows(X, 2, 20)
    # Mondays only: the Monday rows see 4 (and 20) Mondays of 4 units, the other weekdays none
    monday = c["weekday"].to_numpy() == 0
    assert c.filter(pl.Series(monday))["day_ahead"].to_list() == [0, 7, 14]
    np.testing.assert_allclose(c["dow_mean_4w"].to_numpy(), np.where(monday, LN5, 0), rtol=1e-6)
    np.testing.assert_allclose(c["dow_mean_20w"].to_numpy(), np.where(monday, LN5, 0), rtol=1e-6)
    np.testing.assert_allclose(c["mean_7"].to_numpy(), LN5 / 7, rtol=1e-6)
    assert c["days_since_last_sale"].to_list() == [7] * 16  # last sold on Monday 07-24
    assert c["promo_14"].to_list() == [2] * 16  # promoted Mondays 07-17 and 07-24
    rows_c = c["_row"].to_numpy() + len(tr)
    np.testing.assert_allclose(p.y[rows_c], np.where(monday, LN5, 0), rtol=1e-6)
    assert set(p.weight[rows_c]) == {1.25}  # PRODUCE is perishable
    # B sold last in February: dead at the validation origin, so no rows there
    assert _rows(X, 2, 10).height == 0


def test_training_rows_stop_before_the_validation_window(mini):
    p = mini
    tr, va = p.folds[0]
    assert len(p.folds) == 1 and len(tr) + len(va) == p.n_rows
    assert p.dates[tr].max() == dt.date(2017, 7, 30)  # the last training target day
    assert sorted(set(p.dates[va].to_list())) == [dt.date(2017, 7, 31) + dt.timedelta(k) for k in range(16)]
    # B is alive at the training origins (February is within 140 days): 5 origins x 16 days,
    # last sold 137 days before the 07-15 origin
    b = _rows(p.X[tr], 2, 10)
    assert b.height == 5 * 16
    assert b["days_since_last_sale"].max() == 137
    np.testing.assert_array_equal(p.y[b["_row"].to_numpy()], 0)
    # A at the 07-15 origin: day ahead 12 is 07-27, the return, a target of 0 not log1p(-2)
    a = _rows(p.X[tr], 1, 10)["_row"].to_numpy()
    assert p.y[a[(p.dates[tr][a] == dt.date(2017, 7, 27)).to_numpy()]].tolist() == [0.0]


def test_test_rows_and_dead_series(mini):
    p = mini
    assert p.test_ids.to_list() == list(range(10_000, 10_064))
    X = p.X_test
    a = X.with_row_index("_row").filter((pl.col("store_nbr") == 1) & (pl.col("family") == "GROCERY I"))
    np.testing.assert_allclose(a["mean_3"].to_numpy(), LN3, rtol=1e-6)  # 2 units on 08-13..15
    assert a["promo_day"].to_list() == [0, 0, 0, 0, 1] + [0] * 11  # test.csv promotes it on 08-20
    assert a["day_ahead"].to_list() == list(range(16)) and a["weekday"][0] == 2  # 08-16: Wednesday
    out = p.submission_values(np.full(64, math.log(3)))
    # rows cycle through (1,10), (1,30), (2,10), (2,20): the never-seen item 30 and B (dead) are 0
    np.testing.assert_allclose(out, np.tile([2.0, 0.0, 0.0, 2.0], 16))


def test_too_little_history_is_a_clear_error(tmp_path):
    folder = _write_mini(tmp_path / "short", first=dt.date(2017, 5, 1))
    with pytest.raises(KitError, match=rf"need {HISTORY} days of history .* train covers 2017-05-01..2017-08-15 "
                                       r"\(107 days\)"):
        prepare(SPEC, folder)


# -- the tiny twin -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tiny_twin):
    folder = tiny_twin("favorita")
    return folder, prepare(SPEC, folder)


def test_tiny_fold_and_test_rows(tiny):
    folder, p = tiny
    from kit.data.tables import read_table

    train = read_table(SPEC, "train.csv", folder)
    test = read_table(SPEC, "test.csv", folder)
    last = train["date"].max()
    tr, va = p.folds[0]
    # no training target day falls in the validation window, which is train's last 16 days
    assert p.dates[tr].max() < p.dates[va].min()
    assert sorted(set(p.dates[va].to_list())) == [last - dt.timedelta(k) for k in range(15, -1, -1)]
    assert p.target_transform == "log1p" and p.y.min() >= 0
    assert p.test_ids.to_list() == test["id"].to_list()
    # dead = no positive sale in the last 140 days (or never sold): exactly the rows finish zeroes
    alive = (train.filter(pl.col("date") > last - dt.timedelta(HISTORY), pl.col("unit_sales") > 0)
             .select("store_nbr", "item_nbr").unique().with_columns(alive=pl.lit(True)))
    expect = (test.join(alive, on=["store_nbr", "item_nbr"], how="left", maintain_order="left")
              ["alive"].fill_null(False).to_numpy())
    assert 0 < (~expect).sum() < len(expect)
    np.testing.assert_array_equal(p.finish(np.ones(len(test))), expect.astype(float))
    perishable = read_table(SPEC, "items.csv", folder).filter(pl.col("perishable") == 1)["family"].unique()
    np.testing.assert_array_equal(p.weight, np.where(p.X["family"].cast(pl.String).is_in(perishable.implode()),
                                                     1.25, 1.0))


def test_lightgbm_beats_the_14_day_mean_on_the_validation_fold(tiny):
    _, p = tiny
    tr, va = p.folds[0]
    m = make_model("lgbm", "regression", cat_features=list(p.cat_features), n_jobs=1,
                   **{**features.MODELS["lgbm"], "n_estimators": 300, "learning_rate": 0.1})
    m.fit(p.X[tr], p.y[tr], eval_set=(p.X[va], p.y[va]), sample_weight=p.weight[tr])
    truth, w = np.expm1(p.y[va]), p.weight[va]
    model = nwrmsle(truth, p.to_target(m.predict(p.X[va])), w)
    baseline = nwrmsle(truth, np.expm1(p.X[va]["mean_14"].to_numpy()), w)
    assert model < 0.95 * baseline, (model, baseline)


def test_train_series_is_spread_evenly_over_the_origins(tiny):
    folder, full = tiny
    p = prepare(SPEC, folder, train_series=99, n_origins=2, valid_series=30)  # 50 at each origin
    tr, va = p.folds[0]
    assert (len(tr), len(va)) == (2 * 50 * 16, 30 * 16)
    assert p.X_test.equals(full.X_test)  # the test rows do not depend on the sampling
    # every sampled row is a row of the unsampled build (same features, same target)
    both = p.X.with_columns(y=pl.Series(p.y)).join(full.X.with_columns(y=pl.Series(full.y)), on=p.X.columns + ["y"],
                                                    how="semi", nulls_equal=True)
    assert both.height == p.n_rows


def test_valid_series_is_its_own_cap(tiny):
    folder, full = tiny
    alive = len(full.folds[0][1]) // 16  # every alive series at the validation origin
    p = prepare(SPEC, folder, train_series=40, n_origins=2, valid_series=None)
    tr, va = p.folds[0]
    assert len(tr) == 2 * 20 * 16 and len(va) == alive * 16 > 20 * 16
