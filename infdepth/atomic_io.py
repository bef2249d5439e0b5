"""Atomic, group-readable output files (docs/design.md "Results store").

Every file the toolkit writes -- point tables, the index, ``verdicts.json``, figures, the
report, the claim pages -- goes through :func:`atomic_write`: the content is written to a
temporary file in the target's folder, flushed and fsync'ed, given the permissions a plain
``open`` would give (``0o666`` less the process umask, so a shared results folder stays
readable by the group), then ``os.replace``'d over the target. A reader therefore sees the old
file or the new one, never a truncated one, and a failed write (a full disk) leaves the old
file in place and no temporary file behind.

    atomic_write(path, lambda f: f.write(text), mode="w")
    atomic_write(path, lambda f: fig.savefig(f, format="pdf"))
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["TMP_PREFIX", "atomic_write", "atomic_write_text", "file_mode"]

#: prefix of the temporary files (a crash can leave one; they are never read as results)
TMP_PREFIX = ".tmp-"


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def file_mode() -> int:
    """The permissions of a new file under the current umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(target: Path | str, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``target`` through ``write(f)`` on a temporary file in the same folder, fsync,
    set :func:`file_mode`, ``os.replace``; on any error the temporary file is removed and the
    error re-raised (``target`` is untouched)."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + target.name + ".", suffix=".tmp",
                               dir=target.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(target: Path | str, text: str) -> None:
    """:func:`atomic_write` of a UTF-8 text."""
    atomic_write(target, lambda f: f.write(text), mode="w")
