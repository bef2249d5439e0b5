"""Claim ``hw_sqrt_d`` (docs/theory.md s6, s8): variants, points over D at fixed L and M, a tiny
point end to end (exact linear Mean-ODE reference), the measurement of either horizon (geometric
mean, unpaired, log_t), the negative control ``control/output``."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims.hw_common import HWPoint
from infdepth.validation.claims.hw_sqrt_d import CLAIM, ControlVariant, SqrtDVariant
from infdepth.validation.intervals import geometric_mean

CONTROL = ControlVariant("output")

torch.set_num_threads(1)


def test_variants_primary_and_overrides():
    sw = CLAIM.sweep("smoke")
    assert variant_labels(CLAIM, "smoke") == [
        "linear/embedding", "linear/embedding/mean", "linear/embedding_init",
        "linear/embedding_init/mean"]
    assert CLAIM.primary.label == "linear/embedding"
    assert CLAIM.variants(sw, Overrides(activations=("tanh",))) == ()
    with pytest.raises(ValueError, match="unknown hw_sqrt_d horizon 'final'; allowed: K, init"):
        SqrtDVariant("final")


def test_points_sweep_D_at_fixed_L_and_M():
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(CLAIM.primary, sw, Overrides(), RunFields(base_seed=2))
    assert [p.D for p in pts] == list(sw.D_sweep)
    assert {(type(p), p.act, p.L, p.M, p.n_seeds, p.base_seed) for p in pts} == \
        {(HWPoint, "linear", sw.L, sw.M, sw.seeds, 2)}
    pts = CLAIM.points(CLAIM.primary, sw, Overrides(depths=(4, 64), widths=(2, 6)), RunFields())
    assert [(p.D, p.L) for p in pts] == [(2, 64), (6, 64)]


def test_claim_runs_on_tiny_points():
    pts = CLAIM.points(CLAIM.primary, CLAIM.sweep("smoke"), Overrides(), RunFields())[:2]
    small = [dataclasses.replace(p, n_seeds=2, K=2, L=4, M=4) for p in pts]
    hash(small[0])
    frames = [CLAIM.compute(p) for p in small]
    assert all(len(f) == 2 for f in frames)
    for v in (CLAIM.primary, SqrtDVariant("init", "mean")):
        m = CLAIM.measure(v, small, frames)
        assert list(m.sizes) == [p.D for p in small]
        assert all(np.isfinite(s).all() and (s > 0).all() for s in m.samples)
        assert m.column == ("emb_err" if v.horizon == "K" else "emb_err_init")
    d = CLAIM.derived(CLAIM.primary)
    assert d.exponent is not None and math.isfinite(d.exponent)
    assert CLAIM.compute(small[0]).equals(frames[0])       # pure


def _synthetic(Ds=(4, 8, 16, 32), seeds=32):
    """Independent seeds per D (unpaired), log-normal scatter: embedding error 0.1 sqrt(D)
    after K steps, 0.1 at init, output error 0.05 (flat in D)."""
    pts = [HWPoint(act="linear", D=D, L=16, M=16, K=15, eta=0.2, n_seeds=seeds) for D in Ds]
    rng = np.random.default_rng(0)
    z = lambda: np.exp(0.1 * rng.standard_normal(seeds))  # noqa: E731
    frames = [pd.DataFrame({"emb_err": 0.1 * D ** 0.5 * z(), "emb_err_init": 0.1 * z(),
                            "out_err": 0.05 * z()}) for D in Ds]
    return pts, frames


def test_measure_recovers_sqrt_D():
    pts, frames = _synthetic()
    m = CLAIM.measure(CLAIM.primary, pts, frames)
    assert m.statistic is geometric_mean and not m.paired
    assert list(m.reference_error) == [0.0] * 4 and m.error_label.startswith("geometric mean")
    ev = m.evaluate(CLAIM.claimed(CLAIM.primary))
    assert ev.method == "log_t" and ev.slope == pytest.approx(0.5, abs=0.1)
    assert ev.status == "confirmed"
    init = SqrtDVariant("init")
    ev = CLAIM.measure(init, pts, frames).evaluate(CLAIM.claimed(init))
    assert ev.slope == pytest.approx(0.0, abs=0.1)
    assert ev.ci_high < CLAIM.claimed(init).band[0]         # CI below the band
    twin = SqrtDVariant("K", "mean")
    assert twin.label == "linear/embedding/mean"
    ev = CLAIM.measure(twin, pts, frames).evaluate(CLAIM.claimed(twin))
    assert ev.method == "boot_t"


def test_output_control_is_refuted_on_synthetic_data():
    """control/output: the output error, flat in D (the readout averages the noise over D):
    refuted against +1/2; derived 0 from the calculus; on the primary's points."""
    assert CONTROL.label == "control/output" and CLAIM.role(CONTROL) == "control"
    sw = CLAIM.sweep("smoke")
    assert CONTROL in CLAIM.suite_variants(sw, Overrides())
    assert CLAIM.points(CONTROL, sw, Overrides(), RunFields()) == \
        CLAIM.points(CLAIM.primary, sw, Overrides(), RunFields())
    pts, frames = _synthetic()
    m = CLAIM.measure(CONTROL, pts, frames)
    assert m.statistic is geometric_mean and not m.paired and m.column == "out_err"
    ev = m.evaluate(CLAIM.claimed(CONTROL))
    assert ev.method == "log_t" and ev.status == "refuted"
    d = CLAIM.derived(CONTROL)
    assert d.exponent == 0.0 and "noise_output" in d.text


