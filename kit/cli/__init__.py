"""The `kit` command: parses arguments, calls the library, prints. Nothing else lives here.

Each command is a pair in one of the modules here, `add_NAME(sub)` declaring its parser and
`cmd_NAME(args)` running it: `data` (list, generate, baseline, score, download, submit),
`validation` (study, adversarial), `training` (train, blend, tune, run), `explain` (explain). Options that
several commands share are declared once, in `options`. Parsing imports nothing heavy, so
`kit --help` is instant; the library loads inside the `cmd_` functions.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import signal
import sys
import threading

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
  kit explain rossmann lgbm             what a model learned: importance, dependence, one row ...; HTML

Data lives in ./data/<competition> unless --data-dir or $KIT_DATA says otherwise.
A full disk, a read-only folder or a denied permission is told in one line; KIT_DEBUG=1 shows
its traceback too.
"""


def build_parser() -> argparse.ArgumentParser:
    """The `kit` parser: one subcommand per step, each with its `func`."""
    from kit.cli import data, explain, training, validation

    p = argparse.ArgumentParser(
        prog="kit", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Kaggle competition starter kit: synthetic twins, trustworthy validation, "
                    "models, blending and submission.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in (data.add_list, data.add_generate, data.add_baseline, data.add_score, validation.add_study,
                data.add_download, data.add_submit, validation.add_adversarial, training.add_train,
                training.add_blend, training.add_tune, training.add_run, explain.add_explain):
        add(sub)
    return p


#: OSErrors a user fixes (errno -> what went wrong, what to do), told in one line by `main`
_OS_ERRORS = {
    errno.ENOSPC: ("the disk is full", "free some space there, or write elsewhere with --runs-dir DIR "
                                       "(runs), -o FILE (submissions) or KIT_CACHE=DIR (caches)"),
    errno.EROFS: ("the file system is read-only", "choose a writable folder with --runs-dir DIR, -o FILE "
                                                  "or KIT_CACHE=DIR"),
    errno.EACCES: ("permission denied", "make it writable (or readable) for you, or choose a writable folder "
                                        "with --runs-dir DIR, -o FILE or KIT_CACHE=DIR"),
    errno.EPERM: ("operation not permitted", "make it writable for you, or choose a writable folder with "
                                             "--runs-dir DIR, -o FILE or KIT_CACHE=DIR"),
}


def os_error_message(err: BaseException) -> str | None:
    """One line for an OSError a user can fix (disk full, read-only, permission), naming the path;
    None for any other error (a bug, whose traceback stays).

    polars reports the same faults as an OSError without errno, or as a ComputeError, whose text
    ends "(os error 28)": the number is read from there, and the path is not known.
    """
    code = err.errno if isinstance(err, OSError) else None
    if code is None and (isinstance(err, OSError) or type(err).__module__.startswith("polars")):
        found = re.search(r"\(os error (\d+)\)", str(err))
        code = int(found.group(1)) if found else None
    if code not in _OS_ERRORS:
        return None
    what, fix = _OS_ERRORS[code]
    filename = getattr(err, "filename", None)
    if filename is None:  # no path attached: the OS's own words are all there is
        words = getattr(err, "strerror", None) or str(err).splitlines()[0]
        return f"{what} ({words}, errno {code}); {fix}"
    also = f" -> {err.filename2}" if err.filename2 is not None else ""
    return f"{what} ({filename}{also}, errno {code}); {fix}"


class _Interrupt:
    """The SIGTERM handler: raises KeyboardInterrupt and remembers it did, since one raised inside
    native code (polars, LightGBM) can come out as another exception."""

    def __init__(self) -> None:
        self.hit = False

    def __call__(self, signum, frame) -> None:
        self.hit = True
        raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a `kill`, a scheduler's stop, a container shutdown) ends the command as Ctrl-C does:
    KeyboardInterrupt in the main thread, so atomic writers drop their temp files and `main` says
    `interrupted` and exits 130. Only the main thread may install handlers; elsewhere, nothing.
    Yields the handler, whose `hit` says whether SIGTERM came."""
    handler = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield handler
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def entry() -> None:
    """The `kit` command: `main`, then exit with its code. An interrupted command (130) leaves at
    once, its lines flushed: it has already cleaned up while unwinding, and interpreter shutdown
    after a SIGTERM inside native code (LightGBM's OpenMP threads) sometimes ended the process by
    SIGINT instead of 130 (about one run in five of tests/test_inputs_errors.py's SIGTERM case)."""
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run `kit ARGV`; return the exit code.

    A user error (`KitError`, or an OSError for a full disk, a read-only file system or a denied
    permission) prints one line `kit CMD: error: ...` and returns 2 (the error's own code), with no
    traceback; with the environment variable KIT_DEBUG=1 those OSErrors keep their traceback, for
    debugging. Ctrl-C or SIGTERM prints `kit CMD: interrupted ...` and returns 130. Any other
    exception is a bug and propagates with its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    term = None
    try:
        with _sigterm_as_interrupt() as term:
            return args.func(args)
    except KitError as err:
        print(f"kit {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        # tune says which trial was failed and queued again; elsewhere the plain line
        said = str(err) or "interrupted; nothing half-written was left in place"
        print(f"kit {args.command}: {said}", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - only the OS faults above are told; the rest re-raised
        if term is not None and term.hit and os.environ.get("KIT_DEBUG") != "1":
            # a SIGTERM's KeyboardInterrupt that native code turned into another exception
            print(f"kit {args.command}: interrupted; nothing half-written was left in place", file=sys.stderr)
            return 130
        message = os_error_message(err)
        if message is None or os.environ.get("KIT_DEBUG") == "1":
            raise
        print(f"kit {args.command}: error: {message}", file=sys.stderr)
        return 2
