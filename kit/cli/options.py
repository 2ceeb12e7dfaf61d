"""The options several commands share, each declared once, and the parsing of their values.

Declaring an option is cheap and imports nothing from the library, so `kit --help` stays
instant; what a value means (a data folder, hyperparameters) is resolved here at run time.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from kit.errors import KitError

#: the default of --threads where a command uses every core
ALL_CORES = os.cpu_count() or 1


# --------------------------------------------------------------------------- declaring


def competition(sp: argparse.ArgumentParser, help: str = "a name from `kit list`", **kwargs) -> None:
    sp.add_argument("competition", help=help, **kwargs)


def data_dir(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--data-dir", metavar="DIR",
                    help="the competition's data folder (default: $KIT_DATA/<competition> or ./data/<competition>)")


def runs_dir(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--runs-dir", metavar="DIR",
                    help="where run folders and the shared folds live (default: <data-dir>/runs, or ./runs/<data folder name> "
                         "when the data folder cannot be written)")


class AtLeast(argparse.Action):
    """An integer option with a lower bound, checked as it is parsed: a value below it ends the
    command with one line `kit CMD: error: --FLAG must be at least LOW, got VALUE; FIX` and exit 2
    (no usage block: the flag and the fix are all the user needs)."""

    def __init__(self, option_strings, dest, *, low: int, fix: str, **kwargs):
        super().__init__(option_strings, dest, type=int, **kwargs)
        self.low, self.fix = low, fix

    def __call__(self, parser, namespace, values, option_string=None):
        if values < self.low:
            parser.exit(2, f"{parser.prog}: error: {option_string} must be at least {self.low}, got {values}; "
                           f"{self.fix}\n")
        setattr(namespace, self.dest, values)


def seed(sp: argparse.ArgumentParser, help: str = "random seed (default 0)") -> None:
    sp.add_argument("--seed", action=AtLeast, low=0, fix="give 0 or a positive integer (e.g. --seed 0)",
                    default=0, help=help)


def threads(sp: argparse.ArgumentParser, help: str = "threads per model (default: all cores)", *,
            default: int | None = ALL_CORES) -> None:
    sp.add_argument("--threads", action=AtLeast, low=1,
                    fix=f"give a thread count from 1 to this machine's {ALL_CORES} cores (or leave it out)",
                    default=default, help=help)


def output(sp: argparse.ArgumentParser, help: str) -> None:
    sp.add_argument("-o", "--output", metavar="FILE", help=help)


def report_dir(sp: argparse.ArgumentParser, help: str) -> None:
    sp.add_argument("--out", metavar="DIR", help=help)


def no_adversarial(sp: argparse.ArgumentParser, help: str) -> None:
    sp.add_argument("--no-adversarial", action="store_true", help=help)


def drop(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--drop", metavar="COL", nargs="+", action="extend", default=[],
                    help="leave these feature columns out of the models (e.g. what `kit explain` says can go)")


def param(sp: argparse.ArgumentParser, help: str, *, metavar: str = "KEY=VALUE") -> None:
    """--param, repeatable; parsed by `params` (KEY=VALUE) or `model_params` (MODEL.KEY=VALUE)."""
    sp.add_argument("--param", action="append", metavar=metavar, help=help)


def params_choice(sp: argparse.ArgumentParser, help: str) -> None:
    sp.add_argument("--params", choices=["default", "best"], default="default", help=help)


def study(sp: argparse.ArgumentParser, *,
          storage_help: str = "the study's database: postgresql://USER:PASSWORD@HOST/DB for workers on many "
                              "machines (default: a journal file in RUNS/tune/, for one machine)",
          study_metavar: str = "NAME", study_help: str = "study name (default COMPETITION-MODEL)") -> None:
    """--storage and --study: where a `kit tune` study lives and its name."""
    sp.add_argument("--storage", metavar="URL", help=storage_help)
    sp.add_argument("--study", metavar=study_metavar, help=study_help)


def validation(sp: argparse.ArgumentParser, *, folds: bool = True) -> None:
    """--horizon, --gap and (with `folds`) --folds: the validation plan (default: what the test
    file asks)."""
    sp.add_argument("--horizon", type=int, metavar="DAYS",
                    help="days per validation window (default: the test file's own date span)")
    sp.add_argument("--gap", type=int, metavar="DAYS",
                    help="days between each window's training and validation days (default: the days "
                         "between the end of train and the start of the test)")
    if folds:
        sp.add_argument("--folds", type=int, metavar="N",
                        help="folds, or walk-forward windows where the test is the future (default: the "
                             "competition's; 3 windows where the data allows)")


# --------------------------------------------------------------------------- resolving


def plan(args, comp, folder: Path):
    """The validation plan for the data in `folder` with the --horizon/--gap/--folds given."""
    from kit.runs import plan_validation

    return plan_validation(comp, folder, horizon=getattr(args, "horizon", None), gap=getattr(args, "gap", None),
                           n_folds=getattr(args, "folds", None))



def data_folder(spec, given: str | None) -> Path:
    """The competition's data folder: --data-dir, else $KIT_DATA/<name>, else ./data/<name>."""
    from kit.data import data_dir as resolve

    return resolve(spec, given)


def competition_and_folder(args: argparse.Namespace):
    """The competition named on the command line and its data folder."""
    from kit.spec import get

    comp = get(args.competition)
    return comp, data_folder(comp.spec, args.data_dir)


def runs_folder(folder: Path, given: str | None) -> Path:
    """--runs-dir, else <data folder>/runs, else (a data folder that cannot be written, as Kaggle
    Notebooks mount their input) ./runs/<data folder's name>, said in one line on stderr."""
    from kit.data.cache import runs_dir

    return runs_dir(folder, given)


def params(pairs: list[str] | None) -> dict:
    """KEY=VALUE pairs as hyperparameters; values parsed as JSON where they can be (3, 0.1, true, null)."""
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


def model_params(pairs: list[str] | None) -> dict[str, dict]:
    """MODEL.KEY=VALUE pairs as {model: {key: value}}."""
    out: dict[str, dict] = {}
    for pair in pairs or ():
        model, dot, rest = pair.partition(".")
        if not dot or "=" not in rest:
            raise KitError(f"--param takes MODEL.KEY=VALUE, got {pair!r} (e.g. --param lgbm.num_leaves=63)")
        out.setdefault(model, {}).update(params([rest]))
    return out
