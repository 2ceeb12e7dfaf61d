"""Rossmann's feature code: hand-computed features on hand-made stores, the training rows and
test order on the tiny twin, and a LightGBM on the features beating the simple forecasts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

import kit.spec
from kit.data.tables import read_table
from kit.features import prepare
from kit.metrics import rmspe
from kit.models import make_model
from kit.validation.splits import default_splitter

COMP = kit.spec.get("rossmann")
SPEC = COMP.spec
F = COMP.load("features")
D = dt.date


def _days(first: dt.date, n: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(n)]


def _daily(store: int, days: list[dt.date], *, holidays=(), school=(), promo=(), open_=None) -> pl.DataFrame:
    """One store's rows (train.csv's shared columns) with events on the given days."""
    return pl.DataFrame({
        "Store": [store] * len(days), "Date": days,
        "Open": open_ if open_ is not None else [1] * len(days),
        "Promo": [int(d in promo) for d in days],
        "StateHoliday": ["a" if d in holidays else "0" for d in days],
        "SchoolHoliday": [int(d in school) for d in days],
    })


def _store(n: int, **columns) -> pl.DataFrame:
    """store.csv for stores 1..n, every column given or blank."""
    blank = {"StoreType": pl.String, "Assortment": pl.String, "CompetitionDistance": pl.Int64,
             "CompetitionOpenSinceMonth": pl.Int64, "CompetitionOpenSinceYear": pl.Int64, "Promo2": pl.Int64,
             "Promo2SinceWeek": pl.Int64, "Promo2SinceYear": pl.Int64, "PromoInterval": pl.String}
    data = {"Store": list(range(1, n + 1))}
    for col, dtype in blank.items():
        data[col] = pl.Series(col, columns.get(col, [None] * n), dtype=dtype)
    return pl.DataFrame(data)


# ---------------------------------------------------------------- hand-made stores


def test_days_since_and_until_events_per_store():
    days = _days(D(2015, 3, 1), 10)  # 1..10 March
    one = _daily(1, days, holidays={D(2015, 3, 4)}, promo={D(2015, 3, 2), D(2015, 3, 9)})
    # store 2: a holiday on the first day and nothing else; its calendar must not leak into store 1's
    two = _daily(2, days, holidays={D(2015, 3, 1)}, school=set(days))
    out = F.event_features(pl.concat([two, one]))
    s1 = out.filter(pl.col("Store") == 1)
    assert s1["Date"].to_list() == days
    cap = F.EVENT_CAP
    assert s1["StateHoliday_since"].to_list() == [cap, cap, cap, 0, 1, 2, 3, 4, 5, 6]
    assert s1["StateHoliday_until"].to_list() == [3, 2, 1, 0, cap, cap, cap, cap, cap, cap]
    assert s1["Promo_since"].to_list() == [cap, 0, 1, 2, 3, 4, 5, 6, 0, 1]
    assert s1["Promo_until"].to_list() == [1, 0, 6, 5, 4, 3, 2, 1, 0, cap]
    assert s1["SchoolHoliday_since"].to_list() == [cap] * 10
    s2 = out.filter(pl.col("Store") == 2)
    assert s2["StateHoliday_since"].to_list() == list(range(10))
    assert s2["SchoolHoliday_since"].to_list() == [0] * 10
    assert s2["SchoolHoliday_until"].to_list() == [0] * 10


def test_since_is_capped():
    days = _days(D(2015, 1, 1), 90)
    out = F.event_features(_daily(1, days, holidays={D(2015, 1, 1)}))
    since = out["StateHoliday_since"].to_list()
    assert since[59] == 59 and since[60] == 60 and since[89] == F.EVENT_CAP


def test_event_counts_in_the_week_before_and_after():
    days = _days(D(2015, 3, 1), 14)
    promo = {D(2015, 3, d) for d in (2, 3, 4, 5, 6)}  # Monday..Friday of the first week
    out = F.event_features(_daily(1, days, promo=promo))
    # backward: the 7 days ending on the row's day; forward: the 7 days starting on it
    assert out["Promo_bw"].to_list() == [0, 1, 2, 3, 4, 5, 5, 5, 4, 3, 2, 1, 0, 0]
    assert out["Promo_fw"].to_list() == [5, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_missing_days_count_by_the_calendar_not_by_rows():
    # rows on 1 and 10 March only: the gap is 9 days, not one row
    days = [D(2015, 3, 1), D(2015, 3, 10)]
    out = F.event_features(_daily(1, days, promo={D(2015, 3, 1)}))
    assert out["Promo_since"].to_list() == [0, 9]
    assert out["Promo_bw"].to_list() == [1, 0]
    assert out["Promo_fw"].to_list() == [1, 0]


def _events_by_expressions(frame: pl.DataFrame, cap: int = 60, window: int = 7) -> pl.DataFrame:
    """The first implementation of event_features (polars windows over each store), sorted by Store
    then Date: the reference the numpy grid must match."""
    day = pl.col("Date")
    fwd, bwd = [], []
    for name, on in F.EVENTS.items():
        hit = pl.when(on).then(day)
        since = (day - hit.forward_fill().over("Store")).dt.total_days()
        until = (hit.backward_fill().over("Store") - day).dt.total_days()
        count = on.cast(pl.Int32)
        bwd += [since.fill_null(cap).clip(0, cap).cast(pl.Int32).alias(f"{name}_since"),
                until.fill_null(cap).clip(0, cap).cast(pl.Int32).alias(f"{name}_until"),
                count.rolling_sum_by("Date", f"{window}d").over("Store").alias(f"{name}_bw")]
        fwd.append(count.rolling_sum_by("_back", f"{window}i").over("Store").alias(f"{name}_fw"))
    out = frame.sort("Store", "Date", descending=[False, True]).with_columns(
        _back=-day.cast(pl.Int32)).with_columns(fwd).drop("_back")
    return out.sort("Store", "Date").with_columns(bwd)


def test_event_counts_across_a_gap_and_two_stores_by_hand():
    march = [D(2015, 3, d) for d in (1, 2, 3, 10, 11)]  # no rows from 4 to 9 March
    one = _daily(1, march, promo={D(2015, 3, 2), D(2015, 3, 10)})
    two = _daily(2, _days(D(2015, 3, 1), 3), promo={D(2015, 3, 3)})
    frame = pl.concat([two, one]).reverse()  # any row order: the output keeps it
    out = F.event_features(frame)
    assert out.select("Store", "Date").equals(frame.select("Store", "Date"))
    s1 = out.filter(pl.col("Store") == 1).reverse()
    assert s1["Promo_since"].to_list() == [60, 0, 1, 0, 1]
    assert s1["Promo_until"].to_list() == [1, 0, 7, 0, 60]
    assert s1["Promo_bw"].to_list() == [0, 1, 1, 1, 1]  # 10 March: the 4th to the 10th
    assert s1["Promo_fw"].to_list() == [1, 1, 0, 1, 0]  # 3 March: the 3rd to the 9th, none
    s2 = out.filter(pl.col("Store") == 2).reverse()
    assert [s2[f"Promo_{k}"].to_list() for k in ("since", "until", "bw", "fw")] == [
        [60, 60, 0], [2, 1, 0], [0, 0, 1], [1, 1, 1]]
    assert out.sort("Store", "Date").equals(_events_by_expressions(frame))


def test_event_counts_match_the_window_expressions_on_random_stores():
    rng = np.random.default_rng(0)
    parts = []
    for store in (3, 7, 1_000_000_000):  # far-apart store numbers: numbered densely on the grid
        days = sorted(rng.choice(200, 150, replace=False).tolist())  # gaps of every length
        parts.append(pl.DataFrame({
            "Store": store, "Date": [D(2014, 1, 1) + dt.timedelta(days=d) for d in days], "Open": 1,
            "Promo": rng.integers(0, 2, len(days)), "SchoolHoliday": (rng.random(len(days)) < 0.1).astype(int),
            "StateHoliday": rng.choice(["0", "a", "b"], len(days), p=[0.9, 0.05, 0.05])}))
    frame = pl.concat(parts).sample(fraction=1.0, shuffle=True, seed=1)
    out = F.event_features(frame)
    assert out.select("Store", "Date").equals(frame.select("Store", "Date"))
    assert out.sort("Store", "Date").equals(_events_by_expressions(frame))
    assert F.event_features(frame.clear()).height == 0


def test_store_keys_joined_give_the_same_features_as_the_rows():
    store = _store(3, CompetitionOpenSinceMonth=[3, None, 12], CompetitionOpenSinceYear=[2014, None, 2015],
                   Promo2=[1, 0, 1], Promo2SinceWeek=[27, None, 1], Promo2SinceYear=[2013, None, 2015],
                   PromoInterval=["Jan,Apr,Jul,Oct", None, "Mar,Jun,Sept,Dec"])
    rows = pl.DataFrame({"Store": [1, 2, 3] * 4, "Date": [D(2015, m, 5) for m in (1, 6, 9, 12) for _ in range(3)]})
    keys = F.promo_keys(store)
    assert keys["_interval"].to_list() == [1 + 8 + 64 + 512, 0, 4 + 32 + 256 + 2048]
    # week 27 of 2013 starts Monday 1 July 2013; week 1 of 2015 on Monday 29 December 2014
    assert keys["_promo2"].to_list() == [(D(2013, 7, 1) - D(1970, 1, 1)).days, None,
                                         (D(2014, 12, 29) - D(1970, 1, 1)).days]
    joined = F.dated_store_features(rows.join(keys, on="Store", how="left", maintain_order="left"))
    assert joined.equals(F.store_features(rows.join(store, on="Store", how="left", maintain_order="left")))
    assert joined["Promo2Month"].to_list() == [1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1]


def test_competition_and_promo2_features():
    date = D(2015, 7, 15)
    rows = pl.DataFrame({"Store": [1, 2, 3, 4, 5, 6], "Date": [date] * 5 + [D(2015, 9, 3)]})
    store = _store(
        6,
        # opened March 2014 (16 months), September 2015 (not yet), 1900 (the real file's outlier), unknown
        CompetitionOpenSinceMonth=[3, 9, 1, None, 3, 3], CompetitionOpenSinceYear=[2014, 2015, 1900, None, 2014, 2014],
        Promo2=[1, 1, 0, 1, 1, 1],
        # week 27 of 2015 starts Monday 29 June: 16 days before 15 July; week 40 starts 28 September
        Promo2SinceWeek=[27, 40, None, 1, 14, 14], Promo2SinceYear=[2015, 2015, None, 2010, 2012, 2012],
        PromoInterval=["Jan,Apr,Jul,Oct", "Jan,Apr,Jul,Oct", "", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec",
                       "Mar,Jun,Sept,Dec"],
    )
    out = F.store_features(rows.join(store, on="Store"))
    assert out["CompetitionMonthsOpen"].to_list() == [16, -1, 24, None, 16, 18]
    assert out["Promo2Weeks"].to_list() == [2, -1, None, 25, 25, 25]
    # in its PromoInterval month and already in Promo2; "Sept" is how the file spells September
    assert out["Promo2Month"].to_list() == [1, 0, 0, 0, 0, 1]
    assert "Promo2SinceWeek" not in out.columns and "PromoInterval" in out.columns


def _tables():
    """A train and test split around 31 July: store 1 has a promo on the last train day."""
    train = _daily(1, _days(D(2015, 7, 29), 3), promo={D(2015, 7, 31)}, open_=[1, 0, 1]).with_columns(
        Sales=pl.Series([5000, 0, 6000]), Customers=pl.Series([500, 0, 600]), DayOfWeek=pl.lit(1))
    test = _daily(1, _days(D(2015, 8, 1), 3), open_=[1, None, 0]).with_columns(
        Id=pl.Series([3, 2, 1]), DayOfWeek=pl.lit(1))
    store = _store(1, Promo2=[0], PromoInterval=[""])
    return train, test, store


def test_test_rows_see_the_train_days_before_them():
    train, test, store = _tables()
    frames = F.build(train, test, store)
    assert frames.test["Promo_since"].to_list() == [1, 2, 3]
    assert frames.train["Promo_until"].to_list() == [2, 1, 0]
    # test order kept, a blank Open read as open
    assert frames.test["Id"].to_list() == [3, 2, 1]
    assert frames.test["Open"].to_list() == [1, 1, 0]
    assert frames.train["Sales"].to_list() == [5000, 0, 6000]
    assert train["Open"].to_list() == [1, 0, 1] and test["Open"].null_count() == 1  # inputs untouched


def test_weather_and_trends_join_by_state_day_and_week():
    train, test, store = _tables()
    states = pl.DataFrame({"Store": [1], "State": ["HB,NI"]})
    names = pl.DataFrame({"StateName": ["Niedersachsen"], "State": ["HB,NI"]})
    weather = pl.DataFrame({"file": ["Niedersachsen"] * 2, "Date": ["2015-08-01", "2015-08-02"],
                            "Max_TemperatureC": [25, 18], "Events": ["Rain", None]})
    # 1 August 2015 is a Saturday (the week from Sunday 26 July); 2 August starts the next week
    trends = pl.DataFrame({"file": ["Rossmann_DE_NI", "Rossmann_DE_NI", "Rossmann_DE", "Rossmann_DE"],
                           "week": ["2015-07-26 - 2015-08-01", "2015-08-02 - 2015-08-08"] * 2,
                           "trend": [60, 70, 80, 90]})
    frames = F.build(train, test, store, states=states, weather=F.weather_table(weather, names),
                     trends=F.trend_tables(trends))
    assert frames.test["State"].to_list() == ["HB,NI"] * 3
    assert frames.test["Max_TemperatureC"].to_list() == [25.0, 18.0, None]
    assert frames.test["Events"].to_list() == ["Rain", None, None]
    assert frames.test["trend"].to_list() == [60.0, 70.0, 70.0]
    assert frames.test["trend_DE"].to_list() == [80.0, 90.0, 90.0]
    assert frames.train["trend"].to_list() == [60.0] * 3


# ---------------------------------------------------------------- the tiny twin


@pytest.fixture(scope="module")
def twin(tiny_twin):
    return tiny_twin("rossmann")


@pytest.fixture(scope="module")
def prepared(twin):
    return prepare(COMP, twin)


def test_training_rows_are_the_open_days_with_sales(twin, prepared):
    train = read_table(SPEC, "train.csv", twin)
    kept = train.filter((pl.col("Open") == 1) & (pl.col("Sales") > 0)).sort("Date", "Store")
    assert (train["Open"] == 0).sum() > 0 and ((train["Open"] == 1) & (train["Sales"] == 0)).sum() > 0
    assert prepared.n_rows == kept.height
    np.testing.assert_allclose(prepared.y_target(), kept["Sales"].to_numpy(), rtol=1e-9)
    assert prepared.target_transform == "log1p"
    assert prepared.dates.to_list() == kept["Date"].to_list()
    # Store is a category: its codes keep the stores' order
    assert prepared.X["Store"].rank("dense").to_list() == kept["Store"].rank("dense").to_list()
    assert "Customers" not in prepared.X.columns and "Sales" not in prepared.X.columns
    assert prepared.X.columns == prepared.X_test.columns
    assert {"Store", "StateHoliday", "StoreType", "State", "Promo_fw"} <= set(prepared.cat_features)
    assert "Promo_since" not in prepared.cat_features


def test_test_ids_in_file_order_and_closed_days_predicted_zero(twin, prepared):
    test = read_table(SPEC, "test.csv", twin)
    assert prepared.test_ids.to_list() == test["Id"].to_list()
    closed = (test["Open"] == 0).fill_null(False).to_numpy()
    blank = test["Open"].is_null().to_numpy()
    assert closed.sum() > 0 and blank.sum() > 0
    values = prepared.submission_values(np.full(test.height, np.log1p(4000.0)))
    assert (values[closed] == 0).all()
    np.testing.assert_allclose(values[~closed], 4000.0)  # blank Open counts as open


def test_lightgbm_beats_the_constant_and_the_store_weekday_median(prepared):
    tr, va = next(default_splitter(SPEC).split(pl.DataFrame({"Date": prepared.dates})))
    start = prepared.dates.max() - dt.timedelta(days=SPEC.horizon_days - 1)
    assert prepared.dates[va].min() >= start > prepared.dates[tr].max()
    sales = prepared.y_target()
    truth = sales[va]
    model = make_model("lgbm", "regression", cat_features=list(prepared.cat_features), n_jobs=1,
                       n_estimators=200, learning_rate=0.1, early_stopping_rounds=None)
    model.fit(prepared.X[tr], prepared.y[tr])
    score = rmspe(truth, prepared.to_target(model.predict(prepared.X[va])))
    # the best constant for RMSPE on the holdout itself: sum(1/y) / sum(1/y^2)
    best = np.sum(1 / truth) / np.sum(1 / truth ** 2)
    constant = rmspe(truth, np.full(len(va), best))
    frame = pl.DataFrame({"Store": prepared.X["Store"], "dow": prepared.X["Date_dayofweek"], "Sales": sales})
    median = frame[tr].group_by("Store", "dow").agg(m=pl.col("Sales").median())
    naive = (frame[va].join(median, on=["Store", "dow"], how="left", maintain_order="left")["m"]
             .fill_null(float(np.median(sales[tr]))).to_numpy())
    by_store_day = rmspe(truth, naive)
    assert constant > 0.3 and by_store_day < constant
    assert score < 0.7 * by_store_day, (score, by_store_day, constant)


def test_prepare_without_store_states_and_with_the_fastai_files(twin, tmp_path):
    import shutil

    bare, extra = tmp_path / "bare", tmp_path / "extra"
    for folder in (bare, extra):
        folder.mkdir()
        for name in ("train.csv", "test.csv", "store.csv", "sample_submission.csv"):
            shutil.copy(twin / name, folder / name)
    without = prepare(COMP, bare)
    assert "State" not in without.X.columns and "trend" not in without.X.columns
    shutil.copy(twin / "store_states.csv", extra / "store_states.csv")
    states = read_table(SPEC, "store_states.csv", twin)["State"].unique().sort().to_list()
    pl.DataFrame({"StateName": [f"Land{s}" for s in states], "State": states}).write_csv(extra / F.STATE_NAMES)
    days = pl.date_range(D(2013, 1, 1), D(2015, 9, 17), eager=True).dt.strftime("%Y-%m-%d")
    pl.DataFrame({"file": [f"Land{s}" for s in states for _ in days], "Date": days.to_list() * len(states),
                  "Max_TemperatureC": 20, "Events": "Rain"}).write_csv(extra / F.WEATHER)
    sundays = pl.date_range(D(2012, 12, 30), D(2015, 9, 13), "1w", eager=True)
    weeks = [f"{d} - {d + dt.timedelta(days=6)}" for d in sundays]
    files = ["Rossmann_DE"] + [f"Rossmann_DE_{'NI' if s == 'HB,NI' else s}" for s in states]
    pl.DataFrame({"file": [f for f in files for _ in weeks], "week": weeks * len(files),
                  "trend": 50}).write_csv(extra / F.TRENDS)
    with_all = prepare(COMP, extra)
    assert with_all.n_rows == without.n_rows and with_all.test_ids.equals(without.test_ids)
    assert {"State", "Events"} <= set(with_all.cat_features)
    for col, value in {"Max_TemperatureC": 20.0, "trend": 50.0, "trend_DE": 50.0}.items():
        assert with_all.X[col].to_list() == [value] * with_all.n_rows
        assert f"{col}_na" not in with_all.X.columns  # every day found its weather and week
