"""Claim ``train_coupling_depth``: variants, one sweep for all levels, a tiny engine point,
the geometric-mean paired statistic and the negative control."""

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples, variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims.train_coupling_depth import (CLAIM, DIRECTIONS, LEVELS,
                                                             ControlVariant, LevelVariant,
                                                             TrainCouplingPoint, column)
from infdepth.validation.intervals import geometric_mean

ALL = [LevelVariant(lv, d) for lv in LEVELS for d in DIRECTIONS]
CONTROL = ControlVariant("block_b")


@pytest.fixture(scope="module")
def tiny():
    p = TrainCouplingPoint(act="tanh", n=32, L=3, K=2, n_seeds=2)
    return p, CLAIM.compute(p)


def test_variant_labels_per_suite():
    want = ["a/forward", "a/backward", "b/forward", "b/backward", "c/forward", "c/backward"]
    for suite in ("smoke", "standard", "full"):
        assert variant_labels(CLAIM, suite) == want
    assert CLAIM.primary.label == "a/forward"
    assert CLAIM.controls == (CONTROL,) and CLAIM.role(CONTROL) == "control"
    assert [v.label for v in CLAIM.suite_variants(CLAIM.sweep("smoke"), Overrides())] == \
        want + ["control/block_b"]


def test_points_one_sweep_serves_all_variants():
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(LevelVariant("b", "backward"), sw, Overrides(), RunFields())
    assert [p.L for p in pts] == list(sw.depths)
    assert pts == CLAIM.points(LevelVariant("a", "forward"), sw, Overrides(), RunFields())
    assert pts == CLAIM.points(CONTROL, sw, Overrides(), RunFields())
    assert {(p.n, p.K, p.n_seeds, p.n_probes) for p in pts} == {(256, 3, 4, 1)}
    pts = CLAIM.points(ALL[0], sw, Overrides(depths=(2, 6), widths=(16, 48)),
                       RunFields(device="cuda"))
    assert [(p.L, p.n, p.device) for p in pts] == [(2, 48, "cuda"), (6, 48, "cuda")]


def test_train_coupling_point_records_accumulation(tiny):
    p, f = tiny
    assert len(f) == p.n_seeds
    assert np.all(np.isfinite(f[["cpl_fwd_acc", "cpl_bwd_acc"]].to_numpy()))
    assert np.all(f["cpl_fwd_acc"] > 0)
    for name in ("cpl_fwd_block_mean", "cpl_bwd_block_mean_b", "gamma_bwd_self",
                 "gamma_fwd_prev"):
        assert name in f.columns


def test_claim_module_on_a_tiny_point(tiny):
    p, f = tiny
    for v in ALL:
        col = column(v.level, v.direction)
        assert np.all(np.isfinite(f[col]))
        m = CLAIM.measure(v, [p, p], [f, f])
        assert m.sizes == [3, 3] and np.all(m.samples[0] == f[col].to_numpy())
        assert m.column == col and f"n={p.n}, step {p.K - 1}" in m.error_label
        assert m.statistic is geometric_mean and m.paired
        assert CLAIM.derived(v).exponent == 0.0
    m = CLAIM.measure(CONTROL, [p, p], [f, f])
    assert m.column == "cpl_fwd_block_mean_b" and np.all(m.samples[0] > 0)
    assert m.statistic is geometric_mean and m.paired and "control" in m.error_label


def test_column_names():
    assert column("a", "forward") == "cpl_fwd_acc" and column("a", "backward") == "cpl_bwd_acc"
    assert column("c", "backward") == "cpl_bwd_acc_c"


