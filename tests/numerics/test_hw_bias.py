"""The Euler bias of the [HW] network (:mod:`infdepth.numerics.hw_bias`; docs/theory.md s6, s9): the
seed-mean statistic on synthetic data with a known slope, the unit draws and shared readout, the
coupled Cauchy estimator against the exact M = infinity Euler schemes. ``hw_rate_lm``'s bias
variants and points: tests/validation/claims/test_hw_rate_lm.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infdepth.numerics import hw_bias as hb
from infdepth.numerics.hidden_width import HWConfig, hw_data
from infdepth.validation.rate_fit import fit_rate

torch.set_num_threads(1)


def _cfg(**kw) -> HWConfig:
    base = dict(act="linear", D=5, L=2, M=8, K=3, eta=0.2, n_seeds=4)
    return HWConfig(**{**base, **kw})


# -- the statistic on synthetic data ----------------------------------------------------------

def test_seed_mean_rms_by_hand():
    a = np.array([[1.0, -1.0], [3.0, 1.0]])        # column means (2, 0)
    assert hb.seed_mean_rms(a) == pytest.approx(math.sqrt(2.0))
    assert hb.seed_mean_rms(a[:, :1]) == pytest.approx(2.0)


def _synthetic(sizes, S, M, rng, bias_c=0.05, noise_c=0.5, C=50):
    """Per-seed signed errors: a bias ``bias_c w / L`` (slope -1) plus a centred noise of size
    ``noise_c / sqrt(L M)`` per seed and column (slope -1/2) -- the model of the module
    docstring with a known answer."""
    w = rng.normal(size=C)
    return [bias_c * w / L + noise_c / math.sqrt(L * M) * rng.normal(size=(S, C)) for L in sizes]


def test_seed_mean_statistic_recovers_the_bias_slope():
    """The per-seed error is noise-dominated (slope -1/2), the seed mean recovers the known -1."""
    rng = np.random.default_rng(0)
    sizes = (2, 4, 8, 16, 32, 64)
    samples = _synthetic(sizes, S=400, M=1024, rng=rng)
    f = fit_rate(sizes, samples, hb.seed_mean_rms, paired=True, n_boot=400)
    assert abs(f.slope + 1.0) < 0.05 and f.ci_low < -1.0 < f.ci_high
    assert all(abs(p + 1.0) < 0.15 for p in f.pairwise)
    per_seed = fit_rate(sizes, [np.sqrt((a ** 2).mean(axis=1)) for a in samples], np.median,
                        n_boot=200)
    assert per_seed.slope > -0.75              # the per-seed rms sees the noise, not the bias


def test_bootstrap_resamples_rows_as_seeds():
    """2-D samples: fit_rate's bootstrap resamples rows (seeds); with one column the statistic is
    |mean| and its bootstrap standard error is std/sqrt(S)."""
    rng = np.random.default_rng(1)
    S = 200
    samples = [L ** -1.0 + 0.2 * L ** -1.0 * rng.normal(size=(S, 1)) for L in (2, 4, 8)]
    f = fit_rate((2, 4, 8), samples, hb.seed_mean_rms, paired=True, n_boot=1000)
    for se, a in zip(f.stderr, samples):
        assert se == pytest.approx(a.std(ddof=1) / math.sqrt(S), rel=0.15)
    same = [np.tile(a[:1], (S, 1)) for a in samples]       # identical rows: no spread at all
    g = fit_rate((2, 4, 8), same, hb.seed_mean_rms, paired=True, n_boot=50)
    assert max(g.stderr) < 1e-15


# -- numerics of a bias point -----------------------------------------------------------------

def test_unit_draws_are_those_of_init_weights():
    from infdepth.numerics.hidden_width import init_weights
    w = init_weights(HWConfig(D=5, L=3, M=4, n_seeds=5), 5, 5)
    u, v = hb.unit_draws(_cfg(L=3, M=4, n_seeds=5), range(5), 5, 5)
    assert torch.equal(u, w["u"]) and torch.equal(v, w["v"])
    u2, _ = hb.unit_draws(_cfg(L=3, M=4, n_seeds=1), range(2, 4))   # d_in, d_out: other streams
    assert torch.equal(u2, w["u"][2:4])


def test_shared_readout_is_seed_zeros():
    from infdepth.numerics.hidden_width import init_weights
    w = init_weights(HWConfig(D=5, L=2, M=3, n_seeds=3, base_seed=7), 5, 4)
    W_in, W_out = hb.shared_readout(_cfg(base_seed=7, n_seeds=3), 5, 4)
    assert torch.equal(W_in, w["W_in"][:1]) and torch.equal(W_out, w["W_out"][:1])


def test_bias_errors_do_not_depend_on_the_chunking():
    X, Y = hw_data()
    cfg = _cfg()
    e = hb.bias_errors("exact", cfg, X, Y)
    assert e.shape == (4, 10, 5) and np.all(np.isfinite(e))
    np.testing.assert_array_equal(hb.bias_errors("exact", cfg, X, Y), e)          # pure
    one = hb.bias_errors("exact", cfg, X, Y, chunk_elements=16)                   # one seed per chunk
    np.testing.assert_allclose(one, e, rtol=0, atol=1e-13)
    c = hb.bias_errors("cauchy", _cfg(act="tanh", eta=0.5), X, Y)
    np.testing.assert_allclose(hb.bias_errors("cauchy", _cfg(act="tanh", eta=0.5), X, Y,
                                              chunk_elements=16), c, rtol=0, atol=1e-13)


def test_shared_readout_and_zero_bias_at_init():
    """K = 0: the M = infinity Euler scheme equals the Mean ODE (A = 0 at init), and each
    network's error is centred noise around the shared reference."""
    X, Y = hw_data()
    cfg = _cfg(K=0, n_seeds=16, M=32, L=4)
    assert np.abs(hb.euler_estimate("exact", cfg, X, Y)).max() < 1e-12
    assert np.abs(hb.euler_scheme_error(cfg, X, Y)).max() < 1e-12
    a = hb.bias_errors("exact", cfg, X, Y).reshape(16, -1)
    assert hb.seed_mean_rms(a) < 0.5 * np.sqrt((a ** 2).mean())


