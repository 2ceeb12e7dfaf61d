"""Time and peak memory of `kit generate` per competition and size, each in its own process.

Usage:
    python scripts/bench_generate.py [--sizes tiny small full] [--only NAME ...] [--root DIR] [--keep]

Runs `/usr/bin/time -v kit generate NAME --size SIZE --data-dir ROOT/NAME-SIZE` and prints a
table of wall time, peak resident memory and bytes written. Deletes each twin afterwards
unless --keep (full twins are large: Favorita's train.csv is about 5 GB).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kit.spec import registry


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_one(name: str, size: str, root: Path, keep: bool) -> dict:
    out = root / f"{name}-{size}"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "kit.cli", "generate", name, "--size", size,
           "--data-dir", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{name} {size} failed:\n{r.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.+)", r.stderr).group(1)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    size_bytes = du(out)
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return {"name": name, "size": size, "seconds": seconds, "peak_gb": rss_kb / 1e6, "written_gb": size_bytes / 1e9}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    ap.add_argument("--only", nargs="+", default=sorted(registry()))
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "kit-bench-generate")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    print(f"{'competition':<14}{'size':<7}{'wall s':>9}{'peak GB':>9}{'written GB':>12}")
    for name in args.only:
        for size in args.sizes:
            row = run_one(name, size, args.root, args.keep)
            print(f"{row['name']:<14}{row['size']:<7}{row['seconds']:>9.1f}{row['peak_gb']:>9.2f}"
                  f"{row['written_gb']:>12.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
