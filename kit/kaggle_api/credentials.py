"""Kaggle credentials, found where the official client looks, and kept out of every text kit shows."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kit.errors import KitError

TOKEN_PAGE = "https://www.kaggle.com/settings/api"


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
def redacted_output(secrets: tuple[str, ...]) -> Iterator[None]:
    """Mask `secrets` in everything printed to stdout and stderr during the block (the client's chatter)."""
    with contextlib.redirect_stdout(_Redacting(sys.stdout, secrets)), \
            contextlib.redirect_stderr(_Redacting(sys.stderr, secrets)):
        yield

