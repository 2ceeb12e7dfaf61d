"""How much history Favorita's features should use: `kit run favorita` with other origin settings.

Usage:
    python scripts/favorita_history.py ORIGINS TRAIN_SERIES [--step 6] [--valid-series 20000] -- KIT RUN ARGS

ORIGINS training origins every --step days (60 x 6 days: a year), TRAIN_SERIES (series, origin)
pairs spread evenly over them (`competitions/favorita/features.py`, `prepare`); the rest goes to
`kit run favorita` as is. The README's history table (Performance) came from, on the full twin
(`kit generate favorita --size full`):

    python scripts/favorita_history.py 6 120000 -- --threads 2 --data-dir DIR --runs-dir RUNS  # 6 weeks
    python scripts/favorita_history.py 60 120000 -- --threads 2 --data-dir DIR --runs-dir RUNS  # 12 months

Each run ends with the hidden test's score where the folder is a twin.
"""

from __future__ import annotations

import argparse
import functools
import sys


def main() -> int:
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # after it: kit run's own arguments
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("origins", type=int, help="training origins")
    ap.add_argument("train_series", type=int, help="(series, origin) pairs over all training origins")
    ap.add_argument("--step", type=int, default=6, help="days between origins (default 6)")
    ap.add_argument("--valid-series", type=int, default=20_000, help="series at the validation origin")
    args = ap.parse_args(argv[:cut])

    from kit.cli import main as kit_main
    from kit.spec import get

    features = get("favorita").load("features")
    features.prepare = functools.partial(features.prepare, n_origins=args.origins, origin_step=args.step,
                                         train_series=args.train_series, valid_series=args.valid_series)
    return kit_main(["run", "favorita", *argv[cut + 1:]])


if __name__ == "__main__":
    raise SystemExit(main())
