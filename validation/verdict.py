"""Verdicts (docs/theory.md s9): a fitted slope's CI against the band of slopes a claim accepts.

``confirmed`` when the CI lies inside the band, ``refuted`` when it is disjoint from it,
``inconclusive`` otherwise (and whenever the fit was refused or its CI is not finite).
"""

from __future__ import annotations

import math

from .rate_fit import RateFit

__all__ = ["VERDICTS", "verdict", "band_verdict"]

#: The three verdict outcomes of docs/theory.md s9.
VERDICTS: tuple[str, ...] = ("confirmed", "refuted", "inconclusive")


def verdict(claimed_slope: float | None, fit: RateFit, tolerance: float = 0.15) -> str:
    """Verdict of docs/theory.md s9 for a claimed slope against a fitted :class:`RateFit`.

    With the band ``B = [claimed - tolerance, claimed + tolerance]`` and the fit's CI
    ``[ci_low, ci_high]``: ``"confirmed"`` when the CI lies inside ``B``; ``"refuted"`` when the CI
    is disjoint from ``B``; ``"inconclusive"`` otherwise, and whenever the fit was refused, its CI
    is not finite, or ``claimed_slope`` is ``None``.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be non-negative, got {tolerance!r}")
    if claimed_slope is None or fit.refused:
        return "inconclusive"
    lo, hi = float(fit.ci_low), float(fit.ci_high)
    claimed = float(claimed_slope)
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(claimed)):
        return "inconclusive"
    return band_verdict(fit, claimed - tolerance, claimed + tolerance)


def band_verdict(fit: RateFit, band_lo: float, band_hi: float) -> str:
    """Verdict for a band ``[band_lo, band_hi]`` of acceptable slopes (either end may be
    infinite, for one-sided claims such as "decreasing in L": ``(-inf, -tol]``).

    ``"confirmed"`` when the CI lies inside the band, ``"refuted"`` when it is disjoint from it,
    ``"inconclusive"`` otherwise or when the fit was refused / its CI is not finite.
    """
    if fit.refused:
        return "inconclusive"
    lo, hi = float(fit.ci_low), float(fit.ci_high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if band_lo <= lo and hi <= band_hi:
        return "confirmed"
    if hi < band_lo or lo > band_hi:
        return "refuted"
    return "inconclusive"
