"""`kit submit`: check a submission against the test ids, upload it, wait for its score."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from kit.errors import KitError
from kit.kaggle_api.client import Kaggle, Submission
from kit.spec import CompetitionSpec


@dataclass(frozen=True)
class SubmitResult:
    """What `submit` did."""

    #: the submission's ref on Kaggle
    ref: int
    #: rows checked and sent
    rows: int
    #: the scored submission when `wait` was asked for, else None
    scored: Submission | None


def submit(spec: CompetitionSpec, path: str | os.PathLike, message: str, *, folder: str | os.PathLike,
           wait: bool = False, poll_interval: float = 10.0, timeout: float = 1800.0,
           kaggle: Kaggle | None = None) -> SubmitResult:
    """Check a submission locally, upload it, and with `wait` poll until Kaggle scores it.

    The file is checked against the test ids in `folder` first (header, one row per id,
    finite numbers, no negatives where the metric forbids them, known tags); an invalid
    file is refused and nothing is sent.
    """
    from kit.submission import load_test_ids, read_submission, validate
    from kit.synth.core import twin_info

    if not message.strip():
        raise KitError("a submission needs a message (-m 'what changed'); Kaggle shows it in your list")
    folder = Path(folder)
    if twin_info(folder) is not None:
        raise KitError(
            f"{folder} holds a synthetic twin (made by `kit generate`): its test ids are not Kaggle's, "
            f"so this submission would be wasted; fetch the real data with `kit download {spec.name}`, "
            f"predict on it, then submit (or score on the twin with `kit score {spec.name}`)")
    raw = read_submission(path)
    validate(spec, raw, load_test_ids(spec, folder))
    kaggle = kaggle or Kaggle()
    limits = kaggle.limits(spec)
    if limits.allowed_now <= 0:
        raise KitError(f"no submissions left for {spec.slug} today ({limits.today} made); nothing was sent: "
                       f"try again after midnight UTC")
    ref = kaggle.submit(spec, path, message)
    scored = wait_for_score(spec, ref, kaggle=kaggle, poll_interval=poll_interval, timeout=timeout) if wait else None
    return SubmitResult(ref=ref, rows=raw.height, scored=scored)


def wait_for_score(spec: CompetitionSpec, ref: int, *, kaggle: Kaggle, poll_interval: float = 10.0,
                   timeout: float = 1800.0) -> Submission:
    """Poll the submissions list until submission `ref` is scored; return it."""
    if poll_interval <= 0 or timeout <= 0:
        raise KitError(f"poll interval and timeout must be > 0 seconds, got {poll_interval} and {timeout}")
    start = time.monotonic()
    while True:
        mine = [s for s in kaggle.submissions(spec) if s.ref == ref]
        if mine and mine[0].status == "complete":
            return mine[0]
        if mine and mine[0].status == "error":
            raise KitError(f"Kaggle could not score submission {ref}: {mine[0].error or 'no reason given'}; "
                           f"fix the file and submit again")
        if time.monotonic() - start + poll_interval > timeout:
            raise KitError(f"submission {ref} was still being scored after {timeout:.0f}s; its score will "
                           f"appear at {spec.url}/submissions")
        time.sleep(poll_interval)
