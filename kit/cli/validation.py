"""Commands that judge the validation itself: adversarial (train vs test) and study (which scheme)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kit.cli import options as opt
from kit.errors import KitError


def add_study(sub) -> None:
    sp = sub.add_parser(
        "study", help="which validation scheme ranks models like the test? (validation-strategy study)",
        description="Train six deliberately different models (capacities, algorithms, feature sets), score "
                    "each under random K-fold, time holdout, walk-forward and the most test-like rows from "
                    "adversarial validation, and on the test (the twin's hidden answers; on real data a "
                    "pseudo-test held out of train). Reports each scheme's Spearman and Kendall correlation "
                    "with the test scores and its mean gap, and writes study.png/json/csv.")
    opt.competition(sp, "a name from `kit list` (tabular competitions)")
    opt.data_dir(sp)
    sp.add_argument("--folds", type=int, default=3, help="folds for random K-fold and walk-forward (default 3)")
    sp.add_argument("--horizon", type=int, metavar="DAYS",
                    help="days per time window and of a pseudo-test (default: the test file's own span)")
    sp.add_argument("--gap", type=int, metavar="DAYS",
                    help="days between training and validation (default: between the end of train and the test)")
    opt.seed(sp)
    opt.threads(sp)
    opt.no_adversarial(sp, "skip the adversarial-rows scheme")
    opt.runs_dir(sp)
    opt.report_dir(sp, "where to write the report (default RUNS/study, beside the runs and `kit run`'s reports)")
    sp.set_defaults(func=cmd_study)


def cmd_study(args) -> int:
    from kit.study import run_study, write_report

    comp, folder = opt.competition_and_folder(args)
    report = run_study(comp.spec, folder, n_folds=args.folds, seed=args.seed, threads=args.threads,
                       adversarial=not args.no_adversarial, horizon=args.horizon, gap=args.gap)
    out = Path(args.out) if args.out else opt.runs_folder(folder, args.runs_dir) / "study"
    png, js, csv = write_report(report, out)
    print(report.summary())
    print(f"wrote {png}, {js.name} and {csv.name} in {out} ({report.seconds:.0f}s)")
    return 0


def add_adversarial(sub) -> None:
    sp = sub.add_parser(
        "adversarial", help="how different are train and test? (adversarial validation)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a LightGBM classifier to tell train rows from test rows (stratified K-fold) "
                    "and report its AUC (0.5: alike, a random split is fair; above: the test differs), the "
                    "features that separate them (gain share and a KS / total-variation drift), a loop "
                    "that drops the top feature and refits until the AUC nears 0.5, and the train rows "
                    "that look most like the test. With --horizon or --gap (where the test is a later period) "
                    "the test is compared with the days of the 3 validation windows only. Writes "
                    "adversarial.png, adversarial.json and adversarial_test_like.parquet.",
        epilog="examples:\n  kit adversarial rossmann\n"
               "  kit adversarial --train a.csv --test b.csv --id id --target y --drop noisy_col\n\n"
               "The time column of a forecasting competition (and columns computed from its date, such "
               "as a day of week) is left out: the test is the future, so the date alone separates them.")
    opt.competition(sp, "a name from `kit list` (or use --train/--test)", nargs="?")
    opt.data_dir(sp)
    sp.add_argument("--train", metavar="FILE", help="any train table (CSV or Parquet) instead of a competition")
    sp.add_argument("--test", metavar="FILE", help="the test table to compare it with")
    sp.add_argument("--id", metavar="COL", help="with --train/--test: the id column (left out)")
    sp.add_argument("--target", metavar="COL", action="append", default=[],
                    help="with --train/--test: a target column (left out); repeat for several")
    sp.add_argument("--time-col", metavar="COL", help="with --train/--test: the date column (left out "
                    "with the columns derived from it, unless --keep-time)")
    sp.add_argument("--drop", metavar="COL", nargs="+", action="extend", default=[],
                    help="more columns to leave out (write them after the competition's name)")
    sp.add_argument("--keep-time", action="store_true",
                    help="keep the time column and the columns derived from it as features")
    sp.add_argument("--folds", type=int, default=5, help="cross-validation folds of the classifier (default 5)")
    # the plan's windows: with --horizon or --gap the test is compared with their days only
    opt.validation(sp, folds=False)
    sp.add_argument("--max-rows", type=int, default=200_000,
                    help="rows the classifier sees per side, a seeded sample (default 200000)")
    sp.add_argument("--threshold", type=float, default=0.55,
                    help="AUC at or below which train and test count as alike; the drop loop stops there "
                         "(default 0.55)")
    sp.add_argument("--max-steps", type=int, default=10, help="most refits of the drop loop (default 10)")
    sp.add_argument("--top", type=int, default=10, help="features shown in the table (default 10)")
    opt.threads(sp, "LightGBM threads (default: half the cores)", default=None)
    opt.seed(sp, "seeds the sample, the folds and LightGBM (default 0)")
    opt.runs_dir(sp)
    opt.report_dir(sp, "where to write the report (default: RUNS/adversarial, where `kit run` writes it too; "
                       "with --train/--test: reports/ beside the --train file, or RUNS/adversarial with --runs-dir)")
    sp.set_defaults(func=cmd_adversarial)


def cmd_adversarial(args) -> int:
    from kit.validation import adversarial as adv

    options = dict(drop=tuple(args.drop), keep_time=args.keep_time, n_folds=args.folds,
                   max_rows=args.max_rows, threshold=args.threshold, max_drop_steps=args.max_steps,
                   num_threads=args.threads, seed=args.seed)
    if args.train or args.test:
        if args.competition or not (args.train and args.test):
            raise KitError("give a competition (`kit adversarial rossmann`) or both --train FILE and "
                           "--test FILE, not a mix")
        title = f"{args.train} vs {args.test}"
        report = adv.adversarial_files(args.train, args.test, id_col=args.id, target_cols=tuple(args.target),
                                       time_col=args.time_col, **options)
        out = (Path(args.out) if args.out else adv.default_out_dir(args.runs_dir) if args.runs_dir
               else Path(args.train).parent / "reports")
    elif args.competition:
        comp, folder = opt.competition_and_folder(args)
        if args.id or args.target or args.time_col:
            raise KitError("--id, --target and --time-col are for --train/--test files; a competition's "
                           "spec names its own")
        title = comp.name
        recent = None
        if args.horizon is not None or args.gap is not None:
            from kit.runs.folds import TIME_FOLDS

            plan = opt.plan(argparse.Namespace(horizon=args.horizon, gap=args.gap), comp, folder)
            recent = TIME_FOLDS * (plan.horizon_days or 1)
            title += f" (train: its last {recent} days, {TIME_FOLDS} validation windows of {plan.horizon_days})"
        report = adv.adversarial_for(comp.spec, folder, recent_days=recent, **options)
        out = Path(args.out) if args.out else adv.default_out_dir(opt.runs_folder(folder, args.runs_dir))
    else:
        raise KitError("name a competition (`kit adversarial rossmann`) or give --train FILE --test FILE")
    files = adv.write_report(report, out)
    print(f"adversarial validation: {title}")
    print(report.summary(top=args.top))
    print(f"wrote {files.png}, {files.json.name} and {files.test_like.name} in {out} "
          "(every train row's adversarial score; test_like marks the validation rows)")
    return 0
