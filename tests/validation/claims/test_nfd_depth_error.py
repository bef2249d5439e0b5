"""Claim ``nfd_depth_error``: variants, the two point types, shared Brownian paths and caches,
the noise-corrected statistics, the reference error, the noise budget and the negative control."""

import numpy as np
import pandas as pd
import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims import nfd_depth_error as nde
from infdepth.validation.claims.nfd_depth_error import (CLAIM, ControlVariant, NetworkPoint,
                                                        NFDSweepPoint, NFDVariant,
                                                        reference_error)
from infdepth.validation.noise_budget import NormOfMean
from infdepth.numerics.training_task import ETA

CONTROL = ControlVariant("output")


def test_variant_labels_per_suite():
    want = ["depth/covariance", "depth/gia", "network/covariance", "network/gia",
            "network/covariance/joint", "network/gia/joint"]
    for suite in ("smoke", "standard", "full"):
        assert variant_labels(CLAIM, suite) == want
    assert CLAIM.primary.label == "depth/covariance"
    assert CLAIM.controls == (CONTROL,) and CLAIM.role(CONTROL) == "control"
    assert [v.label for v in CLAIM.suite_variants(CLAIM.sweep("smoke"), Overrides())] == \
        want + ["control/output"]


def test_control_reads_the_primary_points():
    sw = CLAIM.sweep("smoke")
    assert CLAIM.points(CONTROL, sw, Overrides(), RunFields()) == \
        CLAIM.points(CLAIM.primary, sw, Overrides(), RunFields())


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
    assert list(f2.columns) == ["seed", "diff_0", "diff_1", "diff_2", "f_0", "f_1", "f_2"]
    np.testing.assert_array_equal(f4["f_1"], res[4][:, 1])     # the depth-L outputs
    assert small[0].frame_version == 2       # frames of version 1 (no f_i) are not reused


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
    assert ref_cols == ["ref_0", "ref_1", "ref_2", "ref_err_depth", "ref_err_mc", "ref_err"]
    assert np.all(f[ref_cols].nunique() == 1) and p.frame_version == 2
    sol = nde._solve("tanh", "gia", 2, 4, 256, 2, ETA, "cpu", "float64")
    d, mc = reference_error(sol, 4)
    assert f["ref_err_depth"].iloc[0] == d and f["ref_err_mc"].iloc[0] == mc
    assert f["ref_err"].iloc[0] == pytest.approx(np.hypot(d, mc)) and d >= 0 and mc > 0
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


def test_network_training_in_seed_chunks_gives_the_numbers_of_one_run(monkeypatch):
    """A network point larger than one engine run's memory budget trains its seeds in chunks:
    the same f^K, bit for bit, and a smaller footprint."""
    from infdepth.numerics import footprint as fp
    from infdepth.validation.claims import engine_common
    args = ("tanh", 16, 2, 2, 7, ETA, "depth_mup", "cpu", "float64", 0)
    train = nde._train_network.__wrapped__          # past the in-process cache
    whole = train(*args)
    p = NetworkPoint(act="tanh", n=16, L=2, K=2, n_seeds=7, nfd_variant="gia", ref_depth=4,
                     ref_particles=256, ref_seeds=2)
    before = CLAIM.footprint(p).peak
    monkeypatch.setattr(engine_common, "RUN_BYTES",
                        fp.engine(16, 2, 3, 2, rows=engine_common.TASK_ROWS,
                                  d=engine_common.TASK_DIM).peak)
    assert engine_common.engine_chunks(p, 2) == [(0, 3), (3, 3), (6, 1)]
    np.testing.assert_array_equal(train(*args), whole)
    assert CLAIM.footprint(p).peak <= before


def _depth_frames(depths, seeds=16):
    rng = np.random.default_rng(3)
    common = rng.standard_normal((seeds, 3))               # shared path: paired seeds
    return [pd.DataFrame({"seed": np.arange(seeds),
                          **{f"diff_{i}": 0.4 / L * (1 + 0.05 * common[:, i]) for i in range(3)}})
            for L in depths]


