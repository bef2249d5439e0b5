"""Claim ``hw_lazy`` (docs/theory.md s6, s8): variants, points over alpha, a tiny point end to
end (the preset's scales checked against the model's), per-quantity claims and measurements
(geometric mean, paired, log_t), the negative control ``control/hw_mlu_rate``."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims import hw_lazy
from infdepth.validation.claims.hw_lazy import CLAIM, ControlVariant, HWLazyPoint, LazyVariant
from infdepth.validation.intervals import geometric_mean

torch.set_num_threads(1)
MOVE, OUT = LazyVariant("movement"), LazyVariant("output")
CONTROL = ControlVariant("hw_mlu_rate")


def test_variants_claims_and_primary():
    assert variant_labels(CLAIM, "smoke") == ["tanh/movement", "tanh/output"]
    assert CLAIM.variants(CLAIM.sweep("smoke"), Overrides(activations=("relu",))) == ()
    assert CLAIM.primary == MOVE and CLAIM.role(OUT) == "exploratory"
    assert CLAIM.claimed(MOVE).band == pytest.approx((-1.15, -0.85))
    assert CLAIM.claimed(OUT).band == pytest.approx((-0.15, 0.15))
    with pytest.raises(ValueError,
                       match="unknown hw_lazy quantity 'speed'; allowed: movement, output"):
        LazyVariant("speed")


def test_points_sweep_alpha():
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(MOVE, sw, Overrides(widths=(8, 24)), RunFields(dtype="float32"))
    assert [p.alpha for p in pts] == list(sw.alphas)
    assert {(p.L, p.M, p.D, p.n_seeds, p.dtype, p.parameterization) for p in pts} == \
        {(sw.L, 24, sw.D, sw.seeds, "float32", "hw_lazy")}
    assert pts == CLAIM.points(OUT, sw, Overrides(widths=(8, 24)), RunFields(dtype="float32"))


def test_claim_runs_on_tiny_points():
    pts = CLAIM.points(MOVE, CLAIM.sweep("smoke"), Overrides(), RunFields())[:2]
    small = [dataclasses.replace(p, n_seeds=2, K=2, L=4, M=4) for p in pts]
    hash(small[0])
    frames = [CLAIM.compute(p) for p in small]
    assert all(len(f) == 2 for f in frames)
    assert list(frames[0].columns) == ["seed", "movement", "movement_u", "movement_v",
                                       "output_change", "loss_K"]
    for v in (MOVE, OUT):
        m = CLAIM.measure(v, small, frames)
        assert m.paired and list(m.sizes) == [p.alpha for p in small]
        assert all(np.isfinite(s).all() and (s > 0).all() for s in m.samples)
        d = CLAIM.derived(v)
        assert d.exponent is not None and math.isfinite(d.exponent)
    assert CLAIM.compute(small[0]).equals(frames[0])       # pure


def test_compute_checks_the_parameterization():
    p = HWLazyPoint(act="tanh", D=5, L=4, M=4, K=1, eta=0.5, alpha=2.0, n_seeds=1,
                    parameterization="hw_mlu")
    with pytest.raises(ValueError, match="is not the \\[HW\\] 2LP scaling"):
        CLAIM.compute(p)


def test_measure_recovers_known_slopes():
    alphas = (1.0, 2.0, 4.0, 8.0)
    pts = [HWLazyPoint(act="tanh", D=5, L=32, M=32, K=15, eta=0.5, alpha=a, n_seeds=16)
           for a in alphas]
    z = np.exp(0.1 * np.random.default_rng(1).standard_normal(16))     # paired seeds
    frames = [pd.DataFrame({"movement": 0.3 / a * z, "output_change": 0.7 * z})
              for a in alphas]
    m = CLAIM.measure(MOVE, pts, frames)
    assert m.statistic is geometric_mean and m.paired
    ev = m.evaluate(CLAIM.claimed(MOVE))
    assert ev.method == "log_t"
    assert ev.slope == pytest.approx(-1.0, abs=1e-9) and ev.status == "confirmed"
    ev = CLAIM.measure(OUT, pts, frames).evaluate(CLAIM.claimed(OUT))
    assert ev.slope == pytest.approx(0.0, abs=1e-9) and ev.status == "confirmed"


def test_primary_confirmed_on_heavy_tailed_paired_data():
    """Per-seed movement 0.3/alpha with a heavy log-normal seed factor and a small independent
    part: the paired log-slope interval confirms -1."""
    alphas = (1.0, 2.0, 4.0, 8.0)
    pts = [HWLazyPoint(act="tanh", D=5, L=32, M=32, K=15, eta=0.5, alpha=a, n_seeds=8)
           for a in alphas]
    rng = np.random.default_rng(2)
    z = np.exp(0.8 * rng.standard_normal(8))
    frames = [pd.DataFrame({"movement": 0.3 / a * z * np.exp(0.05 * rng.standard_normal(8))})
              for a in alphas]
    ev = CLAIM.measure(MOVE, pts, frames).evaluate(CLAIM.claimed(MOVE))
    assert ev.status == "confirmed" and ev.method == "log_t"


# -- the negative control -----------------------------------------------------------------------

def test_control_parameterization_and_derived_exponent():
    """hw_mlu_rate: the [HW] scaling at alpha with hw_mlu's raw LR L M D; the calculus gives
    movement alpha^1 (refutes -1) and function change alpha^2."""
    from infdepth.theory.exponents_hw import derive_hw
    p = hw_lazy.fixed_rate_parameterization()
    assert p.name == "hw_mlu_rate"
    assert p.exponents("u", "lr") == {"n": 0, "L": 1, "M": 1, "D": 1, "alpha": 0}
    assert p.exponents("v", "multiplier")["alpha"] == 1
    r = derive_hw(p)
    assert r.exponent("unit_movement", "alpha") == 1 and r.exponent("output_update",
                                                                    "alpha") == 2
    assert CONTROL.label == "control/hw_mlu_rate" and CLAIM.role(CONTROL) == "control"
    assert CLAIM.suite_variants(CLAIM.sweep("smoke"), Overrides())[-1] == CONTROL
    d = CLAIM.derived(CONTROL)
    assert d.exponent == 1.0 and "raw LR L M D" in d.text
    assert CLAIM.claimed(CONTROL).band == pytest.approx((-1.15, -0.85))


def test_control_points_hold_the_raw_rate_fixed():
    """Base rate eta / alpha_max^2, raw rate eta_c L M D at every alpha (the claim's hw_lazy
    rate at the largest alpha); compute checks it against the parameterization."""
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(CONTROL, sw, Overrides(), RunFields())
    eta_c = 0.5 / max(sw.alphas) ** 2
    assert [p.alpha for p in pts] == list(sw.alphas)
    assert {(p.parameterization, p.eta) for p in pts} == {("hw_mlu_rate", eta_c)}
    rates = {round(p.config().rate_u, 9) for p in pts}
    assert rates == {round(eta_c * sw.L * sw.M * sw.D, 9)}
    lazy_top = CLAIM.points(MOVE, sw, Overrides(), RunFields())[-1]
    assert pts[-1].config().rate_u == pytest.approx(lazy_top.config().rate_u)
    small = dataclasses.replace(pts[1], n_seeds=2, K=2, L=4, M=4)
    f = CLAIM.compute(small)
    assert np.all(np.isfinite(f["movement"])) and np.all(f["movement"] > 0)
    # without the alpha^2 on the base rate the network would not be the parameterization
    sc = hw_lazy.parameterization_of("hw_mlu_rate").evaluate(L=4, M=4, D=5, alpha=2.0)
    assert sc["u"]["lr"] * small.eta == pytest.approx(small.config().rate_u)
    assert small.config(eta=small.eta).rate_u == pytest.approx(sc["u"]["lr"] * small.eta / 4)


def test_control_is_refuted_on_synthetic_data():
    """Movement growing like alpha (paired log-normal seeds): refuted against -1."""
    alphas = (1.0, 2.0, 4.0, 8.0)
    pts = [HWLazyPoint(act="tanh", D=5, L=32, M=32, K=15, eta=0.5 / 64, alpha=a, n_seeds=8,
                       parameterization="hw_mlu_rate") for a in alphas]
    rng = np.random.default_rng(4)
    z = np.exp(0.3 * rng.standard_normal(8))
    frames = [pd.DataFrame({"movement": 0.005 * a * z * np.exp(0.05 * rng.standard_normal(8))})
              for a in alphas]
    m = CLAIM.measure(CONTROL, pts, frames)
    assert m.statistic is geometric_mean and m.paired and "not rescaled" in m.error_label
    ev = m.evaluate(CLAIM.claimed(CONTROL))
    assert ev.method == "log_t" and ev.status == "refuted"
    assert ev.slope == pytest.approx(1.0, abs=0.1)
