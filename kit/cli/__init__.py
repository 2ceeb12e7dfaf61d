"""The `kit` command: parses arguments, calls the library, prints. Nothing else lives here.

Each command is a pair in one of the modules here, `add_NAME(sub)` declaring its parser and
`cmd_NAME(args)` running it: `data` (list, generate, baseline, score, download, submit),
`validation` (study, adversarial), `training` (train, blend, tune, run). Options that
several commands share are declared once, in `options`. Parsing imports nothing heavy, so
`kit --help` is instant; the library loads inside the `cmd_` functions.
"""

from __future__ import annotations

import argparse
import sys

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


def build_parser() -> argparse.ArgumentParser:
    """The `kit` parser: one subcommand per step, each with its `func`."""
    from kit.cli import data, training, validation

    p = argparse.ArgumentParser(
        prog="kit", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Kaggle competition starter kit: synthetic twins, trustworthy validation, "
                    "models, blending and submission.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in (data.add_list, data.add_generate, data.add_baseline, data.add_score, validation.add_study,
                data.add_download, data.add_submit, validation.add_adversarial, training.add_train,
                training.add_blend, training.add_tune, training.add_run):
        add(sub)
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
