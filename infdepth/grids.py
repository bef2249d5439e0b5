"""Uniform grids of exponents: the learning-rate grids (``log2 eta``) of the transfer claim and
the user-model transfer check, the (s, q) exponents of the [HW] phase map.

    from infdepth.grids import uniform_grid
    uniform_grid(-1.5, -0.5, 0.25)      # (-1.5, -1.25, -1.0, -0.75, -0.5)
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["uniform_grid"]


def uniform_grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    """``lo, lo + step, ..., hi`` (inclusive; ``round((hi - lo) / step)`` steps), each value
    computed exactly from the short fractions nearest ``lo`` and ``step`` (denominators up to
    64) and rounded once, so that ``0.1`` steps do not accumulate error and grids built in two
    places agree bit for bit (dyadic grids give the plain ``lo + i * step``). ``ValueError``
    unless ``step > 0`` and ``lo <= hi``."""
    if not step > 0 or not lo <= hi:
        raise ValueError(f"a grid needs lo <= hi and step > 0, got lo={lo}, hi={hi}, "
                         f"step={step}")
    n = int(round((hi - lo) / step))
    lo_f, step_f = Fraction(lo).limit_denominator(64), Fraction(step).limit_denominator(64)
    return tuple(float(lo_f + k * step_f) for k in range(n + 1))
