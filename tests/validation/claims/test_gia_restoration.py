"""Claim ``gia_restoration``: variants, one-sided bands, loss-curve gap and divergent seeds."""

import math

import numpy as np
import pandas as pd
import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import TOLERANCE, Overrides, gia_restoration
from infdepth.validation.claims.gia_restoration import (CLAIM, GiaPoint,
                                                        ParameterizationVariant, per_seed_gap)
from infdepth.validation.intervals import geometric_mean

DMUP, MUP, SP = (ParameterizationVariant(p) for p in ("depth_mup", "mup", "sp"))


def test_variant_labels_per_suite():
    for suite in ("smoke", "standard", "full"):
        assert variant_labels(CLAIM, suite) == ["depth_mup", "mup", "sp"]
    assert CLAIM.primary == DMUP and CLAIM.role(MUP) == "exploratory"
    assert CLAIM.controls == ()      # qualitative: mup and sp carry the contrast (docstring)
    assert "Negative control: none" in gia_restoration.__doc__


def test_points_carry_the_parameterization():
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(MUP, sw, Overrides(), RunFields(base_seed=5))
    assert [p.L for p in pts] == [2, 4, 8, 16]
    assert {(p.parameterization, p.n, p.K, p.n_seeds, p.base_seed) for p in pts} == \
        {("mup", 128, 6, 4, 5)}


def test_gia_loss_curves_start_equal():
    """Reused and independent runs share U, W^0 and v: identical loss at step 0, then differ."""
    f = CLAIM.compute(GiaPoint(act="tanh", parameterization="depth_mup", n=16, L=3, K=4,
                               n_seeds=2))
    assert list(f.columns) == ["seed", "step", "loss_reused", "loss_independent"]
    assert len(f) == 2 * 5
    first = f[f["step"] == 0]
    np.testing.assert_allclose(first["loss_reused"], first["loss_independent"], rtol=1e-14)
    later = f[f["step"] > 0]
    assert np.any(np.abs(later["loss_reused"] - later["loss_independent"]) > 1e-10)
    assert np.all(np.isfinite(per_seed_gap(f)))


def test_gia_gap_formula_and_divergence():
    f = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "step": [0, 1, 2] * 2,
                      "loss_reused": [2.0, 1.0, 0.5, 1.0, np.nan, 0.1],
                      "loss_independent": [2.0, 1.2, 0.5, 1.0, 0.2, 0.1]})
    g = per_seed_gap(f)
    assert g[0] == pytest.approx(math.sqrt((0.2 ** 2 + 0) / 2) / 2.0)
    assert math.isnan(g[1])  # divergence is recorded, the fitter excludes it with a note


def test_gia_claim_bands():
    assert CLAIM.claimed(DMUP).band == (-math.inf, -0.15) == (-math.inf, -TOLERANCE)
    assert CLAIM.claimed(MUP).band == (-0.15, math.inf)
    assert CLAIM.claimed(SP).text == "not decreasing in L" and CLAIM.claimed(SP).slope is None
    assert CLAIM.claimed(DMUP).text == "decreasing in L"


def _frames(depths, gap_of_L, seeds=8, diverge_at=None, seed_scatter=0.0):
    rng = np.random.default_rng(2)
    per_seed = np.exp(seed_scatter * rng.standard_normal(seeds))  # shared across depths
    out = []
    for L in depths:
        rows = []
        for s in range(seeds):
            d = gap_of_L(L) * per_seed[s] * (1 + 0.05 * rng.standard_normal())
            r = np.array([1.0, 0.8, 0.6, 0.5])
            i = r + np.array([0.0, d, d, d])
            if L == diverge_at:
                r = r.copy(); r[2] = np.inf
            rows.append(pd.DataFrame({"seed": s, "step": range(4), "loss_reused": r,
                                      "loss_independent": i}))
        out.append(pd.concat(rows, ignore_index=True))
    return out


def test_measure_recovers_known_slope_and_excludes_divergence():
    depths = (2, 4, 8, 16, 32)
    pts = [GiaPoint(act="tanh", parameterization="depth_mup", n=32, L=L, K=3, n_seeds=8)
           for L in depths]
    m = CLAIM.measure(DMUP, pts, _frames(depths, lambda L: 0.3 / L, seed_scatter=0.5))
    assert list(m.sizes) == list(depths) and "n=32, K=3" in m.error_label
    assert m.statistic is geometric_mean and m.paired
    ev = m.evaluate(CLAIM.claimed(DMUP))
    assert ev.method == "log_t" and "paired across sizes" in ev.notes[-1]
    assert ev.slope == pytest.approx(-1.0, abs=0.03) and ev.status == "confirmed"
    assert ev.ci_high - ev.ci_low < 0.1     # the per-seed factor cancels in the paired slopes
    assert CLAIM.measure(MUP, pts, _frames(depths, lambda L: 0.3 / L)).evaluate(
        CLAIM.claimed(MUP)).status == "refuted"
    m = CLAIM.measure(MUP, pts, _frames(depths, lambda L: 0.1, diverge_at=32))
    assert math.isnan(m.samples[-1][0])
    ev = m.evaluate(CLAIM.claimed(MUP))
    assert ev.used == (True, True, True, True, False)
    assert any("size 32: excluded, divergent" in n for n in ev.notes)
    assert ev.slope == pytest.approx(0.0, abs=0.05) and ev.status == "confirmed"
    assert ev.method == "log_t"


def test_derived_per_parameterization():
    for v in (DMUP, MUP, SP):
        d = CLAIM.derived(v)
        assert d.exponent is None and d.text.startswith(f"[{v.parameterization}]")
    assert "Theta(1), does not decay" in CLAIM.derived(DMUP).text


def test_bad_variant_message():
    with pytest.raises(ValueError, match="allowed: depth_mup, mup, sp"):
        ParameterizationVariant("completep")
