"""Claim depth_hp_transfer: drift fit, divergence handling, tiny compute, variants, the negative
control control/sp and the transfer figure fed from the claim's tables. The data set: tests/numerics/test_datasets.py; the
optimum fit: tests/validation/test_lr_optimum.py."""

import math

import numpy as np
import pandas as pd
import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import SUITE_NAMES, Overrides, get_claim
from infdepth.validation.claims import depth_hp_transfer as hp
from infdepth.validation.rate_fit import fit_rate
from infdepth.validation.verdict import band_verdict

C = hp.CLAIM
LABELS = ["one_layer/depth_mup", "two_layer/depth_mup", "two_layer/depth_mup_corrected",
          "two_layer/completep"]


def _v(label):
    return hp.TransferVariant(*label.split("/"))


GRID = np.arange(-2.0, 4.01, 0.5)


def _curve(x_star, grid=GRID, curv=0.7, base=0.05):
    """exp(parabola) in log2 LR with its minimum at x_star: the fit is exact."""
    return base * np.exp(curv * (grid - x_star) ** 2)


# -- drift fit --------------------------------------------------------------------------------
def _frames(depths, slope, x0=1.0, seeds=6, noise=0.05, diverge_above=None, rng_seed=0,
            grid=GRID, parameterization="depth_mup"):
    """Synthetic points: per seed a parabola in log2 LR with minimum at
    x0 + slope * log2(L) + noise; LRs above ``diverge_above`` diverge (inf)."""
    rng = np.random.default_rng(rng_seed)
    pts, frames = [], []
    for L in depths:
        rows = []
        for s in range(seeds):
            xs = x0 + slope * math.log2(L) + noise * rng.standard_normal()
            loss = _curve(xs, grid)
            if diverge_above is not None:
                loss = np.where(grid > diverge_above, np.inf, loss)
            for x, v in zip(grid, loss):
                rows.append((x, 2.0 ** x, s, 0.5, v, not np.isfinite(v)))
        frames.append(pd.DataFrame(rows, columns=["log2_eta", "eta", "seed", "loss_init",
                                                  "loss", "diverged"]))
        pts.append(hp.TransferPoint(block="one_layer", parameterization=parameterization,
                                    act="tanh", n=8, L=L, K=2, n_seeds=seeds,
                                    log2_etas=tuple(grid)))
    return pts, frames


def _fit(label, pts, frames, n_boot):
    """The rate fit the runner makes of the claim's measurement (fewer replicates)."""
    m = C.measure(_v(label), pts, frames)
    return fit_rate(m.sizes, m.samples, m.statistic, paired=m.paired, n_boot=n_boot), m


@pytest.mark.parametrize("slope", [0.0, 0.4, -0.5])
def test_drift_fit_recovers_known_slope(slope):
    pts, frames = _frames((2, 4, 8, 16), slope, x0=1.0 - slope * 2.5)
    r, _ = _fit("one_layer/depth_mup", pts, frames, n_boot=300)
    assert r.slope == pytest.approx(slope, abs=0.05)
    assert r.ci_low <= slope + 0.05 and r.ci_high >= slope - 0.05
    assert r.ci_high - r.ci_low < 0.2
    np.testing.assert_allclose(np.log2(r.errors), 1.0 + slope * (np.log2([2, 4, 8, 16]) - 2.5),
                               atol=0.1)


def test_drift_verdicts_against_claimed_bands():
    flat, _ = _fit("one_layer/depth_mup", *_frames((2, 4, 8, 16), 0.0), n_boot=300)
    assert band_verdict(flat, *C.claimed(_v("one_layer/depth_mup")).band) == "confirmed"
    assert band_verdict(flat, *C.claimed(_v("two_layer/depth_mup")).band) == "refuted"
    up, _ = _fit("two_layer/depth_mup", *_frames((2, 4, 8, 16), 0.6, x0=-0.5), n_boot=300)
    assert band_verdict(up, *C.claimed(_v("two_layer/depth_mup")).band) == "confirmed"
    assert band_verdict(up, *C.claimed(_v("two_layer/completep")).band) == "refuted"


