"""Claim twolayer_collapse and the two-layer point it shares with twolayer_correction; the
geometric-mean paired statistic and the negative control control/mup."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples, variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import (CLAIM_IDS, SUITE_NAMES, Overrides, check_overrides,
                                        get_claim)
from infdepth.validation.claims import twolayer_collapse as tc
from infdepth.validation.claims.twolayer_point import TwoLayerPoint, compute_point
from infdepth.validation.intervals import geometric_mean

C = tc.CLAIM
RUN = RunFields()
MUP = tc.ControlVariant("mup")


def test_registry_primary_and_claim_row():
    assert get_claim("twolayer_collapse") is C
    assert "twolayer_point" not in CLAIM_IDS  # shared point module, not a claim
    assert C.primary == tc.ReadingVariant("weight") and C.role(C.primary) == "primary"
    assert C.role(tc.ReadingVariant("total")) == "exploratory"
    assert C.controls == (MUP,) and C.role(MUP) == "control" and MUP.label == "control/mup"
    assert C.claimed(MUP).band == pytest.approx((-0.65, -0.35))
    cl = C.claimed(tc.ReadingVariant("total"))
    assert cl.slope == -0.5 and cl.band == pytest.approx((-0.65, -0.35))


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_variant_labels(suite):
    assert variant_labels(C, suite) == ["weight", "total"]


def test_suite_runs_the_control_last():
    assert [v.label for v in C.suite_variants(C.sweep("smoke"), Overrides())] == [
        "weight", "total", "control/mup"]


def test_bad_variant_names_the_allowed_readings():
    with pytest.raises(ValueError, match="allowed: weight, total"):
        tc.ReadingVariant("both")
    with pytest.raises(ValueError, match="unknown suite"):
        C.sweep("huge")


def test_points_of_the_smoke_suite_and_overrides():
    pts = C.points(C.primary, C.sweep("smoke"), Overrides(), RUN)
    assert [p.L for p in pts] == [4, 8, 16, 32]
    assert all(isinstance(p, TwoLayerPoint) and p.parameterization == "depth_mup"
               and p.gamma is None and (p.act, p.n, p.K, p.n_seeds) == ("tanh", 256, 3, 4)
               for p in pts)
    # both readings are read off the same points (one config, computed once)
    assert pts == C.points(tc.ReadingVariant("total"), C.sweep("smoke"), Overrides(), RUN)
    assert hash(pts[0]) == hash(C.points(C.primary, C.sweep("smoke"), Overrides(), RUN)[0])
    ov = check_overrides(Overrides(activations=("erf",), depths=(6, 2), widths=(16, 32)))
    run = RunFields(base_seed=3, device="cuda", dtype="float32")
    q = C.points(C.primary, C.sweep("standard"), ov, run)
    assert [p.L for p in q] == [2, 6] and {(p.act, p.n) for p in q} == {("erf", 32)}
    assert q[0].run_fields() == run.run_fields()
    # the control: the same sweep under muP (new points)
    cp = C.points(MUP, C.sweep("smoke"), Overrides(), RUN)
    assert [(p.L, p.n, p.K, p.n_seeds) for p in cp] == [(p.L, p.n, p.K, p.n_seeds) for p in pts]
    assert {(p.parameterization, p.gamma) for p in cp} == {("mup", None)}


def test_tiny_mup_control_point():
    f = C.compute(TwoLayerPoint(act="tanh", parameterization="mup", n=16, L=4, K=2, n_seeds=2))
    assert list(f.columns) == ["seed", "du_weight", "du_total", "dh_L"] and len(f) == 2


def test_first_layer_update_statistic():
    """duw (own update of W1) is 0 before training and at most the total change's order after."""
    import torch

    from infdepth.numerics.engine import A1Config, train_a1
    from infdepth.numerics.training_task import task_tensors
    X, y = task_tensors()
    bs = train_a1(A1Config(n=32, L=3, K=2, eta=0.5, block="two_layer", n_seeds=2), X, y,
                  X).block_stats
    assert torch.all(bs["duw_rms"][:, 0, 1:] == 0) and torch.all(bs["du_rms"][:, 0, 1:] == 0)
    assert torch.all(bs["duw_rms"][:, 2, 1:] > 0)