def test_measure_recovers_known_slope():
    depths = (2, 4, 8, 16, 32)
    pts = [TrainCouplingPoint(act="tanh", n=64, L=L, K=3, n_seeds=32) for L in depths]
    frames = [pd.DataFrame({"cpl_bwd_acc_b": a})
              for a in power_law_samples(depths, -2.0, 32, noise=0.05, rng_seed=1)]
    v = LevelVariant("b", "backward")
    ev = CLAIM.measure(v, pts, frames).evaluate(CLAIM.claimed(v))
    assert ev.method == "log_t" and "paired across sizes" in ev.notes[-1]
    assert ev.slope == pytest.approx(-2.0, abs=0.03) and ev.status == "confirmed"
    frames = [f.assign(cpl_bwd_acc_b=f["cpl_bwd_acc_b"] * L ** 2) for f, L in zip(frames, depths)]
    ev = CLAIM.measure(v, pts, frames).evaluate(CLAIM.claimed(v))
    assert ev.slope == pytest.approx(0.0, abs=0.03) and ev.status == "refuted"


def test_pairing_uses_the_per_seed_slopes():
    """Seeds that share their weights across depths: a large per-seed factor common to all
    depths cancels in the paired interval (the t-interval of the per-seed slopes)."""
    depths = (2, 4, 8, 16, 32)
    pts = [TrainCouplingPoint(act="tanh", n=64, L=L, K=3, n_seeds=8) for L in depths]
    seed_factor = np.exp(np.random.default_rng(0).standard_normal(8))   # log-scatter 1
    frames = [pd.DataFrame({"cpl_fwd_acc": seed_factor * a})
              for a in power_law_samples(depths, -2.0, 8, noise=0.01, rng_seed=4)]
    m = CLAIM.measure(CLAIM.primary, pts, frames)
    ev = m.evaluate(CLAIM.claimed(CLAIM.primary))
    assert ev.slope == pytest.approx(-2.0, abs=0.02) and ev.ci_high - ev.ci_low < 0.05
    assert ev.status == "confirmed"
    from dataclasses import replace
    unpaired = replace(m, paired=False).fit()
    assert unpaired.ci_high - unpaired.ci_low > 10 * (ev.ci_high - ev.ci_low)


def test_control_on_synthetic_data_is_refuted():
    """A per-block level (b) of L^-1 (the derived order) is refuted against the claimed -2 and
    agrees with the derived band."""
    depths = (2, 4, 8, 16, 32)
    pts = [TrainCouplingPoint(act="tanh", n=64, L=L, K=3, n_seeds=8) for L in depths]
    seed_factor = np.exp(0.3 * np.random.default_rng(2).standard_normal(8))
    frames = [pd.DataFrame({"cpl_fwd_block_mean_b": seed_factor * a})
              for a in power_law_samples(depths, -1.0, 8, scale=0.05, noise=0.05, rng_seed=3)]
    d = CLAIM.derived(CONTROL)
    ev = CLAIM.measure(CONTROL, pts, frames).evaluate(CLAIM.claimed(CONTROL),
                                                      (d.exponent - 0.15, d.exponent + 0.15))
    assert ev.method == "log_t" and ev.slope == pytest.approx(-1.0, abs=0.05)
    assert ev.status == "refuted" and ev.status_derived == "confirmed"


def test_derived_texts():
    a = CLAIM.derived(LevelVariant("a", "forward"))
    assert a.text.startswith("level (a) = (b) + (c): slope 0 in L") and "[depth_mup]" in a.text
    assert CLAIM.derived(LevelVariant("b", "forward")).text.startswith("level (b): slope 0.")
    assert CLAIM.derived(LevelVariant("c", "backward")).text.startswith("level (c): slope 0")
    c = CLAIM.derived(CONTROL)
    assert c.exponent == -1.0 and "r^2 Gammat = L^(-1)" in c.text and c.text.endswith(
        "slope -1 per block")


def test_bad_variant_message():
    with pytest.raises(ValueError,
                       match="unknown train_coupling_depth level 'd'; allowed: a, b, c"):
        LevelVariant("d", "forward")
    with pytest.raises(ValueError, match="unknown train_coupling_depth direction 'sideways'; "
                                         "allowed: forward, backward"):
        LevelVariant("a", "sideways")