def test_drift_fit_with_divergent_learning_rates_and_edge_notes():
    # every seed diverges above log2 eta = 2.5; the optimum at 3.0 is cut off by the cliff
    pts, frames = _frames((2, 4, 8), 0.0, x0=3.0, diverge_above=2.5)
    r, m = _fit("one_layer/depth_mup", pts, frames, n_boot=200)
    assert np.allclose(np.log2(r.errors), 2.5)
    assert any("divergent LR" in n for n in m.notes)
    assert r.slope == pytest.approx(0.0, abs=1e-12)
    # optimum beyond the grid: flagged at the edge
    pts, frames = _frames((2, 4, 8), 0.0, x0=7.0)
    _, m = _fit("one_layer/depth_mup", pts, frames, n_boot=200)
    assert any("high end of the LR grid" in n for n in m.notes)
    assert [n for n in m.notes if n.startswith("L=")] == [
        f"L={L}: optimum at the high end of the LR grid (true optimum higher)" for L in (2, 4, 8)]


def test_measurement_is_what_the_plain_runner_fits():
    pts, frames = _frames((2, 4, 8), 0.3, x0=0.0)
    r, m = _fit("one_layer/depth_mup", pts, frames, n_boot=200)
    ev = m.evaluate(C.claimed(_v("one_layer/depth_mup")))
    assert ev.slope == pytest.approx(r.slope)
    assert m.paired and list(m.sizes) == [2, 4, 8] and m.column is None
    assert ev.method == "boot_t"       # the optimum of the seed-mean curve is not 1-D
    # the verdict row carries the fit's notes, then the claim's (flagged optima, drift units)
    assert ev.notes[-1].startswith("slope = drift of log2(eta*) per doubling of L")
    assert ev.notes[-len(m.notes):] == m.notes


def test_measurement_needs_one_grid():
    pts, frames = _frames((2, 4), 0.0)
    frames[1] = frames[1][frames[1]["log2_eta"] < 3.9]
    with pytest.raises(ValueError, match="same learning-rate grid"):
        C.measure(_v("one_layer/depth_mup"), pts, frames)


def test_variants_points_claims_derived():
    for suite in SUITE_NAMES:
        sgd = [f"{lb}/sgd" for lb in LABELS] if C.sweep(suite).sgd is not None else []
        assert variant_labels(C, suite) == LABELS + sgd
    assert C.primary.label == "one_layer/depth_mup" and C.role(C.primary) == "primary"
    assert get_claim("depth_hp_transfer") is C
    v = _v("two_layer/depth_mup_corrected")
    pts = C.points(v, C.sweep("smoke"), Overrides(), RunFields())
    assert [p.L for p in pts] == [2, 4, 8]
    assert all(p.block == "two_layer" and p.parameterization == "depth_mup_corrected"
               for p in pts)
    assert hash(pts[0]) == hash(C.points(v, C.sweep("smoke"), Overrides(), RunFields())[0])
    assert pts[0].log2_etas == tuple(np.arange(0.0, 4.01, 0.5))
    assert (pts[0].n, pts[0].n_train, pts[0].K, pts[0].n_seeds) == (32, 32, 6, 3)
    with pytest.raises(ValueError, match="unknown variant"):
        hp.TransferVariant("three_layer", "depth_mup")
    with pytest.raises(ValueError, match="allowed: one_layer/depth_mup, two_layer/depth_mup"):
        hp.TransferVariant("one_layer", "completep")
    assert hp.TRANSFER_TOL == 0.25 and C.tolerance == hp.TRANSFER_TOL
    assert C.claimed(_v("two_layer/completep")).band == (-0.25, 0.25)
    assert C.claimed(_v("two_layer/depth_mup")).band == (0.25, math.inf)
    assert C.claimed(_v("two_layer/depth_mup")).slope is None
    assert C.derived(_v("one_layer/depth_mup")).exponent == 0.0
    assert C.derived(_v("two_layer/depth_mup_corrected")).exponent == -0.5
    assert C.derived(_v("two_layer/completep")).exponent == 0.0  # every layer maximal: flat


