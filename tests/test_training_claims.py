"""Experiments of the training claims: invariants of their measurements on tiny points."""

import math

import numpy as np
import pandas as pd
import pytest

from infdepth.validation.experiments import gia_restoration as gia
from infdepth.validation.experiments import init_coupling_width as icw
from infdepth.validation.experiments import train_coupling_depth as tcd


def test_init_coupling_point_shares_weights_between_modes():
    f = icw.compute(icw.CouplingInitPoint(act="tanh", n=16, L=2, n_seeds=6))
    assert list(f.columns) == ["seed", "cpl_rms", "g2_reused", "g2_removed"]
    assert np.all(f["cpl_rms"] > 0)
    # the coupling changes the gradient by a small (finite-width) amount, not by O(1)
    rel = np.abs(f["g2_reused"] - f["g2_removed"]) / f["g2_reused"]
    assert np.all(rel < 0.5) and np.any(rel > 1e-8)


def test_moment_effect_statistic():
    a = np.array([[1.0, 0.9], [1.0, 0.9], [2.0, 1.8]])
    assert icw._moment_effect(a) == pytest.approx(0.4 / 3 / (4 / 3))


def test_bad_variant_message():
    with pytest.raises(ValueError, match="expected '<rms|moment>/L<depth>'"):
        icw.points("size/L4", "smoke")


def test_gia_loss_curves_start_equal():
    """Reused and independent runs share U, W^0 and v: identical loss at step 0, then differ."""
    f = gia.compute(gia.GiaPoint(act="tanh", parameterization="depth_mup", n=16, L=3, K=4,
                                 n_seeds=2))
    first = f[f["step"] == 0]
    np.testing.assert_allclose(first["loss_reused"], first["loss_independent"], rtol=1e-14)
    later = f[f["step"] > 0]
    assert np.any(np.abs(later["loss_reused"] - later["loss_independent"]) > 1e-10)
    assert np.all(np.isfinite(gia.per_seed_gap(f)))


def test_gia_gap_formula_and_divergence():
    f = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "step": [0, 1, 2] * 2,
                      "loss_reused": [2.0, 1.0, 0.5, 1.0, np.nan, 0.1],
                      "loss_independent": [2.0, 1.2, 0.5, 1.0, 0.2, 0.1]})
    g = gia.per_seed_gap(f)
    assert g[0] == pytest.approx(math.sqrt((0.2 ** 2 + 0) / 2) / 2.0)
    assert math.isnan(g[1])  # divergence is recorded, the fitter excludes it with a note


def test_gia_claim_bands():
    assert gia.claimed("depth_mup").band == (-math.inf, -0.15)
    assert gia.claimed("mup").band == (-0.15, math.inf)


def test_train_coupling_point_records_accumulation():
    p = tcd.TrainCouplingPoint(act="tanh", n=32, L=4, K=2, n_seeds=2)
    f = tcd.compute(p)
    assert np.all(np.isfinite(f[["cpl_fwd_acc", "cpl_bwd_acc"]].to_numpy()))
    assert np.all(f["cpl_fwd_acc"] > 0)


def test_nfd_depth_points_share_one_brownian_path():
    from infdepth.validation.experiments import nfd_depth_error as nde
    pts = nde.points("depth/gia", "smoke")
    assert [p.depths for p in pts] == [(2, 4, 16), (4, 8, 16), (8, 16, 16)]
    small = [nde.NFDSweepPoint(act="tanh", variant="gia", K=2, depths=(L, 2 * L, 8),
                               n_particles=256, n_seeds=3) for L in (2, 4)]
    f2, f4 = (nde.compute(p) for p in small)
    # f_4 appears in both Cauchy differences, on the same path: (f2-f4) + (f4-f8) = f2-f8
    res = nde._solve("tanh", "gia", 2, 8, 256, 3, nde.ETA, "cpu", "float64")
    np.testing.assert_allclose(f2["diff_0"] + f4["diff_0"], res[2][:, 0] - res[8][:, 0],
                               rtol=1e-12, atol=1e-15)


def test_nfd_network_point_carries_its_reference():
    from infdepth.validation.experiments import nfd_depth_error as nde
    p = nde.NetworkPoint(act="tanh", n=16, L=2, K=2, n_seeds=3, nfd_variant="gia", ref_depth=4,
                         ref_particles=256, ref_seeds=2)
    f = nde.compute(p)
    ref_cols = [c for c in f.columns if c.startswith("ref_")]
    assert len(ref_cols) == 3 and np.all(f[ref_cols].nunique() == 1)
    with pytest.raises(ValueError, match="expected '<depth|network>/<covariance|gia>'"):
        nde.points("depth/exact", "smoke")


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


def test_twolayer_points_and_variants():
    from infdepth.validation.experiments import twolayer_collapse as tc
    from infdepth.validation.experiments import twolayer_correction as tcor
    assert tc.variants("smoke") == ("weight", "total")
    pts = tcor.points("du/gamma=0.25", "standard")
    assert {p.gamma for p in pts} == {0.25} and pts[0].parameterization == "depth_mup_corrected"
    f = tc.compute(pts[0].__class__(act="tanh", parameterization="depth_mup_corrected", gamma=0.5,
                                    n=16, L=2, K=2, n_seeds=2))
    assert list(f.columns) == ["seed", "du_weight", "du_total", "dh_L"]
    with pytest.raises(ValueError, match="expected '<du|dh>/<gamma=G|completep>'"):
        tcor.points("du/beta=2", "smoke")


def test_regime_map_figure(tmp_path):
    from infdepth.paper_figs.twolayer_regime_map import make
    paths = make(tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0
                                                                  for p in paths)


def test_depth_as_width_figure(tmp_path):
    from infdepth.paper_figs.hw_depth_as_width import _fixed, make
    assert _fixed("median rms output error ... (linear, M=16)", "M") == 16
    # tanh labels name the coupled reference's sizes first: the sweep's own size is the last
    assert _fixed("... vs coupled reference L=512, M=128 (tanh, M=16)", "M") == 16
    rows = [{"variant": "linear/L", "sizes": [2, 4], "errors": [0.1, 0.07],
             "error_label": "x (linear, M=16)"},
            {"variant": "linear/L/mean", "sizes": [2, 4], "errors": [0.1, 0.07],
             "error_label": "x (linear, M=16)"}]
    paths = make(rows, tmp_path)
    assert all(p.exists() for p in paths)


def test_hw_rate_lm_diagonal_variant():
    """``*/LM``: networks with L = M, fitted against L*M; derived -1/2 in LM."""
    from infdepth.validation.experiments import hw_rate_lm as hw
    assert "linear/LM" in hw.variants("smoke") and "tanh/LM/mean" in hw.variants("standard")
    pts = hw.points("tanh/LM", "standard")
    assert all(p.L == p.M for p in pts) and isinstance(pts[0], hw.HWODEPoint)
    frames = [pd.DataFrame({"out_err": np.full(3, 1.0 / p.L)}) for p in pts]
    m = hw.measurement("tanh/LM", pts, frames)
    assert list(m.sizes) == [p.L * p.M for p in pts] and "LM" in m.size_label
    assert hw.derived("linear/LM").exponent == pytest.approx(-0.5)
