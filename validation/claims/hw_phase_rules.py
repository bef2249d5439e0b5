"""The regime rules of claim ``hw_phase`` (docs/theory.md s6, s7, s9): the measured regime of
a cell from the signs of its slopes, whether a cell may be maximal, the claim's reading of the
whole map, and the exponent calculus at a cell. Not a claim module."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ..measurements import MapSummary
from .base import TOLERANCE

#: the cell singled out by the claim: residual scale sqrt(D)/(LM), raw LR D LM
MAXIMAL = (-1.0, 1.0)
QUANTITIES = ("movement", "output_change", "output_init")


def classify(signs: Mapping[str, str]) -> str:
    """Measured regime from the slope signs of movement, output change, initial output."""
    vals = [signs[q] for q in QUANTITIES]
    if "+" in vals:
        return "unstable"
    if "?" in vals:
        return "inconclusive"
    if signs["output_change"] == "-":
        return "trivial"
    return "maximal" if signs["movement"] == "0" else "lazy"


def may_be_maximal(signs: Mapping[str, str]) -> bool:
    """Not excluded from ``maximal``: no slope surely positive, movement and output change not
    surely decaying."""
    return ("+" not in signs.values() and signs["movement"] in ("0", "?")
            and signs["output_change"] in ("0", "?"))


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


def summarize(rows: list[dict[str, Any]]) -> MapSummary:
    """The ``map`` verdict (module docstring) from the per-cell rows; marks ``may_be_maximal``."""
    for r in rows:
        r["may_be_maximal"] = may_be_maximal(r["signs"])
    lo_band, hi_band = MAXIMAL[0] - TOLERANCE, MAXIMAL[0] + TOLERANCE
    maximal = [r["scale_exponent"] for r in rows if r["regime"] == "maximal"]
    possible = [r["scale_exponent"] for r in rows if r["may_be_maximal"]]
    agree = sum(r["regime"] == r["derived_regime"] for r in rows)
    notes = [f"measured regime equals the derived one at {agree}/{len(rows)} grid points"]
    for r in rows:
        if r["regime"] != r["derived_regime"]:
            notes.append(
                f"(s={r['scale_exponent']:+g}, q={r['lr_exponent']:+g}): measured {r['regime']} "
                f"(movement {_fmt(r['movement_slope'])}, output change "
                f"{_fmt(r['output_change_slope'])}, init output {_fmt(r['output_init_slope'])}"
                f"), derived {r['derived_regime']} (movement {r['derived_movement']:+g}, output "
                f"change {r['derived_output_change']:+g}, noise {r['derived_noise']:+g})")
    div = [r for r in rows if r["output_change_diverged"] or r["movement_diverged"]]
    if div:
        notes.append(f"{len(div)} grid point(s) diverged (non-finite training) at some size: "
                     "counted unstable, excluded from their slope fits")
    where = ", ".join(f"(s={r['scale_exponent']:+g}, q={r['lr_exponent']:+g})" for r in rows
                      if r["regime"] == "maximal")
    notes.append(f"measured maximal at: {where or 'none'}")
    if maximal and all(lo_band <= s <= hi_band for s in possible):
        status = "confirmed"
    elif any(not (lo_band <= s <= hi_band) for s in maximal) or not any(
            lo_band <= s <= hi_band for s in possible):
        status = "refuted"
    else:
        status = "inconclusive"
    return MapSummary(status, float(np.mean(maximal)) if maximal else math.nan,
                      min(possible) if possible else math.nan,
                      max(possible) if possible else math.nan, tuple(notes))


@lru_cache(maxsize=None)
def derived_cell(s: float, q: float) -> dict[str, Any]:
    """The exponent calculus at one cell: movement, output change and noise exponents in LM and
    the regime (:func:`infdepth.theory.exponents_hw.hw_regime_map`)."""
    import sympy as sp

    from infdepth.theory.exponents_hw import hw_regime_map
    r = hw_regime_map([sp.nsimplify(s)], [sp.nsimplify(q)])[0]
    return {"derived_movement": r["movement_L"], "derived_output_change": r["output_update_L"],
            "derived_noise": r["noise_L"], "derived_regime": r["regime"]}
