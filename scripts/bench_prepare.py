"""Time Rossmann's feature engineering: kit's `prepare()` against the fast.ai notebook's recipe in pandas.

Usage:
    python scripts/bench_prepare.py [--data-dir DIR] [--root DIR] [--repeat 3]

The reference is the fast.ai Rossmann notebook's feature code (lesson 3, "rossmann data clean")
as a competitor runs it on train.csv, test.csv, store.csv (and store_states.csv when present):
store.csv joined on Store, `add_datepart`, CompetitionOpenSince / CompetitionMonthsOpen and
Promo2Since / Promo2Weeks, then, per store, the days since and until each event (SchoolHoliday,
StateHoliday, Promo) by the notebook's `get_elapsed` row loop, the 7-day backward and forward
rolling sums by `groupby().rolling()`, merged back on Store and Date. Two departures, both in
pandas' favour: the CSV files are read once, outside the timing (kit's time includes its reads
of the Parquet cache), and Promo2Since is one vectorised `to_datetime` of ISO weeks rather than
the notebook's row-wise `apply` of `isoweek.Week(...).monday()`.

kit's side is `kit.features.prepare(rossmann, folder)`: everything from the cached tables to
the model-ready X, y and X_test (the first call, which builds the Parquet cache, is not timed).
Both run --repeat times, interleaved; the best wall and CPU seconds (all threads) of each count.

Without --data-dir, the full twin (1,017,209 training rows) is generated into --root (or a
temporary folder) when missing. `measure(folder, repeat)` is the importable entry point.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: the speed-up the kit side should reach
GOAL = 20.0

_EVENTS = ["SchoolHoliday", "StateHoliday", "Promo"]


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The notebook's tables, read as it reads them (outside the timing)."""
    tables = {"train": pd.read_csv(folder / "train.csv", low_memory=False),
              "test": pd.read_csv(folder / "test.csv", low_memory=False),
              "store": pd.read_csv(folder / "store.csv")}
    if (folder / "store_states.csv").exists():
        tables["store_states"] = pd.read_csv(folder / "store_states.csv")
    return tables


def add_datepart(df: pd.DataFrame, fldname: str, drop: bool = True) -> None:
    """fast.ai's add_datepart (Week from the ISO calendar: pandas dropped `dt.week`)."""
    fld = df[fldname]
    pre = re.sub("[Dd]ate$", "", fldname)
    for n in ("Year", "Month", "Day", "Dayofweek", "Dayofyear", "Is_month_end", "Is_month_start",
              "Is_quarter_end", "Is_quarter_start", "Is_year_end", "Is_year_start"):
        attr = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}.get(n.lower(), n.lower())
        df[pre + n] = getattr(fld.dt, attr)
    df[pre + "Week"] = fld.dt.isocalendar().week.astype(np.int64).values
    df[pre + "Elapsed"] = fld.astype(np.int64) // 10**9
    if drop:
        df.drop(fldname, axis=1, inplace=True)


def join_df(left: pd.DataFrame, right: pd.DataFrame, left_on, right_on=None, suffix: str = "_y") -> pd.DataFrame:
    if right_on is None:
        right_on = left_on
    return left.merge(right, how="left", left_on=left_on, right_on=right_on, suffixes=("", suffix))


def get_elapsed(df: pd.DataFrame, fld: str, pre: str) -> None:
    """The notebook's loop: days since the last event, per store, in the frame's row order."""
    day1 = np.timedelta64(1, "D")
    last_date = np.datetime64()
    last_store = 0
    res = []
    for s, v, d in zip(df.Store.values, df[fld].values, df.Date.values):
        if s != last_store:
            last_date = np.datetime64()
            last_store = s
        if v:
            last_date = d
        res.append(((d - last_date).astype("timedelta64[D]") / day1))
    df[pre + fld] = res


def _store_features(joined: pd.DataFrame) -> None:
    """CompetitionOpenSince / CompetitionMonthsOpen and Promo2Since / Promo2Weeks, the notebook's way."""
    df = joined
    df["CompetitionOpenSinceYear"] = df.CompetitionOpenSinceYear.fillna(1900).astype(np.int32)
    df["CompetitionOpenSinceMonth"] = df.CompetitionOpenSinceMonth.fillna(1).astype(np.int32)
    df["Promo2SinceYear"] = df.Promo2SinceYear.fillna(1900).astype(np.int32)
    df["Promo2SinceWeek"] = df.Promo2SinceWeek.fillna(1).astype(np.int32)
    df["CompetitionOpenSince"] = pd.to_datetime(dict(year=df.CompetitionOpenSinceYear,
                                                     month=df.CompetitionOpenSinceMonth, day=15))
    df["CompetitionDaysOpen"] = df.Date.subtract(df.CompetitionOpenSince).dt.days
    df.loc[df.CompetitionDaysOpen < 0, "CompetitionDaysOpen"] = 0
    df.loc[df.CompetitionOpenSinceYear < 1990, "CompetitionDaysOpen"] = 0
    df["CompetitionMonthsOpen"] = df["CompetitionDaysOpen"] // 30
    df.loc[df.CompetitionMonthsOpen > 24, "CompetitionMonthsOpen"] = 24
    # the Monday of ISO week Promo2SinceWeek (the notebook: a row-wise isoweek apply)
    iso = df.Promo2SinceYear.astype(str) + "-" + df.Promo2SinceWeek.astype(str) + "-1"
    df["Promo2Since"] = pd.to_datetime(iso, format="%G-%V-%u")
    df["Promo2Days"] = df.Date.subtract(df["Promo2Since"]).dt.days
    df.loc[df.Promo2Days < 0, "Promo2Days"] = 0
    df.loc[df.Promo2SinceYear < 1990, "Promo2Days"] = 0
    df["Promo2Weeks"] = df["Promo2Days"] // 7
    df.loc[df.Promo2Weeks < 0, "Promo2Weeks"] = 0
    df.loc[df.Promo2Weeks > 25, "Promo2Weeks"] = 25