def test_tiny_compute_is_pure_with_positive_changes():
    p = TwoLayerPoint(act="tanh", parameterization="depth_mup", n=16, L=2, K=2, n_seeds=2)
    f = C.compute(p)
    assert list(f.columns) == ["seed", "du_weight", "du_total", "dh_L"]
    assert list(f["seed"]) == [0, 1]
    vals = f[["du_weight", "du_total", "dh_L"]].to_numpy()
    assert np.all(np.isfinite(vals)) and np.all(vals > 0)
    pd.testing.assert_frame_equal(f, compute_point(p))
    other = compute_point(TwoLayerPoint(act="tanh", parameterization="depth_mup", n=16, L=2,
                                        K=2, n_seeds=2, base_seed=1))
    assert not np.allclose(other["du_weight"], f["du_weight"])


def _frames(depths, slope_w, slope_t, seeds=6, noise=0.02, rng_seed=0):
    w = power_law_samples(depths, slope_w, seeds, scale=0.3, noise=noise, rng_seed=rng_seed)
    t = power_law_samples(depths, slope_t, seeds, scale=0.8, noise=noise, rng_seed=rng_seed + 1)
    pts, frames = [], []
    for L, a, b in zip(depths, w, t):
        frames.append(pd.DataFrame({"seed": np.arange(seeds), "du_weight": a, "du_total": b,
                                    "dh_L": np.ones(seeds)}))
        pts.append(TwoLayerPoint(act="tanh", parameterization="depth_mup", n=64, L=L, K=3,
                                 n_seeds=seeds))
    return pts, frames


def test_measure_recovers_known_slopes_and_verdicts():
    pts, frames = _frames((4, 8, 16, 32, 64), -0.5, 0.0)
    w = C.measure(tc.ReadingVariant("weight"), pts, frames)
    assert w.column == "du_weight" and list(w.sizes) == [4, 8, 16, 32, 64] and w.paired
    assert w.statistic is geometric_mean
    assert "m1 (W1^K - W1^0) phi(h)" in w.error_label and "n=64" in w.error_label
    ev = w.evaluate(C.claimed(C.primary))
    assert ev.method == "log_t" and "paired across sizes" in ev.notes[-1]
    assert ev.slope == pytest.approx(-0.5, abs=0.03) and ev.status == "confirmed"
    t = C.measure(tc.ReadingVariant("total"), pts, frames)
    assert t.column == "du_total" and "u^K - u^0" in t.error_label
    ev = t.evaluate(C.claimed(tc.ReadingVariant("total")))
    assert ev.slope == pytest.approx(0.0, abs=0.03) and ev.status == "refuted"


def test_control_on_synthetic_data_is_refuted():
    """A first-layer update growing like L^2 (the derived muP order) is refuted against the
    claimed -1/2 and agrees with the derived band; a divergent depth is excluded, not fatal."""
    pts, frames = _frames((4, 8, 16, 32), 2.0, 0.0, noise=0.1)
    pts = [replace(p, parameterization="mup") for p in pts]
    d = C.derived(MUP)
    m = C.measure(MUP, pts, frames)
    assert m.column == "du_weight" and m.paired and "control" in m.error_label
    assert "mup, n=64" in m.error_label
    ev = m.evaluate(C.claimed(MUP), (d.exponent - 0.15, d.exponent + 0.15))
    assert ev.method == "log_t" and ev.slope == pytest.approx(2.0, abs=0.05)
    assert ev.status == "refuted" and ev.status_derived == "confirmed"
    pts, frames = _frames((4, 8, 16, 32, 64), 2.0, 0.0, noise=0.1)
    frames[-1].loc[0, "du_weight"] = np.nan                    # one seed diverged at L=64
    ev = C.measure(MUP, pts, frames).evaluate(C.claimed(MUP))
    assert ev.used == (True, True, True, True, False) and ev.status == "refuted"


def test_derived():
    c = C.derived(MUP)
    assert c.exponent == 2.0 and c.text.startswith("[mup] control: internal_update")
    assert "width first: slope 2 (at fixed n, L >> n: 3)" in c.text
    w = C.derived(tc.ReadingVariant("weight"))
    assert w.exponent == -0.5 and w.text.startswith("[depth_mup] internal_update")
    t = C.derived(tc.ReadingVariant("total"))
    assert t.exponent == 0.0 and t.text.startswith("total change of u")


def test_figure_specs():
    assert [(f.kind, f.stem) for f in C.figures] == [("rate", "twolayer_collapse"),
                                                      ("regime_map", "twolayer_regime_map")]
    assert "docs/theory.md s5, s7" in C.figures[1].title
    assert "claimed L^-1/2" in C.figures[0].title


@pytest.mark.slow
def test_regime_map_figure(tmp_path):
    from infdepth.paper_figs.registry import KINDS
    spec = C.figures[1]
    paths = KINDS[spec.kind](spec, [], tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0
                                                                  for p in paths)
