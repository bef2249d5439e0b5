"""Claim twolayer_correction: typed settings and variants, shared points, measure, derived."""

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples, variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides, get_claim
from infdepth.validation.claims import twolayer_collapse as tc
from infdepth.validation.claims import twolayer_correction as tcor
from infdepth.validation.claims.twolayer_point import TwoLayerPoint

C = tcor.CLAIM
RUN = RunFields()
V = tcor.CorrectionVariant
S = tcor.Setting


def test_variant_labels_per_suite():
    assert variant_labels(C, "smoke") == ["du/gamma=0.5", "dh/gamma=0.5", "du/completep",
                                          "dh/completep"]
    assert variant_labels(C, "standard") == ["du/gamma=0.5", "dh/gamma=0.5", "du/gamma=0.25",
                                             "dh/gamma=0.25", "du/completep", "dh/completep"]
    assert variant_labels(C, "full") == ["du/gamma=0.5", "dh/gamma=0.5", "du/gamma=0.25",
                                         "dh/gamma=0.25", "du/gamma=0.75", "dh/gamma=0.75",
                                         "du/completep", "dh/completep"]


def test_primary_and_claim_row():
    assert get_claim("twolayer_correction") is C
    assert C.primary.label == "du/gamma=0.5" and C.role(V("du", S(0.5))) == "primary"
    assert C.role(V("dh", S(0.5))) == "exploratory"
    assert C.claimed(V("dh", S(None))).band == pytest.approx((-0.15, 0.15))


def test_bad_variants_name_the_allowed_values():
    with pytest.raises(ValueError, match="allowed: du, dh"):
        V("dw", S(0.5))
    with pytest.raises(ValueError, match=r"finite number \(depth_mup_corrected\) or None"):
        S(float("nan"))
    with pytest.raises(ValueError, match="allowed"):
        S("0.5")
    with pytest.raises(ValueError, match="allowed"):
        V("du", 0.5)


def test_points_share_configs_with_twolayer_collapse():
    pts = C.points(V("du", S(0.25)), C.sweep("standard"), Overrides(), RUN)
    assert {p.gamma for p in pts} == {0.25} and pts[0].parameterization == "depth_mup_corrected"
    assert [p.L for p in pts] == [4, 8, 16, 32, 64] and {p.L0 for p in pts} == {4.0}
    # du and dh of one setting read the same points
    assert pts == C.points(V("dh", S(0.25)), C.sweep("standard"), Overrides(), RUN)
    cp = C.points(V("du", S(None)), C.sweep("smoke"), Overrides(), RUN)
    assert {(p.parameterization, p.gamma) for p in cp} == {("completep", None)}
    # one point class for both two-layer claims: same sweep, same class, same fields
    col = tc.CLAIM.points(tc.CLAIM.primary, tc.CLAIM.sweep("smoke"), Overrides(), RUN)
    assert type(col[0]) is type(cp[0]) is TwoLayerPoint
    assert [(p.act, p.n, p.L, p.K, p.n_seeds) for p in col] == \
        [(p.act, p.n, p.L, p.K, p.n_seeds) for p in cp]


def test_tiny_compute_of_a_corrected_point():
    f = C.compute(TwoLayerPoint(act="tanh", parameterization="depth_mup_corrected", gamma=0.5,
                                n=16, L=2, K=2, n_seeds=2))
    assert list(f.columns) == ["seed", "du_weight", "du_total", "dh_L"]
    vals = f[["du_weight", "du_total", "dh_L"]].to_numpy()
    assert np.all(np.isfinite(vals)) and np.all(vals > 0)


def _frames(depths, slope_du, slope_dh, seeds=6, noise=0.02):
    du = power_law_samples(depths, slope_du, seeds, noise=noise, rng_seed=1)
    dh = power_law_samples(depths, slope_dh, seeds, scale=0.1, noise=noise, rng_seed=2)
    pts, frames = [], []
    for L, a, b in zip(depths, du, dh):
        frames.append(pd.DataFrame({"seed": np.arange(seeds), "du_weight": a,
                                    "du_total": np.ones(seeds), "dh_L": b}))
        pts.append(TwoLayerPoint(act="tanh", parameterization="depth_mup_corrected", gamma=0.5,
                                 n=64, L=L, K=3, n_seeds=seeds))
    return pts, frames


def test_measure_recovers_known_slopes_and_verdicts():
    pts, frames = _frames((4, 8, 16, 32, 64), 0.0, 0.5)
    du = C.measure(V("du", S(0.5)), pts, frames)
    assert du.column == "du_weight" and list(du.sizes) == [4, 8, 16, 32, 64]
    assert du.error_label == "rms m1 (W1^K - W1^0) phi(h), block mean (gamma=0.5, n=64)"
    ev = du.evaluate(C.claimed(C.primary))
    assert ev.slope == pytest.approx(0.0, abs=0.03) and ev.status == "confirmed"
    dh = C.measure(V("dh", S(0.5)), pts, frames)
    assert dh.column == "dh_L" and dh.error_label == "rms h^K_L - h^0_L (gamma=0.5, n=64)"
    ev = dh.evaluate(C.claimed(V("dh", S(0.5))))
    assert ev.slope == pytest.approx(0.5, abs=0.03) and ev.status == "refuted"


def test_derived():
    assert C.derived(V("du", S(0.5))).exponent == 0.0
    dh = C.derived(V("dh", S(0.5)))
    assert dh.exponent == 0.5 and dh.text.startswith("[gamma=0.5] rms Delta h_L")
    assert C.derived(V("du", S(0.25))).exponent == -0.25
    assert C.derived(V("du", S(None))).exponent == 0.0
    assert C.derived(V("dh", S(None))).exponent == 0.0


def test_figure_spec():
    assert [(f.kind, f.stem) for f in C.figures] == [("rate", "twolayer_correction")]
