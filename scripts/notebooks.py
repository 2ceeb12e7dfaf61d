"""Plain competitor notebooks: the baseline kit is benchmarked against.

Each notebook is what a typical Kaggle competitor writes in about 30 lines, after a popular
public kernel: pandas feature engineering and ONE LightGBM with a fixed number of rounds (no
early stopping, no cross-validation). It reads only the raw competition files in a data
folder (never `solution/`) and returns the submission frame, with the sample submission's
columns and one row per test id in test order.

- rossmann: the "plain notebook" of the Rossmann kernels: store.csv merged in, date parts,
  text columns as codes, months since the competitor opened; Store as a number; log1p(Sales)
  on open days with sales; 1,500 rounds, lr 0.05, 63 leaves, 0.8 row/column subsampling;
  0 for closed days (a blank Open in test.csv counts as open).
- bulldozers: fast.ai's machine learning course, lesson 1 (Train.csv, as the lesson reads it):
  `add_datepart` on saledate, every string column to category codes, numeric NaNs filled with
  the median; LightGBM on log(SalePrice), 1,000 rounds, lr 0.05, 63 leaves.
- porto_seguro: the popular "LightGBM starter" kernels: drop the ps_calc_* columns (noise, as
  the forum found), -1 left as a value, binary LightGBM with a slow learning rate (0.02),
  small trees (24 leaves, depth 6), max_bin 10 and subsampling, 600 fixed rounds.
- favorita: a single-LightGBM take on the famous "LGBM starter" kernel (the one the 1st place
  features grew from): per (store, item), means of log1p(sales) (returns clipped to 0) over
  the last 3/7/14/28/56 days before the forecast origin, the target weekday's mean over the
  last 4 and 12 weeks, promo counts and the target day's promo, item family/class/perishable;
  training rows from 4 weekly origins (the test origin's weekday), each (store, item, day of
  the 16-day horizon) with the horizon day as a feature; ONE model for all 16 days (200
  rounds, lr 0.08, 31 leaves), weight 1.25 for perishables; expm1, clipped at 0; 0 for pairs
  never seen in train.
- planet: the "simple colour statistics" kernels: per image and channel (R, G, B) mean, std,
  min, max, percentiles and an 8-bin histogram; one LightGBM per label (the same recipe 17
  times: 200 rounds, lr 0.05) and one global threshold 0.2 on the probabilities.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import lightgbm as lgb
import numpy as np
import pandas as pd


def _params(threads: int, **extra) -> dict:
    """LightGBM parameters shared by the notebooks (silent, seeded)."""
    return {"verbose": -1, "num_threads": threads, "seed": 0, **extra}


# --------------------------------------------------------------------------- rossmann


def rossmann(D: Path, threads: int = 2) -> pd.DataFrame:
    """The plain notebook: pandas features, one LightGBM (1,500 rounds, lr 0.05, 63 leaves,
    subsampling 0.8), log sales, Store as a number."""
    tr = pd.read_csv(f"{D}/train.csv", parse_dates=["Date"], low_memory=False)
    te = pd.read_csv(f"{D}/test.csv", parse_dates=["Date"], low_memory=False)
    st = pd.read_csv(f"{D}/store.csv")
    te["Open"] = te.Open.fillna(1)  # a few blank Open values in test.csv: treat them as open

    def feats(df):
        df = df.merge(st, on="Store", how="left")
        df["Year"], df["Month"], df["Day"] = df.Date.dt.year, df.Date.dt.month, df.Date.dt.day
        df["WeekOfYear"] = df.Date.dt.isocalendar().week.astype(int)
        for c in ["StoreType", "Assortment", "StateHoliday", "PromoInterval"]:
            df[c] = df[c].astype(str).astype("category").cat.codes
        df["CompOpen"] = 12 * (df.Year - df.CompetitionOpenSinceYear) + (df.Month - df.CompetitionOpenSinceMonth)
        return df

    cols = ["Store", "DayOfWeek", "Promo", "StateHoliday", "SchoolHoliday", "StoreType", "Assortment",
            "CompetitionDistance", "CompOpen", "Promo2", "Promo2SinceWeek", "Promo2SinceYear", "PromoInterval",
            "Year", "Month", "Day", "WeekOfYear"]
    tr = feats(tr[(tr.Open == 1) & (tr.Sales > 0)].copy())
    te = feats(te.copy())
    m = lgb.train(_params(threads, objective="regression", learning_rate=0.05, num_leaves=63,
                          bagging_fraction=0.8, bagging_freq=1, feature_fraction=0.8),
                  lgb.Dataset(tr[cols], np.log1p(tr.Sales)), 1500)
    pred = np.where(te.Open == 0, 0, np.expm1(m.predict(te[cols])))
    return pd.DataFrame({"Id": te.Id, "Sales": pred})


# --------------------------------------------------------------------------- bulldozers


def _add_datepart(df: pd.DataFrame, col: str) -> None:
    """fast.ai's add_datepart: the date's parts as numbers, the date column dropped."""
    d = df[col]
    for part in ["year", "month", "day", "dayofweek", "dayofyear", "is_month_end", "is_month_start",
                 "is_quarter_end", "is_quarter_start", "is_year_end", "is_year_start"]:
        df[col + part.capitalize()] = getattr(d.dt, part).astype(int)
    df[col + "Week"] = d.dt.isocalendar().week.astype(int)
    df[col + "Elapsed"] = d.astype("int64") // 10**9
    df.drop(columns=col, inplace=True)


def bulldozers(D: Path, threads: int = 2) -> pd.DataFrame:
    """fast.ai lesson 1: add_datepart, strings to category codes, median-filled NaNs, log price."""
    tr = pd.read_csv(f"{D}/Train.csv", low_memory=False, parse_dates=["saledate"])
    te = pd.read_csv(f"{D}/Test.csv", low_memory=False, parse_dates=["saledate"])
    y = np.log(tr.pop("SalePrice"))
    df = pd.concat([tr, te], ignore_index=True)  # one frame so that codes agree (train_cats/apply_cats)
    _add_datepart(df, "saledate")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):  # train_cats + numericalize: codes + 1, 0 for missing
            df[c] = df[c].astype("category").cat.codes + 1
        elif df[c].isna().any():  # fix_missing: median fill (+ an _na flag, as proc_df does)
            df[c + "_na"] = df[c].isna().astype(int)
            df[c] = df[c].fillna(df[c][: len(tr)].median())
    X = df.drop(columns=["SalesID"])
    m = lgb.train(_params(threads, objective="regression", learning_rate=0.05, num_leaves=63,
                          feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1),
                  lgb.Dataset(X[: len(tr)], y), 1000)
    return pd.DataFrame({"SalesID": te.SalesID, "SalePrice": np.exp(m.predict(X[len(tr):]))})


# --------------------------------------------------------------------------- porto seguro


def porto_seguro(D: Path, threads: int = 2) -> pd.DataFrame:
    """The LightGBM starter kernel: ps_calc_* dropped, binary LightGBM, slow rate, fixed rounds."""
    tr = pd.read_csv(f"{D}/train.csv")
    te = pd.read_csv(f"{D}/test.csv")
    cols = [c for c in tr.columns if c.startswith("ps_") and not c.startswith("ps_calc_")]
    m = lgb.train(_params(threads, objective="binary", learning_rate=0.02, num_leaves=24, max_depth=6,
                          max_bin=10, min_data_in_leaf=200, feature_fraction=0.7, bagging_fraction=0.8,
                          bagging_freq=1),
                  lgb.Dataset(tr[cols], tr.target), 600)
    return pd.DataFrame({"id": te.id, "target": m.predict(te[cols])})


# --------------------------------------------------------------------------- favorita


def _favorita_rows(sales: pd.DataFrame, promo: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """Features of every (store, item) at forecast `origin` (the first day to predict), one row
    per (store, item, horizon day 0..15); `sales` and `promo` are wide (store, item) x date."""
    def window(frame, days):  # the `days` columns just before the origin
        return frame[pd.date_range(origin - pd.Timedelta(days=days), periods=days)]

    base = {f"mean_{d}": window(sales, d).mean(axis=1).values for d in (3, 7, 14, 28, 56)}
    base["promo_14"] = window(promo, 14).sum(axis=1).values
    base["promo_56"] = window(promo, 56).sum(axis=1).values
    base["zero_56"] = (window(sales, 56) == 0).sum(axis=1).values  # days without a sale
    rows = []
    for h in range(16):
        day = origin + pd.Timedelta(days=h)
        f = pd.DataFrame(base, index=sales.index)
        for weeks in (4, 12):  # the target weekday's mean over the last weeks
            same = pd.date_range(day - pd.Timedelta(weeks=weeks), periods=weeks, freq="7D")
            same = same[same < origin]
            f[f"dow_{weeks}w"] = sales[same].mean(axis=1).values
        f["promo_day"] = promo[day].values
        f["horizon"], f["dow"] = h, day.day_of_week
        f["date"] = day
        rows.append(f)
    return pd.concat(rows).reset_index()


def favorita(D: Path, threads: int = 2) -> pd.DataFrame:
    """The LGBM starter's window means, one LightGBM for all 16 days."""
    tr = pd.read_csv(f"{D}/train.csv", usecols=[1, 2, 3, 4, 5], parse_dates=["date"],
                     dtype={"onpromotion": object})
    te = pd.read_csv(f"{D}/test.csv", parse_dates=["date"])
    items = pd.read_csv(f"{D}/items.csv").set_index("item_nbr")[["family", "class", "perishable"]]
    items["family"] = items.family.astype("category").cat.codes
    tr["unit_sales"] = np.log1p(tr.unit_sales.clip(lower=0))  # returns count as 0
    tr["onpromotion"] = tr.onpromotion.map({"True": 1, "False": 0, True: 1, False: 0}).fillna(0)
    key = ["store_nbr", "item_nbr"]
    sales = tr.set_index(key + ["date"]).unit_sales.unstack("date").fillna(0)
    days = pd.date_range(sales.columns.min(), te.date.max())
    sales = sales.reindex(columns=days[days <= sales.columns.max()], fill_value=0)
    promo_tr = tr.set_index(key + ["date"]).onpromotion.unstack("date")
    promo_te = te.assign(p=te.onpromotion.astype(int)).set_index(key + ["date"]).p.unstack("date")
    promo = promo_tr.join(promo_te, how="outer").reindex(index=sales.index, columns=days).fillna(0)

    start = te.date.min()  # the test origin; training origins a multiple of 7 days earlier
    origins = [start - pd.Timedelta(weeks=k) for k in range(3, 7)]  # all 16 days inside train
    X = pd.concat([_favorita_rows(sales, promo, o) for o in origins], ignore_index=True)
    X["y"] = sales.stack().reindex(pd.MultiIndex.from_frame(X[key + ["date"]])).values
    X = X.merge(items, left_on="item_nbr", right_index=True, how="left")
    cols = [c for c in X.columns if c not in ("date", "y", "item_nbr")]
    m = lgb.train(_params(threads, objective="regression", learning_rate=0.08, num_leaves=31,
                          min_data_in_leaf=200, feature_fraction=0.9, bagging_fraction=0.7, bagging_freq=1),
                  lgb.Dataset(X[cols], X.y, weight=np.where(X.perishable == 1, 1.25, 1.0)), 200)

    T = _favorita_rows(sales, promo, start)
    T = T.merge(items, left_on="item_nbr", right_index=True, how="left")
    T["unit_sales"] = np.clip(np.expm1(m.predict(T[cols])), 0, None)
    out = te.merge(T[key + ["date", "unit_sales"]], on=key + ["date"], how="left")
    return pd.DataFrame({"id": out.id, "unit_sales": out.unit_sales.fillna(0)})  # unseen pairs: 0


