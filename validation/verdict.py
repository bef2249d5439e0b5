"""Verdicts (docs/theory.md s9): a fitted slope's CI against the band of slopes a claim accepts.

Version 1, :func:`band_verdict`: ``confirmed`` when the CI lies inside the band, ``refuted`` when
it is disjoint from it, ``inconclusive`` otherwise (and whenever the fit was refused or its CI is
not finite).

Version 2, :func:`decide` (the rule every claim declares before its data are seen):

1. *Settled* -- a rate is judged on the sweep's tail as well as on the whole sweep: the tail fit
   (the largest half of the sizes, at least 3; two for deterministic data) must not contradict
   the whole-sweep verdict. A whole-sweep ``refuted`` whose tail reaches the band, or a
   ``confirmed`` whose tail leaves it, is ``not settled (pre-asymptotic)``, with the number of
   further doublings of the size at which the drift of the pairwise slopes would reach the band.
2. *Robust* -- a ``refuted`` must survive the doubling of the seeds: the slope from the first
   half of the seeds and the slope from all of them differ by less than the CI half-width;
   otherwise the status is ``inconclusive (noise-limited)``.
3. *Noise-limited* -- an interval that straddles a band edge is ``inconclusive
   (noise-limited)``, with the seed count at which the interval would shrink to the distance
   between the slope and the nearest band edge (width ~ 1/sqrt(seeds)).

Each row is decided twice: against the paper's claimed band and against the band around the
exponent the theory layer derives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .rate_fit import RateFit

__all__ = ["VERDICTS", "STATUSES", "Decision", "verdict", "band_verdict", "decide",
           "seeds_to_decide", "doublings_to_band"]

#: The three verdict outcomes of version 1.
VERDICTS: tuple[str, ...] = ("confirmed", "refuted", "inconclusive")
NOISE_LIMITED = "inconclusive (noise-limited)"
NOT_SETTLED = "not settled (pre-asymptotic)"
#: The outcomes of version 2 (:func:`decide`).
STATUSES: tuple[str, ...] = ("confirmed", "refuted", NOISE_LIMITED, NOT_SETTLED, "inconclusive")


def verdict(claimed_slope: float | None, fit: RateFit, tolerance: float = 0.15) -> str:
    """Version 1 for a claimed slope: :func:`band_verdict` on ``claimed +- tolerance``;
    ``"inconclusive"`` when ``claimed_slope`` is ``None`` or not finite."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be non-negative, got {tolerance!r}")
    if claimed_slope is None or fit.refused:
        return "inconclusive"
    claimed = float(claimed_slope)
    if not math.isfinite(claimed):
        return "inconclusive"
    return band_verdict(fit, claimed - tolerance, claimed + tolerance)


def band_verdict(fit: RateFit, band_lo: float, band_hi: float) -> str:
    """Version 1 for a band ``[band_lo, band_hi]`` of acceptable slopes (either end may be
    infinite, for one-sided claims such as "decreasing in L": ``(-inf, -tol]``)."""
    if fit.refused:
        return "inconclusive"
    lo, hi = float(fit.ci_low), float(fit.ci_high)
    if not (math.isfinite(lo) and math.isfinite(hi)) or math.isnan(band_lo) or math.isnan(band_hi):
        return "inconclusive"
    if band_lo <= lo and hi <= band_hi:
        return "confirmed"
    if hi < band_lo or lo > band_hi:
        return "refuted"
    return "inconclusive"


@dataclass(frozen=True)
class Decision:
    """A version-2 status, the one-line reason, and what would decide an undecided row."""

    status: str
    reason: str
    advice: str = ""
    settled: bool | None = None
    robust: bool | None = None


def _gap(slope: float, band: tuple[float, float]) -> float:
    """Distance from ``slope`` to the nearest band edge."""
    return min(abs(slope - b) for b in band if math.isfinite(b)) if any(
        math.isfinite(b) for b in band) else math.inf


def seeds_to_decide(fit: RateFit, band: tuple[float, float], seeds: int) -> int | None:
    """Seeds at which the CI half-width (~ 1/sqrt(seeds)) would equal the distance from the
    slope to the nearest band edge, so the interval clears the edge either way; ``None`` if the
    slope sits on the edge or the interval is not finite."""
    half = (fit.ci_high - fit.ci_low) / 2
    gap = _gap(fit.slope, band)
    if not (math.isfinite(half) and half > 0 and math.isfinite(gap)) or gap < 1e-3 or seeds < 1:
        return None
    return int(math.ceil(seeds * (half / gap) ** 2))


