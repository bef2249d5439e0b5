"""The errors the command line reports as a single line with exit status 2."""

from __future__ import annotations

__all__ = ["InfdepthError", "UsageError"]


class InfdepthError(ValueError):
    """A problem the user can fix (bad input, an unusable results folder, a damaged results
    file): ``infdepth`` prints ``infdepth <command>: error: <message>`` and exits 2, never a
    traceback. Subclasses: :class:`UsageError`, the results store's ``ResultsStoreError``."""


class UsageError(InfdepthError):
    """Bad input: a bad command-line value, or a sweep refused before any work (too large for
    the memory or the step limit, :mod:`infdepth.validation.memory_estimate`)."""
