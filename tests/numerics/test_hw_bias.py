"""The Euler bias of the [HW] network (:mod:`infdepth.numerics.hw_bias`) and ``hw_rate_lm``'s
Euler-bias variants (``linear/bias``, ``tanh/bias``; THEORY.md s6, s8, s9): the seed-mean
statistic on synthetic data with a known slope, the coupled Cauchy estimator against the exact
M = infinity Euler schemes, the variant listing and claim, tiny end-to-end points."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from infdepth.numerics import hw_bias as hb
from infdepth.numerics.hidden_width import HWConfig, hw_data
from infdepth.validation.experiments import Overrides
from infdepth.validation.experiments import hw_rate_lm as hw
from infdepth.validation.rate_fit import fit_rate

torch.set_num_threads(1)


def _point(**kw) -> hw.HWBiasPoint:
    base = dict(act="linear", D=5, L=2, M=8, K=3, eta=0.2, n_seeds=4, reference="exact")
    return hw.HWBiasPoint(**{**base, **kw})


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


def test_bias_point_end_to_end():
    p = _point()
    f = hw.compute(p)
    assert list(f.columns) == ["seed", "x", "o", "err", "euler_err"]
    assert len(f) == 4 * 10 * 5 and np.all(np.isfinite(f[["err", "euler_err"]].to_numpy()))
    assert f.groupby(["x", "o"])["euler_err"].nunique().max() == 1    # one Euler value per (x, o)
    assert hw.compute(p).equals(f)                                     # pure
    X, Y = p.data()
    one = hb.bias_errors("exact", p.config(), X, Y, chunk_elements=16)    # one seed per chunk
    np.testing.assert_allclose(one.ravel(), f["err"], rtol=0, atol=1e-13)
    a = hw.bias_samples(f)
    assert a.shape == (4, 50) and a[1, 3] == f[(f.seed == 1) & (f.x == 0) & (f.o == 3)].err.item()


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
    # the same numbers through the claim's point
    f = hw.compute(_point(L=4, M=128, K=15, n_seeds=64, reference="cauchy"))
    np.testing.assert_array_equal(hw.bias_samples(f), a)
    np.testing.assert_array_equal(hw.bias_samples(f, "euler_err")[0], eul)


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
    with pytest.raises(ValueError, match="act='linear'"):      # the claim's points reach them
        hw.compute(_point(act="tanh", eta=0.5))
    with pytest.raises(ValueError, match="even"):
        hw.compute(_point(act="tanh", eta=0.5, reference="cauchy", M=7))
    with pytest.raises(ValueError, match="reference"):
        hw.compute(_point(reference="fine"))
    with pytest.raises(ValueError, match="no bias sweep"):
        hw.points("tanh/bias", "smoke")


def test_bias_statistics_by_hand():
    a = np.array([[1.0, -1.0], [3.0, 1.0]])          # column means (2, 0), variances (2, 2)
    s = hb.bias_statistics(a)
    assert s["bias"] == pytest.approx(math.sqrt(2.0)) and s["mc_se"] == pytest.approx(1.0)
    assert s["seed_noise"] == pytest.approx(1.0)
    assert math.isnan(s["euler"]) and math.isnan(s["second"])
    assert math.isnan(hb.bias_statistics(a, np.array([np.nan, 0.0]))["euler"])
    t = hb.bias_statistics(a, np.array([2.0, 2.0]))   # mean - euler = (0, -2): rms^2 2, minus mc^2
    assert t["euler"] == pytest.approx(2.0) and t["second"] == pytest.approx(1.0)


# -- the variants in the claim ----------------------------------------------------------------

def test_bias_variants_listed_claimed_and_derived():
    assert "linear/bias" in hw.variants("smoke")
    assert {"linear/bias", "tanh/bias"} <= set(hw.variants("standard"))
    assert "linear/bias/mean" not in hw.variants("standard")
    assert hw.variants("standard", Overrides(activations=("tanh",)))[-1] == "tanh/bias"
    for suite in ("smoke", "standard"):
        pts = hw.points("linear/bias", suite)
        assert [p.L for p in pts] == list(hw.BIAS_SUITES[suite]["linear"]["L_sweep"])
        assert {p.reference for p in pts} == {"exact"}
    assert {p.reference for p in hw.points("tanh/bias", "standard")} == {"cauchy"}
    assert [p.L for p in hw.points("linear/bias", "smoke", Overrides(depths=(2, 8)))] == [2, 8]
    c = hw.claimed("linear/bias")
    assert c.slope == -1.0 and c.band == pytest.approx((-1.15, -0.85))
    assert hw.claimed("tanh/L").slope == -0.5 and hw.claimed("linear/M/mean").band == \
        pytest.approx((-0.65, -0.35))
    for v in ("linear/bias", "tanh/bias"):
        assert hw.derived(v).exponent == -1.0


def test_existing_points_keep_their_cache_keys(monkeypatch):
    from infdepth.validation.results_store import config_hash
    assert config_hash(hw.points("linear/L", "smoke")[0]) == "d30193d023c35d61"
    # the coupled-reference fallback keeps its keys; the Mean-ODE reference has its own
    monkeypatch.setattr(hw, "TANH_REFERENCE", "coupled")
    assert config_hash(hw.points("tanh/M", "standard")[0]) == "5da6a8e309d101c7"


def test_runner_on_a_tiny_bias_sweep(tmp_path, monkeypatch):
    from infdepth.validation.claims import get_claim
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import run_claim
    monkeypatch.setitem(hw.SUITES, "smoke", {**hw.SUITES["smoke"], "variants": ()})
    monkeypatch.setitem(hw.BIAS_SUITES, "smoke",
                        {"linear": {"L_sweep": (2, 4, 8), "M": 16, "seeds": 8}})
    recs = run_claim(get_claim("hw_rate_lm"), "smoke", ResultsStore(tmp_path))
    (r,) = recs
    assert r.variant == "linear/bias" and r.claimed == -1.0 and r.derived == -1.0
    assert r.method == "bootstrap" and r.sizes == [2.0, 4.0, 8.0] and len(r.pairwise) == 2
    assert r.status in ("confirmed", "refuted", "inconclusive")
    assert sum("MC error of the mean" in n for n in r.notes) == 3
    assert "K=15" in r.error_label and "L=" not in r.error_label


def test_figures_split_the_bias_variants(tmp_path):
    from infdepth.paper_figs import hw_depth_as_width
    from infdepth.paper_figs.hw_rate_lm import make
    common = {"stderr": [0.0, 0.0, 0.0], "used": [True] * 3, "ci_low": -1.1, "ci_high": -0.9,
              "status": "confirmed", "intercept": 0.0, "size_label": "depth L"}
    rows = [{**common, "variant": "linear/L", "sizes": [4, 8, 16], "errors": [0.1, 0.07, 0.05],
             "measured": -0.5, "claimed": -0.5, "error_label": "x (linear, M=16)"},
            {**common, "variant": "linear/bias", "sizes": [2, 4, 8], "errors": [0.02, 0.01, 0.005],
             "measured": -1.0, "claimed": -1.0,
             "error_label": "rms of the seed-mean signed error (linear, M=1024, 128 seeds)"}]
    paths = make(rows, tmp_path)
    assert sorted(p.name for p in paths) == ["hw_rate_lm.pdf", "hw_rate_lm.png",
                                              "hw_rate_lm_bias.pdf", "hw_rate_lm_bias.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert all(p.exists() for p in hw_depth_as_width.make(rows, tmp_path))


def test_budget_columns():
    pts = [_point(L=L) for L in (2, 4)]
    b = hw.noise_budget(pts, [hw.compute(p) for p in pts])
    assert list(b.columns) == ["L", "M", "seeds", "bias", "mc_se", "seed_noise", "euler", "second"]
    assert isinstance(b, pd.DataFrame) and np.all(b[["bias", "mc_se", "euler"]] > 0)
