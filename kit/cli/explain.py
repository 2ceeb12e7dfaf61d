"""`kit explain`: what a trained model learned, as pictures and one HTML page per run."""

from __future__ import annotations

import argparse
from pathlib import Path

from kit.cli import options as opt
from kit.errors import KitError


def add_explain(sub) -> None:
    sp = sub.add_parser(
        "explain", help="what a trained model learned: importance, redundancy, dependence, one row, confidence, "
                        "extrapolation, embeddings; one HTML page per run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read the fitted models of runs (kit train / kit run) and write RUN/explain/: report.html "
                    "(self-contained, read top to bottom), a PNG per figure and the numbers behind each "
                    "(Parquet or JSON).\n\n"
                    "  kit explain bulldozers lgbm --row 1142564 --pair YearMade saledate_elapsed\n"
                    "  kit explain bulldozers rf --by ProductSize --group ProductSize=Large --group ProductSize=Mini\n"
                    "  kit explain rossmann nn --parts embeddings importance")
    opt.competition(sp)
    sp.add_argument("runs", nargs="*", metavar="RUN",
                    help="run folders (a path, or a name under the runs dir; default: every lgbm, rf and nn run there)")
    sp.add_argument("--parts", nargs="+", metavar="PART",
                    help="only these parts: importance redundancy dependence row confidence extrapolation embeddings")
    sp.add_argument("--row", metavar="ID", help="the test id whose prediction is explained (default: the first)")
    sp.add_argument("--group", action="append", metavar="COL=VALUE",
                    help="twice: compare the contributions of the training rows of two groups, "
                         "e.g. --group ProductSize=Large --group ProductSize=Mini")
    sp.add_argument("--pair", nargs=2, metavar=("A", "B"), help="two features for a two-way partial dependence plot")
    sp.add_argument("--by", metavar="COL", help="the category the forest's confidence is summarised by "
                                                "(default: the most important categorical feature)")
    sp.add_argument("--top", action=opt.AtLeast, low=1, fix="give e.g. --top 6", default=6,
                    help="features in the partial dependence plots (default 6)")
    sp.add_argument("--sample", action=opt.AtLeast, low=100, fix="give e.g. --sample 6000", default=6_000,
                    help="out-of-fold rows scored per permutation, all folds together (default 6000)")
    sp.add_argument("--repeats", action=opt.AtLeast, low=1, fix="give e.g. --repeats 3", default=3,
                    help="shuffles per feature in the permutation importance (default 3; its spread needs 2)")
    opt.threads(sp)
    opt.data_dir(sp)
    opt.runs_dir(sp)
    sp.set_defaults(func=cmd_explain)


def _runs(runs_dir: Path, given: list[str]) -> list[str]:
    from kit.explain import TABLE_MODELS
    from kit.runs.artifacts import read_config

    if given:
        return given
    found = sorted(p.name for p in runs_dir.iterdir() if (p / "config.json").exists() and (p / "models").is_dir()
                   and read_config(p).get("model") in TABLE_MODELS) if runs_dir.is_dir() else []
    if not found:
        raise KitError(f"no trained runs of lgbm, rf or nn in {runs_dir}; train one first with "
                       f"`kit train COMP --model lgbm` or `kit run COMP`")
    return found


def cmd_explain(args) -> int:
    from kit.explain import ExplainOptions, PARTS, explain, load_run

    comp, folder = opt.competition_and_folder(args)
    if comp.spec.task == "multilabel":
        raise KitError(f"{comp.spec.name}'s inputs are images; kit explain reads table models (the tabular "
                       "competitions: bulldozers, rossmann, favorita, porto_seguro)")
    if args.group is not None and len(args.group) != 2:
        raise KitError(f"--group compares two groups; give it twice (got {len(args.group)}), "
                       "e.g. --group ProductSize=Large --group ProductSize=Mini")
    options = ExplainOptions(parts=tuple(args.parts) if args.parts else PARTS, row=args.row,
                             groups=tuple(args.group) if args.group else None,
                             pair=tuple(args.pair) if args.pair else None, by=args.by, top=args.top,
                             sample=args.sample, repeats=args.repeats)
    runs_dir = opt.runs_folder(folder, args.runs_dir)
    # the features and the drop tests' quick-model scores: the same for every run of this data
    features, scores = {}, {}
    for name in _runs(runs_dir, args.runs):
        run = load_run(comp, folder, name, runs_dir=runs_dir, threads=args.threads, fast_cache=scores,
                       prepared=features)
        result = explain(run, options)
        done = {k: v for k, v in result.seconds.items() if k in result.computed}
        kept = [k for k in result.seconds if k not in result.computed]
        print(f"{run.name}: wrote {result.page} ({sum(done.values()):.0f}s: "
              + ", ".join(f"{k} {v:.0f}s" for k, v in done.items()) + ")"
              + (f"; kept from the last explanation: {', '.join(kept)}" if kept else ""))
    return 0
