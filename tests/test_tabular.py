"""TabularProcessor: fitted on train only, applied identically; numbers checked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from kit.data.tables import read_table
from kit.errors import KitError
from kit.spec import get
from kit.tabular import DATE_PARTS, Processed, TabularProcessor
from kit.validation import default_splitter


def small() -> tuple[pl.DataFrame, pl.DataFrame]:
    train = pl.DataFrame({
        "shop": ["b", "a", None, "b"],
        "open": [True, False, True, None],
        "kind": [3, 1, 3, 2],  # low-cardinality int: categorical
        "temp": [1.0, None, 3.0, float("nan")],  # missing in train: median fill + flag
        "dist": [10, 20, 30, 40],  # no missing in train
        "y": [5.0, 6.0, 7.0, 8.0],
    })
    test = pl.DataFrame({
        "shop": ["a", "zz", None], "open": [None, True, False], "kind": [2, 9, None],
        "temp": [None, 5.0, 2.0], "dist": [None, 50, 10],
    })
    return train, test


def test_codes_fill_flags_and_scale_by_hand():
    train, test = small()
    proc = TabularProcessor(skip_names=["y"], max_card=3).fit(train)
    assert proc.cat_names_ == ("shop", "open", "kind", "temp_na")
    assert proc.cont_names_ == ("temp", "dist")
    assert proc.cardinalities_ == {"shop": 3, "open": 3, "kind": 4, "temp_na": 3}
    out = proc.transform(test)
    f = out.frame
    assert f.columns == ["shop", "open", "kind", "temp_na", "temp", "dist"]
    assert f["shop"].to_list() == [1, 0, 0]  # a=1, b=2; unseen and missing: 0
    assert f["open"].to_list() == [0, 2, 1]  # False=1, True=2
    assert f["kind"].to_list() == [2, 0, 0]  # 1, 2, 3 -> 1, 2, 3; 9 unseen
    assert f["temp_na"].to_list() == [2, 1, 1]
    # temp: train values 1, 3 -> median 2; filled train 1, 2, 3, 2: mean 2, std sqrt(2/3)
    sd = np.sqrt(2 / 3)
    np.testing.assert_allclose(f["temp"].to_numpy(), [0.0, 3 / sd, 0.0], rtol=1e-6)
    # dist: train 10..40: median 25, mean 25, std sqrt(500/3); test's missing value is filled
    # with the train median though train had none missing, and counted, without a flag
    sd = np.sqrt(500 / 3)
    np.testing.assert_allclose(f["dist"].to_numpy(), [0.0, 25 / sd, -15 / sd], rtol=1e-6)
    assert out.filled_without_flag == {"dist": 1}
    assert f.schema["temp"] == pl.Float32 and f.schema["shop"] == pl.Int64
    assert out.cardinalities == proc.cardinalities_ and out.feature_names == tuple(f.columns)


def test_the_train_frame_gets_the_same_columns_and_fitted_statistics():
    train, test = small()
    proc = TabularProcessor(skip_names=["y"], max_card=3, normalize=False)
    done = proc.fit_transform(train)
    assert done.frame.columns == proc.transform(test).frame.columns
    assert done.frame["temp"].to_list() == [1.0, 2.0, 3.0, 2.0]  # NaN counts as missing
    assert done.frame["temp_na"].to_list() == [1, 2, 1, 2]
    assert done.frame["shop"].to_list() == [2, 1, 0, 2]
    assert done.filled_without_flag == {}


def test_statistics_come_from_the_fitted_frame_only():
    train = pl.DataFrame({"x": [0.0, 2.0, 4.0]})
    test = pl.DataFrame({"x": [100.0, 200.0]})
    out = TabularProcessor().fit(train).transform(test)
    np.testing.assert_allclose(out.frame["x"].to_numpy(), [49.0, 99.0])  # (x - 2) / 2


def test_date_parts_by_hand():
    dates = [dt.date(2015, 3, 31), dt.date(2016, 1, 1), dt.date(2016, 12, 31), None]
    frame = pl.DataFrame({"d": dates})
    proc = TabularProcessor(normalize=False).fit(frame)
    assert proc.date_names_ == ("d",)
    out = proc.transform(frame).frame
    names = [f"d_{p}" for p, _ in DATE_PARTS]
    assert set(names) <= set(out.columns) and "d" not in out.columns

    def raw(part):  # decode categorical parts through the fitted vocabulary
        col = f"d_{part}"
        if col in proc.cont_names_:
            return out[col].to_list()
        levels = proc.levels_[col].to_list()
        return [None if c == 0 else levels[c - 1] for c in out[col].to_list()]

    assert raw("year") == [2015.0, 2016.0, 2016.0, 2016.0]  # missing: the median year
    assert raw("elapsed") == [16_525.0, 16_801.0, 17_166.0, 16_801.0]  # days since 1970; median fill
    assert raw("month") == [3, 1, 12, None]
    assert raw("week") == [14, 53, 52, None]  # ISO weeks: 2016-01-01 is in week 53 of 2015
    assert raw("day") == [31, 1, 31, None]
    assert raw("dayofweek") == [2, 5, 6, None]  # Tuesday, Friday, Saturday
    assert raw("dayofyear") == [90, 1, 366, None]
    assert raw("is_month_end") == [True, False, True, None]
    assert raw("is_month_start") == [False, True, False, None]
    assert raw("is_quarter_end") == [True, False, True, None]
    assert raw("is_quarter_start") == [False, True, False, None]
    assert raw("is_year_end") == [False, False, True, None]
    assert raw("is_year_start") == [False, True, False, None]
    assert out["d_year_na"].to_list() == [1, 1, 1, 2]


def test_datetime_columns_get_fractional_elapsed_days():
    frame = pl.DataFrame({"t": [dt.datetime(1970, 1, 2, 12), dt.datetime(1970, 1, 1)]})
    out = TabularProcessor(normalize=False).fit_transform(frame).frame
    assert out["t_elapsed"].to_list() == [1.5, 0.0]


def test_automatic_split_and_overrides():
    n = 30
    frame = pl.DataFrame({
        "s": ["x"] * n, "b": [True] * n, "f": np.linspace(0, 1, n),
        "few": np.arange(n) % 20, "many": np.arange(n) % 21, "store": np.arange(n),
    })
    auto = TabularProcessor().fit(frame)  # max_card=20: 20 distinct -> categorical, 21 -> continuous
    assert auto.cat_names_ == ("s", "b", "few") and auto.cont_names_ == ("f", "many", "store")
    over = TabularProcessor(cat_names=["store"], cont_names=["few"]).fit(frame)
    assert over.cat_names_ == ("s", "b", "store") and over.cont_names_ == ("f", "few", "many")
    assert over.cardinalities_["store"] == n + 1
    dates = pl.DataFrame({"d": [dt.date(2015, 1, 1), dt.date(2015, 1, 2)]})
    p = TabularProcessor(cat_names=["d_year"], cont_names=["d_dayofweek"]).fit(dates)
    assert "d_year" in p.cat_names_ and "d_dayofweek" in p.cont_names_


def test_to_numpy_and_models_read_it():
    train, test = small()
    out = TabularProcessor(skip_names=["y"], max_card=3).fit(train).transform(test)
    arrays = out.to_numpy()
    assert arrays.cat.dtype == np.int64 and arrays.cat.shape == (3, 4)
    assert arrays.cont.dtype == np.float32 and arrays.cont.shape == (3, 2)
    assert arrays.cat[:, 0].tolist() == [1, 0, 0]
    cat, cont = arrays  # a fixed pair, so it also unpacks
    assert cat is arrays.cat and isinstance(out, Processed)


def test_inputs_are_not_changed_and_pandas_gives_the_same_result():
    train, test = small()
    before = train.clone()
    proc = TabularProcessor(skip_names=["y"], max_card=3)
    a = proc.fit(train).transform(test)
    assert train.equals(before)
    pd_train = train.to_pandas()
    pd_before = pd_train.copy()
    b = TabularProcessor(skip_names=["y"], max_card=3).fit(pd_train).transform(test.to_pandas())
    assert pd_train.equals(pd_before)
    assert a.frame.equals(b.frame)
    assert proc.transform(test).frame.equals(a.frame)  # rerun: same output


def test_errors_name_the_columns():
    train, test = small()
    proc = TabularProcessor(skip_names=["y"], max_card=3)
    with pytest.raises(KitError, match=r"not fitted yet; call fit\(train\) first"):
        proc.transform(test)
    proc.fit(train)
    with pytest.raises(KitError, match=r"columns Id, extra were not in the frame the processor was fitted on; "
                                       r"drop them or add them to skip_names"):
        proc.transform(test.with_columns(Id=pl.lit(1), extra=pl.lit("e")))
    with pytest.raises(KitError, match=r"columns temp, dist are missing from this frame but were used in fit"):
        proc.transform(test.drop("temp", "dist"))
    with pytest.raises(KitError, match=r"columns changed type since fit: shop \(String in fit, Int32 here\)"):
        proc.transform(test.with_columns(shop=pl.lit(1)))
    assert proc.transform(test.with_columns(y=pl.lit(1.0))).frame.width == 6  # skipped columns may be there
    with pytest.raises(KitError, match=r"cat_names names nope, not columns of fit's frame"):
        TabularProcessor(cat_names=["nope"]).fit(train)
    with pytest.raises(KitError, match=r"kind named in both cat_names and cont_names"):
        TabularProcessor(cat_names=["kind"], cont_names=["kind"]).fit(train)
    with pytest.raises(KitError, match=r"continuous column 'shop' is String, not a number"):
        TabularProcessor(cont_names=["shop"]).fit(train)
    with pytest.raises(KitError, match=r"cat_names must be a list of column names, got the string 'shop'"):
        TabularProcessor(cat_names="shop").fit(train)
    with pytest.raises(KitError, match=r"date column 'shop' is String, not a date; parse it first"):
        TabularProcessor(date_names=["shop"]).fit(train)
    with pytest.raises(KitError, match=r"column 'd' is Date, which the processor cannot use"):
        TabularProcessor(date_names=()).fit(pl.DataFrame({"d": [dt.date(2015, 1, 1)]}))
    with pytest.raises(KitError, match=r"column 'l' is List\(Int64\), which the processor cannot use; name it in skip_names"):
        TabularProcessor().fit(pl.DataFrame({"l": [[1], [2]]}))
    with pytest.raises(KitError, match=r"date parts would overwrite the columns d_year"):
        TabularProcessor().fit(pl.DataFrame({"d": [dt.date(2015, 1, 1)], "d_year": [1.0]}))
    with pytest.raises(KitError, match=r"must be a polars or pandas DataFrame"):
        TabularProcessor().fit(np.zeros((3, 2)))


def test_rossmann_twin_train_valid_test(tiny_twin):
    spec = get("rossmann").spec
    folder = tiny_twin("rossmann")
    store = read_table(spec, "store.csv", folder)
    train = read_table(spec, spec.train, folder).join(store, on="Store", how="left")
    test = read_table(spec, spec.test, folder).join(store, on="Store", how="left")
    (tr, va), = default_splitter(spec).split(train)
    proc = TabularProcessor(cat_names=["Store"], skip_names=["Sales", "Customers", "Id"]).fit(train[tr])
    parts = [proc.transform(f) for f in (train[tr], train[va], test)]
    assert len({p.frame.columns.__repr__() for p in parts}) == 1
    for p in parts:
        assert p.frame.null_count().sum_horizontal().item() == 0
        assert np.isfinite(p.to_numpy().cont).all()
        for c, k in p.cardinalities.items():
            assert 0 <= p.frame[c].min() and p.frame[c].max() < k
    fit_part = parts[0].frame
    assert abs(fit_part["Date_elapsed"].mean()) < 1e-4 and abs(fit_part["Date_elapsed"].std() - 1) < 1e-3
    # the test lies after the fitted period: elapsed beyond anything seen in training
    assert parts[2].frame["Date_elapsed"].min() > fit_part["Date_elapsed"].max()
    assert proc.cardinalities_["Store"] == train["Store"].n_unique() + 1
    # codes decode to the test's stores through the vocabulary learned on the fitted part
    codes = parts[2].frame["Store"].to_numpy()
    assert (codes > 0).all()
    assert proc.levels_["Store"].gather(codes - 1).to_list() == test["Store"].to_list()


@pytest.mark.parametrize("name,skip", [
    ("bulldozers", ["SalesID", "SalePrice"]),
    ("favorita", ["id", "unit_sales"]),
    ("porto_seguro", ["id", "target"]),
])
def test_other_twins_process_cleanly(name, skip, tiny_twin):
    spec = get(name).spec
    folder = tiny_twin(name)
    train = read_table(spec, spec.train, folder)
    test = read_table(spec, spec.test, folder)
    proc = TabularProcessor(skip_names=skip).fit(train)
    a, b = proc.transform(train), proc.transform(test)
    assert a.frame.columns == b.frame.columns and b.frame.height == test.height
    assert a.frame.null_count().sum_horizontal().item() == 0
    assert b.frame.null_count().sum_horizontal().item() == 0
    if name == "bulldozers":
        assert "saledate_year" in proc.cont_names_ and "saledate_elapsed" in proc.cont_names_
        assert "UsageBand" in proc.cat_names_  # strings with blanks: missing -> 0
        assert (a.frame["UsageBand"] == 0).any()


def test_level_names_of_codes():
    from kit.tabular import level_names

    assert level_names([2, 0, None, 1, 3, 1.0, float("nan")], ("S", "")) == [
        "(empty)", "missing", "missing", "S", "missing", "S", "missing"]


def test_date_parts_looked_up_per_day_match_the_parts_of_each_row():
    # a Date column's parts are computed once per day of its span and looked up; a frame spanning
    # other days, a single day or only missing dates agrees with polars' per-row date arithmetic,
    # and fit_transform with fit then transform
    rng = np.random.default_rng(0)
    days = [dt.date(2012, 12, 25) + dt.timedelta(days=int(i)) for i in rng.integers(0, 800, 300)]
    days[3] = days[50] = None
    train = pl.DataFrame({"d": days, "x": rng.normal(size=300)})
    later = pl.DataFrame({"d": [dt.date(2016, 2, 29), dt.date(2011, 1, 1), None], "x": [1.0, 2.0, 3.0]})
    proc = TabularProcessor(normalize=False)
    together = proc.fit_transform(train)
    assert together.frame.equals(TabularProcessor(normalize=False).fit(train).transform(train).frame)
    d = pl.col("d")
    for frame in (train, later, later[:1], later[2:]):
        out = proc.transform(frame).frame
        want = frame.select(year=d.dt.year(), week=d.dt.week(), dayofyear=d.dt.ordinal_day(),
                            is_month_end=d.dt.month_end().dt.day() == d.dt.day(),
                            elapsed=d.cast(pl.Int32).cast(pl.Float64))
        for part in ("week", "dayofyear", "is_month_end"):
            levels = proc.levels_[f"d_{part}"].to_list()
            got = [levels[c - 1] if c else None for c in out[f"d_{part}"].to_list()]
            assert got == [v if v in levels else None for v in want[part].to_list()], part  # unseen: 0
        for part in ("year", "elapsed"):  # missing dates get the training medians
            med = proc.medians_[f"d_{part}"]
            assert out[f"d_{part}"].to_list() == [med if v is None else v for v in want[part].to_list()], part


def test_integer_codes_by_table_lookup_at_and_beyond_both_ends():
    train = pl.DataFrame({"k": pl.Series([3, 5, 7, 5], dtype=pl.Int8)})
    proc = TabularProcessor(cat_names=["k"]).fit(train)
    test = pl.DataFrame({"k": pl.Series([-128, 2, 3, 4, 5, 7, 8, 127, None], dtype=pl.Int8)})
    assert proc.transform(test).frame["k"].to_list() == [0, 0, 1, 0, 2, 3, 0, 0, 0]