def _durations(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Per store and day: days after / before each event and the 7-row rolling sums."""
    columns = ["Date", "Store", *_EVENTS]
    df = pd.concat([train[columns], test[columns]])
    df = df.sort_values(["Store", "Date"])
    for fld in _EVENTS:
        get_elapsed(df, fld, "After")
    df = df.sort_values(["Store", "Date"], ascending=[True, False])
    for fld in _EVENTS:
        get_elapsed(df, fld, "Before")
    df = df.set_index("Date")
    for o in ("Before", "After"):
        for p in _EVENTS:
            df[o + p] = df[o + p].fillna(0).astype(int)
    bwd = df[["Store", *_EVENTS]].sort_index().groupby("Store").rolling(7, min_periods=1).sum()
    fwd = df[["Store", *_EVENTS]].sort_index(ascending=False).groupby("Store").rolling(7, min_periods=1).sum()
    bwd = bwd.drop(columns="Store", errors="ignore").reset_index()
    fwd = fwd.drop(columns="Store", errors="ignore").reset_index()
    df = df.reset_index()
    df = df.merge(bwd, "left", ["Date", "Store"], suffixes=["", "_bw"])
    df = df.merge(fwd, "left", ["Date", "Store"], suffixes=["", "_fw"])
    return df.drop(columns=_EVENTS)


def reference(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fast.ai recipe on copies of the tables: (joined training rows with sales, joined test rows)."""
    train, test, store = tables["train"].copy(), tables["test"].copy(), tables["store"].copy()
    for df in (train, test):
        df["StateHoliday"] = df.StateHoliday.astype(str) != "0"
        df["Date"] = pd.to_datetime(df.Date)
    if "store_states" in tables:
        store = join_df(store, tables["store_states"], "Store")
    add_datepart(train, "Date", drop=False)
    add_datepart(test, "Date", drop=False)
    joined, joined_test = join_df(train, store, "Store"), join_df(test, store, "Store")
    for df in (joined, joined_test):
        _store_features(df)
    events = _durations(train, test)
    joined = join_df(joined, events, ["Store", "Date"])
    joined_test = join_df(joined_test, events, ["Store", "Date"])
    return joined[joined.Sales != 0], joined_test


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(folder: str | Path, repeat: int = 3) -> dict[str, float]:
    """Best-of-`repeat` seconds of kit's prepare() and of the pandas recipe on `folder`, interleaved:
    kit_s / ref_s (wall), kit_cpu_s / ref_cpu_s, and ratio = ref_s / kit_s."""
    from kit.features import prepare
    from kit.spec import get

    comp, folder = get("rossmann"), Path(folder)
    prepare(comp, folder)  # the first call writes the Parquet cache: not timed
    tables = read_tables(folder)
    best = {"kit_s": np.inf, "kit_cpu_s": np.inf, "ref_s": np.inf, "ref_cpu_s": np.inf}
    for _ in range(max(1, repeat)):
        for side, fn in (("kit", lambda: prepare(comp, folder)), ("ref", lambda: reference(tables))):
            wall, cpu = _timed(fn)
            best[f"{side}_s"] = min(best[f"{side}_s"], wall)
            best[f"{side}_cpu_s"] = min(best[f"{side}_cpu_s"], cpu)
    return {**best, "ratio": best["ref_s"] / best["kit_s"], "cpu_ratio": best["ref_cpu_s"] / best["kit_cpu_s"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None, help="a Rossmann folder (twin or real); "
                    "default: the full twin under --root, generated when missing")
    ap.add_argument("--root", type=Path, default=None,
                    help="where to generate the full twin (default: a temporary folder)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    tmp = None
    folder = args.data_dir
    if folder is None:
        from kit.spec import get
        from kit.synth import generate

        root = args.root or Path(tempfile.mkdtemp(prefix="kit-bench-prepare-"))
        tmp = None if args.root else root
        folder = root / "rossmann-full"
        if not (folder / ".kit-twin.json").exists():
            t = time.perf_counter()
            generate(get("rossmann"), folder, size="full", seed=0)
            print(f"generated the full twin in {time.perf_counter() - t:.1f} s")
    try:
        r = measure(folder, args.repeat)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'':<28}{'wall s':>9}{'cpu s':>9}")
    print(f"{'kit prepare()':<28}{r['kit_s']:>9.3f}{r['kit_cpu_s']:>9.3f}")
    print(f"{'fast.ai recipe (pandas)':<28}{r['ref_s']:>9.3f}{r['ref_cpu_s']:>9.3f}")
    print(f"ratio {r['ratio']:.1f}x wall, {r['cpu_ratio']:.1f}x cpu; goal >= {GOAL:.0f}x: "
          f"{'met' if r['ratio'] >= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