def doublings_to_band(sizes: Sequence[float], pairwise: Sequence[float],
                      band: tuple[float, float]) -> float | None:
    """Doublings of the size beyond the largest at which the pairwise slopes, extrapolated
    linearly in ``log2(size)``, would enter the band; ``None`` if they do not drift towards it."""
    s = np.asarray(sizes, float)
    p = np.asarray([np.nan if v is None else v for v in pairwise], float)
    mid = np.log2(np.sqrt(s[:-1] * s[1:]))
    ok = np.isfinite(p)
    if ok.sum() < 2:
        return None
    drift = float(np.polyfit(mid[ok], p[ok], 1)[0])
    last, x_last = float(p[ok][-1]), float(mid[ok][-1])
    lo, hi = band
    target = lo if last < lo else hi if last > hi else last
    if target == last:
        return 0.0
    if drift == 0 or (target - last) / drift < 0:
        return None
    return max(0.0, (target - last) / drift - (math.log2(s[-1]) - x_last))


def decide(fit: RateFit, band: tuple[float, float], *, tail: RateFit | None = None,
           half: RateFit | None = None, seeds: int | None = None) -> Decision:
    """Version-2 status of a fit against ``band`` (module docstring); ``tail`` is the fit on
    the sweep's tail, ``half`` the fit on the first half of the seeds (``None``: not
    available, e.g. deterministic data), ``seeds`` the seed count per size."""
    if fit.refused:
        return Decision("inconclusive", "fit refused: " + (fit.notes[-1] if fit.notes else ""))
    if any(math.isnan(b) for b in band):
        return Decision("inconclusive", "no band to compare with")
    base = band_verdict(fit, *band)
    settled = None
    if tail is not None and not tail.refused:
        tail_v = band_verdict(tail, *band)
        settled = not ((base == "refuted" and tail_v != "refuted")
                       or (base == "confirmed" and tail_v == "refuted"))
        if not settled:
            k = doublings_to_band(fit.sizes, fit.pairwise, band)
            advice = ("the pairwise slopes drift away from the band" if k is None
                      else f"the pairwise slopes would reach the band after about {k:.1f} "
                           f"more doublings of the size")
            return Decision(NOT_SETTLED, f"whole sweep {base} ({fit.slope:+.3f}), tail "
                            f"{tail_v} ({tail.slope:+.3f} [{tail.ci_low:+.3f}, "
                            f"{tail.ci_high:+.3f}])", advice, settled=False)
    if base == "refuted":
        if half is not None and not half.refused:
            moved = abs(fit.slope - half.slope)
            width = (fit.ci_high - fit.ci_low) / 2
            if moved > width:
                n = seeds_to_decide(fit, band, seeds) if seeds else None
                if seeds and (n is None or n <= seeds):   # the CI is narrow enough already
                    advice = f"a rerun with {2 * seeds} seeds would test the refutation again"
                else:
                    advice = f"about {n} seeds" if n else ""
                return Decision(NOISE_LIMITED, f"refutation not robust: doubling the seeds "
                                f"moved the slope by {moved:.3f} > the half-width {width:.3f}",
                                advice, settled, robust=False)
            return Decision("refuted", f"CI outside the band; robust (doubling the seeds "
                            f"moved the slope by {moved:.3f} <= {width:.3f})", "", settled,
                            robust=True)
        return Decision("refuted", "CI outside the band", "", settled)
    if base == "inconclusive" and fit.method == "ols-t":
        k = doublings_to_band(fit.sizes, fit.pairwise, band)
        return Decision(NOT_SETTLED if k else "inconclusive", "deterministic data: the "
                        "residuals of the power law straddle a band edge",
                        f"about {k:.1f} more doublings of the size" if k else "", settled)
    if base == "inconclusive":
        n = seeds_to_decide(fit, band, seeds) if seeds else None
        return Decision(NOISE_LIMITED, "the CI straddles a band edge",
                        f"about {n} seeds would decide it" if n else "", settled)
    return Decision("confirmed", "CI inside the band", "", settled)
