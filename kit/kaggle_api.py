"""Kaggle through the official `kaggle` client, with kit's error messages and retries.

This is the only module that imports `kaggle`, and only inside functions: `import kaggle`
authenticates at import time (and older clients exit the process when there are no
credentials), so kit finds the credentials first, the way the client does, and says where
to put them when there are none.

It lives at kit/kaggle_api.py rather than kit/data/ because both ends of the pipeline
use it: `kit.data.download` (the first step) and `submit` (the last one).

What kit adds on top of the client:

- one clear `KitError` per failure, with its fix: no credentials, 401 (bad credentials),
  403 (rules not accepted: the rules page), 404 (unknown competition or file), disk full;
- retries with exponential backoff for a network that is down, 429 and 5xx answers;
- credentials never appear in kit's messages or in what the client prints while kit
  drives it (every secret found is redacted from its output).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from kit.errors import KitError
from kit.spec import CompetitionSpec

T = TypeVar("T")

TOKEN_PAGE = "https://www.kaggle.com/settings/api"


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Credentials:
    """Where the client will find its credentials (the secrets themselves stay out of repr)."""

    #: "access_token" (KAGGLE_API_TOKEN or an access_token file), "api_key" (username + key,
    #: from the environment or kaggle.json) or "oauth" (`kaggle auth login`)
    method: Literal["access_token", "api_key", "oauth"]
    #: where they were found, for messages: "$KAGGLE_API_TOKEN", "/home/me/.kaggle/kaggle.json"...
    source: str
    #: the Kaggle user name, where the credentials say it
    username: str | None = None
    #: every secret string, so that it can be redacted from any text kit shows
    secrets: tuple[str, ...] = field(default=(), repr=False)


def config_dir() -> Path:
    """The folder the client reads kaggle.json from (same rules as the client)."""
    given = os.environ.get("KAGGLE_CONFIG_DIR")
    if given:
        return Path(given)
    home = Path(os.path.expanduser("~")) / ".kaggle"
    if sys.platform.startswith("linux") and not home.exists():
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        return Path(xdg) / "kaggle"
    return home


def _read_token_file(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


def _basic_auth(username: str, key: str) -> str:
    return base64.b64encode(f"{username}:{key}".encode()).decode()


def find_credentials() -> Credentials:
    """Find Kaggle credentials where the official client looks, in its order.

    1. an API token: $KAGGLE_API_TOKEN (the token, or a file holding it), then
       ~/.kaggle/access_token (or access_token.txt);
    2. a legacy API key: username and key from kaggle.json in $KAGGLE_CONFIG_DIR or
       ~/.kaggle, overridden by $KAGGLE_USERNAME / $KAGGLE_KEY;
    3. OAuth credentials from `kaggle auth login` (~/.kaggle/credentials.json).

    Raises a KitError saying where to put them when there are none.
    """
    env_token = os.environ.get("KAGGLE_API_TOKEN")
    if env_token:
        if Path(env_token).exists():
            token = _read_token_file(Path(env_token))
            if token:
                return Credentials("access_token", f"the file named by $KAGGLE_API_TOKEN ({env_token})",
                                   secrets=(token,))
        else:
            return Credentials("access_token", "$KAGGLE_API_TOKEN", secrets=(env_token,))
    for name in ("access_token", "access_token.txt"):
        path = Path(os.path.expanduser(f"~/.kaggle/{name}"))
        token = _read_token_file(path)
        if token:
            return Credentials("access_token", str(path), secrets=(token,))

    config = config_dir() / "kaggle.json"
    values: dict[str, str] = {}
    if config.exists():
        try:
            loaded = json.loads(config.read_text() or "{}")
        except (OSError, ValueError) as err:
            raise KitError(
                f"{config} is not valid JSON ({type(err).__name__}); it should read "
                f'{{"username": "<your user name>", "key": "<your key>"}}: download a new one from '
                f"{TOKEN_PAGE}") from None
        if not isinstance(loaded, dict):
            raise KitError(f'{config} should hold a JSON object {{"username": ..., "key": ...}}')
        values = {k: str(v) for k, v in loaded.items() if k in ("username", "key") and v}
    env_user, env_key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if env_user:
        values["username"] = env_user
    if env_key:
        values["key"] = env_key
    if "username" in values and "key" in values:
        from_env = env_user or env_key
        where = "$KAGGLE_USERNAME and $KAGGLE_KEY" if (env_user and env_key) else (
            f"{config} and the environment" if from_env else str(config))
        user, key = values["username"], values["key"]
        return Credentials("api_key", where, username=user, secrets=(key, _basic_auth(user, key)))
    if values:
        have, lack = ("username", "key") if "username" in values else ("key", "username")
        where = str(config) if config.exists() else f"${'KAGGLE_' + have.upper()}"
        raise KitError(
            f"Kaggle credentials in {where} have a {have} but no {lack}; add the {lack} "
            f"(or $KAGGLE_{lack.upper()}), or use an API token from {TOKEN_PAGE} instead")

    oauth = Path(os.path.expanduser("~/.kaggle/credentials.json"))
    if oauth.exists():
        try:
            data = json.loads(oauth.read_text())
        except (OSError, ValueError):
            data = {}
        if isinstance(data, dict) and data.get("refresh_token"):
            secrets = tuple(str(data[k]) for k in ("refresh_token", "access_token") if data.get(k))
            return Credentials("oauth", str(oauth), username=data.get("username") or None, secrets=secrets)

    raise KitError(
        f"no Kaggle credentials found: create an API token at {TOKEN_PAGE}, then either "
        f"`export KAGGLE_API_TOKEN=<token>` or save it in ~/.kaggle/access_token (chmod 600); "
        f"a legacy kaggle.json (username and key) goes in {config_dir()}/ (or set $KAGGLE_CONFIG_DIR)")


# --------------------------------------------------------------------------- redaction

_PATTERNS = (  # (what, replaced by)
    (re.compile(r"(?i)(authorization:\s*(?:basic|bearer)\s+)\S+"), r"\1***"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r"KGAT_[A-Za-z0-9]+"), "***"),  # the prefix of Kaggle's API tokens
    (re.compile(r"//[^/@\s:]+:[^/@\s]+@"), "//***@"),  # user:key@ in a URL
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with every secret (and anything shaped like a token or an auth header) masked."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _Redacting(io.TextIOBase):
    """A text stream that masks secrets before passing text on (for what the client prints)."""

    def __init__(self, stream, secrets: tuple[str, ...]):
        self._stream, self._secrets = stream, secrets

    def write(self, text: str) -> int:
        self._stream.write(redact(text, self._secrets))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")


@contextlib.contextmanager
def _redacted_output(secrets: tuple[str, ...]) -> Iterator[None]:
    with contextlib.redirect_stdout(_Redacting(sys.stdout, secrets)), \
            contextlib.redirect_stderr(_Redacting(sys.stderr, secrets)):
        yield


# --------------------------------------------------------------------------- errors and retries


@dataclass(frozen=True)
class Retry:
    """How kit retries a request that failed for a reason that may pass (network, 429, 5xx)."""

    #: attempts in all, the first included
    tries: int = 4
    #: seconds before the second attempt; doubled for each further one
    base_delay: float = 1.0
    #: the longest wait between two attempts, in seconds
    max_delay: float = 30.0

    def __post_init__(self):
        if self.tries < 1:
            raise ValueError(f"Retry.tries must be at least 1, got {self.tries}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("Retry delays must be >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.base_delay * 2 ** (attempt - 1), self.max_delay)


def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def _server_message(err: BaseException) -> str:
    """The server's own words about an HTTP error, when it sent any (JSON `message`)."""
    response = getattr(err, "response", None)
    try:
        body = response.json() if response is not None else None
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except Exception:  # noqa: BLE001 - a body that is not JSON carries no message
        pass
    return ""


