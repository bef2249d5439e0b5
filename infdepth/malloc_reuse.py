"""Freed memory kept for reuse while a point is computed (docs/design.md, "Sweeps").

glibc's ``malloc`` maps every block above its *mmap threshold* afresh and unmaps it when it is
freed, and hands the top of its heap back to the system once more than the *trim threshold* of
it is free. The mmap threshold adapts to freed blocks only up to 32 MiB, so a solver whose
per-step temporaries are larger (the NFD particle solver's, hundreds of MiB) has the kernel
map, zero and fault in new pages for them at every step. Measured (one NFD sweep point of the
standard suite, one thread, two alternating pairs): 27.9 / 29.7 s with 3.7 million page faults
and 6 s of system time, 23.2 / 24.0 s with 0.8 / 1.0 million and 1.2 / 1.4 s.

:func:`reuse_freed_memory` sets both thresholds to :data:`THRESHOLD_BYTES` for the block it
guards (blocks up to that size come from the heap, and freed ones stay in the process for the
next step) and on leaving it, when more than :data:`TRIM_ABOVE_BYTES` of the heap is free,
calls ``malloc_trim(0)``, which hands every wholly free page back, so a process holds no more
between points than that. (Trimming after every point instead cost the smoke suite's 96 small
``hw_phase``, ``init_kernel_depth`` and ``twolayer_collapse`` points 5.35 / 4.53 s against
4.31 / 4.23 s without: their next point faulted the pages in again.) Allocation never changes a
number: the same point gives the same bits either way. Off glibc (macOS, Windows, musl) it
does nothing. The thresholds stay set afterwards: glibc offers no way back to its adaptive
default (documented in ``mallopt(3)``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
from typing import Iterator

__all__ = ["THRESHOLD_BYTES", "TRIM_ABOVE_BYTES", "available", "free_heap_bytes",
           "reuse_freed_memory"]

#: mmap and trim threshold while a point is computed (bytes)
THRESHOLD_BYTES = 1 << 30
#: free heap (bytes) above which leaving the block hands free pages back
TRIM_ABOVE_BYTES = 256 << 20

# mallopt(3) parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_libc: ctypes.CDLL | None = None
_set = False


class _Mallinfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (``malloc.h``, glibc 2.33 and later)."""

    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def _glibc() -> ctypes.CDLL | None:
    """glibc's C library, or ``None`` where the process does not run on glibc."""
    global _libc
    if _libc is None and platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        name = ctypes.util.find_library("c") or "libc.so.6"
        try:
            lib = ctypes.CDLL(name)
            lib.mallopt, lib.malloc_trim          # noqa: B018 -- both must exist
        except (OSError, AttributeError):
            return None
        lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.malloc_trim.argtypes = [ctypes.c_size_t]
        if hasattr(lib, "mallinfo2"):
            lib.mallinfo2.restype = _Mallinfo2
        _libc = lib
    return _libc


def free_heap_bytes() -> int | None:
    """Bytes free in glibc's heap (``mallinfo2().fordblks``), or ``None`` where unknown."""
    lib = _glibc()
    if lib is None or not hasattr(lib, "mallinfo2"):
        return None
    return int(lib.mallinfo2().fordblks)


def available() -> bool:
    """Whether this process's allocator is glibc's (the only one this module tunes)."""
    return _glibc() is not None


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Within the block, freed blocks up to :data:`THRESHOLD_BYTES` are kept for reuse; on
    leaving it (also after an exception) free pages are handed back when more than
    :data:`TRIM_ABOVE_BYTES` are free (module docstring)."""
    global _set
    lib = _glibc()
    if lib is not None and not _set:
        ok = lib.mallopt(_M_MMAP_THRESHOLD, THRESHOLD_BYTES)
        ok &= lib.mallopt(_M_TRIM_THRESHOLD, THRESHOLD_BYTES)
        _set = bool(ok)
    try:
        yield
    finally:
        if lib is not None:
            free = free_heap_bytes()
            if free is None or free > TRIM_ABOVE_BYTES:
                lib.malloc_trim(0)
