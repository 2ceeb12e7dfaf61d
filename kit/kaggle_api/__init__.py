"""Kaggle through the official `kaggle` client, with kit's error messages and retries.

This is the only package that imports `kaggle`, and only inside functions: `import kaggle`
authenticates at import time (and older clients exit the process when there are no
credentials), so kit finds the credentials first, the way the client does, and says where
to put them when there are none.

It lives at kit/kaggle_api/ rather than kit/data/ because both ends of the pipeline
use it: `kit.data.download` (the first step) and `submit` (the last one).

What kit adds on top of the client:

- one clear `KitError` per failure, with its fix: no credentials, 401 (bad credentials),
  403 (rules not accepted: the rules page), 404 (unknown competition or file), disk full;
- retries with exponential backoff for a network that is down, 429 and 5xx answers;
- credentials never appear in kit's messages or in what the client prints while kit
  drives it (every secret found is redacted from its output).

Its modules: `credentials` (where the client finds them; redaction of secrets), `errors`
(what is retried), `client` (the `Kaggle` class), `submissions` (`submit`, `wait_for_score`).
"""

from kit.kaggle_api.client import Kaggle, Limits, RemoteFile, Submission
from kit.kaggle_api.credentials import TOKEN_PAGE, Credentials, config_dir, find_credentials, redact, redacted_output
from kit.kaggle_api.errors import Retry
from kit.kaggle_api.submissions import SubmitResult, submit, wait_for_score

__all__ = ["Credentials", "Kaggle", "Limits", "RemoteFile", "Retry", "Submission", "SubmitResult", "TOKEN_PAGE",
           "config_dir", "find_credentials", "redact", "redacted_output", "submit", "wait_for_score"]