# -- per-example SGD: the optimum inside the stable range --------------------------------------
def test_sgd_variants_run_in_the_full_suite_on_their_own_task():
    assert C.sweep("smoke").sgd is None and C.sweep("standard").sgd is None
    sw = C.sweep("full")
    v = _v("two_layer/depth_mup_corrected/sgd")
    assert v == hp.TransferVariant("two_layer", "depth_mup_corrected", "sgd")
    assert v.label == "two_layer/depth_mup_corrected/sgd" and C.role(v) == "exploratory"
    assert _v("one_layer/depth_mup").label == "one_layer/depth_mup"   # full batch: unchanged
    pts = C.points(v, sw, Overrides(), RunFields())
    assert [p.L for p in pts] == list(sw.sgd.depths)
    assert {(p.batching, p.n, p.n_train, p.K, p.n_seeds, p.log2_etas) for p in pts} == {
        ("sgd", sw.sgd.n, sw.sgd.n_train, sw.sgd.K, sw.sgd.seeds, sw.sgd.log2_etas)}
    assert sw.sgd.K == sw.sgd.n_train                          # one epoch, one example a step
    assert C.points(_v("two_layer/completep"), sw, Overrides(), RunFields())[0].batching == "full"
    # same bands and derived exponents as the full-batch variants
    for lb in LABELS:
        assert C.claimed(_v(lb + "/sgd")) == C.claimed(_v(lb))
        assert C.derived(_v(lb + "/sgd")) == C.derived(_v(lb))
    with pytest.raises(ValueError, match="depth_hp_transfer batching"):
        hp.TransferVariant("one_layer", "depth_mup", "adam")
    with pytest.raises(ValueError, match="no per-example SGD task"):
        C.points(_v("one_layer/depth_mup/sgd"), C.sweep("smoke"), Overrides(), RunFields())
    # the SGD control runs where the SGD task does, on its grid extended by the derived drift
    assert [x.label for x in C.suite_variants(sw, Overrides())][-2:] == ["control/sp",
                                                                          "control/sp/sgd"]
    ctl = C.points(SP_SGD, sw, Overrides(), RunFields())
    assert {(p.batching, p.parameterization, p.K) for p in ctl} == {("sgd", "sp", sw.sgd.K)}
    assert ctl[0].log2_etas == C.control_grid(SP_SGD, sw.sgd.log2_etas, sw.sgd.depths)
    assert ctl[0].log2_etas[0] == sw.sgd.log2_etas[0] - 3.5 * math.log2(64 / 2)
    # --variants picks them out (controls only when they match)
    only = C.suite_variants(sw, Overrides(variants=("*/sgd",)))
    assert [x.label for x in only] == [f"{lb}/sgd" for lb in LABELS] + ["control/sp/sgd"]


def test_sgd_point_trains_like_a_plain_per_example_loop():
    """An SGD point's loss equals plain torch.nn + autograd SGD on one example a step (example
    ``k mod N``) from the same initial weights (the benchmark's per-seed reference)."""
    import torch
    from infdepth.numerics.bench import plain_models, train_plain
    from infdepth.numerics.datasets import load_task
    from infdepth.numerics.engine import A1Config, A1Model
    p = hp.TransferPoint(block="one_layer", parameterization="depth_mup", act="tanh", n=8, L=3,
                         K=5, n_seeds=2, log2_etas=(-1.0, 0.5), n_train=4, batching="sgd")
    f = C.compute(p)
    X, y, _, _ = load_task(p.task, n_train=p.n_train, subset_seed=p.subset_seed).tensors()
    for x in p.log2_etas:
        cfg = A1Config(n=p.n, L=p.L, K=p.K, eta=2.0 ** x, parameterization=p.parameterization,
                       act=p.act, block=p.block, batching="sgd", n_seeds=p.n_seeds)
        model = A1Model(cfg, X.shape[1], torch.float64, torch.device("cpu"), capacity=p.K)
        out = train_plain(plain_models(model), X, y, X[:0], p.K)
        want = 0.5 * (out[:, -1, :] - y).square().mean(1)
        got = f[f["log2_eta"] == x].sort_values("seed")["loss"].to_numpy()
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)
    full = C.compute(hp.TransferPoint(**{**p.__dict__, "batching": "full"}))
    assert not np.allclose(full["loss"], f["loss"])


