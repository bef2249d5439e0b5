"""Uniform grids of exponents: the learning-rate grids (``log2 eta``) of the transfer claim and
the user-model transfer check, the (s, q) exponents of the [HW] phase map.

    from infdepth.grids import uniform_grid
    uniform_grid(-1.5, -0.5, 0.25)      # (-1.5, -1.25, -1.0, -0.75, -0.5)
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["uniform_grid", "MAX_GRID_POINTS"]

#: the most points a grid may have (the claims' grids have tens; a slip such as a step of
#: 1e-9 would otherwise build billions of fractions before any work)
MAX_GRID_POINTS = 10_000


def uniform_grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    """``lo, lo + step, ..., hi`` (inclusive; ``round((hi - lo) / step)`` steps), each value
    computed exactly from the short fractions nearest ``lo`` and ``step`` (denominators up to
    64) and rounded once, so that ``0.1`` steps do not accumulate error and grids built in two
    places agree bit for bit (dyadic grids give the plain ``lo + i * step``). ``ValueError``
    unless ``lo``, ``hi``, ``step`` are finite, ``step > 0``, ``lo <= hi`` and the grid has at
    most :data:`MAX_GRID_POINTS` points."""
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(step)):
        raise ValueError(f"a grid needs finite lo, hi and step, got lo={lo}, hi={hi}, "
                         f"step={step}")
    if not step > 0 or not lo <= hi:
        raise ValueError(f"a grid needs lo <= hi and step > 0, got lo={lo}, hi={hi}, "
                         f"step={step}")
    n = int(round((hi - lo) / step))
    if n + 1 > MAX_GRID_POINTS:
        raise ValueError(f"a grid of {n + 1} points (lo={lo}, hi={hi}, step={step}), more "
                         f"than the {MAX_GRID_POINTS} allowed")
    lo_f, step_f = Fraction(lo).limit_denominator(64), Fraction(step).limit_denominator(64)
    return tuple(float(lo_f + k * step_f) for k in range(n + 1))