def test_reference_error_formula():
    """Depth part: the noise-corrected norm of the mean Cauchy difference ref/2 vs ref; Monte
    Carlo part: the standard error of the seed mean, rms over outputs."""
    rng = np.random.default_rng(0)
    top = np.array([1.0, -1.0]) + 0.1 * rng.standard_normal((8, 2))
    half = top + np.array([0.03, 0.04]) + 0.01 * rng.standard_normal((8, 2))
    d, mc = reference_error({4: half, 8: top}, 8)
    assert d == pytest.approx(NormOfMean()(half - top))
    assert d == pytest.approx(0.05, abs=0.01)
    assert mc == pytest.approx(np.sqrt(np.mean(top.var(axis=0, ddof=1) / 8)))


def test_measure_recovers_known_slopes():
    depths = (2, 4, 8, 16)
    pts = [NFDSweepPoint(act="tanh", variant="covariance", K=3, depths=(L, 2 * L, 32),
                         n_particles=8, n_seeds=16) for L in depths]
    v = NFDVariant("depth", "covariance")
    m = CLAIM.measure(v, pts, _depth_frames(depths))
    assert m.paired and list(m.sizes) == list(depths) and m.samples[0].shape == (16, 3)
    assert m.statistic == NormOfMean() and m.reference_error is None
    ev = m.evaluate(CLAIM.claimed(v))
    assert ev.method == "boot_t"
    assert ev.slope == pytest.approx(-1.0, abs=0.02) and ev.status == "confirmed"
    assert m.notes[0].startswith("noise budget (signal = corrected statistic): L=2: signal")
    assert "already clears the nearest edge" in m.notes[1]
    npts = [NetworkPoint(act="tanh", n=64, L=L, K=3, n_seeds=8, nfd_variant="gia", ref_depth=64,
                         ref_particles=8, ref_seeds=2) for L in depths]
    ref = np.array([0.3, -0.1, 0.7])
    rng = np.random.default_rng(4)
    frames = [pd.DataFrame({**{f"f_{i}": ref[i] + 0.2 + 1e-4 * rng.standard_normal(8)
                               for i in range(3)},
                            **{f"ref_{i}": np.full(8, ref[i]) for i in range(3)},
                            "ref_err_depth": 0.003, "ref_err_mc": 0.004, "ref_err": 0.005})
              for L in depths]
    v = NFDVariant("network", "gia")
    m = CLAIM.measure(v, npts, frames)
    assert m.paired and "f^K_NFD gia (L=64)" in m.error_label
    assert m.statistic == NormOfMean(ref=tuple(ref)) and list(m.reference_error) == [0.005] * 4
    ev = m.evaluate(CLAIM.claimed(v))
    assert ev.slope == pytest.approx(0.0, abs=0.01) and ev.status == "refuted"
    assert ev.reference_error == (0.005,) * 4
    assert "ref err 0.005" in m.notes[0]


def test_network_reading_of_the_claimed_rate_with_its_reference_error():
    """Error 0.4/L against the reference, seed noise and a reference error: confirmed; a
    reference error as large as the last depth's signal takes that depth out of the fit."""
    depths = (2, 4, 8, 16)
    npts = [NetworkPoint(act="tanh", n=64, L=L, K=3, n_seeds=32, nfd_variant="covariance",
                         ref_depth=64, ref_particles=8, ref_seeds=2) for L in depths]
    ref = np.array([0.3, -0.1, 0.7])
    rng = np.random.default_rng(5)
    common = 0.002 * rng.standard_normal((32, 3))             # shared weights: paired seeds

    def frames(ref_err):
        return [pd.DataFrame({**{f"f_{i}": ref[i] + 0.4 / L / np.sqrt(3) + common[:, i]
                                 + 1e-3 * rng.standard_normal(32) for i in range(3)},
                              **{f"ref_{i}": np.full(32, ref[i]) for i in range(3)},
                              "ref_err": ref_err}) for L in depths]
    v = NFDVariant("network", "covariance")
    ev = CLAIM.measure(v, npts, frames(1e-4)).evaluate(CLAIM.claimed(v))
    assert ev.method == "boot_t" and ev.slope == pytest.approx(-1.0, abs=0.05)
    assert ev.status == "confirmed"
    ev = CLAIM.measure(v, npts, frames(0.02)).evaluate(CLAIM.claimed(v))
    assert ev.used == (True, True, True, False)
    assert any("reference 0.02" in n for n in ev.notes)
    # with three depths that leaves two: refused, and the budget names the reference as the limit
    m = CLAIM.measure(v, npts[1:], frames(0.02)[1:])
    assert m.evaluate(CLAIM.claimed(v)).status == "inconclusive"
    assert m.notes[1].startswith("budget to decide: the fit was refused; the reference error "
                                 "alone keeps L=16 under the noise floor")


