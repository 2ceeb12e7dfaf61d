"""Fit time and validation score of every model on full-size twins, and the embedding network's
training throughput against a DataLoader loop and against the compute limit.

Usage:
    python scripts/bench_models.py [--root DIR] [--only bulldozers rossmann] [--rows N]
                                   [--models rf rf-lightgbm lgbm nn] [--device cpu|cuda]
                                   [--jobs N] [--skip-models] [--skip-throughput]

Twins are read from ROOT/<name>-full (written with `kit generate NAME --size full` when
missing): Bulldozers has 401,125 training sales, Rossmann 1,017,209 store-days. The
validation set is the last `horizon_days` of the training file (200 days, 48 days), as the
test set follows the training data in time; LightGBM stops early on the latest tenth of the
rows before it, so the holdout is never used to fit. `--rows N` keeps the latest N training rows before the
holdout.

Throughput (rows per second over one epoch, after a warm-up; best of --repeats interleaved
runs), the same network and the same `kit.models.loop.train` step in all three:
  resident  batches sliced from tensors on the device (kit.models.loop.TensorBatches)
  loader    a per-row torch Dataset + DataLoader (shuffle, default collate)
  limit     one pre-built batch stepped over and over: no data handling at all
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kit.data.tables import read_table
from kit.metrics import rmsle, rmspe
from kit.spec import get
from kit.synth import generate


@dataclass(frozen=True)
class Task:
    name: str
    X: pl.DataFrame
    y: np.ndarray            # log1p(target)
    is_valid: np.ndarray     # the holdout (last horizon_days)
    is_stop: np.ndarray      # the early-stopping fold (the latest tenth before the holdout)
    cat_features: list[str]
    score: Callable[[np.ndarray, np.ndarray], float]  # the metric on the original scale
    metric: str


def _date_parts(col: str) -> list[pl.Expr]:
    d = pl.col(col)
    return [d.dt.year().alias("Year"), d.dt.month().alias("Month"), d.dt.week().alias("Week"),
            d.dt.day().alias("Day"), d.dt.weekday().alias("Dayofweek"), d.dt.ordinal_day().alias("Dayofyear"),
            d.dt.epoch("d").alias("Elapsed")]


def _holdout(dates: pl.Series, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The last `horizon` days (the holdout), and the latest tenth of the rows before them (for
    early stopping). `dates` must be sorted."""
    d = dates.cast(pl.Date)
    valid = (d >= d.max() - dt.timedelta(days=horizon - 1)).to_numpy()
    before = np.flatnonzero(~valid)
    stop = np.zeros(len(d), bool)
    stop[before[-max(1, len(before) // 10):]] = True
    return valid, stop


def _latest(df: pl.DataFrame, date: str, horizon: int, rows: int | None) -> pl.DataFrame:
    """The holdout and the latest `rows` training rows before it (all of them when rows is None)."""
    if rows is None:
        return df
    valid, _ = _holdout(df[date], horizon)
    return pl.concat([df.filter(pl.Series(~valid)).tail(rows), df.filter(pl.Series(valid))])


def bulldozers(folder: Path, rows: int | None) -> Task:
    spec = get("bulldozers").spec
    df = _latest(read_table(spec, "Train.csv", folder).sort("saledate"), "saledate", spec.horizon_days, rows)
    strings = [c for c, t in df.schema.items() if t == pl.String]
    cats = ["ModelID", "datasource", "auctioneerID", *strings]
    X = df.select(*cats, "YearMade", "MachineHoursCurrentMeter", *_date_parts("saledate"),
                  (pl.col("saledate").dt.year() - pl.col("YearMade")).alias("age"))
    valid, stop = _holdout(df["saledate"], spec.horizon_days)
    return Task("bulldozers", X, np.log1p(df["SalePrice"].to_numpy().astype(np.float64)), valid, stop,
                cats, rmsle, "RMSLE")


def rossmann(folder: Path, rows: int | None) -> Task:
    spec = get("rossmann").spec
    store = read_table(spec, "store.csv", folder)
    df = (read_table(spec, "train.csv", folder).filter((pl.col("Open") == 1) & (pl.col("Sales") > 0))
          .join(store, on="Store", how="left").sort("Date"))
    df = _latest(df, "Date", spec.horizon_days, rows)
    cats = ["Store", "DayOfWeek", "Promo", "StateHoliday", "SchoolHoliday", "StoreType", "Assortment",
            "CompetitionOpenSinceMonth", "CompetitionOpenSinceYear", "Promo2", "Promo2SinceWeek",
            "Promo2SinceYear", "PromoInterval", "Year", "Month", "Week", "Day"]
    X = df.select(*[c for c in cats if c in df.columns], "CompetitionDistance", *_date_parts("Date")).drop(
        "Dayofweek")  # DayOfWeek is there already
    valid, stop = _holdout(df["Date"], spec.horizon_days)
    return Task("rossmann", X, np.log1p(df["Sales"].to_numpy().astype(np.float64)), valid, stop,
                cats, rmspe, "RMSPE")


def models(device: str, n_rows: int, jobs: int) -> dict:
    from kit.models import EmbeddingNetRegressor, ForestRegressor, LightGBMRegressor

    rf = dict(n_estimators=40, max_samples=min(200_000, n_rows), min_samples_leaf=3, max_features=0.5,
              n_jobs=jobs)
    return {
        "rf": lambda cats: ForestRegressor(**rf, backend="sklearn", device="cpu", cat_features=cats),
        "rf-lightgbm": lambda cats: ForestRegressor(**rf, backend="lightgbm", device=device, cat_features=cats),
        "lgbm": lambda cats: LightGBMRegressor(n_estimators=3000, learning_rate=0.05, num_leaves=63,
                                               early_stopping_rounds=50, cat_features=cats,
                                               device="cpu", n_jobs=jobs),
        "nn": lambda cats: EmbeddingNetRegressor(epochs=4, batch_size=1024, lr=3e-3, device=device,
                                                 cat_features=cats),
    }


def bench_models(task: Task, names: list[str], device: str, jobs: int) -> list[dict]:
    fit_rows = ~task.is_valid
    train = fit_rows & ~task.is_stop
    Xv, yv = task.X.filter(pl.Series(task.is_valid)), task.y[task.is_valid]
    out = []
    for name in names:
        model = models(device, int(fit_rows.sum()), jobs)[name](task.cat_features)
        t0 = time.perf_counter()
        if name == "lgbm":
            model.fit(task.X.filter(pl.Series(train)), task.y[train],
                      eval_set=(task.X.filter(pl.Series(task.is_stop)), task.y[task.is_stop]))
        else:
            model.fit(task.X.filter(pl.Series(fit_rows)), task.y[fit_rows])
        fit_s = time.perf_counter() - t0
        score = task.score(np.expm1(yv), np.expm1(model.predict(Xv)))
        extra = f"best_iteration={model.best_iteration_}" if name == "lgbm" else ""
        out.append({"data": task.name, "model": name, "train_rows": int(fit_rows.sum()),
                    "valid_rows": int(task.is_valid.sum()), "fit_s": fit_s, "metric": task.metric,
                    "score": score, "note": extra})
        print(f"{task.name:11s} {name:12s} rows={int(fit_rows.sum()):>9,d} fit {fit_s:7.1f}s  "
              f"{task.metric} {score:.4f} {extra}", flush=True)
    return out


# -- throughput -------------------------------------------------------------------------------

class _Repeat:
    """The compute limit: the same pre-built batch, `steps` times."""

    def __init__(self, batch, steps):
        self.batch, self.steps = batch, steps

    def __len__(self):
        return self.steps

    def __iter__(self):
        return itertools.repeat(self.batch, self.steps)


def bench_throughput(task: Task, batch_sizes: list[int], device: str, rows: int | None,
                     repeats: int) -> list[dict]:
    import torch
    from torch.utils.data import DataLoader, Dataset

    from kit.models import EmbeddingNetRegressor, loop

    n = task.X.height if rows is None else min(rows, task.X.height)
    X, y = task.X.head(n), task.y[:n]
    est = EmbeddingNetRegressor(cat_features=task.cat_features, device=device)
    dev, tensors, _ = est._prepare(X, y, None)  # encode once; the network is the estimator's own

    class Rows(Dataset):
        """The per-row path: one (x_cat, x_cont, y) per index, stacked by default_collate."""

        def __init__(self, ts):
            self.ts = [t.cpu() for t in ts]

        def __len__(self):
            return len(self.ts[0])

        def __getitem__(self, i):
            return tuple(t[i] for t in self.ts)

    def to_device(loader):
        class Moved:
            def __len__(self):
                return len(loader)

            def __iter__(self):
                for b in loader:
                    yield tuple(t.to(dev, non_blocking=True) for t in b)
        return Moved()

    results = []
    loss = torch.nn.functional.mse_loss
    for bs in batch_sizes:
        steps = n // bs
        providers = {
            "limit": lambda: _Repeat(tuple(t[:bs] for t in tensors), steps),
            "resident": lambda: loop.TensorBatches(tensors, bs, seed=0),
            "loader": lambda: to_device(DataLoader(Rows(tensors), batch_size=bs, shuffle=True, drop_last=True)),
        }

        rates = {kind: 0.0 for kind in providers}
        # interleaved repeats, best of each: other work on a shared machine only ever slows a run down
        for r in range(repeats):
            kinds = list(providers)
            for kind in kinds[r % 3:] + kinds[:r % 3]:
                with loop.seeded(0, dev):
                    net = est._network().to(dev)
                cfg = loop.TrainConfig(epochs=1, lr=1e-3, device=dev, desc=kind)
                # warm-up: allocator, threads, kernels
                loop.train(net, loss, _Repeat(tuple(t[:bs] for t in tensors), 5), cfg)
                provider = providers[kind]()
                if dev == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                res = loop.train(net, loss, provider, cfg)
                if dev == "cuda":
                    torch.cuda.synchronize()
                rates[kind] = max(rates[kind], res.steps * bs / (time.perf_counter() - t0))
        for kind in ("resident", "loader", "limit"):
            results.append({"data": task.name, "batch_size": bs, "path": kind, "rows_per_s": rates[kind],
                            "of_limit": rates[kind] / rates["limit"]})
        print(f"{task.name:11s} batch {bs:5d}  resident {rates['resident']:>10,.0f} rows/s "
              f"({rates['resident'] / rates['limit']:.1%} of limit)  loader {rates['loader']:>10,.0f} "
              f"({rates['loader'] / rates['limit']:.1%})  limit {rates['limit']:>10,.0f}  "
              f"resident/loader {rates['resident'] / rates['loader']:.2f}x", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(os.environ.get("KIT_BENCH", "data/bench")),
                    help="folder holding <name>-full twins (made when missing)")
    ap.add_argument("--only", nargs="+", default=["bulldozers", "rossmann"], choices=["bulldozers", "rossmann"])
    ap.add_argument("--models", nargs="+", default=["rf", "rf-lightgbm", "lgbm", "nn"],
                    choices=["rf", "rf-lightgbm", "lgbm", "nn"])
    ap.add_argument("--rows", type=int, default=None,
                    help="keep the latest N training rows before the holdout (default: all)")
    ap.add_argument("--throughput-rows", type=int, default=200_000,
                    help="rows per throughput epoch (default 200,000)")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--repeats", type=int, default=3, help="throughput runs per path; the best counts")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--jobs", type=int, default=-1,
                    help="threads for the trees (n_jobs) and torch; -1: all cores (default). On a shared "
                         "machine use 1: spinning OpenMP threads fighting for busy cores run many times slower")
    ap.add_argument("--skip-models", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as CSV files here")
    args = ap.parse_args(argv)

    import torch

    if args.jobs > 0:
        torch.set_num_threads(args.jobs)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""), flush=True)
    rows, tput = [], []
    for name in args.only:
        folder = args.root / f"{name}-full"
        if not (folder / ".kit-twin.json").exists():
            print(f"writing the full {name} twin to {folder} ...", flush=True)
            generate(get(name), folder, size="full", seed=0)
        t0 = time.perf_counter()
        task = (bulldozers if name == "bulldozers" else rossmann)(folder, args.rows)
        print(f"{name}: {task.X.height:,d} rows ({int(task.is_valid.sum()):,d} in the holdout) x "
              f"{task.X.width} columns ({len(task.cat_features)} categorical), "
              f"read in {time.perf_counter() - t0:.1f}s", flush=True)
        if not args.skip_models:
            rows += bench_models(task, args.models, args.device, args.jobs)
        if not args.skip_throughput:
            tput += bench_throughput(task, args.batch_sizes, args.device, args.throughput_rows, args.repeats)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        if rows:
            pl.DataFrame(rows).write_csv(args.out / "models.csv")
        if tput:
            pl.DataFrame(tput).write_csv(args.out / "throughput.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
