"""Claim ``hw_lazy`` (docs/theory.md s6, s8): variants, points over alpha, a tiny point end to
end (the preset's scales checked against the model's), per-quantity claims and measurements."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims.hw_lazy import CLAIM, HWLazyPoint, LazyVariant

torch.set_num_threads(1)
MOVE, OUT = LazyVariant("movement"), LazyVariant("output")


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
    ev = CLAIM.measure(MOVE, pts, frames).evaluate(CLAIM.claimed(MOVE))
    assert ev.slope == pytest.approx(-1.0, abs=1e-9) and ev.status == "confirmed"
    ev = CLAIM.measure(OUT, pts, frames).evaluate(CLAIM.claimed(OUT))
    assert ev.slope == pytest.approx(0.0, abs=1e-9) and ev.status == "confirmed"
