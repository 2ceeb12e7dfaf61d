"""The `kit` command: parses arguments, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

from kit.errors import KitError

EPILOG = """\
steps (each one command; `kit COMMAND --help` for its options):
  kit list                              the competitions and their data
  kit download rossmann                 fetch the real data from Kaggle (official client), verify, cache
  kit generate rossmann --size small    write the synthetic twin (files as Kaggle ships them)
  kit baseline rossmann                 the best constant submission, in the sample's order
  kit score rossmann submission.csv     check a submission and score it on the twin's hidden answers
  kit submit rossmann sub.csv -m "msg"  check a submission against the real test ids, then upload it
  kit adversarial rossmann              how train and test differ, and train rows that look like the test
  kit study rossmann                    which validation scheme ranks models like the test does
  kit train rossmann --model lgbm       one model on the shared folds: out-of-fold and test predictions
  kit tune rossmann --model lgbm        Optuna study of a model's hyperparameters (resumable; PostgreSQL)
  kit blend rossmann lgbm rf            weights fitted out of fold; a checked submission
  kit run rossmann                      all of it: twin or data -> models -> blend -> submission -> score

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


def cmd_download(args) -> int:
    from kit.data.download import download
    from kit.spec import get

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    r = download(comp.spec, folder, files=args.file or None, force=args.force, cache=not args.no_cache)
    if r.up_to_date:
        print(f"{folder} is up to date: {len(r.files)} files match the manifest (sizes and sha256); "
              "nothing downloaded (--force to fetch again)")
    else:
        print(f"downloaded {', '.join(r.fetched)} ({r.bytes / 1e6:,.1f} MB) from {comp.spec.url} "
              f"into {folder} ({r.reason}):")
        for name in r.files:
            path = folder / name
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
                path.stat().st_size)
            print(f"  {name}{'/' if path.is_dir() else ''}  ({size / 1e6:,.1f} MB)")
    print(f"verified against the {comp.name} spec; Parquet cache ready for {len(r.cached)} tables")
    return 0


def cmd_submit(args) -> int:
    from kit import kaggle_api
    from kit.spec import get

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    r = kaggle_api.submit(comp.spec, args.submission, args.message, folder=folder, wait=args.wait,
                          poll_interval=args.poll_interval, timeout=args.timeout)
    print(f"checked {args.submission}: {r.rows:,} rows, one per test id; submitted to {comp.spec.slug} "
          f"(ref {r.ref}): {args.message!r}")
    if r.scored is None:
        print(f"see its score at {comp.spec.url}/submissions (or rerun with --wait)")
        return 0
    from kit.metrics import METRICS

    better = "higher" if METRICS[comp.spec.metric].greater_is_better else "lower"
    public = "-" if r.scored.public_score is None else f"{r.scored.public_score:.5f}"
    print(f"public score  {public}   ({comp.spec.metric.upper()}, {better} is better)")
    if r.scored.private_score is not None:
        print(f"private score {r.scored.private_score:.5f}")
    return 0


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
        out = Path(args.out) if args.out else Path(args.train).parent / "reports"
    elif args.competition:
        from kit.spec import get

        comp = get(args.competition)
        folder = _data_dir(comp.spec, args.data_dir)
        if args.id or args.target or args.time_col:
            raise KitError("--id, --target and --time-col are for --train/--test files; a competition's "
                           "spec names its own")
        title = comp.name
        report = adv.adversarial_for(comp.spec, folder, **options)
        out = Path(args.out) if args.out else adv.default_out_dir(folder, comp.name)
    else:
        raise KitError("name a competition (`kit adversarial rossmann`) or give --train FILE --test FILE")
    files = adv.write_report(report, out)
    print(f"adversarial validation: {title}")
    print(report.summary(top=args.top))
    print(f"wrote {files.png}, {files.json.name} and {files.test_like.name} "
          "(every train row's adversarial score; test_like marks the validation rows)")
    return 0


