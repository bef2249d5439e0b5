"""Claim ``init_kernel_depth`` (docs/theory.md s3, s8): one variant per activation, the exact
depth-L recursion against the kernel ODE, deterministic (no seeds)."""

import numpy as np
import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims.init_kernel_depth import (CLAIM, ActivationVariant,
                                                          KernelDepthPoint)


def test_variants_points_and_overrides():
    assert variant_labels(CLAIM, "smoke") == ["relu", "tanh", "erf"]
    assert variant_labels(CLAIM, "full")[-1] == "linear"
    assert CLAIM.primary == ActivationVariant("relu")
    pts = CLAIM.points(ActivationVariant("tanh"), CLAIM.sweep("smoke"),
                       Overrides(depths=(4, 8)), RunFields(dtype="float32"))
    assert [(p.activation, p.L, p.dtype) for p in pts] == [("tanh", 4, "float32"),
                                                           ("tanh", 8, "float32")]


def test_compute_and_measure_recover_first_order():
    pts = [KernelDepthPoint(activation="erf", L=L) for L in (16, 32, 64, 128)]
    frames = [CLAIM.compute(p) for p in pts]
    assert list(frames[0]["stat"]) == ["output_kernel", "sigma", "grad_moment"]
    assert np.all(frames[0]["rel_error"] > frames[-1]["rel_error"])
    m = CLAIM.measure(ActivationVariant("erf"), pts, frames)
    assert [s.shape for s in m.samples] == [(1, 1)] * 4          # one deterministic row
    ev = m.evaluate(CLAIM.claimed(ActivationVariant("erf")))
    assert ev.method == "ols-t" and ev.slope == pytest.approx(-1.0, abs=0.02)
    assert ev.status == "confirmed"


def test_short_horizon_control_is_the_recursion_to_T_L_and_is_refuted():
    """control/short_horizon: the recursion with beta^2 T_L, T_L = L/(L + sqrt L), is the Euler
    scheme of the ODE at t = T_L (error O(1/L) to it), so against K(1) its error is O(L^-1/2):
    refuted against -1, derived -1/2."""
    from infdepth.numerics.inputs import input_covariance
    from infdepth.numerics.kernel_ode import kernel_ode
    from infdepth.numerics.kernel_recursion import depth_recursion
    from infdepth.validation.claims.init_kernel_depth import ControlVariant, ShortHorizonPoint
    v = ControlVariant("short_horizon")
    assert v.label == "control/short_horizon" and CLAIM.role(v) == "control"
    assert v in CLAIM.suite_variants(CLAIM.sweep("smoke"), Overrides())
    pts = CLAIM.points(v, CLAIM.sweep("smoke"), Overrides(depths=(16, 64, 256, 1024)),
                       RunFields())
    assert all(type(p) is ShortHorizonPoint and p.activation == "relu" for p in pts)
    assert pts[0].horizon == pytest.approx(0.8) and pts[0].recursion_beta == pytest.approx(0.8
                                                                                        ** 0.5)
    cov = input_covariance(pts[0].inputs)
    for p in pts[:2]:
        at_T = kernel_ode("relu", cov, t_end=p.horizon).output
        rec = depth_recursion("relu", cov, p.L, beta=p.recursion_beta).output
        assert np.linalg.norm(rec - at_T) / np.linalg.norm(at_T) < 2.0 / p.L
    frames = [CLAIM.compute(p) for p in pts]
    ev = CLAIM.measure(v, pts, frames).evaluate(CLAIM.claimed(v))
    assert ev.method == "ols-t" and ev.status == "refuted"
    assert -0.6 < ev.slope < -0.4
    assert CLAIM.derived(v).exponent == -0.5
    # the claim's own points keep their class (and cache keys)
    assert type(CLAIM.points(CLAIM.primary, CLAIM.sweep("smoke"), Overrides(),
                             RunFields())[0]) is KernelDepthPoint