def _is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))


def _retriable(err: BaseException) -> bool:
    import requests

    if isinstance(err, requests.exceptions.HTTPError):
        status = _status(err)
        return status is not None and (status == 429 or status >= 500)
    return isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))


def _describe(err: BaseException, secrets: tuple[str, ...]) -> str:
    """A few words on a failure that may pass, for the retry notice."""
    status = _status(err)
    if status is not None:
        return f"Kaggle answered HTTP {status}"
    return f"cannot reach Kaggle ({_short(err, secrets)})"


def _short(err: BaseException, secrets: tuple[str, ...]) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return redact(text, secrets)[:300]


# --------------------------------------------------------------------------- results


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
            status = _status(err)
            said = redact(_server_message(err), secrets)
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
            return KitError(f"Kaggle answered HTTP {status} while {what}{said}: {_short(err, secrets)}")
        if isinstance(err, (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError)) or (
                isinstance(err, ValueError) and "does not match expected size" in str(err)):
            return KitError(f"the transfer was cut short while {what}, even after the client's retries "
                            f"({_short(err, secrets)}); nothing incomplete was kept: rerun to start again")
        if isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return KitError(f"cannot reach Kaggle while {what} ({self.retry.tries} tries; "
                            f"{_short(err, secrets)}): check the internet connection and any proxy "
                            f"($https_proxy), then rerun")
        if _is_disk_full(err):
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
                with _redacted_output(self._secrets()):
                    return fn()
            except KitError:
                raise
            except SystemExit as err:  # the client exits on some failures; kit must not
                raise KitError(f"the kaggle client gave up while {what} (exit {err.code})") from None
            except Exception as err:  # noqa: BLE001 - translated below, or re-raised as a bug
                if _retriable(err) and attempt < tries:
                    wait = self.retry.delay(attempt)
                    print(f"kit: {_describe(err, self._secrets())} while {what}; retrying in {wait:.1f}s "
                          f"(try {attempt + 1} of {tries})", file=sys.stderr)
                    time.sleep(wait)
                    continue
                if not idempotent and _retriable(err):
                    raise KitError(
                        f"{_describe(err, self._secrets())} while {what}; the submission may or may not have "
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


# --------------------------------------------------------------------------- submit


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
