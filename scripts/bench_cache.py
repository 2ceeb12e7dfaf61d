"""How much faster reading a cached table (Parquet) is than parsing its CSV.

Usage:
    python scripts/bench_cache.py [--size small] [--tables rossmann:train.csv favorita:train.csv]
                                  [--repeat 3] [--root DIR]

For each table of a twin (generated once under --root, reused on later runs) it times,
best of --repeat:

- csv full:     `read_table(..., cache=False)`: parse the CSV with the spec's dtypes and dates;
- cache build:  the one-off cost of writing the Parquet cache (first `scan_table`);
- parquet full: `read_table(...)` once the cache exists;
- the same two reads for two columns only (the id/key and the target), where the CSV
  reader still scans every byte and Parquet reads just those columns.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from kit.data import cache as pq
from kit.data.tables import read_table, scan_csv, scan_table
from kit.spec import get
from kit.synth import generate

# two columns a model script reads first: a key and the target
TWO_COLUMNS = {"rossmann": ("Store", "Sales"), "favorita": ("item_nbr", "unit_sales"),
               "bulldozers": ("SalesID", "SalePrice"), "porto_seguro": ("id", "target"),
               "planet": ("image_name", "tags")}


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(name: str, table: str, size: str, root: Path, repeat: int) -> dict:
    comp = get(name)
    folder = root / f"{name}-{size}"
    if not (folder / ".kit-twin.json").exists():
        generate(comp, folder, size=size, seed=0)
    spec = comp.spec
    source = folder / table
    parquet, meta = pq.paths(source)
    parquet.unlink(missing_ok=True)
    meta.unlink(missing_ok=True)
    cols = TWO_COLUMNS.get(name, spec.file(table).column_names[:2])

    csv_full = best(lambda: read_table(spec, table, folder, cache=False), repeat)
    csv_two = best(lambda: scan_csv(spec, table, folder).select(cols).collect(), repeat)
    t0 = time.perf_counter()
    scan_table(spec, table, folder)  # builds the cache
    build = time.perf_counter() - t0
    pq_full = best(lambda: read_table(spec, table, folder), repeat)
    pq_two = best(lambda: scan_table(spec, table, folder).select(cols).collect(), repeat)
    rows = read_table(spec, table, folder).height
    return {"table": f"{name}:{table}", "rows": rows, "csv_mb": source.stat().st_size / 1e6,
            "pq_mb": parquet.stat().st_size / 1e6, "csv_full": csv_full, "build": build, "pq_full": pq_full,
            "csv_two": csv_two, "pq_two": pq_two}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small", choices=("tiny", "small", "full"))
    ap.add_argument("--tables", nargs="+", default=["rossmann:train.csv", "favorita:train.csv"],
                    metavar="COMP:FILE")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "kit-bench-cache")
    ap.add_argument("--clean", action="store_true", help="delete the twins afterwards")
    args = ap.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("POLARS_MAX_THREADS", "all")
    print(f"size {args.size}, best of {args.repeat}, polars threads: {threads}, cpus: {os.cpu_count()}")
    head = (f"{'table':<22}{'rows':>11}{'CSV MB':>8}{'PQ MB':>7}{'csv full':>10}{'build':>8}"
            f"{'pq full':>9}{'speedup':>8}{'csv 2col':>10}{'pq 2col':>9}{'speedup':>8}")
    print(head)
    for item in args.tables:
        name, table = item.split(":", 1)
        r = bench(name, table, args.size, args.root, args.repeat)
        print(f"{r['table']:<22}{r['rows']:>11,}{r['csv_mb']:>8.1f}{r['pq_mb']:>7.1f}{r['csv_full']:>9.3f}s"
              f"{r['build']:>7.2f}s{r['pq_full']:>8.3f}s{r['csv_full'] / r['pq_full']:>7.1f}x"
              f"{r['csv_two']:>9.3f}s{r['pq_two']:>8.3f}s{r['csv_two'] / r['pq_two']:>7.1f}x", flush=True)
    if args.clean:
        shutil.rmtree(args.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
