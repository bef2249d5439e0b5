"""Claim ``hw_rate_lm`` (docs/theory.md s6, s8, s9): variants (L, M, LM sweeps with
geometric-mean/mean twins; the Euler-bias variants; the negative control), points and their cache
keys, bias points end to end, the measurements (statistics, intervals, pairing, reference
errors), a tiny runner sweep and the figures that split the bias variants."""

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
from infdepth.validation.intervals import geometric_mean
from infdepth.validation.noise_budget import NormOfMean

CLAIM = hw.CLAIM
RUN = RunFields()
V = hw.RateVariant
CONTROL = hw.ControlVariant("wrong_limit")

torch.set_num_threads(1)


def _points(label, suite, overrides=Overrides()):
    act, axis, *stat = label.split("/")
    v = V(act, axis, stat[0] if stat else "geometric_mean")
    assert v.label == label
    return CLAIM.points(v, CLAIM.sweep(suite), overrides, RUN)


def _point(**kw) -> hw.HWBiasPoint:
    base = dict(act="linear", D=5, L=2, M=8, K=3, eta=0.2, n_seeds=4, reference="exact")
    return hw.HWBiasPoint(**{**base, **kw})


# -- variants, claimed, derived -----------------------------------------------------------------

def test_variant_labels_and_primary():
    assert variant_labels(CLAIM, "smoke") == ["linear/L", "linear/L/mean", "linear/M",
                                              "linear/M/mean", "linear/LM", "linear/LM/mean",
                                              "tanh/L", "tanh/L/mean", "linear/joint",
                                              "linear/bias"]
    assert {"linear/joint", "tanh/joint"} <= set(variant_labels(CLAIM, "standard"))
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
    assert m.paired and m.statistic is hw.BIAS_STATISTIC and list(m.sizes) == [2, 4]
    assert m.samples[0].shape == (4, 50) and "vs exact Mean ODE" in m.error_label
    assert list(m.reference_error) == [0.0, 0.0]
    assert len(m.notes) == 2
    for p, note, fr in zip(pts, m.notes, frames):
        a = hw.bias_samples(fr)
        r = hb.bias_statistics(a, hw.bias_samples(fr, "euler_err")[0])
        assert r["bias"] > 0 and r["mc_se"] > 0 and r["euler"] > 0
        assert note.startswith(f"L={p.L}: seed-mean error {r['bias']:.3g}; MC error of the "
                               f"mean {r['mc_se']:.3g}")
        assert f"corrected estimate {hw.BIAS_STATISTIC(a):.3g} (floor: 0 below the MC " in note
        assert "M=inf Euler scheme" in note and "second-order rest" in note


def test_bias_statistic_is_the_seed_mean_rms_with_the_noise_bias_removed():
    """NormOfMean(rms=True): rms over columns of the seed mean, its square less the squared
    Monte Carlo error of the mean (bias_statistics' mc_se); 0 when the noise exceeds it."""
    assert isinstance(hw.BIAS_STATISTIC, NormOfMean) and hw.BIAS_STATISTIC.rms
    assert hw.BIAS_STATISTIC.corrected
    rng = np.random.default_rng(3)
    a = 0.2 + rng.standard_normal((16, 50))
    r = hb.bias_statistics(a)
    assert hw.BIAS_STATISTIC(a) == pytest.approx(np.sqrt(r["bias"] ** 2 - r["mc_se"] ** 2))
    assert hb.seed_mean_rms(a) == pytest.approx(r["bias"])
    assert hw.BIAS_STATISTIC(rng.standard_normal((4, 50)) * 1e-3 + 0.0) >= 0.0
    # signal far below the noise: the corrected estimate is about 0, the raw one is the noise
    noise = rng.standard_normal((64, 50))
    assert hw.BIAS_STATISTIC(noise) < 0.5 * hb.seed_mean_rms(noise)


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
    tiny = dataclasses.replace(CLAIM.suites["smoke"], variants=(), seeds=3, L_sweep=(2, 4, 8),
                               M_fixed=4, bias={"linear": hw.BiasSweep((2, 4, 8), 64, 32)})
    monkeypatch.setitem(hw.HWRateLM.suites, "smoke", tiny)
    r, c = run_claim(CLAIM, "smoke", ResultsStore(tmp_path))
    assert r.variant == "linear/bias" and r.claimed == -1.0 and r.derived == -1.0
    assert r.role == "exploratory"
    assert r.method == "boot_t" and r.sizes == [2.0, 4.0, 8.0] and len(r.pairwise) == 2
    assert r.status in STATUSES and r.reference_error == [0.0] * 3
    assert sum("MC error of the mean" in n for n in r.notes) == 3
    assert "K=15" in r.error_label and "L=" not in r.error_label
    # the negative control runs after the claim's variants
    assert (c.variant, c.role, c.claimed, c.derived) == ("control/wrong_limit", "control", -0.5,
                                                         0.0)
    assert c.method == "log_t" and c.sizes == [2.0, 4.0, 8.0] and c.status in STATUSES


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
                                         "linear/M/mean", "linear/bias", "control/wrong_limit"]
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
    assert not specs["hw_depth_as_width"].wants("control/wrong_limit")


