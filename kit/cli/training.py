"""Commands that train and combine models: train, tune, blend, and run (all of it)."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from kit.cli import options as opt
from kit.errors import KitError


def add_train(sub) -> None:
    sp = sub.add_parser(
        "train", help="train one model on the shared folds; write its run folder",
        description="Build the competition's features, fit MODEL on every fold of the competition's "
                    "validation scheme (folds are computed once and shared, so any runs can be blended), "
                    "and write RUNS/NAME: config.json (resolved hyperparameters), metrics.json (metric per "
                    "fold), oof.parquet and test.parquet (predictions keyed by row and by id), models/. "
                    "With a time holdout the test predictions come from a refit on every row.")
    opt.competition(sp)
    sp.add_argument("--model", required=True, help="rf, lgbm, nn or cnn (see kit.models)")
    opt.param(sp, "override a hyperparameter of the competition's defaults (repeatable)")
    opt.drop(sp)
    sp.add_argument("--name", help="run folder name (default: the model name)")
    sp.add_argument("--force", action="store_true",
                    help="replace an existing run of that name (default: refuse it, keeping it as it is)")
    opt.params_choice(sp, "best: start from the best trial of the model's `kit tune` study (--param still wins)")
    opt.study(sp)
    opt.seed(sp, "random seed for folds and models (default 0)")
    opt.threads(sp)
    opt.validation(sp)
    opt.data_dir(sp)
    opt.runs_dir(sp)
    sp.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from kit.features import drop_features, prepare
    from kit.runs import load_folds, train

    comp, folder = opt.competition_and_folder(args)
    runs = opt.runs_folder(folder, args.runs_dir)
    out = runs / (args.name or args.model)
    _refuse_existing(out, args.force)  # before minutes of training
    prepared = drop_features(prepare(comp, folder, seed=args.seed), args.drop)
    folds = load_folds(comp, prepared, runs, seed=args.seed, plan=opt.plan(args, comp, folder))
    print(f"{comp.name}: {prepared.n_rows:,} training rows, {len(prepared.X_test):,} test rows, "
          f"{len(folds)} fold(s) ({folds.scheme}); training {args.model} into {out}")
    for note in folds.notes:
        print(f"  {note}")
    params = opt.params(args.param)
    if args.params == "best":
        from kit.tune import best_params

        params = {**best_params(comp, args.model, runs, storage=args.storage, study=args.study), **params}
        print(f"--params best: the best trial of the study ({len(params)} parameters)")
    r = train(comp, prepared, folds, args.model, out, params=params, seed=args.seed,
              threads=args.threads)
    print(f"{r.name}: out-of-fold {comp.spec.metric.upper()} {r.score:.5f}, the mean over folds "
          f"({', '.join(f'{s:.5f}' for s in r.fold_scores)}) in {r.seconds:.1f}s")
    print(f"wrote {out}/config.json, metrics.json, oof.parquet, test.parquet, models/")
    return 0


def add_blend(sub) -> None:
    sp = sub.add_parser(
        "blend", help="blend runs with weights fitted on their out-of-fold predictions",
        description="Greedy ensemble selection (weights on the simplex) on the runs' out-of-fold predictions, "
                    "scored by the competition's metric (rank averages for Gini); writes RUNS/NAME like a run "
                    "and a checked submission.")
    opt.competition(sp)
    sp.add_argument("runs", nargs="+", metavar="RUN", help="run folders (a path, or a name under the runs dir)")
    sp.add_argument("--name", default="blend", help="the blend's folder name (default blend, as `kit run` names "
                                                     "its own)")
    sp.add_argument("--force", action="store_true",
                    help="replace an existing run folder of that name (default: refuse it, keeping it as it is)")
    opt.output(sp, "submission path (default RUNS/NAME/submission.csv)")
    opt.seed(sp, "the seed the runs were trained with (default 0)")
    opt.data_dir(sp)
    opt.runs_dir(sp)
    sp.set_defaults(func=cmd_blend)


def cmd_blend(args) -> int:
    from kit.features import prepare
    from kit.runs import blend_runs
    from kit.submission import write_submission

    comp, folder = opt.competition_and_folder(args)
    runs = opt.runs_folder(folder, args.runs_dir)
    paths = [Path(r) if Path(r).exists() else runs / r for r in args.runs]
    out = runs / args.name
    inputs = [p for p in paths if p.resolve() == out.resolve()]
    if inputs:
        raise KitError(f"the blend's folder {out} is one of the runs it blends ({inputs[0]}), which it would "
                       f"replace; name the blend something else with --name OTHER")
    _refuse_existing(out, args.force)
    prepared = prepare(comp, folder, seed=args.seed)
    b = blend_runs(comp, prepared, paths, out)
    print(f"{b.name}: out-of-fold {comp.spec.metric.upper()} {b.score:.5f} "
          f"(folds {', '.join(f'{s:.5f}' for s in b.fold_scores)}); weights in {out}/config.json")
    sub = Path(args.output) if args.output else out / "submission.csv"
    write_submission(comp.spec, folder, prepared, b.test, sub, b.thresholds)
    print(f"wrote {sub} (checked like `kit submit`)")
    return 0


def _refuse_existing(out: Path, force: bool) -> None:
    """A run folder is replaced only when asked: it may be the only copy of hours of training."""
    from kit.atomic import recover_swap

    recover_swap(out)  # a run a killed command left mid-swap counts as existing
    if out.exists() and not force:
        what = "a run" if (out / "config.json").exists() else "a folder"
        raise KitError(f"{out} already holds {what} and would be replaced; add --force to replace it, or "
                       f"write this one under another name with --name OTHER")


def add_tune(sub) -> None:
    sp = sub.add_parser(
        "tune", help="tune a model's hyperparameters with Optuna (resumable; many workers on PostgreSQL)",
        description=textwrap.fill(
            "Search MODEL's hyperparameters (kit.tune.SPACES, on top of the competition's defaults) for the "
            "best out-of-fold metric on the shared folds, with a seeded TPE sampler and a median pruner "
            "(LightGBM reports every 0.5 of boosting work, rounds x learning rate, and is not pruned before 20 of it; the networks report every epoch). The study lives in "
            "RUNS/tune/NAME.journal, or in the --storage database: rerunning the command continues it, and "
            "a trial left running by a killed worker is marked failed and run again. Writes "
            "RUNS/tune/NAME/history.png, importance.png and best_params.json; `kit train` and `kit run` "
            "take the best with --params best.", 88),
        epilog="examples:\n"
               "  kit tune rossmann --model lgbm --trials 40\n"
               "  kit tune rossmann --model lgbm --trials 40 --workers 2 --threads 1\n"
               "  kit tune rossmann --model lgbm --timeout 3600 --storage postgresql://kit:PW@db/kit  "
               "# on each machine\n"
               "  kit train rossmann --model lgbm --params best",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    opt.competition(sp)
    sp.add_argument("--model", required=True, help="lgbm, rf, nn or cnn")
    sp.add_argument("--trials", type=int, default=None,
                    help="trials this command finishes, shared by its workers (default 20, or no limit with "
                         "--timeout)")
    sp.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds")
    opt.study(sp)
    sp.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    sp.add_argument("--heartbeat", type=int, default=30, metavar="S",
                    help="database storages: seconds between a worker's heartbeats; a trial whose worker is "
                         "silent for twice this is failed and retried (default 30)")
    opt.param(sp, "fix a hyperparameter outside the search (repeatable)")
    opt.seed(sp, "sampler and model seed (default 0)")
    opt.threads(sp, "threads per worker (default: the cores shared among the workers)", default=None)
    opt.validation(sp)
    opt.data_dir(sp)
    opt.runs_dir(sp)
    sp.set_defaults(func=cmd_tune)


def cmd_tune(args) -> int:
    from kit.tune import tune

    comp, folder = opt.competition_and_folder(args)
    trials = args.trials if args.trials is not None else (None if args.timeout else 20)
    result = tune(comp, folder, args.model, trials=trials, timeout=args.timeout, storage=args.storage,
                  study=args.study, workers=args.workers, seed=args.seed, threads=args.threads,
                  heartbeat=args.heartbeat, runs_dir=args.runs_dir, params=opt.params(args.param),
                  plan=opt.plan(args, comp, folder))
    print()
    print(result.table(comp.spec.metric))
    if result.best_value is not None:
        extra = "".join(f" --{k} {v}" for k, v in (("storage", args.storage), ("study", args.study)) if v)
        print(f"use it: kit train {comp.name} --model {args.model} --params best{extra}")
    return 0


def add_run(sub) -> None:
    from kit.spec import SIZES

    sp = sub.add_parser(
        "run", help="everything: data -> adversarial check -> models -> blend -> checked submission -> score",
        description="Take the competition's data (the twin is written first when the data folder has no "
                    "train file) through adversarial validation, the competition's default models on its "
                    "validation scheme, a blend, and a submission in the sample's order checked like "
                    "`kit submit`; scores it offline when the hidden answers are there. Ends with a table of "
                    "validation scores and times. Same seed, same submission.")
    opt.competition(sp)
    sp.add_argument("--size", choices=SIZES, default="small", help="twin size when one is written (default small)")
    opt.seed(sp)
    sp.add_argument("--model", action="append", metavar="NAME",
                    help="train these models instead of the competition's defaults (repeatable)")
    opt.threads(sp)
    opt.param(sp, "override one model's hyperparameter, e.g. lgbm.num_leaves=63 (repeatable)",
              metavar="MODEL.KEY=VALUE")
    opt.no_adversarial(sp, "skip the adversarial check")
    opt.drop(sp)
    opt.params_choice(sp, "best: each model with a `kit tune` study starts from its best trial")
    opt.study(sp, storage_help="where the studies are for --params best (default: the journal files in RUNS/tune)",
              study_metavar="PREFIX", study_help="study names are PREFIX-MODEL (default COMPETITION-MODEL)")
    opt.output(sp, "submission path (default RUNS/submission.csv)")
    opt.validation(sp)
    opt.data_dir(sp)
    opt.runs_dir(sp)
    sp.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from kit.runs import run_all

    comp, folder = opt.competition_and_folder(args)
    params = opt.model_params(args.param)
    if args.params == "best":
        from kit.features import default_models
        from kit.tune import best_params_for

        models = args.model or list(default_models(comp))
        params = best_params_for(comp, models, opt.runs_folder(folder, args.runs_dir), storage=args.storage,
                                 study=args.study, params=params, log=print)
    summary = run_all(comp, folder, size=args.size, seed=args.seed, models=args.model or None,
                      runs_dir=args.runs_dir, submission=args.output, threads=args.threads,
                      adversarial=not args.no_adversarial, params=params, horizon=args.horizon, gap=args.gap,
                      n_folds=args.folds, drop=args.drop)
    print()
    print(summary.table())
    return 0
