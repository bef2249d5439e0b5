"""Claim ``nfd_depth_error``: variants, the two point types, shared Brownian paths and caches."""

import numpy as np
import pandas as pd
import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims import nfd_depth_error as nde
from infdepth.validation.claims.nfd_depth_error import (CLAIM, NetworkPoint, NFDSweepPoint,
                                                        NFDVariant)
from infdepth.numerics.training_task import ETA


def test_variant_labels_per_suite():
    want = ["depth/covariance", "depth/gia", "network/covariance", "network/gia"]
    for suite in ("smoke", "standard", "full"):
        assert variant_labels(CLAIM, suite) == want
    assert CLAIM.primary.label == "depth/covariance"


def test_nfd_depth_points_share_one_brownian_path():
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(NFDVariant("depth", "gia"), sw, Overrides(), RunFields())
    assert [p.depths for p in pts] == [(2, 4, 16), (4, 8, 16), (8, 16, 16)]
    assert all(isinstance(p, NFDSweepPoint) and p.variant == "gia" for p in pts)
    small = [NFDSweepPoint(act="tanh", variant="gia", K=2, depths=(L, 2 * L, 8),
                           n_particles=256, n_seeds=3) for L in (2, 4)]
    f2, f4 = (CLAIM.compute(p) for p in small)
    # f_4 appears in both Cauchy differences, on the same path: (f2-f4) + (f4-f8) = f2-f8
    res = nde._solve("tanh", "gia", 2, 8, 256, 3, ETA, "cpu", "float64")
    np.testing.assert_allclose(f2["diff_0"] + f4["diff_0"], res[2][:, 0] - res[8][:, 0],
                               rtol=1e-12, atol=1e-15)
    assert list(f2.columns) == ["seed", "diff_0", "diff_1", "diff_2"]


def test_network_points_follow_the_sweep():
    sw = CLAIM.sweep("smoke")
    pts = CLAIM.points(NFDVariant("network", "covariance"), sw, Overrides(widths=(8, 64)),
                       RunFields(base_seed=2))
    assert [p.L for p in pts] == [2, 4, 8] and all(isinstance(p, NetworkPoint) for p in pts)
    assert {(p.n, p.n_seeds, p.nfd_variant, p.ref_depth, p.ref_particles, p.ref_seeds,
             p.base_seed) for p in pts} == {(64, 16, "covariance", 16, 4096, 6, 2)}


def test_nfd_network_point_carries_its_reference():
    p = NetworkPoint(act="tanh", n=16, L=2, K=2, n_seeds=3, nfd_variant="gia", ref_depth=4,
                     ref_particles=256, ref_seeds=2)
    f = CLAIM.compute(p)
    ref_cols = [c for c in f.columns if c.startswith("ref_")]
    assert len(ref_cols) == 3 and np.all(f[ref_cols].nunique() == 1)
    with pytest.raises(ValueError,
                       match="unknown nfd_depth_error nfd 'exact'; allowed: covariance, gia"):
        NFDVariant("depth", "exact")


def test_gia_and_covariance_network_points_share_one_engine_run():
    nde._train_network.cache_clear()
    kw = dict(act="tanh", n=16, L=2, K=2, n_seeds=3, ref_depth=4, ref_particles=256, ref_seeds=2)
    fg = CLAIM.compute(NetworkPoint(nfd_variant="gia", **kw))
    fc = CLAIM.compute(NetworkPoint(nfd_variant="covariance", **kw))
    info = nde._train_network.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    cols = [f"f_{i}" for i in range(3)]
    pd.testing.assert_frame_equal(fg[cols], fc[cols])
    assert not np.allclose(fg["ref_0"], fc["ref_0"])     # different NFD references


def _depth_frames(depths, seeds=16):
    rng = np.random.default_rng(3)
    common = rng.standard_normal((seeds, 3))               # shared path: paired seeds
    return [pd.DataFrame({"seed": np.arange(seeds),
                          **{f"diff_{i}": 0.4 / L * (1 + 0.05 * common[:, i]) for i in range(3)}})
            for L in depths]


def test_measure_recovers_known_slopes():
    depths = (2, 4, 8, 16)
    pts = [NFDSweepPoint(act="tanh", variant="covariance", K=3, depths=(L, 2 * L, 32),
                         n_particles=8, n_seeds=16) for L in depths]
    v = NFDVariant("depth", "covariance")
    m = CLAIM.measure(v, pts, _depth_frames(depths))
    assert m.paired and list(m.sizes) == list(depths) and m.samples[0].shape == (16, 3)
    ev = m.evaluate(CLAIM.claimed(v))
    assert ev.slope == pytest.approx(-1.0, abs=0.02) and ev.status == "confirmed"
    npts = [NetworkPoint(act="tanh", n=64, L=L, K=3, n_seeds=8, nfd_variant="gia", ref_depth=64,
                         ref_particles=8, ref_seeds=2) for L in depths]
    ref = np.array([0.3, -0.1, 0.7])
    rng = np.random.default_rng(4)
    frames = [pd.DataFrame({**{f"f_{i}": ref[i] + 0.2 + 1e-4 * rng.standard_normal(8)
                               for i in range(3)},
                            **{f"ref_{i}": np.full(8, ref[i]) for i in range(3)}}) for L in depths]
    v = NFDVariant("network", "gia")
    m = CLAIM.measure(v, npts, frames)
    assert not m.paired and "f^K_NFD gia (L=64)" in m.error_label
    ev = m.evaluate(CLAIM.claimed(v))
    assert ev.slope == pytest.approx(0.0, abs=0.01) and ev.status == "refuted"


def test_derived_per_variant():
    dc, dg = (CLAIM.derived(NFDVariant("depth", v)) for v in ("covariance", "gia"))
    assert dc.exponent == dg.exponent == -1.0
    assert dg.text.startswith("Euler-Maruyama of the gia NFD SDE, weak order 1: [depth_mup] vs "
                              "the covariance NFD")
    assert CLAIM.derived(NFDVariant("network", "covariance")).exponent == -1.0
    ng = CLAIM.derived(NFDVariant("network", "gia"))
    assert ng.exponent == 0.0 and ng.text.endswith("(does not converge)")


def test_bad_variant_message():
    with pytest.raises(ValueError, match="unknown nfd_depth_error reading 'width'; "
                                         "allowed: depth, network"):
        NFDVariant("width", "gia")