# -- statistics, intervals, reference errors ------------------------------------------------

def _paired(sizes, law, seeds=16, scatter=0.3, seed=0):
    """Per-seed errors ``law(size) * z_i`` with the same log-normal factor ``z_i`` of seed i at
    every size plus a small independent part (paired seeds)."""
    rng = np.random.default_rng(seed)
    z = np.exp(scatter * rng.standard_normal(seeds))
    return [law(s) * z * np.exp(0.05 * rng.standard_normal(seeds)) for s in sizes]


def test_typical_error_is_the_geometric_mean_paired_log_t():
    """Synthetic per-seed errors of the claimed rate (L^-1/2, heavy log-normal scatter, paired):
    the geometric mean with the paired log-slope t-interval confirms; the /mean twin is boot_t."""
    pts = _points("linear/L", "smoke")
    samples = _paired([p.L for p in pts], lambda L: 0.3 * L ** -0.5)
    frames = [pd.DataFrame({"out_err": a}) for a in samples]
    m = CLAIM.measure(V("linear", "L"), pts, frames)
    assert m.statistic is geometric_mean and m.paired and list(m.reference_error) == [0.0] * 6
    assert m.error_label.startswith("geometric mean rms output error")
    ev = m.evaluate(CLAIM.claimed(V("linear", "L")))
    assert ev.method == "log_t" and ev.status == "confirmed"
    assert ev.slope == pytest.approx(-0.5, abs=0.05)
    twin = CLAIM.measure(V("linear", "L", "mean"), pts, frames)
    assert twin.statistic is hw_common.mean and twin.fit().method == "boot_t"


def test_reference_errors_per_size():
    """Exact linear Mean ODE: 0; Mean-ODE solver: the variant's statistic of the stored
    per-seed estimates; coupled fallback (or a table without the column): None."""
    lin = _points("linear/L", "smoke")[:2]
    frames = [pd.DataFrame({"out_err": [0.1, 0.2]})] * 2
    assert hw_common.reference_errors(lin, frames, geometric_mean) == [0.0, 0.0]
    ode = _points("tanh/L", "smoke")[:2]
    withref = [pd.DataFrame({"out_err": [0.1, 0.2], "ref_err": [1e-3, 4e-3]})] * 2
    assert hw_common.reference_errors(ode, withref, geometric_mean) == \
        pytest.approx([2e-3, 2e-3])
    assert hw_common.reference_errors(ode, withref, hw_common.mean) == \
        pytest.approx([2.5e-3, 2.5e-3])
    assert hw_common.reference_errors(ode, frames, geometric_mean) is None
    cpl = [HWPoint(act="tanh", D=5, L=4, M=4, K=2, eta=0.5, n_seeds=2, L_ref=8, M_ref=8)]
    assert hw_common.reference_errors(cpl, frames[:1], geometric_mean) is None
    m = CLAIM.measure(V("tanh", "L"), ode, withref)
    assert list(m.reference_error) == pytest.approx([2e-3, 2e-3])


def test_tanh_points_store_the_solver_error():
    """An HWODEPoint's table carries the Mean-ODE solver's own error per seed
    (numerics.hw_reference.reference_error); the field changes the cache key."""
    from infdepth.numerics.hw_reference import reference_error
    from infdepth.validation.results_store import config_hash
    p = HWODEPoint(act="tanh", D=5, L=4, M=4, K=2, eta=0.5, n_seeds=2, ref_Ls=4, ref_P=256)
    f = CLAIM.compute(p)
    e = reference_error(hw_common.reference_spec(p), p.config(), *p.data())
    for k in ("ref_err", "ref_err_mc", "ref_err_depth"):
        np.testing.assert_array_equal(f[k], e[k])
    assert "ref_err" not in CLAIM.compute(dataclasses.replace(p, ref_error=False))
    assert config_hash(p) != config_hash(dataclasses.replace(p, ref_error=False))


# -- the negative control -----------------------------------------------------------------------

