"""Commands around a competition's files: list, generate, download, baseline, score, submit."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kit.cli import options as opt


def add_list(sub) -> None:
    sp = sub.add_parser("list", help="list the competitions and whether their data is here")
    sp.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    from kit.spec import registry

    rows = []
    for comp in registry().values():
        s = comp.spec
        have = opt.data_folder(s, None)
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


def add_generate(sub) -> None:
    from kit.spec import SIZES

    sp = sub.add_parser("generate", help="write a synthetic twin of a competition's data",
                        description="Write the files Kaggle ships (same names, columns, formats and quirks) "
                                    "with realistic structure, plus the hidden answers in solution/solution.csv. "
                                    "Same seed, byte-identical files. A twin replaces an earlier twin in the "
                                    "folder, never a file no twin wrote: a folder holding real data under the "
                                    "twin's file names is refused (use another --data-dir). Staging folders "
                                    "left by a killed run are removed first.")
    opt.competition(sp)
    sp.add_argument("--size", choices=SIZES, default="small",
                    help="tiny: seconds, for tests; small (default): under a minute; full: the real row counts")
    opt.seed(sp)
    opt.data_dir(sp)
    sp.add_argument("--force", action="store_true",
                    help="write the twin into a folder that holds other files (not a twin's), which are left "
                         "as they are, or over the twin of another competition; a file of the twin's names "
                         "that no twin wrote is never replaced, even so")
    sp.set_defaults(func=cmd_generate)


def cmd_generate(args) -> int:
    from kit.synth import generate

    comp, folder = opt.competition_and_folder(args)
    t0 = time.perf_counter()
    generate(comp, folder, size=args.size, seed=args.seed, force=args.force)
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


def add_baseline(sub) -> None:
    sp = sub.add_parser("baseline", help="write the best constant submission (the yardstick to beat)",
                        description="Write a constant submission in the sample submission's order: the value "
                                    "a competitor would pick for the metric without a model.")
    opt.competition(sp)
    opt.output(sp, "where to write it (default: <data-dir>/../<competition>-baseline.csv)")
    opt.data_dir(sp)
    sp.set_defaults(func=cmd_baseline)


def cmd_baseline(args) -> int:
    import polars as pl

    from kit import baseline
    from kit.submission import load_test_ids, validate, write_atomic

    comp, folder = opt.competition_and_folder(args)
    sub = baseline.submission(comp.spec, folder)
    validate(comp.spec, sub.select(pl.all().cast(pl.String)), load_test_ids(comp.spec, folder))
    out = Path(args.output or folder.parent / f"{comp.name}-baseline.csv")
    write_atomic(sub, out)
    value = sub[comp.spec.submission.value_column][0]
    print(f"wrote {out}: {sub.height} rows, every {comp.spec.submission.value_column} = {value}")
    return 0


def add_score(sub) -> None:
    sp = sub.add_parser("score", help="check a submission and score it on the twin's hidden answers",
                        description="Check the submission's format against the test ids (header, one row per id, "
                                    "numbers, tags) and print its public and private scores, like the leaderboard.")
    opt.competition(sp)
    sp.add_argument("submission", help="the submission CSV")
    opt.data_dir(sp)
    sp.set_defaults(func=cmd_score)


def cmd_score(args) -> int:
    from kit.metrics import METRICS
    from kit.submission import score

    comp, folder = opt.competition_and_folder(args)
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


def add_download(sub) -> None:
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
    opt.competition(sp)
    opt.data_dir(sp)
    sp.add_argument("--file", metavar="NAME", action="append", default=[],
                    help="only this file (e.g. train.csv); repeat for several (default: everything)")
    sp.add_argument("--force", action="store_true",
                    help="download again even if the manifest says the data is complete; replaces a twin")
    sp.add_argument("--no-cache", action="store_true", help="skip building the Parquet cache")
    sp.set_defaults(func=cmd_download)


def cmd_download(args) -> int:
    from kit.data.download import download

    comp, folder = opt.competition_and_folder(args)
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


def add_submit(sub) -> None:
    sp = sub.add_parser(
        "submit", help="check a submission against the real test ids, then upload it to Kaggle",
        description="Check the file first (header, one row per test id, finite numbers, no negatives where "
                    "the metric forbids them, known tags) and refuse an invalid one without sending "
                    "anything; then upload it with the official kaggle client. With --wait, poll the "
                    "submissions list until Kaggle scores it and print the public score.")
    opt.competition(sp)
    sp.add_argument("submission", help="the submission CSV")
    sp.add_argument("-m", "--message", required=True, help="the description Kaggle shows for this submission")
    sp.add_argument("--wait", action="store_true", help="wait for the score and print it")
    sp.add_argument("--poll-interval", type=float, default=10.0, metavar="SECONDS",
                    help="with --wait: seconds between two looks at the submissions list (default 10)")
    sp.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS",
                    help="with --wait: give up waiting after this long (default 1800)")
    opt.data_dir(sp)
    sp.set_defaults(func=cmd_submit)


def cmd_submit(args) -> int:
    from kit import kaggle_api

    comp, folder = opt.competition_and_folder(args)
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
