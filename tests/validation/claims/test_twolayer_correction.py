"""Claim twolayer_correction: typed settings and variants, shared points, measure, derived, the
negative control control/gamma=0."""

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples, variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides, get_claim
from infdepth.validation.claims import twolayer_collapse as tc
from infdepth.validation.claims import twolayer_correction as tcor
from infdepth.validation.claims.twolayer_point import TwoLayerPoint
from infdepth.validation.intervals import geometric_mean

C = tcor.CLAIM
RUN = RunFields()
V = tcor.CorrectionVariant
S = tcor.Setting
G0 = tcor.ControlVariant("gamma=0")


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
    assert C.controls == (G0,) and G0.label == "control/gamma=0" and C.role(G0) == "control"
    assert C.claimed(G0).band == pytest.approx((-0.15, 0.15))
    assert [v.label for v in C.suite_variants(C.sweep("smoke"), Overrides())][-1] == \
        "control/gamma=0"


def test_control_points_are_twolayer_collapses_depth_mup_points():
    for suite in ("smoke", "standard", "full"):
        assert C.points(G0, C.sweep(suite), Overrides(), RUN) == \
            tc.CLAIM.points(tc.CLAIM.primary, tc.CLAIM.sweep(suite), Overrides(), RUN)
    ov = Overrides(depths=(2, 4, 8), widths=(32,))
    assert C.points(G0, C.sweep("smoke"), ov, RUN) == \
        tc.CLAIM.points(tc.CLAIM.primary, tc.CLAIM.sweep("smoke"), ov, RUN)


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
    assert du.error_label == ("rms m1 (W1^K - W1^0) phi(h), block mean (gamma=0.5, n=64), "
                              "geometric mean")
    assert du.statistic is geometric_mean and du.paired
    ev = du.evaluate(C.claimed(C.primary))
    assert ev.method == "log_t" and "paired across sizes" in ev.notes[-1]
    assert ev.slope == pytest.approx(0.0, abs=0.03) and ev.status == "confirmed"
    dh = C.measure(V("dh", S(0.5)), pts, frames)
    assert dh.column == "dh_L" and dh.error_label == ("rms h^K_L - h^0_L (gamma=0.5, n=64), "
                                                      "geometric mean")
    ev = dh.evaluate(C.claimed(V("dh", S(0.5))))
    assert ev.slope == pytest.approx(0.5, abs=0.03) and ev.status == "refuted"


def test_control_on_synthetic_data_is_refuted():
    """The collapse du ~ L^-1/2 (the derived depth-muP order) is refuted against the claimed 0
    and agrees with the derived band."""
    pts, frames = _frames((4, 8, 16, 32), -0.5, 0.0)
    d = C.derived(G0)
    m = C.measure(G0, pts, frames)
    assert m.column == "du_weight" and m.paired and m.statistic is geometric_mean
    assert m.error_label.startswith("control: rms m1 (W1^K - W1^0) phi(h), block mean "
                                    "(depth_mup, n=64)")
    ev = m.evaluate(C.claimed(G0), (d.exponent - 0.15, d.exponent + 0.15))
    assert ev.slope == pytest.approx(-0.5, abs=0.03)
    assert ev.status == "refuted" and ev.status_derived == "confirmed"


def test_derived():
    g0 = C.derived(G0)
    assert g0.exponent == -0.5 and g0.text.startswith("[depth_mup] control, no correction")
    assert C.derived(V("du", S(0.5))).exponent == 0.0
    dh = C.derived(V("dh", S(0.5)))
    assert dh.exponent == 0.5 and dh.text.startswith("[gamma=0.5] rms Delta h_L")
    assert C.derived(V("du", S(0.25))).exponent == -0.25
    assert C.derived(V("du", S(None))).exponent == 0.0
    assert C.derived(V("dh", S(None))).exponent == 0.0


def test_figure_spec():
    assert [(f.kind, f.stem) for f in C.figures] == [("rate", "twolayer_correction")]
