"""The one exception type for user errors.

A `KitError` is something the user can fix (a missing file, a malformed submission, an
unknown competition). The CLI prints its message on one line and exits non-zero, with no
traceback. Anything else is a bug and keeps its traceback.
"""


class KitError(Exception):
    """A user error: state the rule, then the values, then the fix."""

    exit_code = 2
