"""Shared argument checks: one ``ValueError`` naming the value and what is allowed.

Message formats (the tests and the command line match on them)::

    positive_int   "{name} must be a positive integer, got {value!r}"
    nonneg_int     "{name} must be a non-negative integer, got {value!r}"
    int_at_least   "{name} must be an integer >= {minimum}, got {value!r}"
    choice         "unknown {name} {value!r}; allowed: a, b, c"
    finite_number  "{name} must be a finite number, got {value!r}"
    positive_number / nonneg_number
                   "{name} must be positive, got {value!r}"  (finite=True: "a finite positive
                   number"), "{name} must be non-negative, got ..." ("a finite non-negative
                   number")

Integers: by default an ``int`` or a numpy integer (``bool`` is refused); ``integral=True``
also accepts any number equal to an integer (``8.0``). Every check returns the value (integers
as a Python ``int``), so it can be used inline.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable

__all__ = ["positive_int", "nonneg_int", "int_at_least", "choice", "finite_number",
           "positive_number", "nonneg_number"]


def _as_int(value, integral: bool) -> int | None:
    """``int(value)`` if ``value`` is an acceptable integer, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if integral:
        try:
            i = int(value)
        except (TypeError, ValueError, OverflowError):
            return None
        try:
            return i if i == value else None
        except (TypeError, ValueError):
            return None
    return None


def int_at_least(name: str, value, minimum: int, *, integral: bool = False) -> int:
    """An integer ``>= minimum``; message ``"{name} must be an integer >= {minimum}, ..."``."""
    i = _as_int(value, integral)
    if i is None or i < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return i


def positive_int(name: str, value, *, integral: bool = False) -> int:
    """An integer ``>= 1``."""
    i = _as_int(value, integral)
    if i is None or i < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return i


def nonneg_int(name: str, value, *, integral: bool = False) -> int:
    """An integer ``>= 0``."""
    i = _as_int(value, integral)
    if i is None or i < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return i


def choice(name: str, value, allowed: Iterable[str]):
    """``value`` if it is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
    return value


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def finite_number(name: str, value):
    """A finite real number."""
    if not (_real(value) and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def positive_number(name: str, value, *, finite: bool = False):
    """A real number ``> 0`` (and finite with ``finite=True``)."""
    ok = _real(value) and value > 0 and (not finite or math.isfinite(value))
    if not ok:
        what = "a finite positive number" if finite else "positive"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def nonneg_number(name: str, value, *, finite: bool = False):
    """A real number ``>= 0`` (and finite with ``finite=True``)."""
    ok = _real(value) and value >= 0 and (not finite or math.isfinite(value))
    if not ok:
        what = "a finite non-negative number" if finite else "non-negative"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value