def test_cauchy_estimator_matches_the_exact_euler_difference():
    """Linear network, coupled Cauchy reference: the seed mean of f(L, M) - f(2L, M/2) is the
    difference of the M = infinity Euler schemes at L and 2L (stated tolerance: 10% of it plus 3
    MC standard errors), and the coupling removes most of the noise (per-seed spread < 1/3 of
    the exact-reference error's)."""
    X, Y = hw_data()
    cfg = _cfg(L=4, M=128, K=15, n_seeds=64)
    a = hb.bias_errors("cauchy", cfg, X, Y).reshape(64, -1)
    eul = hb.euler_estimate("cauchy", cfg, X, Y).ravel()
    np.testing.assert_array_equal(eul, (hb.euler_scheme_error(cfg, X, Y)
                                        - hb.euler_scheme_error(cfg, X, Y, 8)).ravel())
    mc = math.sqrt(np.mean(a.var(axis=0, ddof=1)) / a.shape[0])
    diff = math.sqrt(np.mean((a.mean(axis=0) - eul) ** 2))
    scale = math.sqrt(np.mean(eul ** 2))
    assert diff < 0.1 * scale + 3 * mc
    b = hb.bias_errors("exact", cfg, X, Y).reshape(64, -1)
    assert a.std(axis=0).mean() < b.std(axis=0).mean() / 3


def test_euler_estimate_is_nan_without_linear_activation():
    X, Y = hw_data()
    e = hb.euler_estimate("cauchy", _cfg(act="tanh", eta=0.5), X, Y)
    assert e.shape == (10, 5) and np.all(np.isnan(e))


def test_bad_bias_points():
    X, Y = hw_data()
    with pytest.raises(ValueError, match="act='linear'"):
        hb.bias_errors("exact", _cfg(act="tanh", eta=0.5), X, Y)
    with pytest.raises(ValueError, match="even"):
        hb.bias_errors("cauchy", _cfg(act="tanh", eta=0.5, M=7), X, Y)
    with pytest.raises(ValueError, match="reference"):
        hb.bias_errors("fine", _cfg(), X, Y)


def test_bias_statistics_by_hand():
    a = np.array([[1.0, -1.0], [3.0, 1.0]])          # column means (2, 0), variances (2, 2)
    s = hb.bias_statistics(a)
    assert s["bias"] == pytest.approx(math.sqrt(2.0)) and s["mc_se"] == pytest.approx(1.0)
    assert s["seed_noise"] == pytest.approx(1.0)
    assert math.isnan(s["euler"]) and math.isnan(s["second"])
    assert math.isnan(hb.bias_statistics(a, np.array([np.nan, 0.0]))["euler"])
    t = hb.bias_statistics(a, np.array([2.0, 2.0]))   # mean - euler = (0, -2): rms^2 2, minus mc^2
    assert t["euler"] == pytest.approx(2.0) and t["second"] == pytest.approx(1.0)