def test_noise_limited_budget_names_seeds_and_particles():
    """A Cauchy difference buried in particle noise: the note gives the seeds the v2 rule asks
    for and the equivalent particles per seed (P x seeds_needed / S)."""
    depths = (2, 4, 8, 16)
    rng = np.random.default_rng(8)
    pts = [NFDSweepPoint(act="tanh", variant="covariance", K=3, depths=(L, 2 * L, 32),
                         n_particles=1000, n_seeds=6) for L in depths]
    frames = [pd.DataFrame({f"diff_{i}": 0.4 / L + 0.03 * rng.standard_normal(6)
                            for i in range(3)}) for L in depths]
    m = CLAIM.measure(CLAIM.primary, pts, frames)
    ev = m.evaluate(CLAIM.claimed(CLAIM.primary))
    assert ev.status == "inconclusive (noise-limited)"
    n = int(ev.advice.split()[1])
    assert n > 6
    assert m.notes[1].endswith(f"it would be decided by about {n} seeds at 1000 particles, or "
                               f"6 seeds of about {int(np.ceil(1000 * n / 6))} particles each "
                               f"(estimate: Monte Carlo error ~ P^-1/2)")


def test_refused_fit_budget_names_seeds_and_particles():
    """The largest depth under the noise floor (refused fit): the budget lifts it above the
    floor (SNR ~ sqrt(seeds)) and decides the fit made with every depth."""
    depths = (2, 4, 8)
    rng = np.random.default_rng(1)
    pts = [NFDSweepPoint(act="tanh", variant="covariance", K=3, depths=(L, 2 * L, 16),
                         n_particles=4096, n_seeds=6) for L in depths]
    z = rng.standard_normal((6, 3))
    z = (z - z.mean(axis=0)) / z.std(axis=0, ddof=1)    # exact seed mean 0.4/L, std 0.1 at L=8
    frames = [pd.DataFrame({f"diff_{i}": 0.4 / L + (0.1 if L == 8 else 0.001) * z[:, i]
                            for i in range(3)}) for L in depths]
    m = CLAIM.measure(CLAIM.primary, pts, frames)
    ev = m.evaluate(CLAIM.claimed(CLAIM.primary))
    assert ev.status == "inconclusive" and ev.used == (True, True, False)
    note = m.notes[1]
    assert note.startswith("budget to decide against the claimed band [-1.15, -0.85]: the fit "
                           "was refused (sizes under the noise floor); every size clears the "
                           "floor at about ")
    lift = int(note.split("floor at about ")[1].split()[0])
    assert lift > 6 and "particles each (estimate: Monte Carlo error ~ P^-1/2)" in note
    need = int(note.split("in all about ")[1].split()[0])
    assert need >= lift
    assert f"6 seeds of about {int(np.ceil(4096 * need / 6))} particles each" in note
    # a signal corrected to 0 (under the noise) gives no estimate, and the note says so
    frames[-1] = frames[-1] + 0.1 * z                   # std 0.2: mean under the noise
    note = CLAIM.measure(CLAIM.primary, pts, frames).notes[1]
    assert "the corrected signal at L=8 is 0 (under the noise)" in note


