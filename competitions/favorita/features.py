"""Favorita features: recent history per (store, item) series before a forecast origin.

The test asks for the 16 days after train ends, for every (store, item) pair. A training
row copies that situation: pick an origin day t, look only at days before t, and predict
the 16 days t .. t+15. Each (series, origin) gives 16 rows, one per day ahead:

    features  means of log1p(sales) over the last 3 .. 140 days (a day without a row is a
              day without sales: 0; returns count as 0), means over the last 4 and 20 days
              of the target day's weekday, days with a sale, days since the last and first sale,
              the item's mean over all stores, promotion days over the last 14 .. 140 days
              and over the 16 days ahead, the target day's promotion flag, day ahead,
              weekday and day of month, and the item and store attributes
    target    log1p(sales on the target day), 0 where the day has no row
    weight    1.25 for perishable items (the metric's weight)

Why one model with the day ahead as a feature rather than one model per day ahead (the
winning Kaggle recipe): kit's run machinery trains ONE estimator per Prepared, with one set
of folds, out-of-fold and test predictions keyed by the test id. Sixteen rows per series and
origin fit that as is; the model still learns how the horizon matters through `day_ahead`
and its interactions, and it sees 16 times the rows each per-day model would.

Origins. The validation origin is the one whose 16 target days are the last 16 days of
train (a Monday for the real data, whose test origin is a Wednesday). The training origins
end before it: t_k = t_valid - 16 - step * k, so no training target falls in the validation
window. The step defaults to 6 days, not a week: the origins' weekdays then rotate, and the
model sees every (day ahead, weekday) pair, which it needs to serve the Wednesday test
origin while being validated on a Monday one.

Series. Only series with a sale in the last 140 days before the origin ("alive") become
training rows, because the test predicts every other series 0 (`Prepared.finish`): a series
without a sale for 140 days, or an item never seen, rarely sells the next 16 days, and no
history is there to say how much. The training rows have a budget (`train_series` (series,
origin) pairs, spread evenly over the origins): on the real data (about 170,000 alive series)
a year of 60 origins with 2,000 series sampled at each scored better on the full twin's hidden
test than six weeks, two or six months, or eighteen months of origins with the same 1.92
million rows (NWRMSLE 0.4596 against 0.4624 for six weeks of 20,000 at each), and in half the
time, as LightGBM stops at fewer rounds (README, Performance; scripts/favorita_history.py). A
shorter train fits fewer origins: the small twin's seven months give 35 origins of 3,429.
The validation origin has its own cap (`valid_series`).

Memory. Train is read lazily from its Parquet cache with the date filter pushed down; only
the days from 140 before the first origin to the end of train are materialised, as a dense
float32 series x days matrix of log1p(sales) and a boolean matrix of promotions (the test's
promotions fill the 16 days after train): with a year of origins on the full twin (125 million
rows), 180,192 series x 526 days, 380 MB of sales and 100 MB of promotions, from 48 million rows
of train read once (about 0.8 GB by its columns' sizes while the matrices are filled); `kit run`
peaks at 2.5 GB there.

Known leak, kept as every Kaggle kernel did: train has promotion flags only on days with a
sale (unsold days have no row), so a training row's target-day promotion flag is 1 only
where the item sold; the test knows promotions for every pair.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.features import Prepared
from kit.spec import CompetitionSpec

#: windows (days before the origin) of the log1p(sales) means
MEAN_WINDOWS = (3, 7, 14, 30, 60, 140)
#: same-weekday means over the last 4 and 20 weeks
DOW_WEEKS = (4, 20)
#: windows of the promotion-day counts and the days-with-a-sale counts
COUNT_WINDOWS = (14, 60, 140)
#: days of history every origin needs (and the "alive" window)
HISTORY = max(*MEAN_WINDOWS, *COUNT_WINDOWS, 7 * max(DOW_WEEKS))
#: item means over all stores
ITEM_WINDOWS = (14, 60)

CAT_FEATURES = ("store_nbr", "city", "store_type", "cluster", "family", "class", "weekday")

MODELS = {
    "lgbm": {"n_estimators": 2000, "learning_rate": 0.05, "num_leaves": 63, "min_child_samples": 100,
             "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.7, "reg_lambda": 1.0,
             "early_stopping_rounds": 50},
}


@dataclass(frozen=True)
class ZeroDead:
    """`Prepared.finish`: 0 for test rows whose series had no sale in the last HISTORY days
    (or never appeared in train); a class rather than a closure so that it pickles."""

    dead: np.ndarray  # bool, in X_test order

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self.dead.shape:
            raise KitError(f"finish needs one prediction per test row ({self.dead.shape[0]}), got {values.shape}")
        return np.where(self.dead, 0.0, values)


@dataclass(frozen=True)
class History:
    """The materialised window of train (and the test's promotions)."""

    #: (store_nbr, item_nbr) of each matrix row, sorted
    series: pl.DataFrame
    #: (n_series, n_days) log1p(max(sales, 0)), 0 on days without a row; column 0 is `start`
    sales: np.ndarray
    #: (n_series, n_days + horizon) promotion flags; the last `horizon` columns are the test days
    promo: np.ndarray
    #: the day of column 0
    start: dt.date
    #: days forecast from an origin (16)
    horizon: int

    def col(self, day: dt.date) -> int:
        return (day - self.start).days


def origins(first: dt.date, last: dt.date, *, horizon: int, n_origins: int, step: int) -> tuple[list[dt.date], dt.date]:
    """Training origins (oldest first) and the validation origin for train covering first..last.

    The validation origin's `horizon` target days are the last days of train; each training
    origin's target days end before it, and each origin has HISTORY days of train before it.

    >>> tr, va = origins(dt.date(2017, 1, 1), dt.date(2017, 8, 15), horizon=16, n_origins=3, step=6)
    >>> [str(d) for d in tr], str(va)
    (['2017-07-03', '2017-07-09', '2017-07-15'], '2017-07-31')
    """
    if n_origins < 1 or step < 1:
        raise KitError(f"n_origins and origin_step must be at least 1, got {n_origins} and {step}")
    valid = last - dt.timedelta(days=horizon - 1)
    earliest = first + dt.timedelta(days=HISTORY)
    train = [valid - dt.timedelta(days=horizon + step * k) for k in range(n_origins)]
    train = [t for t in train if t >= earliest]
    if not train:
        need = HISTORY + 2 * horizon
        have = (last - first).days + 1
        raise KitError(f"favorita features need {HISTORY} days of history before a training origin and "
                       f"{2 * horizon} target days after it (validation included): at least {need} days of "
                       f"train, but train covers {first}..{last} ({have} days); use a larger twin or the real data")
    return sorted(train), valid


def _key() -> pl.Expr:
    return (pl.col("store_nbr").cast(pl.Int64) * 2**32 + pl.col("item_nbr").cast(pl.Int64)).alias("key")


def load_history(spec: CompetitionSpec, folder: Path, start: dt.date, last: dt.date,
                 test: pl.DataFrame) -> History:
    """The dense matrices of the days start..last (train) and the test's promotions after them."""
    from kit.data.tables import scan_table

    horizon = spec.horizon_days
    days = (last - start).days + 1
    day = (pl.col("date") - pl.lit(start)).dt.total_days().cast(pl.Int32).alias("day")
    # the filter is pushed into the Parquet scan: only the row groups of the window are read
    window = (scan_table(spec, spec.train, folder)
              .filter(pl.col("date") >= start)
              .select(_key(), day,
                      pl.col("unit_sales").clip(lower_bound=0).log1p().cast(pl.Float32).alias("sales"),
                      pl.col("onpromotion").fill_null(False).alias("promo"))
              .collect())
    # one integer per series: unique and search_sorted on it are far cheaper than on two columns
    keys = window["key"].unique().sort()
    s, d = keys.search_sorted(window["key"]).to_numpy(), window["day"].to_numpy()
    sales = np.zeros((len(keys), days), dtype=np.float32)
    sales[s, d] = window["sales"].to_numpy()
    promo = np.zeros((len(keys), days + horizon), dtype=bool)
    promo[s, d] = window["promo"].to_numpy()
    del window, s, d
    series = pl.DataFrame({"store_nbr": (keys // 2**32).cast(pl.Int32), "item_nbr": (keys % 2**32).cast(pl.Int32)})
    tk = test.join(series.with_row_index("s"), on=["store_nbr", "item_nbr"], how="inner")
    promo[tk["s"].to_numpy(), days + tk["day_ahead"].to_numpy()] = tk["onpromotion"].fill_null(False).to_numpy()
    return History(series, sales, promo, start, horizon)


def series_features(h: History, o: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Features of every series at origin column `o` (days < o only), and the (n_series, 7)
    same-weekday means per week length: column r is the weekday of day o + r."""
    past = h.sales[:, o - HISTORY:o]
    sold = past > 0
    cols: dict[str, np.ndarray] = {}
    for w in MEAN_WINDOWS:
        cols[f"mean_{w}"] = past[:, -w:].mean(axis=1, dtype=np.float64).astype(np.float32)
    for w in COUNT_WINDOWS:
        cols[f"sale_days_{w}"] = sold[:, -w:].sum(axis=1, dtype=np.int16)
        cols[f"promo_{w}"] = h.promo[:, o - w:o].sum(axis=1, dtype=np.int16)
    cols["promo_ahead"] = h.promo[:, o:o + h.horizon].sum(axis=1, dtype=np.int16)
    any_sale = sold.any(axis=1)
    # argmax finds the first True; on the reversed window, the last sale
    last = (np.argmax(sold[:, ::-1], axis=1) + 1).astype(np.float32)
    first = (HISTORY - np.argmax(sold, axis=1)).astype(np.float32)
    cols["days_since_last_sale"] = np.where(any_sale, last, np.nan).astype(np.float32)
    cols["days_since_first_sale"] = np.where(any_sale, first, np.nan).astype(np.float32)
    frame = pl.DataFrame(cols, nan_to_null=True).with_columns(h.series)
    frame = frame.with_columns(
        pl.col(f"mean_{w}").mean().over("item_nbr").alias(f"item_mean_{w}") for w in ITEM_WINDOWS)
    dow = []
    for weeks in DOW_WEEKS:
        # the last 7 * weeks days, folded into weeks x 7: column r is always one weekday
        block = past[:, HISTORY - 7 * weeks:].reshape(len(past), weeks, 7)
        dow.append(block.mean(axis=1, dtype=np.float64).astype(np.float32))
    return frame, np.stack(dow)


def rows(h: History, o: int, frame: pl.DataFrame, dow: np.ndarray, s: np.ndarray, ahead: np.ndarray,
         origin: dt.date) -> pl.DataFrame:
    """Rows (series s, day ahead) at origin column o; s = -1 (a series absent from train) gets nulls."""
    known = s >= 0
    si = np.where(known, s, 0)

    def masked(values: np.ndarray) -> np.ndarray:
        return np.where(known, values, np.nan).astype(np.float32)

    target = np.datetime64(origin, "D") + ahead.astype("timedelta64[D]")
    others = [c for c in frame.columns if c not in ("store_nbr", "item_nbr")]
    per_series = frame.select(others)[si]
    if not known.all():
        per_series = per_series.with_columns(
            pl.when(pl.Series(known)).then(pl.col(c)).otherwise(None).alias(c) for c in others)
    day = pl.DataFrame({
        "day_ahead": ahead.astype(np.int8),
        "weekday": ((target.astype(np.int64) + 3) % 7).astype(np.int8),  # 1970-01-01 was a Thursday
        "mday": ((target - target.astype("datetime64[M]")).astype(np.int64) + 1).astype(np.int8),
        "promo_day": masked(h.promo[si, o + ahead]),
        **{f"dow_mean_{w}w": masked(dow[k][si, ahead % 7]) for k, w in enumerate(DOW_WEEKS)},
    }, nan_to_null=True)
    return pl.concat([day, per_series], how="horizontal")


def prepare(spec: CompetitionSpec, folder: str | Path, *, seed: int = 0, n_origins: int = 60,
            origin_step: int = 6, train_series: int | None = 120_000,
            valid_series: int | None = 20_000) -> Prepared:
    """Training rows from `n_origins` origins before the validation window, the validation
    origin's rows as the one fold's valid rows, and test rows for every row of test.csv.

    Args:
        n_origins: training origins (fewer where train is too short for them all).
        origin_step: days between training origins (not a multiple of 7: see the module doc).
        train_series: (series, origin) pairs sampled over all training origins, the same
            number at each origin (all alive series where None or fewer); each pair gives 16
            rows. A budget of rows rather than a number per origin: a short train (the small
            twin) fits fewer origins and keeps every series at each, a long one (the real data)
            spreads the same rows over a year of origins.
        valid_series: alive series sampled at the validation origin (all where None or fewer),
            on its own so that spreading the training rows over more origins does not thin the
            validation window (early stopping's rows) or the refit's most recent origin.
    """
    from kit.data.tables import read_table, scan_table

    folder = Path(folder)
    horizon = spec.horizon_days
    span = scan_table(spec, spec.train, folder).select(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last")).collect()
    first, last = span["first"][0], span["last"][0]
    if first is None:
        raise KitError(f"{folder / spec.train} has no rows")
    test = read_table(spec, spec.test, folder).select(
        "id", pl.col("store_nbr").cast(pl.Int32), pl.col("item_nbr").cast(pl.Int32), "onpromotion",
        (pl.col("date") - pl.lit(last)).dt.total_days().cast(pl.Int32).sub(1).alias("day_ahead"))
    bad = test.filter(~pl.col("day_ahead").is_between(0, horizon - 1)).height
    if bad:
        raise KitError(f"test days must be the {horizon} days after train's last day {last}, "
                       f"but {bad} test rows fall outside {last + dt.timedelta(days=1)}.."
                       f"{last + dt.timedelta(days=horizon)}; is test.csv from the same download as train.csv?")
    train_origins, valid_origin = origins(first, last, horizon=horizon, n_origins=n_origins, step=origin_step)
    per_origin = None if train_series is None else -(-train_series // len(train_origins))
    h = load_history(spec, folder, train_origins[0] - dt.timedelta(days=HISTORY), last, test)

    items = read_table(spec, "items.csv", folder).select(
        pl.col("item_nbr").cast(pl.Int32), pl.col("family").cast(pl.Categorical),
        pl.col("class").cast(pl.Int32), pl.col("perishable").cast(pl.Int8))
    stores = read_table(spec, "stores.csv", folder).select(
        pl.col("store_nbr").cast(pl.Int32), pl.col("city").cast(pl.Categorical),
        pl.col("type").cast(pl.Categorical).alias("store_type"), pl.col("cluster").cast(pl.Int32))

    def attributes(frame: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
        joined = (keys.join(stores, on="store_nbr", how="left", maintain_order="left")
                  .join(items, on="item_nbr", how="left", maintain_order="left"))
        return pl.concat([joined.drop("item_nbr"), frame], how="horizontal")

    parts, ys, days = [], [], []
    for k, origin in enumerate([*train_origins, valid_origin]):
        o = h.col(origin)
        frame, dow = series_features(h, o)
        alive = np.flatnonzero(frame["days_since_last_sale"].is_not_null().to_numpy())
        cap = per_origin if k < len(train_origins) else valid_series
        if cap is not None and len(alive) > cap:
            # keyed by the origin's day: an origin's sample does not change with n_origins
            pick = np.random.default_rng([seed, origin.toordinal()]).choice(len(alive), cap, replace=False)
            alive = alive[np.sort(pick)]
        s = np.repeat(alive, horizon)
        ahead = np.tile(np.arange(horizon), len(alive))
        parts.append(attributes(rows(h, o, frame, dow, s, ahead, origin), h.series[s]))
        ys.append(h.sales[s, o + ahead])
        days.append(np.datetime64(origin, "D") + ahead.astype("timedelta64[D]"))
    sizes = np.array([len(y) for y in ys])
    X = pl.concat(parts)
    del parts
    n_train = int(sizes[:-1].sum())

    o = h.sales.shape[1]  # the test origin: the column after train's last day
    frame, dow = series_features(h, o)
    keyed = test.join(h.series.with_row_index("s"), on=["store_nbr", "item_nbr"], how="left",
                      maintain_order="left")
    s = keyed["s"].fill_null(-1).cast(pl.Int64).to_numpy()
    X_test = attributes(rows(h, o, frame, dow, s, keyed["day_ahead"].to_numpy(), last + dt.timedelta(days=1)),
                        keyed.select("store_nbr", "item_nbr"))
    # the test's own promotion flags, also for pairs train never saw
    X_test = X_test.with_columns(pl.Series("promo_day", test["onpromotion"].fill_null(False).cast(pl.Float32)))
    dead = X_test["days_since_last_sale"].is_null().to_numpy()

    perishable = X["perishable"].to_numpy()
    sampled = "all" if per_origin is None else f"at most {per_origin:,}"
    return Prepared(
        X=X, y=np.concatenate(ys), X_test=X_test, test_ids=test["id"],
        cat_features=CAT_FEATURES, target_transform="log1p",
        dates=pl.Series("date", np.concatenate(days)).cast(pl.Date),
        weight=np.where(perishable == 1, 1.25, 1.0),
        folds=((np.arange(n_train), np.arange(n_train, len(X))),),
        finish=ZeroDead(dead),
        notes=(f"{len(train_origins)} training origins {train_origins[0]} .. {train_origins[-1]} every "
               f"{origin_step} days, {sampled} alive series at each; validation origin {valid_origin}; "
               f"{len(X):,} rows ({n_train:,} train), {len(X_test):,} test rows of which "
               f"{int(dead.sum()):,} dead (predicted 0)",),
    )
