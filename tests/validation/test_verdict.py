"""Verdicts (validation/verdict.py, docs/theory.md s9): a CI inside the band confirms, one
disjoint from it refutes, anything else (overlap, refused fit, no band) is inconclusive."""

import math

from helpers import power_law_samples
from infdepth.validation.rate_fit import RateFit, fit_rate
from infdepth.validation.verdict import band_verdict, verdict

SIZES = (4, 8, 16, 32, 64, 128)


def noisy_power_law(p, sizes=SIZES, seeds=64):
    """Per-seed errors ``2 size^p exp(0.3 z)`` (log-normal scatter, seed 1)."""
    return power_law_samples(sizes, p, seeds, scale=2.0, noise=0.3, rng_seed=1)


def _fit_with_ci(lo, hi, refused=False):
    return RateFit(
        slope=(lo + hi) / 2, intercept=0.0, ci_low=lo, ci_high=hi, pairwise=(), sizes=(),
        errors=(), stderr=(), used=(), refused=refused, method="bootstrap", n_boot=10,
    )


def test_verdict_outcomes():
    assert verdict(-1.0, _fit_with_ci(-1.05, -0.95)) == "confirmed"
    assert verdict(-1.0, _fit_with_ci(-1.15, -0.85)) == "confirmed"  # band edges inclusive
    assert verdict(-1.0, _fit_with_ci(-0.6, -0.4)) == "refuted"
    assert verdict(-1.0, _fit_with_ci(-2.0, -1.3)) == "refuted"
    assert verdict(-1.0, _fit_with_ci(-1.1, -0.7)) == "inconclusive"  # overlaps the band edge
    assert verdict(-1.0, _fit_with_ci(-1.5, -0.5)) == "inconclusive"  # contains the band
    assert verdict(-1.0, _fit_with_ci(-1.05, -0.95), tolerance=0.01) == "inconclusive"
    assert verdict(-1.0, _fit_with_ci(-1.05, -0.95, refused=True)) == "inconclusive"
    assert verdict(None, _fit_with_ci(-1.05, -0.95)) == "inconclusive"
    assert verdict(-1.0, _fit_with_ci(math.nan, math.nan)) == "inconclusive"


def test_verdict_on_real_fits():
    fit = fit_rate(SIZES, noisy_power_law(-1.0), n_boot=500)
    assert verdict(-1.0, fit) == "confirmed"
    assert verdict(-0.5, fit) == "refuted"  # a negative control must come out refuted


def test_one_sided_bands():
    fit = _fit_with_ci(-0.6, -0.4)
    assert band_verdict(fit, -math.inf, -0.15) == "confirmed"
    assert band_verdict(fit, -0.15, math.inf) == "refuted"
    assert band_verdict(_fit_with_ci(-0.3, 0.1), -math.inf, -0.15) == "inconclusive"


def test_decide_rule_version_2():
    from infdepth.validation.verdict import NOISE_LIMITED, NOT_SETTLED, decide
    band = (-1.15, -0.85)
    fit = _fit_with_ci(-0.51, -0.49)
    # a refutation that halving the seeds barely moves is robust
    d = decide(fit, band, half=_fit_with_ci(-0.515, -0.495), seeds=8)
    assert d.status == "refuted" and d.robust is True
    # moved by more than the half-width: noise-limited; a CI this narrow needs no more seeds
    # to clear the band, so the advice is a rerun, not a seed count below the present one
    d = decide(fit, band, half=_fit_with_ci(-0.49, -0.45), seeds=8)
    assert d.status == NOISE_LIMITED and d.robust is False
    assert "rerun with 16 seeds" in d.advice
    # the tail of the sweep agrees with the band while the whole sweep refutes: not settled
    d = decide(fit, band, tail=_fit_with_ci(-1.1, -0.9), seeds=8)
    assert d.status == NOT_SETTLED and d.settled is False
    # a CI straddling a band edge is noise-limited
    d = decide(_fit_with_ci(-0.95, -0.75), band, seeds=8)
    assert d.status == NOISE_LIMITED
