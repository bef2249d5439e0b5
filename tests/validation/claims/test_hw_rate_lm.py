"""Claim ``hw_rate_lm`` (docs/theory.md s6, s8, s9): variants (L, M, LM sweeps with median/mean
twins; the Euler-bias variants), points and their cache keys, bias points end to end, the
measurements, a tiny runner sweep and the figures that split the bias variants."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from infdepth.validation.verdict import STATUSES
import torch

from helpers import variant_labels
from infdepth.numerics import hw_bias as hb
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides, hw_common
from infdepth.validation.claims import hw_rate_lm as hw
from infdepth.validation.claims.hw_common import HWODEPoint, HWPoint

CLAIM = hw.CLAIM
RUN = RunFields()
V = hw.RateVariant

torch.set_num_threads(1)


def _points(label, suite, overrides=Overrides()):
    act, axis, *stat = label.split("/")
    v = V(act, axis, stat[0] if stat else "median")
    assert v.label == label
    return CLAIM.points(v, CLAIM.sweep(suite), overrides, RUN)


def _point(**kw) -> hw.HWBiasPoint:
    base = dict(act="linear", D=5, L=2, M=8, K=3, eta=0.2, n_seeds=4, reference="exact")
    return hw.HWBiasPoint(**{**base, **kw})


# -- variants, claimed, derived -----------------------------------------------------------------

def test_variant_labels_and_primary():
    assert variant_labels(CLAIM, "smoke") == ["linear/L", "linear/L/mean", "linear/M",
                                              "linear/M/mean", "linear/LM", "linear/LM/mean",
                                              "tanh/L", "tanh/L/mean", "linear/bias"]
    assert CLAIM.primary == V("linear", "L") and CLAIM.role(V("linear", "L", "mean")) \
        == "exploratory"
    with pytest.raises(ValueError, match="unknown hw_rate_lm act 'relu'; allowed: linear, tanh"):
        V("relu", "L")
    with pytest.raises(ValueError, match="allowed"):
        V("linear", "bias", "mean")          # the bias statistic is a seed mean already


def test_bias_variants_listed_claimed_and_derived():
    assert "linear/bias" in variant_labels(CLAIM, "smoke")
    assert {"linear/bias", "tanh/bias"} <= set(variant_labels(CLAIM, "standard"))
    assert "linear/bias/mean" not in variant_labels(CLAIM, "standard")
    assert variant_labels(CLAIM, "standard", Overrides(activations=("tanh",)))[-1] == "tanh/bias"
    for suite in ("smoke", "standard"):
        pts = _points("linear/bias", suite)
        assert [p.L for p in pts] == list(CLAIM.sweep(suite).bias["linear"].depths)
        assert {p.reference for p in pts} == {"exact"}
    assert {p.reference for p in _points("tanh/bias", "standard")} == {"cauchy"}
    assert [p.L for p in _points("linear/bias", "smoke", Overrides(depths=(2, 8)))] == [2, 8]
    c = CLAIM.claimed(V("linear", "bias"))
    assert c.slope == -1.0 and c.band == pytest.approx((-1.15, -0.85))
    assert CLAIM.claimed(V("tanh", "L")).slope == -0.5
    assert CLAIM.claimed(V("linear", "M", "mean")).band == pytest.approx((-0.65, -0.35))
    for act in ("linear", "tanh"):
        assert CLAIM.derived(V(act, "bias")).exponent == -1.0
    with pytest.raises(ValueError, match="no bias sweep for 'tanh'"):
        _points("tanh/bias", "smoke")


def test_diagonal_variant():
    """``*/LM``: networks with L = M, fitted against L*M; derived -1/2 in LM."""
    assert "linear/LM" in variant_labels(CLAIM, "smoke")
    assert "tanh/LM/mean" in variant_labels(CLAIM, "standard")
    pts = _points("tanh/LM", "standard")
    assert all(p.L == p.M for p in pts) and isinstance(pts[0], HWODEPoint)
    frames = [pd.DataFrame({"out_err": np.full(3, 1.0 / p.L)}) for p in pts]
    m = CLAIM.measure(V("tanh", "LM"), pts, frames)
    assert list(m.sizes) == [p.L * p.M for p in pts] and "LM" in m.size_label
    assert m.fit().slope == pytest.approx(-0.5, abs=1e-12)   # 1/L = (LM)^-1/2 on L = M
    assert CLAIM.derived(V("linear", "LM")).exponent == pytest.approx(-0.5)


# -- points -----------------------------------------------------------------------------------

def test_points_follow_the_sweep_and_overrides():
    sw = CLAIM.sweep("smoke")
    pts = _points("linear/L", "smoke")
    assert [p.L for p in pts] == list(sw.L_sweep) and {p.M for p in pts} == {sw.M_fixed}
    assert all(type(p) is HWPoint and p.L_ref == p.M_ref == 0 for p in pts)
    m = _points("linear/M", "smoke", Overrides(widths=(4, 32)))
    assert [(p.L, p.M) for p in m] == [(sw.L_fixed, 4), (sw.L_fixed, 32)]
    t = _points("tanh/L", "smoke")
    assert all(isinstance(p, HWODEPoint) for p in t)
    assert {(p.ref_Ls, p.ref_P) for p in t} == {(hw.ODE_REFERENCE["smoke"]["Ls"],
                                                  hw.ODE_REFERENCE["smoke"]["P"])}


def test_existing_points_keep_their_cache_keys(monkeypatch):
    from infdepth.validation.results_store import config_hash
    assert config_hash(_points("linear/L", "smoke")[0]) == "d30193d023c35d61"
    # the coupled-reference fallback keeps its keys; the Mean-ODE reference has its own
    monkeypatch.setattr(hw_common, "TANH_REFERENCE", "coupled")
    p = _points("tanh/M", "standard")[0]
    assert type(p) is HWPoint and p.L_ref > 0
    assert config_hash(p) == "5da6a8e309d101c7"


# -- bias points end to end -----------------------------------------------------------------

def test_bias_point_end_to_end():
    p = _point()
    f = CLAIM.compute(p)
    assert list(f.columns) == ["seed", "x", "o", "err", "euler_err"]
    assert len(f) == 4 * 10 * 5 and np.all(np.isfinite(f[["err", "euler_err"]].to_numpy()))
    assert f.groupby(["x", "o"])["euler_err"].nunique().max() == 1    # one Euler value per (x, o)
    assert CLAIM.compute(p).equals(f)                                  # pure
    X, Y = p.data()
    one = hb.bias_errors("exact", p.config(), X, Y, chunk_elements=16)    # one seed per chunk
    np.testing.assert_allclose(one.ravel(), f["err"], rtol=0, atol=1e-13)
    a = hw.bias_samples(f)
    assert a.shape == (4, 50) and a[1, 3] == f[(f.seed == 1) & (f.x == 0) & (f.o == 3)].err.item()


def test_cauchy_point_carries_the_numerics_estimates():
    """The claim's Cauchy point stores exactly the numerics' signed errors and the Euler
    estimate (difference of the M = infinity Euler schemes at L and 2L)."""
    p = _point(L=2, M=8, K=4, n_seeds=3, reference="cauchy")
    X, Y = p.data()
    f = CLAIM.compute(p)
    a = hb.bias_errors("cauchy", p.config(), X, Y).reshape(3, -1)
    np.testing.assert_array_equal(hw.bias_samples(f), a)
    np.testing.assert_array_equal(hw.bias_samples(f, "euler_err")[0],
                                  hb.euler_estimate("cauchy", p.config(), X, Y).ravel())


def test_bad_bias_points_reach_the_numerics_checks():
    with pytest.raises(ValueError, match="act='linear'"):
        CLAIM.compute(_point(act="tanh", eta=0.5))
    with pytest.raises(ValueError, match="even"):
        CLAIM.compute(_point(act="tanh", eta=0.5, reference="cauchy", M=7))
    with pytest.raises(ValueError, match="reference"):
        CLAIM.compute(_point(reference="fine"))


def test_bias_measurement_and_noise_budget_notes():
    pts = [_point(L=L) for L in (2, 4)]
    frames = [CLAIM.compute(p) for p in pts]
    m = CLAIM.measure(V("linear", "bias"), pts, frames)
    assert m.paired and m.statistic is hb.seed_mean_rms and list(m.sizes) == [2, 4]
    assert m.samples[0].shape == (4, 50) and "vs exact Mean ODE" in m.error_label
    assert len(m.notes) == 2
    for p, note, fr in zip(pts, m.notes, frames):
        r = hb.bias_statistics(hw.bias_samples(fr), hw.bias_samples(fr, "euler_err")[0])
        assert r["bias"] > 0 and r["mc_se"] > 0 and r["euler"] > 0
        assert note.startswith(f"L={p.L}: seed-mean error {r['bias']:.3g}; MC error of the "
                               f"mean {r['mc_se']:.3g}")
        assert "M=inf Euler scheme" in note and "second-order rest" in note


# -- tiny points of every sweep type ----------------------------------------------------------

@pytest.mark.parametrize("label", ["linear/L", "tanh/M"])
def test_rate_points_run_on_tiny_sizes(label):
    pts = _points(label, "smoke")[:2]
    small = [dataclasses.replace(p, n_seeds=2, K=2, L=min(p.L, 8), M=min(p.M, 8),
                                 **({"ref_Ls": 4, "ref_P": 256} if isinstance(p, HWODEPoint)
                                    else {})) for p in pts]
    hash(small[0])
    frames = [CLAIM.compute(p) for p in small]
    assert all(len(f) == 2 and "out_err" in f for f in frames)
    act, axis = label.split("/")
    m = CLAIM.measure(V(act, axis), small, frames)
    assert len(m.sizes) == 2 and all(np.isfinite(s).all() and (s > 0).all() for s in m.samples)
    d = CLAIM.derived(V(act, axis))
    assert d.exponent is not None and math.isfinite(d.exponent)
    assert CLAIM.compute(small[0]).equals(frames[0])       # pure


# -- runner and figures -------------------------------------------------------------------------

def test_runner_on_a_tiny_bias_sweep(tmp_path, monkeypatch):
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import run_claim
    tiny = dataclasses.replace(CLAIM.suites["smoke"], variants=(),
                               bias={"linear": hw.BiasSweep((2, 4, 8), 16, 8)})
    monkeypatch.setitem(hw.HWRateLM.suites, "smoke", tiny)
    (r,) = run_claim(CLAIM, "smoke", ResultsStore(tmp_path))
    assert r.variant == "linear/bias" and r.claimed == -1.0 and r.derived == -1.0
    assert r.role == "exploratory"
    assert r.method == "boot_t" and r.sizes == [2.0, 4.0, 8.0] and len(r.pairwise) == 2
    assert r.status in STATUSES
    assert sum("MC error of the mean" in n for n in r.notes) == 3
    assert "K=15" in r.error_label and "L=" not in r.error_label


def test_figures_split_the_bias_variants(tmp_path, monkeypatch):
    """hw_rate_lm.png draws the rate variants, hw_rate_lm_bias.png the bias variants,
    hw_depth_as_width.png the median rate variants against L*M."""
    from infdepth.paper_figs import make_figures
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import run_claim

    def fake_compute(p):                     # synthetic tables of known slope: no training
        rng = np.random.default_rng(p.L * 1000 + p.M)
        if isinstance(p, hw.HWBiasPoint):
            S = p.n_seeds
            e = 0.05 / p.L + 0.01 * rng.standard_normal((S, 10, 5))
            return pd.DataFrame({"seed": np.repeat(np.arange(S), 50),
                                 "x": np.tile(np.repeat(np.arange(10), 5), S),
                                 "o": np.tile(np.arange(5), 10 * S), "err": e.ravel(),
                                 "euler_err": np.tile(0.05 / p.L * np.ones(50), S)})
        return pd.DataFrame({"seed": np.arange(p.n_seeds),
                             "out_err": (p.L * p.M) ** -0.5 * np.exp(0.05 * rng.standard_normal(
                                 p.n_seeds))})

    tiny = dataclasses.replace(CLAIM.suites["smoke"], variants=("linear/L", "linear/M"),
                               seeds=6, L_sweep=(4, 8, 16), M_sweep=(4, 8, 16),
                               bias={"linear": hw.BiasSweep((2, 4, 8), 16, 8)})
    monkeypatch.setitem(hw.HWRateLM.suites, "smoke", tiny)
    monkeypatch.setattr(CLAIM, "compute", fake_compute)
    store = ResultsStore(tmp_path)
    recs = run_claim(CLAIM, "smoke", store)
    assert [r.variant for r in recs] == ["linear/L", "linear/L/mean", "linear/M",
                                         "linear/M/mean", "linear/bias"]
    assert recs[0].measured == pytest.approx(-0.5, abs=0.1)
    paths = make_figures(store, [r.to_dict() for r in recs], tmp_path / "figures")["hw_rate_lm"]
    assert sorted(p.name for p in paths) == [
        "hw_depth_as_width.pdf", "hw_depth_as_width.png", "hw_rate_lm.pdf", "hw_rate_lm.png",
        "hw_rate_lm_bias.pdf", "hw_rate_lm_bias.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    specs = {s.stem: s for s in CLAIM.figures}
    assert not specs["hw_rate_lm"].wants("linear/bias") and specs["hw_rate_lm"].wants("linear/L")
    assert specs["hw_rate_lm_bias"].wants("tanh/bias")
    assert not specs["hw_depth_as_width"].wants("linear/L/mean")