def test_tanh_variants_run_in_standard_and_full_on_their_own_sweep():
    """tanh/embedding and tanh/output (the [HW] experiments' activation) against the Mean-ODE
    solver, on the suite's TanhSweep (its seeds, solver sizes and D sweep); none in smoke."""
    from infdepth.validation.claims.hw_common import HWODEPoint
    for suite in ("standard", "full"):
        labels = variant_labels(CLAIM, suite)
        assert labels[-2:] == ["tanh/embedding", "tanh/output"]
        sw = CLAIM.sweep(suite)
        t = sw.tanh
        emb, out = (v for v in CLAIM.variants(sw, Overrides()) if v.act == "tanh")
        assert CLAIM.role(emb) == CLAIM.role(out) == "exploratory"
        pts = CLAIM.points(emb, sw, Overrides(), RunFields())
        assert pts == CLAIM.points(out, sw, Overrides(), RunFields())
        assert [p.D for p in pts] == list(t.D_sweep)
        assert {(type(p), p.act, p.L, p.M, p.n_seeds, p.ref_Ls, p.ref_P, p.ref_error)
                for p in pts} == {(HWODEPoint, "tanh", sw.L, sw.M, t.seeds, t.Ls, t.P, True)}
        assert max(CLAIM.memory_bytes(p) for p in pts) < 64 * 2 ** 30
    only_tanh = CLAIM.suite_variants(CLAIM.sweep("standard"), Overrides(activations=("tanh",)))
    assert [v.label for v in only_tanh] == ["tanh/embedding", "tanh/output", "control/output"]
    assert (CLAIM.derived(emb).exponent, CLAIM.derived(out).exponent) == (0.5, 0.0)


def test_tanh_output_error_carries_the_solvers_own_error():
    """The solver's own error (estimated on f_K) enters the output error's noise floor; the
    embedding error has no estimate of it."""
    from infdepth.validation.claims.hw_common import HWODEPoint
    Ds, seeds = (4, 8, 16, 32), 16
    pts = [HWODEPoint(act="tanh", D=D, L=32, M=32, K=15, eta=0.5, n_seeds=seeds) for D in Ds]
    rng = np.random.default_rng(1)
    frames = [pd.DataFrame({"emb_err": 0.1 * D ** 0.5 * np.exp(0.1 * rng.standard_normal(seeds)),
                            "out_err": 0.05 * np.exp(0.1 * rng.standard_normal(seeds)),
                            "ref_err": np.full(seeds, 1e-3 * D)}) for D in Ds]
    emb = SqrtDVariant("K", act="tanh", error="embedding")
    out = SqrtDVariant("K", act="tanh", error="output")
    m = CLAIM.measure(out, pts, frames)
    assert m.column == "out_err" and list(m.reference_error) == pytest.approx([1e-3 * D
                                                                             for D in Ds])
    assert "Mean-ODE solver" in m.error_label and "tanh" in m.error_label
    m = CLAIM.measure(emb, pts, frames)
    assert m.column == "emb_err" and m.reference_error is None
    assert m.evaluate(CLAIM.claimed(emb)).slope == pytest.approx(0.5, abs=0.1)


def test_a_tiny_tanh_point_end_to_end():
    from infdepth.validation.claims.hw_common import HWODEPoint
    p = HWODEPoint(act="tanh", D=4, L=4, M=4, K=2, eta=0.5, n_seeds=2, ref_Ls=2, ref_P=64)
    f = CLAIM.compute(p)
    assert {"emb_err", "out_err", "ref_err"} <= set(f.columns) and len(f) == 2
    assert np.isfinite(f[["emb_err", "out_err", "ref_err"]].to_numpy()).all()
