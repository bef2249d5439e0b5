"""Claim ``init_width`` (docs/theory.md s3, s8, s9): variants activation/statistic, one point per
width evaluating every activation on the same draws, the relative bias to the exact
infinite-width recursion."""

import numpy as np
import pandas as pd
import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims.init_width import (CLAIM, WidthPoint, WidthVariant,
                                                   reference_vector, relative_bias)


def test_variants_and_points():
    sw = CLAIM.sweep("smoke")
    assert variant_labels(CLAIM, "smoke") == ["tanh/output", "relu/output"]
    assert variant_labels(CLAIM, "smoke", Overrides(activations=("erf",))) == \
        ["erf/output", "erf/grad"]
    assert CLAIM.primary == WidthVariant("tanh", "output")
    pts = CLAIM.points(CLAIM.primary, sw, Overrides(), RunFields())
    assert [p.n for p in pts] == list(sw.widths)
    assert [p.n_seeds for p in pts] == [sw.seeds_per_width * n for n in sw.widths]
    assert {p.activations for p in pts} == {("tanh", "relu")}          # one point, every act
    assert pts == CLAIM.points(WidthVariant("relu", "output"), sw, Overrides(), RunFields())
    with pytest.raises(ValueError, match="allowed: output, grad"):
        WidthVariant("tanh", "mean")


def test_tiny_compute_holds_every_activation():
    p = WidthPoint(activations=("tanh", "relu"), n=8, L=2, n_seeds=3)
    f = CLAIM.compute(p)
    assert list(f["activation"].unique()) == ["tanh", "relu"] and len(f) == 6
    names, ref = reference_vector(p, "tanh", "output")
    assert set(names) <= set(f.columns) and np.all(np.isfinite(f[names].to_numpy()))
    assert CLAIM.compute(p).equals(f)                                 # pure


def test_relative_bias_by_hand_and_known_slope():
    ref = np.array([1.0, 1.0])
    assert relative_bias(np.array([[2.0, 0.0], [0.0, 2.0]]), ref, np.ones(2)) == 0.0
    # seed mean (1, 0): |(0, -1)| / |(1, 1)|; weight sqrt(2) on the second entry doubles its share
    assert relative_bias(np.array([[2.0, 0.0], [0.0, 0.0]]), ref, np.ones(2)) == \
        pytest.approx(2 ** -0.5)
    assert relative_bias(np.array([[2.0, 0.0], [0.0, 0.0]]), ref, np.array([1.0, 2 ** 0.5])) \
        == pytest.approx((2 / 3) ** 0.5)
    widths = (4, 8, 16, 32)
    pts = [WidthPoint(activations=("tanh",), n=n, L=2, n_seeds=400) for n in widths]
    names, ref = reference_vector(pts[0], "tanh", "output")
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"activation": "tanh", **{
        c: r * (1 + 0.5 / n) + 1e-3 * rng.standard_normal(400) for c, r in zip(names, ref)}})
        for n in widths]
    ev = CLAIM.measure(CLAIM.primary, pts, frames).evaluate(CLAIM.claimed(CLAIM.primary))
    assert ev.slope == pytest.approx(-1.0, abs=0.05) and ev.status == "confirmed"
