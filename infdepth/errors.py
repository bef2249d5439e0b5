"""The one error type the command line reports as a single line with exit status 2."""

from __future__ import annotations

__all__ = ["InfdepthError"]


class InfdepthError(ValueError):
    """A problem the user can fix (bad input, an unusable results folder, a damaged results
    file): ``infdepth`` prints ``infdepth <command>: error: <message>`` and exits 2, never a
    traceback. Subclasses: the CLI's ``UsageError``, the results store's
    ``ResultsStoreError``."""