def cmd_study(args) -> int:
    from kit.spec import get
    from kit.study import run_study, write_report

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    report = run_study(comp.spec, folder, n_folds=args.folds, seed=args.seed, threads=args.threads,
                       adversarial=not args.no_adversarial)
    out = Path(args.out) if args.out else folder.parent / "reports" / comp.name
    png, js, csv = write_report(report, out)
    print(report.summary())
    print(f"wrote {png}, {js.name} and {csv.name} ({report.seconds:.0f}s)")
    return 0


def _runs_dir(folder: Path, given) -> Path:
    return Path(given) if given else folder / "runs"


def _params(pairs) -> dict:
    """KEY=VALUE pairs as hyperparameters; values parsed as JSON where they can be (3, 0.1, true, null)."""
    import json

    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise KitError(f"--param takes KEY=VALUE, got {pair!r} (e.g. --param num_leaves=63)")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _model_params(pairs) -> dict[str, dict]:
    """MODEL.KEY=VALUE pairs as {model: {key: value}}."""
    out: dict[str, dict] = {}
    for pair in pairs or ():
        model, dot, rest = pair.partition(".")
        if not dot or "=" not in rest:
            raise KitError(f"--param takes MODEL.KEY=VALUE, got {pair!r} (e.g. --param lgbm.num_leaves=63)")
        out.setdefault(model, {}).update(_params([rest]))
    return out


def cmd_train(args) -> int:
    from kit.features import prepare
    from kit.runs import load_folds, train
    from kit.spec import get

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    runs = _runs_dir(folder, args.runs_dir)
    prepared = prepare(comp, folder, seed=args.seed)
    folds = load_folds(comp, prepared, runs, seed=args.seed)
    out = runs / (args.name or args.model)
    print(f"{comp.name}: {prepared.n_rows:,} training rows, {len(prepared.X_test):,} test rows, "
          f"{len(folds)} fold(s) ({folds.scheme}); training {args.model} into {out}")
    params = _params(args.param)
    if args.params == "best":
        from kit.tune import best_params

        params = {**best_params(comp, args.model, runs, storage=args.storage, study=args.study), **params}
        print(f"--params best: the best trial of the study ({len(params)} parameters)")
    r = train(comp, prepared, folds, args.model, out, params=params, seed=args.seed,
              threads=args.threads)
    print(f"{r.name}: out-of-fold {comp.spec.metric.upper()} {r.score:.5f} "
          f"(folds {', '.join(f'{s:.5f}' for s in r.fold_scores)}) in {r.seconds:.1f}s")
    print(f"wrote {out}/config.json, metrics.json, oof.parquet, test.parquet, models/")
    return 0


def cmd_blend(args) -> int:
    from kit.features import prepare
    from kit.runs import blend_runs
    from kit.submission import write_submission
    from kit.spec import get

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    runs = _runs_dir(folder, args.runs_dir)
    paths = [Path(r) if Path(r).exists() else runs / r for r in args.runs]
    prepared = prepare(comp, folder, seed=args.seed)
    out = runs / args.name
    b = blend_runs(comp, prepared, paths, out)
    print(f"{b.name}: out-of-fold {comp.spec.metric.upper()} {b.score:.5f} "
          f"(folds {', '.join(f'{s:.5f}' for s in b.fold_scores)}); weights in {out}/config.json")
    sub = Path(args.output) if args.output else out / "submission.csv"
    write_submission(comp.spec, folder, prepared, b.test, sub, b.thresholds)
    print(f"wrote {sub} (checked like `kit submit`)")
    return 0


def _best_for_run(comp, folder: Path, args, params: dict[str, dict]) -> dict[str, dict]:
    """Each model's best tuned parameters where it has a study, under the explicit --param."""
    from kit.features import default_models
    from kit.tune import best_params

    runs = _runs_dir(folder, args.runs_dir)
    out = {k: dict(v) for k, v in params.items()}
    for model in args.model or list(default_models(comp)):
        try:
            best = best_params(comp, model, runs, storage=args.storage,
                               study=f"{args.study}-{model}" if args.study else None)
        except KitError as err:
            print(f"--params best: {model} keeps its defaults ({err})")
            continue
        out[model] = {**best, **out.get(model, {})}
        print(f"--params best: {model} uses its study's best trial")
    return out


