"""The `kit` command: parses arguments, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kit.errors import KitError

EPILOG = """\
steps (each one command; `kit COMMAND --help` for its options):
  kit list                              the competitions and their data
  kit generate rossmann --size small    write the synthetic twin (files as Kaggle ships them)
  kit baseline rossmann                 the best constant submission, in the sample's order
  kit score rossmann submission.csv     check a submission and score it on the twin's hidden answers

Data lives in ./data/<competition> unless --data-dir or $KIT_DATA says otherwise.
"""


def _data_dir(spec, given):
    from kit.data import data_dir

    return data_dir(spec, given)


def cmd_list(args) -> int:
    from kit.spec import registry

    rows = []
    for comp in registry().values():
        s = comp.spec
        have = _data_dir(s, None)
        state = "twin" if (have / ".kit-twin.json").exists() else ("data" if (have / s.train).exists() else "-")
        rows.append((s.name, s.task, s.metric, s.validation, state, s.title))
    widths = [max(len(r[i]) for r in rows + [("name", "task", "metric", "validation", "data", "")]) for i in range(5)]
    head = ("name", "task", "metric", "validation", "data")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  title")
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r[:5], widths)) + "  " + r[5])
    print("\ndata: twin = synthetic twin in ./data/<name>, data = real files there, - = none yet "
          "(`kit generate NAME` or `kit download NAME`)")
    return 0


def cmd_generate(args) -> int:
    from kit.spec import get
    from kit.synth import generate

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    t0 = time.perf_counter()
    generate(comp, folder, size=args.size, seed=args.seed)
    took = time.perf_counter() - t0
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    print(f"wrote the {args.size} twin of {comp.name} (seed {args.seed}) to {folder} in {took:.1f}s:")
    for p in files:
        if p.is_dir():
            n = sum(1 for _ in p.iterdir())
            print(f"  {p.name}/  ({n} files)")
        else:
            print(f"  {p.name}  ({p.stat().st_size / 1e6:.1f} MB)")
    print(f"hidden answers: {folder / 'solution' / 'solution.csv'} (read only by `kit score`)")
    return 0


def cmd_baseline(args) -> int:
    import polars as pl

    from kit import baseline
    from kit.spec import get
    from kit.submission import load_test_ids, validate, write_atomic

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    sub = baseline.submission(comp.spec, folder)
    validate(comp.spec, sub.select(pl.all().cast(pl.String)), load_test_ids(comp.spec, folder))
    out = Path(args.output or folder.parent / f"{comp.name}-baseline.csv")
    write_atomic(sub, out)
    value = sub[comp.spec.submission.value_column][0]
    print(f"wrote {out}: {sub.height} rows, every {comp.spec.submission.value_column} = {value}")
    return 0


def cmd_score(args) -> int:
    from kit.metrics import METRICS
    from kit.spec import get
    from kit.submission import score

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    s = score(comp.spec, args.submission, folder)
    m = METRICS[s.metric]
    better = "higher" if m.greater_is_better else "lower"
    print(f"{comp.name}: {args.submission} is valid; {s.metric.upper()} ({better} is better)")
    if s.public is not None:
        print(f"  public   {s.public:.5f}   ({s.n_public:,} rows)")
    if s.private is not None:
        print(f"  private  {s.private:.5f}   ({s.n_private:,} rows)")
    print(f"  all      {s.overall:.5f}   ({s.n_public + s.n_private:,} rows)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from kit.synth.core import SIZES

    p = argparse.ArgumentParser(
        prog="kit", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Kaggle competition starter kit: synthetic twins, trustworthy validation, "
                    "models, blending and submission.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def data_arg(sp):
        sp.add_argument("--data-dir", metavar="DIR",
                        help="the competition's data folder (default: $KIT_DATA/<competition> or ./data/<competition>)")

    sp = sub.add_parser("list", help="list the competitions and whether their data is here")
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("generate", help="write a synthetic twin of a competition's data",
                        description="Write the files Kaggle ships (same names, columns, formats and quirks) "
                                    "with realistic structure, plus the hidden answers in solution/solution.csv. "
                                    "Same seed, byte-identical files.")
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("--size", choices=SIZES, default="small",
                    help="tiny: seconds, for tests; small (default): under a minute; full: the real row counts")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    data_arg(sp)
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("baseline", help="write the best constant submission (the yardstick to beat)",
                        description="Write a constant submission in the sample submission's order: the value "
                                    "a competitor would pick for the metric without a model.")
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("-o", "--output", metavar="FILE",
                    help="where to write it (default: <data-dir>/../<competition>-baseline.csv)")
    data_arg(sp)
    sp.set_defaults(func=cmd_baseline)

    sp = sub.add_parser("score", help="check a submission and score it on the twin's hidden answers",
                        description="Check the submission's format against the test ids (header, one row per id, "
                                    "numbers, tags) and print its public and private scores, like the leaderboard.")
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("submission", help="the submission CSV")
    data_arg(sp)
    sp.set_defaults(func=cmd_score)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KitError as err:
        print(f"kit {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"kit {args.command}: interrupted; nothing half-written was left in place", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