def test_interior_note_measures_the_gap_to_the_blow_up_edge():
    """Optimum at log2 eta = 1 (no drift), LRs above ``diverge_above`` diverge: the note gives
    the octaves from the fitted optimum up to the first diverging LR and says whether every
    depth keeps :data:`INTERIOR_GAP` of them."""
    from infdepth.validation.lr_optimum import INTERIOR_GAP
    assert INTERIOR_GAP == 1.0
    for above, gap, where in ((2.6, "2.0", "inside the stable range at every depth"),
                              (1.4, "0.5", "within 1 octave of the blow-up edge at L=2, L=4")):
        pts, frames = _frames((2, 4), 0.0, x0=1.0, noise=0.0, diverge_above=above)
        frames = [f.assign(loss_init=1e9) for f in frames]      # only divergence blows up
        note = [n for n in C.measure(_v("one_layer/depth_mup"), pts, frames).notes
                if n.startswith("octaves from the optimum")]
        assert note == [f"octaves from the optimum up to the blow-up edge (first LR above it "
                        f"whose mean loss exceeds the initial loss): L=2 {gap}, L=4 {gap}; "
                        f"optimum {where}"]
    # a finite loss above the initial loss (0.5) is the edge too: 0.05 exp(0.7 (x - 1)^2)
    # first exceeds it at x = 3; no edge on the grid (top 4): a lower bound
    pts, frames = _frames((2, 4), 0.0, x0=1.0, noise=0.0)
    for init, gap in ((0.5, "L=2 2.0, L=4 2.0;"), (1e9, "L=2 >3.0, L=4 >3.0;")):
        notes = C.measure(_v("one_layer/depth_mup"), pts,
                          [f.assign(loss_init=init) for f in frames]).notes
        assert any(gap in n for n in notes)


# -- negative control -------------------------------------------------------------------------
SP = hp.ControlVariant("sp")
SP_SGD = hp.ControlVariant("sp", "sgd")


def test_control_declared_with_the_claim():
    assert C.controls == (SP, SP_SGD) and SP.label == "control/sp" and C.role(SP) == "control"
    assert SP_SGD.label == "control/sp/sgd" and C.role(SP_SGD) == "control"
    assert (SP.block, SP.parameterization) == ("one_layer", "sp")
    assert variant_labels(C, "smoke") == LABELS         # a control is not one of the variants
    assert [v.label for v in C.suite_variants(C.sweep("smoke"), Overrides())] == \
        LABELS + ["control/sp"]
    assert C.claimed(SP).band == (-0.25, 0.25)
    d = C.derived(SP)
    assert d.exponent == -3.5 and d.text.startswith("[one_layer, sp] one-step updates")
    assert "drift_accumulated L^(7/2)" in d.text
    with pytest.raises(ValueError, match="allowed: sp"):
        hp.ControlVariant("mup")


def test_control_grid_extends_downward_by_the_derived_drift():
    """|derived| x log2(Lmax/Lmin) octaves below the suite's grid, same step and top."""
    pts = C.points(SP, C.sweep("smoke"), Overrides(), RunFields())
    assert [p.L for p in pts] == [2, 4, 8]
    assert {(p.block, p.parameterization) for p in pts} == {("one_layer", "sp")}
    assert pts[0].log2_etas == tuple(np.arange(-7.0, 4.01, 0.5))      # 3.5 x 2 doublings
    std = C.points(SP, C.sweep("standard"), Overrides(), RunFields())[0].log2_etas
    assert (std[0], std[-1], std[1] - std[0]) == (-15.0, 5.0, 0.5)      # 3.5 x 4 doublings
    assert C.control_grid(SP, (0.0, 1.0, 2.0), (2, 4)) == (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0)
    pts = C.points(SP, C.sweep("smoke"), Overrides(depths=(4, 8)), RunFields())
    assert pts[0].log2_etas[0] == -3.5                                 # one doubling


