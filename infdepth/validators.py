"""Shared input checks: each raises ``ValueError`` naming the bad value and the allowed range."""

from __future__ import annotations

import math
from typing import Any, Sequence


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int if it is an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
            isinstance(value, float) and value.is_integer()) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nonneg_int(name: str, value: Any) -> int:
    """``value`` as an int if it is an integer >= 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(map(str, allowed))}")
    return value


def finite_nonneg(name: str, value: Any) -> float:
    """``value`` as a float if it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return float(value)
