"""Claim ``train_coupling_depth``: variants, one sweep for all levels, a tiny engine point."""

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples, variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims.train_coupling_depth import (CLAIM, DIRECTIONS, LEVELS,
                                                             LevelVariant, TrainCouplingPoint,
                                                             column)

ALL = [LevelVariant(lv, d) for lv in LEVELS for d in DIRECTIONS]


@pytest.fixture(scope="module")
def tiny():
    p = TrainCouplingPoint(act="tanh", n=32, L=3, K=2, n_seeds=2)
    return p, CLAIM.compute(p)


def test_variant_labels_per_suite():
    want = ["a/forward", "a/backward", "b/forward", "b/backward", "c/forward", "c/backward"]
    for suite in ("smoke", "standard", "full"):
        assert variant_labels(CLAIM, suite) == want
    assert CLAIM.primary.label == "a/forward"


def test_points_one_sweep_serves_all_variants():
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(LevelVariant("b", "backward"), sw, Overrides(), RunFields())
    assert [p.L for p in pts] == list(sw.depths)
    assert pts == CLAIM.points(LevelVariant("a", "forward"), sw, Overrides(), RunFields())
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
        assert CLAIM.derived(v).exponent == 0.0


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
    assert ev.slope == pytest.approx(-2.0, abs=0.03) and ev.status == "confirmed"
    frames = [f.assign(cpl_bwd_acc_b=f["cpl_bwd_acc_b"] * L ** 2) for f, L in zip(frames, depths)]
    ev = CLAIM.measure(v, pts, frames).evaluate(CLAIM.claimed(v))
    assert ev.slope == pytest.approx(0.0, abs=0.03) and ev.status == "refuted"


def test_derived_texts():
    a = CLAIM.derived(LevelVariant("a", "forward"))
    assert a.text.startswith("level (a) = (b) + (c): slope 0 in L") and "[depth_mup]" in a.text
    assert CLAIM.derived(LevelVariant("b", "forward")).text.startswith("level (b): slope 0.")
    assert CLAIM.derived(LevelVariant("c", "backward")).text.startswith("level (c): slope 0")


def test_bad_variant_message():
    with pytest.raises(ValueError,
                       match="unknown train_coupling_depth level 'd'; allowed: a, b, c"):
        LevelVariant("d", "forward")
    with pytest.raises(ValueError, match="unknown train_coupling_depth direction 'sideways'; "
                                         "allowed: forward, backward"):
        LevelVariant("a", "sideways")
