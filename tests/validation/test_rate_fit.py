"""Tests of the log-log rate fitter (validation/rate_fit.py, docs/theory.md s9)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from helpers import observed_order, power_law_samples
from infdepth.validation.rate_fit import fit_rate
from infdepth.validation.verdict import verdict
from problems import PowerLawProblem, params

SIZES = (4, 8, 16, 32, 64, 128)


def noisy_power_law(p, sizes=SIZES, seeds=64):
    """Per-seed errors ``2 size^p exp(0.3 z)`` (log-normal scatter, seed 1)."""
    return power_law_samples(sizes, p, seeds, scale=2.0, noise=0.3, rng_seed=1)


@pytest.mark.parametrize("problem", params(PowerLawProblem, "validation.rate_fit"))
def test_recovers_known_slope_from_noisy_seeds(problem):
    p = problem.slope
    fit = fit_rate(problem.sizes, problem.samples(), n_boot=1000)
    assert fit.method == "boot_t"   # the calibrated interval for the mean statistic
    assert not fit.refused
    assert all(fit.used)
    assert fit.ci_low <= p <= fit.ci_high
    assert fit.ci_low <= fit.slope <= fit.ci_high
    width = fit.ci_high - fit.ci_low
    # 30% noise over 64 seeds: per-point rel. stderr ~ 0.04, over a 32x size range the slope's
    # stderr is ~0.01; the 95% CI must be neither degenerate nor wide.
    assert problem.ci_width[0] < width < problem.ci_width[1]
    assert abs(fit.slope - p) < problem.tol
    assert fit.intercept == pytest.approx(math.log(problem.scale), abs=0.2)
    assert len(fit.pairwise) == len(problem.sizes) - 1
    assert all(0 < s for s in fit.stderr)


def test_reproducible_with_same_seed_and_different_otherwise():
    data = noisy_power_law(-1.0)
    a = fit_rate(SIZES, data, n_boot=300, rng_seed=5)
    b = fit_rate(SIZES, data, n_boot=300, rng_seed=5)
    c = fit_rate(SIZES, data, n_boot=300, rng_seed=6)
    assert a == b
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.slope == c.slope  # the point estimate does not depend on the bootstrap


def test_deterministic_exact_power_law_uses_ols_t():
    sizes = [2, 4, 8, 16, 32, 64]
    samples = [np.array([3.0 * s**-1.0]) for s in sizes]
    fit = fit_rate(sizes, samples)
    assert fit.method == "ols-t"
    assert fit.n_boot == 0
    assert abs(fit.slope + 1.0) < 1e-12
    assert abs(fit.intercept - math.log(3.0)) < 1e-12
    assert fit.ci_low <= -1.0 <= fit.ci_high
    assert fit.ci_high - fit.ci_low < 1e-10
    assert fit.stderr == (0.0,) * len(sizes)
    assert all(abs(p + 1.0) < 1e-12 for p in fit.pairwise)
    assert any("t-interval" in n for n in fit.notes)


def test_deterministic_t_interval_matches_scipy_linregress():
    from scipy import stats

    sizes = np.array([4.0, 8.0, 16.0, 32.0, 64.0])
    samples = power_law_samples(sizes, -1.0, 1, noise=0.05, rng_seed=3)   # one row per size
    err = np.concatenate(samples)
    fit = fit_rate(sizes, samples)
    ref = stats.linregress(np.log(sizes), np.log(err))      # its stderr: the t-interval
    t = stats.t.ppf(0.975, sizes.size - 2)
    assert fit.slope == pytest.approx(observed_order(sizes, err), rel=1e-12)
    assert fit.ci_low == pytest.approx(ref.slope - t * ref.stderr, rel=1e-10)
    assert fit.ci_high == pytest.approx(ref.slope + t * ref.stderr, rel=1e-10)


def test_deterministic_two_points_gives_collapsed_ci_with_note():
    fit = fit_rate([10, 20], [np.array([1.0]), np.array([0.25])])
    assert not fit.refused
    assert fit.slope == pytest.approx(-2.0, abs=1e-12)
    assert fit.ci_low == fit.ci_high == fit.slope
    assert any("no spread" in n for n in fit.notes)


def test_bending_rate_shows_in_pairwise_slopes():
    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    err = [1.0 / L + 4.0 / L**2 for L in sizes]
    fit = fit_rate(sizes, [np.array([e]) for e in err])
    pw = np.array(fit.pairwise)
    assert np.all(np.diff(pw) > 0)  # the local slope flattens from ~-2 towards -1
    assert pw[0] < -1.6
    assert pw[-1] > -1.05
    # The pooled fit sits in between and its t-interval sees the curvature.
    assert -2.0 < fit.slope < -1.0
    assert fit.ci_high - fit.ci_low > 0.05


def test_bias_below_noise_floor_is_excluded_and_too_few_points_refuse():
    rng = np.random.default_rng(0)
    ref = 1.0
    sizes = [4, 8, 16, 32, 64]
    # Bias exactly 0.5/L (standardized noise: sample mean 0, sd 1); per-seed sd 0.1 over 100 seeds
    # -> stderr ~0.01. Biases 0.125, 0.063, 0.031 stand clear of it; at L=32, 64 (0.016, 0.008)
    # the bias is below twice the noise.
    samples = []
    for L in sizes:
        z = rng.standard_normal(100)
        z = (z - z.mean()) / z.std()
        samples.append(ref + 0.5 / L + 0.1 * z)

    def bias(a):
        return abs(a.mean() - ref)

    fit = fit_rate(sizes, samples, bias, n_boot=500)
    assert fit.used[:3] == (True, True, True)
    assert fit.used[3:] == (False, False)
    floor_notes = [n for n in fit.notes if "noise floor" in n]
    assert any(n.startswith("size 32:") for n in floor_notes)
    assert any(n.startswith("size 64:") for n in floor_notes)
    assert not fit.refused
    assert math.isnan(fit.pairwise[-1]) and math.isnan(fit.pairwise[-2])

    # Drop the good points: only noise-floor points plus one usable point remain -> refused.
    fit2 = fit_rate(sizes[2:], samples[2:], bias, n_boot=500)
    assert fit2.refused
    assert math.isnan(fit2.slope)
    assert any(n.startswith("refused") for n in fit2.notes)
    assert verdict(-1.0, fit2) == "inconclusive"


def test_nan_point_is_excluded_as_divergent():
    samples = noisy_power_law(-1.0)
    samples[-1] = samples[-1].copy()
    samples[-1][3] = np.nan  # one seed diverged at the largest size
    fit = fit_rate(SIZES, samples, n_boot=300)
    assert fit.used == (True,) * 5 + (False,)
    assert any("divergent" in n and n.startswith("size 128") for n in fit.notes)
    assert fit.ci_low <= -1.0 <= fit.ci_high


def test_abs_floor_excludes_round_off_points():
    sizes = [2, 4, 8, 16, 32]
    err = [s**-2.0 for s in sizes]
    err[-1] = 1e-17  # round-off
    fit = fit_rate(sizes, [np.array([e]) for e in err], abs_floor=1e-14)
    assert fit.used == (True, True, True, True, False)
    assert any("size 32" in n and "floor" in n for n in fit.notes)
    assert fit.slope == pytest.approx(-2.0, abs=1e-12)
    assert math.isnan(fit.pairwise[-1])


def test_deterministic_with_one_usable_point_refuses():
    fit = fit_rate([2, 4, 8], [np.array([1.0]), np.array([np.inf]), np.array([0.0])])
    assert fit.refused and fit.method == "ols-t"
    assert any("divergent" in n for n in fit.notes)


def test_paired_bootstrap_exploits_coupled_randomness():
    # Coupled sweep: the same seed's noise multiplies the error at every size, so the slope is
    # exact per seed while each point alone is noisy.
    rng = np.random.default_rng(2)
    z = np.exp(0.5 * rng.standard_normal(40))
    samples = [3.0 * s**-1.0 * z for s in SIZES]
    paired = fit_rate(SIZES, samples, n_boot=500, paired=True)
    indep = fit_rate(SIZES, samples, n_boot=500, paired=False)
    assert paired.slope == pytest.approx(-1.0, abs=1e-12)
    assert paired.ci_high - paired.ci_low < 1e-10
    assert indep.ci_high - indep.ci_low > 0.05
    assert any("paired" in n for n in paired.notes)
    with pytest.raises(ValueError, match="same number of seeds"):
        fit_rate(SIZES, samples[:-1] + [samples[-1][:10]], paired=True)


def test_custom_statistic_on_multi_axis_samples():
    # samples[i] has shape (seeds, outputs); statistic = rms over outputs of the seed mean.
    rng = np.random.default_rng(4)
    samples = [s**-0.5 * (1 + 0.2 * rng.standard_normal((30, 3))) for s in SIZES]
    calls = []

    def rms_of_mean(a):
        calls.append(a.shape)
        return float(np.sqrt(np.mean(a.mean(axis=0) ** 2)))

    fit = fit_rate(SIZES, samples, rms_of_mean, n_boot=200)
    assert fit.ci_low <= -0.5 <= fit.ci_high
    assert all(shape == (30, 3) for shape in calls)
    assert len(calls) == len(SIZES) * (1 + 200)
    # Default statistic on multi-axis samples = mean of everything, vectorized.
    d = fit_rate(SIZES, samples, n_boot=200)
    assert d.ci_low <= -0.5 <= d.ci_high


def test_invalid_input_raises():
    with pytest.raises(ValueError, match="ascending"):
        fit_rate([4, 2, 8], [np.ones(3)] * 3)
    with pytest.raises(ValueError, match="positive"):
        fit_rate([0, 2, 8], [np.ones(3)] * 3)
    with pytest.raises(ValueError, match="samples"):
        fit_rate([1, 2, 8], [np.ones(3)] * 2)


def test_to_dict_is_json_safe():
    samples = noisy_power_law(-1.0)
    samples[0] = np.full(64, np.nan)
    fit = fit_rate(SIZES, samples, n_boot=100)
    d = fit.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["errors"][0] is None
    assert back["pairwise"][0] is None
    assert back["sizes"] == list(SIZES)
    assert back["used"][0] is False
    assert back["method"] == "boot_t"
    refused = fit_rate([1, 2], [np.ones(5), np.ones(5)], n_boot=50).to_dict()
    assert refused["slope"] is None and refused["refused"] is True
    json.dumps(refused, allow_nan=False)


def test_bootstrap_ci_coverage():
    """Over 100 synthetic sweeps the 95% CI covers the true slope in >= 85% of them."""
    true_p = -1.0
    sizes = (4, 8, 16, 32, 64)
    reps, covered = 100, 0
    for r in range(reps):
        samples = power_law_samples(sizes, true_p, 20, scale=math.exp(-0.08), noise=0.4,
                                    rng_seed=123 + r)
        fit = fit_rate(sizes, samples, n_boot=500, rng_seed=r)
        covered += fit.ci_low <= true_p <= fit.ci_high
    assert covered >= 85, covered
