"""kit against its references, every goal of the speed work side by side: one command to rerun.

Usage:
    python scripts/benchmark.py [--parts runs prepare ingest favorita] [--only rossmann ...]
                                [--root DIR] [--threads 2] [--repeat 3]

Parts (all but `favorita` by default; each prints kit, the reference, their ratio and the goal):

- runs: on each small twin, `kit run NAME --threads T` against the plain competitor's notebook
  (scripts/notebooks.py: pandas features and one LightGBM with fixed rounds), each in a fresh
  process on a fresh copy of the twin's raw files (so kit pays its first CSV parse too), one
  after the other; both scored on the twin's hidden answers. Goals: kit's private score better
  than the notebook's, in at most 3x its wall time.
- prepare: Rossmann's `prepare()` on the full twin against the fast.ai notebook's recipe in
  pandas (scripts/bench_prepare.py). Goal: 20x faster.
- ingest: per table, the first read (check, parse, write the cache) against a bare
  `polars.read_csv` with the spec's column types (goal: at most 1.5x), a cached read against
  kit's own parse (goal: 5x faster), and a warm read against a bare `polars.read_parquet` of
  the cache file (the per-call overhead; goal: within 1.2x, i.e. no re-planning).
- favorita: on the full twin (125 million rows; written once under ROOT, about 5 GB), the
  ingest goals on its 4.7 GB train.csv (kit's first read against a bare parse of the whole file,
  and the cache read back whole; best of 2 fresh processes each), then `kit run favorita` with
  `/usr/bin/time -v`: wall time (goal: under 10 minutes) and peak memory (goal: under 16 GB).

Times are wall seconds on this machine, best of --repeat where a step repeats; runs are single
(a `kit run` takes about a minute). Run it on a quiet machine: the ratios are what it reports.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

COMPETITIONS = ("rossmann", "bulldozers", "favorita", "porto_seguro", "planet")
#: tables whose ingest is measured: every competition's train and test file
TABLES = ("rossmann:train.csv", "rossmann:test.csv", "rossmann:store.csv", "bulldozers:Train.csv",
          "bulldozers:Test.csv", "favorita:train.csv", "favorita:test.csv", "porto_seguro:train.csv",
          "porto_seguro:test.csv")


def twin(name: str, size: str, root: Path) -> Path:
    """The `size` twin of `name` under `root`, written once."""
    from kit.spec import get
    from kit.synth import generate

    folder = root / f"{name}-{size}"
    if not (folder / ".kit-twin.json").exists():
        print(f"  writing the {size} twin of {name} into {folder} ...", flush=True)
        generate(get(name), folder, size=size, seed=0)
    return folder


def raw_copy(folder: Path, dest: Path) -> Path:
    """The twin's raw files (no cache, no runs, no answers) copied to `dest`; the hidden answers
    linked beside, where only the scorer reads them."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns(".kit-cache", "runs", "solution"))
    os.symlink(folder / "solution", dest / "solution")
    return dest


def peak_gb(out: str) -> float:
    """The peak memory `/usr/bin/time -v` printed into `out`, in GB (NaN where it printed none)."""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out)
    return int(rss[1]) / 1024**2 if rss else float("nan")