# --------------------------------------------------------------------------- planet


def _colour_stats(path: Path) -> np.ndarray:
    """Per channel (R, G, B): mean, std, min, max, 5 percentiles and an 8-bin histogram."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB"), dtype=np.float32).reshape(-1, 3)
    out = []
    for ch in a.T:
        out += [ch.mean(), ch.std(), ch.min(), ch.max(), *np.percentile(ch, [5, 25, 50, 75, 95])]
        out += list(np.histogram(ch, bins=8, range=(0, 256))[0] / len(ch))
    return np.array(out, dtype=np.float32)


def planet(D: Path, threads: int = 2) -> pd.DataFrame:
    """Colour statistics, one LightGBM per label, one threshold 0.2."""
    tr = pd.read_csv(f"{D}/train_v2.csv")
    te = pd.read_csv(f"{D}/sample_submission_v2.csv")[["image_name"]]
    folder = lambda n: "test-jpg-additional" if n.startswith("file_") else "test-jpg"
    X = np.stack([_colour_stats(D / "train-jpg" / f"{n}.jpg") for n in tr.image_name])
    T = np.stack([_colour_stats(D / folder(n) / f"{n}.jpg") for n in te.image_name])
    tags = tr.tags.str.split()
    labels = sorted({t for ts in tags for t in ts})
    P = np.zeros((len(te), len(labels)))
    for j, lab in enumerate(labels):
        y = tags.apply(lambda ts: lab in ts).astype(int).values
        m = lgb.train(_params(threads, objective="binary", learning_rate=0.05, num_leaves=31,
                              feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1),
                      lgb.Dataset(X, y), 200)
        P[:, j] = m.predict(T)
    te["tags"] = [" ".join(l for l, p in zip(labels, row) if p > 0.2) for row in P]
    return te


# --------------------------------------------------------------------------- registry

NOTEBOOKS: dict[str, Callable[[Path, int], pd.DataFrame]] = {
    "rossmann": rossmann,
    "bulldozers": bulldozers,
    "porto_seguro": porto_seguro,
    "favorita": favorita,
    "planet": planet,
}


def run(name: str, folder: Path, threads: int = 2) -> tuple[pd.DataFrame, float]:
    """Run competition `name`'s notebook on the raw files in `folder`: (submission, wall seconds)."""
    start = time.perf_counter()
    sub = NOTEBOOKS[name](Path(folder), threads)
    return sub, time.perf_counter() - start


def main() -> int:
    """`python scripts/notebooks.py NAME FOLDER OUT.csv [--threads N]`: run one notebook as a
    competitor would (a fresh process: its imports count), write its submission, print seconds."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("name", choices=sorted(NOTEBOOKS))
    ap.add_argument("folder", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    sub, seconds = run(args.name, args.folder, args.threads)
    sub.to_csv(args.out, index=False)
    print(f"{args.name} notebook: {seconds:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