def test_control_is_declared_and_reads_the_linear_L_networks():
    assert CONTROL.label == "control/wrong_limit" and CLAIM.role(CONTROL) == "control"
    assert CLAIM.controls == (CONTROL,)
    assert CLAIM.suite_variants(CLAIM.sweep("smoke"), Overrides())[-1] == CONTROL
    pts = CLAIM.points(CONTROL, CLAIM.sweep("smoke"), Overrides(), RUN)
    base = _points("linear/L", "smoke")
    assert all(type(p) is hw.HWWrongLimitPoint and p.ref_alpha == 1.25 for p in pts)
    assert [HWPoint(**{f.name: getattr(p, f.name) for f in dataclasses.fields(HWPoint)})
            for p in pts] == base                            # the linear/L networks
    assert CLAIM.claimed(CONTROL).band == pytest.approx((-0.65, -0.35))
    d = CLAIM.derived(CONTROL)
    assert d.exponent == 0.0 and "different limit" in d.text


def test_control_compares_with_the_mean_ode_at_another_alpha():
    """compute: the networks at alpha = 1 against the exact Mean ODE at alpha = 1.25 (same
    W_in, W_out, data, base rate): a limit that starts where the right one does (f_0 =
    W_out^T W_in x / D at any alpha) and moves away from it with the steps."""
    from infdepth.numerics.hidden_width import train_hw
    from infdepth.numerics.hw_reference import (ReferenceSpec, errors_to_reference,
                                                reference_trajectories)
    p = hw.HWWrongLimitPoint(act="linear", D=5, L=4, M=8, K=3, eta=0.2, n_seeds=3)
    f = CLAIM.compute(p)
    X, Y = p.data()
    cfg = p.config()
    f_ref, h_ref, _ = reference_trajectories(ReferenceSpec("exact"),
                                             dataclasses.replace(cfg, alpha=1.25), X, Y)
    want = errors_to_reference(train_hw(cfg, X, Y), f_ref, h_ref, Y)
    np.testing.assert_allclose(f["out_err"], want["out_err"], rtol=1e-12)
    right, _, _ = reference_trajectories(ReferenceSpec("exact"), cfg, X, Y)
    np.testing.assert_allclose(f_ref[:, 0], right[:, 0], rtol=1e-12)
    gap = np.sqrt(((f_ref - right) ** 2).mean(axis=(0, 2, 3)))        # rms per step
    assert gap[1] < 1e-12 and np.all(np.diff(gap[1:]) > 0) and gap[-1] > 1e-4


def test_control_is_refuted_on_synthetic_data():
    """An error that tends to a constant (the distance between the two limits) plus the
    finite-size part (LM)^-1/2: refuted against -1/2 (geometric mean, paired, log_t)."""
    pts = CLAIM.points(CONTROL, CLAIM.sweep("smoke"), Overrides(), RUN)
    samples = _paired([p.L for p in pts], lambda L: 0.05 + 0.1 * (16 * L) ** -0.5)
    m = CLAIM.measure(CONTROL, pts, [pd.DataFrame({"out_err": a}) for a in samples])
    assert m.statistic is geometric_mean and m.paired and m.column == "out_err"
    ev = m.evaluate(CLAIM.claimed(CONTROL))
    assert ev.method == "log_t" and ev.status == "refuted"
    assert "alpha=1.25" in m.error_label


def test_joint_variant_fits_the_two_terms_over_the_three_sweeps():
    """Synthetic errors a/L + b/sqrt(LM) on the networks of the L-, M- and L = M sweeps: the
    joint fit finds exponents -1 (L) and -1/2 (LM) and confirms; the points are the union of the
    three sweeps (the (16, 16) network once)."""
    from infdepth.run_fields import RunFields
    from infdepth.validation.claims.hw_rate_lm import JointVariant
    sweep = CLAIM.sweep("standard")
    v = JointVariant("linear")
    pts = CLAIM.points(v, sweep, Overrides(), RunFields())
    assert len(pts) == len(sweep.L_sweep) + len(sweep.M_sweep) + len(sweep.LM_sweep)
    rng = np.random.default_rng(4)
    frames = [pd.DataFrame({"out_err": (0.5 / p.L + 0.3 / np.sqrt(p.L * p.M))
                            * np.exp(0.2 * rng.standard_normal(p.n_seeds))}) for p in pts]
    m = CLAIM.measure(v, pts, frames)
    assert len(m.samples) == len({(p.L, p.M) for p in pts})
    ev = m.evaluate(CLAIM.claimed(v))
    assert ev.kind == "joint" and ev.status == "confirmed", ev.reason
    assert ev.ci_low <= -0.5 <= ev.ci_high
    assert CLAIM.derived(v).exponent == -0.5 and CLAIM.role(v) == "exploratory"
