"""Claim ``hw_sqrt_d`` (docs/theory.md s6, s8): variants, points over D at fixed L and M, a tiny
point end to end (exact linear Mean-ODE reference), the measurement of either horizon."""

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
from infdepth.validation.claims.hw_sqrt_d import CLAIM, SqrtDVariant

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


def test_measure_recovers_sqrt_D():
    Ds = (4, 8, 16, 32)
    pts = [HWPoint(act="linear", D=D, L=16, M=16, K=15, eta=0.2, n_seeds=32) for D in Ds]
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"emb_err": 0.1 * D ** 0.5 * np.exp(0.05 * rng.standard_normal(32)),
                            "emb_err_init": np.full(32, 0.1)}) for D in Ds]
    ev = CLAIM.measure(CLAIM.primary, pts, frames).evaluate(CLAIM.claimed(CLAIM.primary))
    assert ev.slope == pytest.approx(0.5, abs=0.03) and ev.status == "confirmed"
    init = SqrtDVariant("init")
    ev = CLAIM.measure(init, pts, frames).evaluate(CLAIM.claimed(init))
    assert ev.slope == pytest.approx(0.0, abs=1e-9) and ev.status == "refuted"
