"""The official client, signed in lazily, each call translated into a KitError and retried."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from kit.errors import KitError
from kit.kaggle_api.credentials import TOKEN_PAGE, Credentials, find_credentials, redact, redacted_output
from kit.kaggle_api.errors import (Retry, describe, http_status, is_disk_full, retriable, server_message,
                                   short_message)
from kit.spec import CompetitionSpec

T = TypeVar("T")


@dataclass(frozen=True)
class RemoteFile:
    """A file of a competition's data, as Kaggle lists it."""

    name: str
    size: int


@dataclass(frozen=True)
class Submission:
    """One submission, as Kaggle lists it."""

    ref: int
    #: "pending", "complete" or "error"
    status: str
    public_score: float | None
    private_score: float | None
    description: str
    file_name: str
    date: datetime | None
    #: why Kaggle could not score it (status "error")
    error: str = ""


@dataclass(frozen=True)
class Limits:
    """How many submissions the account may still make."""

    today: int
    allowed_now: int
    total: int


def _score(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- the client


class Kaggle:
    """The official client, signed in lazily, each call translated and retried.

    Example (needs credentials and a network)::

        kaggle = Kaggle()
        kaggle.download_all(spec, "data/rossmann/.kit-download")
    """

    def __init__(self, *, retry: Retry | None = None, quiet: bool = True):
        self.retry = retry or Retry()
        #: False lets the client print its progress bars
        self.quiet = quiet
        self._api = None
        self._credentials: Credentials | None = None

    # ---- plumbing

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = find_credentials()
        return self._credentials

    def _secrets(self) -> tuple[str, ...]:
        return self._credentials.secrets if self._credentials else ()

    def api(self):
        """The signed-in `KaggleApi` (imports `kaggle` on first use)."""
        if self._api is not None:
            return self._api
        self.credentials  # noqa: B018 - before the import: a clear error instead of the client's exit
        self._api = self._call(self._sign_in, what="signing in to Kaggle")
        return self._api

    def _sign_in(self):
        sink = io.StringIO()
        try:
            # `import kaggle` signs in and prints its own help when that fails: kit says it instead
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                from kaggle.api.kaggle_api_extended import KaggleApi

                api = KaggleApi()
                api.authenticate()
        except SystemExit:
            raise self._refused(None) from None
        return api

    def _refused(self, status: int | None) -> KitError:
        creds = self.credentials
        what = "API token" if creds.method == "access_token" else (
            "API key" if creds.method == "api_key" else "OAuth login")
        code = f" (HTTP {status})" if status else ""
        fix = ("run `kaggle auth login` again" if creds.method == "oauth" else
               f"create a new API token at {TOKEN_PAGE} and replace the old one in {creds.source}")
        return KitError(f"Kaggle refused the {what} from {creds.source}{code}: it is wrong, expired or "
                        f"revoked; {fix}")

    def _translate(self, err: BaseException, what: str, spec: CompetitionSpec | None,
                   not_found: str | None) -> KitError | None:
        """The KitError for a failed call, or None for a bug (kept with its traceback)."""
        import requests
        import urllib3

        secrets = self._secrets()
        if isinstance(err, requests.exceptions.HTTPError):
            status = http_status(err)
            said = redact(server_message(err), secrets)
            said = f" (Kaggle says: {said})" if said else ""
            if status == 401:
                return self._refused(401)
            if status == 403 and spec is not None:
                return KitError(
                    f"Kaggle refused {what} (HTTP 403){said}: you have not accepted the rules of "
                    f"{spec.slug}; open {spec.rules_url}, click 'I Understand and Accept' while signed "
                    f"in as the account of {self.credentials.source}, then rerun")
            if status == 404:
                if not_found:
                    return KitError(f"{not_found} (HTTP 404 while {what})")
                slug = spec.slug if spec else "?"
                return KitError(f"Kaggle has no competition {slug!r} (HTTP 404 while {what}); check the slug "
                                f"in the competition's spec.py against its URL")
            if status == 429 or (status or 0) >= 500:
                return KitError(f"Kaggle answered HTTP {status} {self.retry.tries} times in a row while "
                                f"{what}{said}; Kaggle is busy or down: try again later")
            return KitError(f"Kaggle answered HTTP {status} while {what}{said}: {short_message(err, secrets)}")
        if isinstance(err, (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError)) or (
                isinstance(err, ValueError) and "does not match expected size" in str(err)):
            return KitError(f"the transfer was cut short while {what}, even after the client's retries "
                            f"({short_message(err, secrets)}); nothing incomplete was kept: rerun to start again")
        if isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return KitError(f"cannot reach Kaggle while {what} ({self.retry.tries} tries; "
                            f"{short_message(err, secrets)}): check the internet connection and any proxy "
                            f"($https_proxy), then rerun")
        if is_disk_full(err):
            where = getattr(err, "filename", None) or "the data folder"
            return KitError(f"the disk is full while {what} (writing {where}): free some space or use "
                            f"--data-dir on a bigger disk, then rerun; nothing incomplete was kept")
        return None

    def _call(self, fn: Callable[[], T], *, what: str, spec: CompetitionSpec | None = None,
              not_found: str | None = None, idempotent: bool = True) -> T:
        """Run `fn` (a call into the client): retry what may pass, translate the rest."""
        tries = self.retry.tries if idempotent else 1
        for attempt in range(1, tries + 1):
            try:
                with redacted_output(self._secrets()):
                    return fn()
            except KitError:
                raise
            except SystemExit as err:  # the client exits on some failures; kit must not
                raise KitError(f"the kaggle client gave up while {what} (exit {err.code})") from None
            except Exception as err:  # noqa: BLE001 - translated below, or re-raised as a bug
                if retriable(err) and attempt < tries:
                    wait = self.retry.delay(attempt)
                    print(f"kit: {describe(err, self._secrets())} while {what}; retrying in {wait:.1f}s "
                          f"(try {attempt + 1} of {tries})", file=sys.stderr)
                    time.sleep(wait)
                    continue
                if not idempotent and retriable(err):
                    raise KitError(
                        f"{describe(err, self._secrets())} while {what}; the submission may or may not have "
                        f"been recorded: check {spec.url if spec else 'the competition'}/submissions "
                        f"before submitting again") from None
                translated = self._translate(err, what, spec, not_found)
                if translated is None:
                    raise
                raise translated from None
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- data

    def list_files(self, spec: CompetitionSpec, *, max_pages: int = 50) -> tuple[RemoteFile, ...]:
        """The competition's data files, as Kaggle lists them."""
        api = self.api()
        found: list[RemoteFile] = []
        token = ""
        for _ in range(max_pages):
            page = self._call(lambda: api.competition_list_files(spec.slug, token, 200),
                              what=f"listing the files of {spec.slug}", spec=spec)
            found += [RemoteFile(f.name, int(f.total_bytes or 0)) for f in page.files]
            token = page.next_page_token
            if not token:
                break
        return tuple(found)

    def download_all(self, spec: CompetitionSpec, path: str | os.PathLike) -> None:
        """Download the competition's bundle (`<slug>.zip`) into `path`."""
        api = self.api()
        self._call(lambda: api.competition_download_files(spec.slug, path=str(path), force=True,
                                                          quiet=self.quiet),
                   what=f"downloading {spec.slug}", spec=spec)

    def download_file(self, spec: CompetitionSpec, name: str, path: str | os.PathLike) -> None:
        """Download one file of the competition into `path` (large files arrive as `<name>.zip`)."""
        api = self.api()
        self._call(lambda: api.competition_download_file(spec.slug, name, path=str(path), force=True,
                                                         quiet=self.quiet),
                   what=f"downloading {name} of {spec.slug}", spec=spec,
                   not_found=f"Kaggle has no file {name!r} in {spec.slug}")

    # ---- submissions

    def limits(self, spec: CompetitionSpec) -> Limits:
        api = self.api()
        got = self._call(lambda: api.competition_get_submission_limits(spec.slug),
                         what=f"reading the submission limits of {spec.slug}", spec=spec)
        return Limits(today=int(got.num_today or 0), allowed_now=int(got.num_allowed_now or 0),
                      total=int(got.num_total or 0))

    def submit(self, spec: CompetitionSpec, path: str | os.PathLike, message: str) -> int:
        """Upload `path` as a submission; return its ref. Not retried: a submission counts."""
        api = self.api()
        got = self._call(lambda: api.competition_submit(str(path), message, spec.slug, quiet=True),
                         what=f"submitting {Path(path).name} to {spec.slug}", spec=spec, idempotent=False)
        if got.message == api.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE:
            raise KitError(f"the upload of {path} to Kaggle failed, so nothing was submitted; rerun "
                           f"`kit submit` (check the network first)")
        return int(got.ref or 0)

    def submissions(self, spec: CompetitionSpec) -> tuple[Submission, ...]:
        """The account's submissions to the competition, newest first."""
        api = self.api()
        got = self._call(lambda: api.competition_submissions(spec.slug),
                         what=f"listing the submissions to {spec.slug}", spec=spec) or []
        return tuple(
            Submission(ref=int(s.ref or 0), status=s.status.name.lower() if s.status else "pending",
                       public_score=_score(s.public_score), private_score=_score(s.private_score),
                       description=s.description or "", file_name=s.file_name or "", date=s.date,
                       error=redact(s.error_description or "", self._secrets()))
            for s in got if s is not None)

