"""Which client failures may pass (retried with backoff) and the few words kit says about them."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from kit.kaggle_api.credentials import redact


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


def http_status(err: BaseException) -> int | None:
    """The HTTP status of a failed request, or None (no answer at all)."""
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def server_message(err: BaseException) -> str:
    """The server's own words about an HTTP error, when it sent any (JSON `message`)."""
    response = getattr(err, "response", None)
    try:
        body = response.json() if response is not None else None
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except Exception:  # noqa: BLE001 - a body that is not JSON carries no message
        pass
    return ""


def is_disk_full(err: BaseException) -> bool:
    """Is it a full disk (or quota)?"""
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))


def retriable(err: BaseException) -> bool:
    """May the failure pass on its own (network down, 429, 5xx)?"""
    import requests

    if isinstance(err, requests.exceptions.HTTPError):
        status = http_status(err)
        return status is not None and (status == 429 or status >= 500)
    return isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))


def describe(err: BaseException, secrets: tuple[str, ...]) -> str:
    """A few words on a failure that may pass, for the retry notice."""
    status = http_status(err)
    if status is not None:
        return f"Kaggle answered HTTP {status}"
    return f"cannot reach Kaggle ({short_message(err, secrets)})"


def short_message(err: BaseException, secrets: tuple[str, ...]) -> str:
    """The first line of the error, secrets masked, at most 300 characters."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return redact(text, secrets)[:300]

