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
