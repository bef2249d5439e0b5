"""The noise budget of a rate measurement in words (docs/theory.md s9): per size the signal, its
standard error, the reference's own error and the signal-to-noise ratio, then what would decide
the row -- the seeds (width ~ seeds^-1/2), and for particle solvers the particles per seed at
the present seed count (an estimate: Monte Carlo error ~ P^-1/2) -- or why no seed count can
(a reference error above the floor, a signal corrected to 0)."""

from __future__ import annotations

import math
from dataclasses import replace

from .measurements import RateMeasurement
from .noise_budget import signal_to_noise
from .verdict import seeds_to_decide

__all__ = ["noise_budget_notes"]


def noise_budget_notes(m: RateMeasurement, band: tuple[float, float],
                 particles: int | None = None) -> tuple[str, ...]:
    """Notes: per size the signal, its standard error, the reference error and the SNR; then the
    seeds that would decide ``m`` against ``band`` (:func:`seeds_to_decide`) and, with
    ``particles``, the particles per seed at the present seeds (estimate, Monte Carlo error ~
    ``P^-1/2``). A refused fit: the seeds that lift every size above the noise floor (se ~
    seeds^-1/2; the reference error does not shrink) and those deciding the fit of every size."""
    fit = m.fit()
    S = min(len(a) for a in m.samples)
    ref = list(m.reference_error) if m.reference_error is not None else [0.0] * len(fit.sizes)
    rows, lift, lost, ref_bound = [], [S], [], []
    for L, e, se, r in zip(fit.sizes, fit.errors, fit.stderr, ref):
        snr = signal_to_noise(e, math.hypot(se, r) if math.isfinite(se) else se)
        rows.append(f"L={L:g}: signal {e:.3g}, se {se:.2g}, ref err {r:.2g}, SNR {snr:.3g}")
        if not (math.isfinite(e) and e > 0):
            lost.append(f"L={L:g}")           # corrected to 0: under the noise, no estimate
        elif math.isfinite(se) and snr < m.noise_floor_factor:
            target = (e / m.noise_floor_factor) ** 2 - r ** 2
            if target > 0:
                lift.append(int(math.ceil(S * se ** 2 / target)))
            else:
                ref_bound.append(f"L={L:g}")  # the reference error alone is above the floor
    out = ["noise budget (signal = corrected statistic): " + "; ".join(rows)]

    def seeds_and_particles(n: int) -> str:
        txt = f"about {n} seeds"
        if particles:
            txt += (f" at {particles} particles, or {S} seeds of about "
                    f"{int(math.ceil(particles * n / S))} particles each (estimate: Monte Carlo "
                    f"error ~ P^-1/2)")
        return txt

    edge = f"the claimed band [{band[0]:g}, {band[1]:g}]"
    if fit.refused and (lost or ref_bound):
        why = []
        if ref_bound:
            why.append(f"the reference error alone keeps {', '.join(ref_bound)} under the noise "
                       f"floor (a more accurate reference is needed before more seeds help)")
        if lost:
            why.append(f"the corrected signal at {', '.join(lost)} is 0 (under the noise), so "
                       f"the seeds that would resolve it cannot be estimated from these data")
        return tuple(out + ["budget to decide: the fit was refused; " + "; ".join(why)
                            + f"; the other sizes clear the floor at about {max(lift)} seeds"])
    if fit.refused:
        full = replace(m, noise_floor_factor=0.0).fit()
        n = seeds_to_decide(full, band, S) if not full.refused else None
        need = max(max(lift), n or 0)
        return tuple(out + [f"budget to decide against {edge}: the fit was refused (sizes under "
                            f"the noise floor); every size clears the floor at about "
                            f"{max(lift)} seeds, and the fit with every size (slope "
                            f"{full.slope:+.3f}, CI half-width "
                            f"{(full.ci_high - full.ci_low) / 2:.3f}) "
                            + (f"would decide at about {n} seeds" if n else
                               "sits on a band edge") + f": in all {seeds_and_particles(need)}"])
    n = seeds_to_decide(fit, band, S)
    half = (fit.ci_high - fit.ci_low) / 2
    head = f"budget to decide against {edge}: CI half-width {half:.3f} at {S} seeds"
    if n is None:
        return tuple(out + [head + "; the slope sits on a band edge: no seed count decides it"])
    if n <= S:
        return tuple(out + [head + f" already clears the nearest edge (about {n} seeds "
                            f"would do)"])
    return tuple(out + [head + f"; it would be decided by {seeds_and_particles(n)}"])