def cmd_tune(args) -> int:
    from kit.spec import get
    from kit.tune import tune

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    trials = args.trials if args.trials is not None else (None if args.timeout else 20)
    result = tune(comp, folder, args.model, trials=trials, timeout=args.timeout, storage=args.storage,
                  study=args.study, workers=args.workers, seed=args.seed, threads=args.threads,
                  heartbeat=args.heartbeat, runs_dir=args.runs_dir, params=_params(args.param))
    print()
    print(result.table(comp.spec.metric))
    if result.best_value is not None:
        extra = "".join(f" --{k} {v}" for k, v in (("storage", args.storage), ("study", args.study)) if v)
        print(f"use it: kit train {comp.name} --model {args.model} --params best{extra}")
    return 0


def cmd_run(args) -> int:
    from kit.runs import run_all
    from kit.spec import get

    comp = get(args.competition)
    folder = _data_dir(comp.spec, args.data_dir)
    params = _model_params(args.param)
    if args.params == "best":
        params = _best_for_run(comp, folder, args, params)
    summary = run_all(comp, folder, size=args.size, seed=args.seed, models=args.model or None,
                      runs_dir=args.runs_dir, submission=args.output, threads=args.threads,
                      adversarial=not args.no_adversarial, params=params)
    print()
    print(summary.table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    from kit.spec import SIZES

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

    sp = sub.add_parser(
        "study", help="which validation scheme ranks models like the test? (validation-strategy study)",
        description="Train six deliberately different models (capacities, algorithms, feature sets), score "
                    "each under random K-fold, time holdout, walk-forward and the most test-like rows from "
                    "adversarial validation, and on the test (the twin's hidden answers; on real data a "
                    "pseudo-test held out of train). Reports each scheme's Spearman and Kendall correlation "
                    "with the test scores and its mean gap, and writes study.png/json/csv.")
    sp.add_argument("competition", help="a name from `kit list` (tabular competitions)")
    data_arg(sp)
    sp.add_argument("--folds", type=int, default=3, help="folds for random K-fold and walk-forward (default 3)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads per model (default: all cores)")
    sp.add_argument("--no-adversarial", action="store_true", help="skip the adversarial-rows scheme")
    sp.add_argument("--out", metavar="DIR", help="where to write the report (default <data-dir>/../reports/<competition>)")
    sp.set_defaults(func=cmd_study)

    sp = sub.add_parser(
        "download", help="download a competition's data from Kaggle, verify it, cache its tables",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Download the competition's files with the official kaggle client, extract them\n"
                    "(zip, 7z, tar.7z; entries that would land outside the folder are refused), check\n"
                    "them against the spec (files present, CSV headers) and cache the tables as Parquet.\n"
                    "A manifest of sizes and hashes makes a rerun do nothing once the data is complete;\n"
                    "an interrupted run leaves no partial file behind.",
        epilog="credentials (as the kaggle client finds them, in this order):\n"
               "  $KAGGLE_API_TOKEN or ~/.kaggle/access_token   a token from https://www.kaggle.com/settings/api\n"
               "  $KAGGLE_USERNAME + $KAGGLE_KEY, or kaggle.json in $KAGGLE_CONFIG_DIR or ~/.kaggle\n"
               "Accept the competition's rules on its Kaggle page first (HTTP 403 otherwise).")
    sp.add_argument("competition", help="a name from `kit list`")
    data_arg(sp)
    sp.add_argument("--file", metavar="NAME", action="append", default=[],
                    help="only this file (e.g. train.csv); repeat for several (default: everything)")
    sp.add_argument("--force", action="store_true",
                    help="download again even if the manifest says the data is complete; replaces a twin")
    sp.add_argument("--no-cache", action="store_true", help="skip building the Parquet cache")
    sp.set_defaults(func=cmd_download)

    sp = sub.add_parser(
        "submit", help="check a submission against the real test ids, then upload it to Kaggle",
        description="Check the file first (header, one row per test id, finite numbers, no negatives where "
                    "the metric forbids them, known tags) and refuse an invalid one without sending "
                    "anything; then upload it with the official kaggle client. With --wait, poll the "
                    "submissions list until Kaggle scores it and print the public score.")
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("submission", help="the submission CSV")
    sp.add_argument("-m", "--message", required=True, help="the description Kaggle shows for this submission")
    sp.add_argument("--wait", action="store_true", help="wait for the score and print it")
    sp.add_argument("--poll-interval", type=float, default=10.0, metavar="SECONDS",
                    help="with --wait: seconds between two looks at the submissions list (default 10)")
    sp.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS",
                    help="with --wait: give up waiting after this long (default 1800)")
    data_arg(sp)
    sp.set_defaults(func=cmd_submit)

    sp = sub.add_parser(
        "adversarial", help="how different are train and test? (adversarial validation)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a LightGBM classifier to tell train rows from test rows (stratified K-fold) "
                    "and report its AUC (0.5: alike, a random split is fair; above: the test differs), the "
                    "features that separate them (gain share and a KS / total-variation drift), a loop "
                    "that drops the top feature and refits until the AUC nears 0.5, and the train rows "
                    "that look most like the test. Writes adversarial.png, adversarial.json and "
                    "adversarial_test_like.parquet.",
        epilog="examples:\n  kit adversarial rossmann\n"
               "  kit adversarial --train a.csv --test b.csv --id id --target y --drop noisy_col\n\n"
               "The time column of a forecasting competition (and columns computed from its date, such "
               "as a day of week) is left out: the test is the future, so the date alone separates them.")
    sp.add_argument("competition", nargs="?", help="a name from `kit list` (or use --train/--test)")
    data_arg(sp)
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
    sp.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    sp.add_argument("--max-rows", type=int, default=200_000,
                    help="rows the classifier sees per side, a seeded sample (default 200000)")
    sp.add_argument("--threshold", type=float, default=0.55,
                    help="AUC at or below which train and test count as alike; the drop loop stops there "
                         "(default 0.55)")
    sp.add_argument("--max-steps", type=int, default=10, help="most refits of the drop loop (default 10)")
    sp.add_argument("--top", type=int, default=10, help="features shown in the table (default 10)")
    sp.add_argument("--threads", type=int, help="LightGBM threads (default: half the cores)")
    sp.add_argument("--seed", type=int, default=0, help="seeds the sample, the folds and LightGBM (default 0)")
    sp.add_argument("--out", metavar="DIR", help="where to write the report (default: <data-dir>/../reports/"
                    "<competition>, or reports/ beside the --train file)")
    sp.set_defaults(func=cmd_adversarial)

    def runs_arg(sp):
        sp.add_argument("--runs-dir", metavar="DIR",
                        help="where run folders and the shared folds live (default: <data-dir>/runs)")

    threads_default = os.cpu_count() or 1

    def study_args(sp):
        sp.add_argument("--storage", metavar="URL",
                        help="the study's database: postgresql://USER:PASSWORD@HOST/DB for workers on many "
                             "machines (default: a journal file in RUNS/tune/, for one machine)")
        sp.add_argument("--study", metavar="NAME", help="study name (default COMPETITION-MODEL)")

    sp = sub.add_parser(
        "train", help="train one model on the shared folds; write its run folder",
        description="Build the competition's features, fit MODEL on every fold of the competition's "
                    "validation scheme (folds are computed once and shared, so any runs can be blended), "
                    "and write RUNS/NAME: config.json (resolved hyperparameters), metrics.json (metric per "
                    "fold), oof.parquet and test.parquet (predictions keyed by row and by id), models/. "
                    "With a time holdout the test predictions come from a refit on every row.")
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("--model", required=True, help="rf, lgbm, nn or cnn (see kit.models)")
    sp.add_argument("--param", action="append", metavar="KEY=VALUE",
                    help="override a hyperparameter of the competition's defaults (repeatable)")
    sp.add_argument("--name", help="run folder name (default: the model name)")
    sp.add_argument("--params", choices=["default", "best"], default="default",
                    help="best: start from the best trial of the model's `kit tune` study (--param still wins)")
    study_args(sp)
    sp.add_argument("--seed", type=int, default=0, help="random seed for folds and models (default 0)")
    sp.add_argument("--threads", type=int, default=threads_default, help="threads per model (default: all cores)")
    data_arg(sp)
    runs_arg(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser(
        "blend", help="blend runs with weights fitted on their out-of-fold predictions",
        description="Greedy ensemble selection (weights on the simplex) on the runs' out-of-fold predictions, "
                    "scored by the competition's metric (rank averages for Gini); writes RUNS/NAME like a run "
                    "and a checked submission.")
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("runs", nargs="+", metavar="RUN", help="run folders (a path, or a name under the runs dir)")
    sp.add_argument("--name", default="blend", help="the blend's folder name (default blend)")
    sp.add_argument("-o", "--output", metavar="FILE", help="submission path (default RUNS/NAME/submission.csv)")
    sp.add_argument("--seed", type=int, default=0, help="the seed the runs were trained with (default 0)")
    data_arg(sp)
    runs_arg(sp)
    sp.set_defaults(func=cmd_blend)

    sp = sub.add_parser(
        "tune", help="tune a model's hyperparameters with Optuna (resumable; many workers on PostgreSQL)",
        description=textwrap.fill(
            "Search MODEL's hyperparameters (kit.tune.SPACES, on top of the competition's defaults) for the "
            "best out-of-fold metric on the shared folds, with a seeded TPE sampler and a median pruner "
            "(LightGBM reports every 10 rounds, the networks every epoch). The study lives in "
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
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("--model", required=True, help="lgbm, rf, nn or cnn")
    sp.add_argument("--trials", type=int, default=None,
                    help="trials this command finishes, shared by its workers (default 20, or no limit with "
                         "--timeout)")
    sp.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds")
    study_args(sp)
    sp.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    sp.add_argument("--heartbeat", type=int, default=30, metavar="S",
                    help="database storages: seconds between a worker's heartbeats; a trial whose worker is "
                         "silent for twice this is failed and retried (default 30)")
    sp.add_argument("--param", action="append", metavar="KEY=VALUE",
                    help="fix a hyperparameter outside the search (repeatable)")
    sp.add_argument("--seed", type=int, default=0, help="sampler and model seed (default 0)")
    sp.add_argument("--threads", type=int, default=None,
                    help="threads per worker (default: the cores shared among the workers)")
    data_arg(sp)
    runs_arg(sp)
    sp.set_defaults(func=cmd_tune)

    sp = sub.add_parser(
        "run", help="everything: data -> adversarial check -> models -> blend -> checked submission -> score",
        description="Take the competition's data (the twin is written first when the data folder has no "
                    "train file) through adversarial validation, the competition's default models on its "
                    "validation scheme, a blend, and a submission in the sample's order checked like "
                    "`kit submit`; scores it offline when the hidden answers are there. Ends with a table of "
                    "validation scores and times. Same seed, same submission.")
    sp.add_argument("competition", help="a name from `kit list`")
    sp.add_argument("--size", choices=SIZES, default="small", help="twin size when one is written (default small)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--model", action="append", metavar="NAME",
                    help="train these models instead of the competition's defaults (repeatable)")
    sp.add_argument("--threads", type=int, default=threads_default, help="threads per model (default: all cores)")
    sp.add_argument("--param", action="append", metavar="MODEL.KEY=VALUE",
                    help="override one model's hyperparameter, e.g. lgbm.num_leaves=63 (repeatable)")
    sp.add_argument("--no-adversarial", action="store_true", help="skip the adversarial check")
    sp.add_argument("--params", choices=["default", "best"], default="default",
                    help="best: each model with a `kit tune` study starts from its best trial")
    sp.add_argument("--storage", metavar="URL", help="where the studies are for --params best "
                    "(default: the journal files in RUNS/tune)")
    sp.add_argument("--study", metavar="PREFIX", help="study names are PREFIX-MODEL (default COMPETITION-MODEL)")
    sp.add_argument("-o", "--output", metavar="FILE", help="submission path (default RUNS/submission.csv)")
    data_arg(sp)
    runs_arg(sp)
    sp.set_defaults(func=cmd_run)

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