def timed(cmd: list[str], log: Path) -> tuple[float, str]:
    """Run `cmd`; (wall seconds, its output). Exits on failure, naming the log."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - t0
    text = log.read_text()
    if done.returncode:
        sys.exit(f"{' '.join(cmd[:4])} ... failed (exit {done.returncode}); see {log}")
    return seconds, text


def bench_run(name: str, root: Path, work: Path, threads: int) -> dict:
    """kit run against the notebook on a fresh copy of the small twin each."""
    from kit.spec import get
    from kit.submission import score

    folder = twin(name, "small", root)
    spec = get(name).spec
    nb_dir = raw_copy(folder, work / f"{name}-notebook")
    nb_sub = work / f"{name}-notebook.csv"
    nb_s, _ = timed([sys.executable, str(HERE / "notebooks.py"), name, str(nb_dir), str(nb_sub),
                     "--threads", str(threads)], work / f"{name}-notebook.log")
    nb = score(spec, nb_sub, folder)
    kit_dir = raw_copy(folder, work / f"{name}-kit")
    kit_s, out = timed([sys.executable, "-m", "kit", "run", name, "--threads", str(threads), "--data-dir",
                        str(kit_dir)], work / f"{name}-kit.log")
    found = re.search(r"hidden solution: public ([\d.]+)\s+private ([\d.]+)", out)
    models = re.findall(r"^training (\S+) \.\.\.", out, re.M)
    return {"name": name, "metric": spec.metric, "kit_s": kit_s, "nb_s": nb_s, "models": models,
            "kit": (float(found[1]), float(found[2])) if found else (float("nan"),) * 2,
            "nb": (nb.public, nb.private)}


def print_runs(rows: list[dict]) -> None:
    from kit.metrics import METRICS

    print(f"\n{'kit run vs the notebook':<14}{'metric':>8}{'kit private':>13}{'nb private':>12}{'better':>8}"
          f"{'kit s':>8}{'nb s':>7}{'ratio':>7}  goal: better, ratio <= 3   (kit models)")
    for r in rows:
        higher = METRICS[r["metric"]].greater_is_better
        better = (r["kit"][1] > r["nb"][1]) if higher else (r["kit"][1] < r["nb"][1])
        ratio = r["kit_s"] / r["nb_s"]
        ok = "met" if better and ratio <= 3 else "NOT met"
        print(f"{r['name']:<14}{r['metric']:>8}{r['kit'][1]:>13.5f}{r['nb'][1]:>12.5f}{'yes' if better else 'no':>8}"
              f"{r['kit_s']:>8.1f}{r['nb_s']:>7.1f}{ratio:>6.2f}x  {ok}   ({', '.join(r['models'])}; public "
              f"kit {r['kit'][0]:.5f} nb {r['nb'][0]:.5f})", flush=True)


def best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def bench_ingest(item: str, root: Path, repeat: int) -> dict:
    """First read, cached read and warm-read overhead of one table (see the module docstring)."""
    import polars as pl

    from kit.data import cache as pq
    from kit.data.tables import polars_schema, read_table
    from kit.spec import get

    name, table = item.split(":", 1)
    spec = get(name).spec
    folder = twin(name, "small", root)
    source = folder / table
    # a bare read as a polars user writes it: the spec's column types given, no checks, dates as text
    types = polars_schema(spec.file(table))
    bare_csv = best(lambda: pl.read_csv(source, schema_overrides=types), repeat)
    parse = best(lambda: read_table(spec, table, folder, cache=False), repeat)
    firsts = []
    for _ in range(repeat):
        shutil.rmtree(pq.cache_dir(folder), ignore_errors=True)
        pq.clear_seen()  # as in a new process: a user's first run
        t0 = time.perf_counter()
        read_table(spec, table, folder)
        firsts.append(time.perf_counter() - t0)
    parquet, _ = pq.paths(source)
    warm = best(lambda: read_table(spec, table, folder), repeat)
    bare_pq = best(lambda: pl.read_parquet(parquet), repeat)
    return {"table": item, "rows": pl.read_parquet(parquet).height, "bare_csv": bare_csv, "parse": parse,
            "first": min(firsts), "warm": warm, "bare_pq": bare_pq}


def print_ingest(rows: list[dict]) -> None:
    print(f"\n{'ingest (small twins)':<24}{'rows':>10}{'bare csv':>10}{'first':>8}{'ratio':>7}{'parse':>8}"
          f"{'cached':>8}{'faster':>8}{'bare pq':>9}{'ratio':>7}  goals: first <= 1.5x, cached >= 5x, warm <= 1.2x")
    for r in rows:
        first, faster, warm = r["first"] / r["bare_csv"], r["parse"] / r["warm"], r["warm"] / r["bare_pq"]
        ok = "met" if first <= 1.5 and faster >= 5 and warm <= 1.2 else "NOT met"
        print(f"{r['table']:<24}{r['rows']:>10,}{r['bare_csv']:>9.3f}s{r['first']:>7.3f}s{first:>6.2f}x"
              f"{r['parse']:>7.3f}s{r['warm']:>7.3f}s{faster:>7.1f}x{r['bare_pq']:>8.3f}s{warm:>6.2f}x  {ok}",
              flush=True)


def bench_prepare(root: Path, repeat: int) -> None:
    from bench_prepare import measure

    folder = twin("rossmann", "full", root)
    r = measure(folder, repeat)
    ratio = r["ref_s"] / r["kit_s"]
    print(f"\nRossmann prepare() on the full twin: kit {r['kit_s']:.2f}s, fast.ai recipe in pandas "
          f"{r['ref_s']:.2f}s: {ratio:.1f}x faster  goal >= 20x: {'met' if ratio >= 20 else 'NOT met'}", flush=True)


#: one read of the full twin's train.csv in a fresh process: a bare polars parse of the whole file,
#: kit's first read (check, stream into the Parquet cache, test ids), and the whole cache read back
FULL_READS = {
    "bare csv": "pl.read_csv(src, schema_overrides=polars_schema(spec.file('train.csv'))).height",
    "kit first read": "[p.unlink(missing_ok=True) for p in pq.paths(src)]; "
                      "scan_table(spec, 'train.csv', src.parent).select(pl.len()).collect().item()",
    "cached read": "pl.read_parquet(pq.paths(src)[0]).height",
}


def bench_full_ingest(folder: Path, work: Path, repeat: int) -> None:
    """Favorita's 4.7 GB train.csv: kit's first read against a bare parse, and its cache read back
    whole, each the best of `repeat` fresh processes with its peak memory (`/usr/bin/time -v`)."""
    got = {}
    for what, expr in FULL_READS.items():
        code = ("import time, polars as pl; from pathlib import Path; from kit.data import cache as pq; "
                "from kit.data.tables import polars_schema, scan_table; from kit.spec import get; "
                f"spec = get('favorita').spec; src = Path({str(folder / 'train.csv')!r}); "
                f"t0 = time.perf_counter(); {expr}; print('SECONDS', time.perf_counter() - t0)")
        runs = []
        for k in range(repeat):
            _, out = timed(["/usr/bin/time", "-v", sys.executable, "-c", code], work / f"favorita-read-{k}.log")
            runs.append((float(re.search(r"SECONDS ([\d.]+)", out)[1]), peak_gb(out)))
        got[what] = min(runs)
    bare, first, cached = (got[k][0] for k in FULL_READS)
    print(f"\nFavorita full train.csv (125 million rows): bare csv {bare:.1f}s ({got['bare csv'][1]:.1f} GB), "
          f"kit first read {first:.1f}s ({got['kit first read'][1]:.1f} GB) = {first / bare:.2f}x (goal <= 1.5x), "
          f"cached read {cached:.1f}s = {bare / cached:.1f}x faster than parsing (goal >= 5x): "
          f"{'met' if first / bare <= 1.5 and bare / cached >= 5 else 'NOT met'}", flush=True)


def bench_favorita(root: Path, work: Path, threads: int, repeat: int) -> None:
    folder = twin("favorita", "full", root)
    bench_full_ingest(folder, work, min(repeat, 2))
    log = work / "favorita-full.log"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "kit", "run", "favorita", "--threads", str(threads),
           "--data-dir", str(folder), "--runs-dir", str(work / "favorita-full-runs")]
    seconds, out = timed(cmd, log)
    gb = peak_gb(out)
    found = re.search(r"hidden solution: public ([\d.]+)\s+private ([\d.]+)", out)
    # the step table: name, the validation score where there is one, seconds, a note
    steps = [(m[1], m[2]) for m in re.finditer(r"^(adversarial|features \+ folds|lgbm|rf|nn|blend|submission)"
                                               r"\s+(?:[\d.]+\s+)?([\d.]+)(?:\s{2}|\s*$)", out, re.M)]
    print(f"\nFavorita full twin: kit run {seconds / 60:.1f} min (goal < 10), peak RSS {gb:.1f} GB (goal < 16): "
          f"{'met' if seconds < 600 and gb < 16 else 'NOT met'}; hidden private "
          f"{found[2] if found else '?'}; steps {', '.join(f'{a} {b}s' for a, b in steps)} (log {log})", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=["runs", "prepare", "ingest"],
                    choices=("runs", "prepare", "ingest", "favorita"))
    ap.add_argument("--only", nargs="+", choices=COMPETITIONS, default=list(COMPETITIONS),
                    help="competitions for the runs part")
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "kit-benchmark",
                    help="where the twins are written once and reused")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.root))
    print(f"cpus {os.cpu_count()}, threads {args.threads}; logs in {work}", flush=True)
    if "ingest" in args.parts:
        print_ingest([bench_ingest(t, args.root, args.repeat) for t in TABLES])
    if "prepare" in args.parts:
        bench_prepare(args.root, args.repeat)
    if "runs" in args.parts:
        rows = []
        for name in args.only:
            rows.append(bench_run(name, args.root, work, args.threads))
            print_runs(rows[-1:])
        print_runs(rows)
    if "favorita" in args.parts:
        bench_favorita(args.root, work, args.threads, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