def test_control_on_synthetic_data_is_refuted():
    """An optimum drifting at the derived -3.5 log2 per doubling, inside the control's grid: the
    control is refuted against the transfer band and agrees with the derived band."""
    grid = np.asarray(C.control_grid(SP, tuple(GRID), (2, 4, 8)))
    pts, frames = _frames((2, 4, 8), -3.5, x0=5.0, grid=grid, parameterization="sp")
    m = C.measure(SP, pts, frames)
    assert m.paired and m.error_label.startswith("control (sp): fitted optimal LR")
    assert not [n for n in m.notes if n.startswith("L=")]              # no flagged optimum
    d = C.derived(SP)
    ev = m.evaluate(C.claimed(SP), (d.exponent - 0.25, d.exponent + 0.25))
    assert ev.method == "boot_t" and ev.slope == pytest.approx(-3.5, abs=0.1)
    assert ev.status == "refuted" and ev.status_derived == "confirmed"
    # the primary on data of the claimed rate (no drift) is confirmed
    ev = C.measure(C.primary, *_frames((2, 4, 8, 16), 0.0)).evaluate(C.claimed(C.primary))
    assert ev.method == "boot_t" and ev.status == "confirmed"


# -- tiny compute -----------------------------------------------------------------------------
def test_tiny_compute_is_pure_and_records_divergence():
    p = hp.TransferPoint(block="two_layer", parameterization="depth_mup", act="tanh", n=8, L=2,
                         K=3, n_seeds=2, log2_etas=(-1.0, 1.0, 12.0), n_train=16)
    f = C.compute(p)
    assert list(f.columns) == ["log2_eta", "eta", "seed", "loss_init", "loss", "diverged"]
    assert len(f) == 6
    small = f[f["log2_eta"] < 5]
    assert np.all(np.isfinite(small["loss"])) and not small["diverged"].any()
    assert np.all(small["loss"] < small["loss_init"])  # a sane LR trains
    huge = f[f["log2_eta"] == 12.0]
    assert (huge["diverged"] == ~np.isfinite(huge["loss"])).all()
    assert np.all(~np.isfinite(huge["loss"]) | (huge["loss"] > huge["loss_init"]))
    pd.testing.assert_frame_equal(f, C.compute(p))
    o = hp.per_depth_optima([f])[0]
    assert o.flag in ("ok", "cliff", "edge_high", "edge_low")


# -- figure -----------------------------------------------------------------------------------
def test_transfer_figure_reads_the_claims_tables(tmp_path):
    from infdepth.paper_figs.common import VariantView
    from infdepth.paper_figs.registry import KINDS
    from infdepth.paper_figs.transfer import depth_curves
    from infdepth.validation.tables import raw_table, summary_table
    pts, frames = _frames((2, 4), 0.0)
    m = C.measure(C.primary, pts, frames)
    ev = m.evaluate(C.claimed(C.primary))
    raw = raw_table(C.primary.label, "primary", pts, frames, m.sizes)
    # the figure's own curves from the raw table are the claim's seed-mean curves
    for (L, g, mc), o in zip(depth_curves(raw), hp.per_depth_optima(frames)):
        assert hp.fit_optimum(g, mc) == o
    rec = {"variant": C.primary.label, "measured": ev.slope, "ci_low": ev.ci_low,
           "ci_high": ev.ci_high, "status": ev.status}
    (spec,) = C.figures
    assert (spec.kind, spec.stem) == ("transfer", "depth_hp_transfer")
    paths = KINDS[spec.kind](spec, [VariantView(rec, summary_table(ev), raw)], tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0
                                                                  for p in paths)