def test_control_on_synthetic_data_is_refuted():
    """Outputs converging to a non-zero limit (plus 0.4/L and particle noise): refuted against
    the claimed -1, confirmed against the derived 0."""
    depths = (2, 4, 8, 16)
    rng = np.random.default_rng(6)
    common = 0.02 * rng.standard_normal((16, 3))              # one Brownian path per seed
    pts = [NFDSweepPoint(act="tanh", variant="covariance", K=3, depths=(L, 2 * L, 32),
                         n_particles=8, n_seeds=16) for L in depths]
    limit = np.array([0.5, -0.2, 0.9])
    frames = [pd.DataFrame({**{f"diff_{i}": np.full(16, 0.2 / L) for i in range(3)},
                            **{f"f_{i}": limit[i] + 0.4 / L + common[:, i] for i in range(3)}})
              for L in depths]
    m = CLAIM.measure(CONTROL, pts, frames)
    assert m.paired and m.statistic == NormOfMean() and m.samples[0].shape == (16, 3)
    assert m.error_label.startswith("control: |E f^K_L| (NFD covariance")
    d = CLAIM.derived(CONTROL)
    ev = m.evaluate(CLAIM.claimed(CONTROL), (d.exponent - 0.15, d.exponent + 0.15))
    assert ev.method == "boot_t" and abs(ev.slope) < 0.15
    assert ev.status == "refuted" and ev.status_derived == "confirmed"


def test_derived_per_variant():
    dc, dg = (CLAIM.derived(NFDVariant("depth", v)) for v in ("covariance", "gia"))
    assert dc.exponent == dg.exponent == -1.0
    assert dg.text.startswith("Euler-Maruyama of the gia NFD SDE, weak order 1: [depth_mup] "
                              "Euler-Maruyama step")
    assert "covariance" not in dg.text
    assert CLAIM.derived(NFDVariant("network", "covariance")).exponent == -1.0
    ng = CLAIM.derived(NFDVariant("network", "gia"))
    assert ng.exponent == 0.0 and ng.text.endswith("(does not converge)")
    c = CLAIM.derived(CONTROL)
    assert c.exponent == 0.0 and c.text.startswith("[depth_mup] control: E f^K_L")
    assert c.text.endswith("non-zero output, slope 0")


def test_bad_variant_message():
    with pytest.raises(ValueError, match="unknown nfd_depth_error reading 'width'; "
                                         "allowed: depth, network"):
        NFDVariant("width", "gia")
    with pytest.raises(ValueError, match="allowed: output"):
        ControlVariant("kernel")


def test_joint_variant_separates_the_depth_term_from_the_floor():
    """Synthetic network errors a/L + c (a floor from width and reference): the joint fit finds
    the depth exponent -1 where a single power law would flatten, on the network points."""
    from infdepth.run_fields import RunFields
    from infdepth.validation.claims.nfd_depth_error import JointVariant
    v = JointVariant("covariance")
    sweep = CLAIM.sweep("full")
    pts = CLAIM.points(v, sweep, Overrides(), RunFields())
    assert pts == CLAIM.points(NFDVariant("network", "covariance"), sweep, Overrides(), RunFields())
    rng = np.random.default_rng(1)
    frames = []
    for p in pts:
        mean = np.array([0.04 / p.L + 0.004, 0.0, 0.0])
        f = mean + 1e-4 * rng.standard_normal((64, 3))
        frames.append(pd.DataFrame({**{f"f_{i}": f[:, i] for i in range(3)},
                                    **{f"ref_{i}": np.zeros(64) for i in range(3)}}))
    ev = CLAIM.measure(v, pts, frames).evaluate(CLAIM.claimed(v))
    assert ev.kind == "joint" and ev.ci_low <= -1.0 <= ev.ci_high, ev.reason
    assert ev.notes[0].startswith("a L^p + c:")
    assert CLAIM.derived(v).exponent == -1.0


def test_depth_and_network_points_share_one_affinity():
    """Every point of a suite (both variants, depth and network readings) is one group, so a
    cluster solves each variant's NFD limit and trains each depth's networks once; another
    run (dtype) or seed base is another group."""
    from infdepth.validation.memory_estimate import claim_points
    pts = claim_points(CLAIM, "smoke", Overrides(), RunFields())
    assert {type(p) for p in pts} == {NFDSweepPoint, NetworkPoint}
    assert len({CLAIM.affinity(p) for p in pts}) == 1
    other = claim_points(CLAIM, "smoke", Overrides(), RunFields(dtype="float32"))
    assert CLAIM.affinity(other[0]) != CLAIM.affinity(pts[0])
