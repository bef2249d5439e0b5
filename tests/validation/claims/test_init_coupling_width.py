"""Claim ``init_coupling_width``: variants, a tiny engine point, the two readings' statistics,
the negative control."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples, variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides, get_claim
from infdepth.validation.claims.init_coupling_width import (CLAIM, MOMENT_EFFECT,
                                                            ControlVariant, CouplingInitPoint,
                                                            CouplingVariant, MomentEffect)
from infdepth.validation.intervals import geometric_mean

CONTROL = ControlVariant("gradient_moment")



def test_variant_labels_per_suite():
    assert variant_labels(CLAIM, "smoke") == ["rms/L4", "moment/L4"]
    assert variant_labels(CLAIM, "standard") == ["rms/L4", "rms/L16", "moment/L4", "moment/L16"]
    assert variant_labels(CLAIM, "full") == ["rms/L4", "rms/L16", "rms/L64", "moment/L4",
                                             "moment/L16", "moment/L64"]
    assert variant_labels(CLAIM, "smoke", Overrides(depths=(2, 8))) == [
        "rms/L2", "rms/L8", "moment/L2", "moment/L8"]
    assert get_claim("init_coupling_width") is CLAIM
    assert CLAIM.primary.label == "rms/L4" and CLAIM.role(CouplingVariant("moment", 4)) \
        == "exploratory"
    assert CLAIM.controls == (CONTROL,) and CONTROL.label == "control/gradient_moment"
    assert CLAIM.role(CONTROL) == "control"
    assert [v.label for v in CLAIM.suite_variants(CLAIM.sweep("smoke"), Overrides())] == [
        "rms/L4", "moment/L4", "control/gradient_moment"]


def test_points_follow_sweep_overrides_and_run_fields():
    sw = CLAIM.sweep("smoke")
    run = RunFields(base_seed=3, dtype="float32")
    pts = CLAIM.points(CouplingVariant("moment", 16), sw, Overrides(), run)
    assert [p.n for p in pts] == [16, 32, 64, 128]
    assert {(p.L, p.n_seeds, p.act, p.base_seed, p.dtype) for p in pts} == \
        {(16, 256, "tanh", 3, "float32")}
    pts = CLAIM.points(CouplingVariant("rms", 4), sw,
                       Overrides(activations=("relu",), widths=(8, 24)), RunFields())
    assert [(p.act, p.n) for p in pts] == [("relu", 8), ("relu", 24)]
    hash(pts[0])


def test_init_coupling_point_shares_weights_between_modes():
    f = CLAIM.compute(CouplingInitPoint(act="tanh", n=16, L=2, n_seeds=6))
    assert list(f.columns) == ["seed", "cpl_rms", "g2_reused", "g2_removed"]
    assert len(f) == 6 and np.all(f["cpl_rms"] > 0)
    # the coupling changes the gradient by a small (finite-width) amount, not by O(1)
    rel = np.abs(f["g2_reused"] - f["g2_removed"]) / f["g2_reused"]
    assert np.all(rel < 0.5) and np.any(rel > 1e-8)


def test_seed_chunks_give_the_numbers_of_one_run(monkeypatch):
    """A point larger than one run's memory budget is computed in chunks of seeds: the same
    table, bit for bit, and a footprint of one chunk's runs."""
    from infdepth.validation.claims import engine_common
    p = CouplingInitPoint(act="tanh", n=16, L=2, n_seeds=7)
    whole = CLAIM.compute(p)
    assert CLAIM._chunks(p) == [(0, 7)]
    per_run = CLAIM.footprint(p).peak
    monkeypatch.setattr(engine_common, "RUN_BYTES",
                        CLAIM._run_footprint(replace(p, n_seeds=3)).peak)
    assert CLAIM._chunks(p) == [(0, 3), (3, 3), (6, 1)]
    pd.testing.assert_frame_equal(CLAIM.compute(p), whole, check_exact=True)
    assert CLAIM.footprint(p).peak < per_run


def test_control_reads_the_primary_points():
    sw = CLAIM.sweep("smoke")
    assert CLAIM.points(CONTROL, sw, Overrides(), RunFields()) == \
        CLAIM.points(CLAIM.primary, sw, Overrides(), RunFields())


def test_moment_effect_statistic():
    a = np.array([[1.0, 0.9], [1.0, 0.9], [2.0, 1.8]])
    # plain: |mean d| / mean r; corrected: the noise term var(d)/S removed from |mean d|^2
    assert MomentEffect(corrected=False)(a) == pytest.approx(0.4 / 3 / (4 / 3))
    d = a[:, 0] - a[:, 1]
    want = np.sqrt(d.mean() ** 2 - d.var(ddof=1) / 3) / a[:, 0].mean()
    assert MOMENT_EFFECT(a) == pytest.approx(want)


def test_moment_effect_batches_match_the_plain_call():
    rng = np.random.default_rng(5)
    a = np.stack([1 + 0.1 * rng.standard_normal((3, 6)),
                  0.9 + 0.1 * rng.standard_normal((3, 6))], axis=-1)       # (B, S, 2)
    np.testing.assert_allclose(MOMENT_EFFECT.batch(a), [MOMENT_EFFECT(r) for r in a])
    loo = MOMENT_EFFECT.leave_one_out(a)
    keep = ~np.eye(6, dtype=bool)
    np.testing.assert_allclose(loo, [[MOMENT_EFFECT(r[k]) for k in keep] for r in a])


def test_moment_effect_removes_the_noise_bias():
    """Over many replications, the square of the plain ratio overstates a small effect under
    seed noise by the noise term var(d)/S; the corrected square is unbiased."""
    rng = np.random.default_rng(7)
    B, S, mu, sd = 4000, 64, 0.01, 0.02            # noise of the mean sd/sqrt(S) = mu / 4
    d = mu + sd * rng.standard_normal((B, S))
    a = np.stack([np.ones((B, S)), 1 - d], axis=-1)
    plain, corr = MomentEffect(corrected=False).batch(a), MOMENT_EFFECT.batch(a)
    assert np.mean(plain ** 2) == pytest.approx(mu ** 2 * (1 + 1 / 16), rel=0.01)
    assert np.mean(corr ** 2) == pytest.approx(mu ** 2, rel=0.01)


def test_moment_reading_of_the_claimed_rate_is_confirmed():
    widths, S = (16, 32, 64, 128), 256
    rng = np.random.default_rng(7)
    pts = [CouplingInitPoint(act="tanh", n=n, L=4, n_seeds=S) for n in widths]
    frames = [pd.DataFrame({"seed": np.arange(S), "cpl_rms": np.ones(S), "g2_reused": np.ones(S),
                            "g2_removed": 1 - 0.5 / n - 0.02 * rng.standard_normal(S) / n})
              for n in widths]
    v = CouplingVariant("moment", 4)
    m = CLAIM.measure(v, pts, frames)
    assert m.statistic is MOMENT_EFFECT and not m.paired
    ev = m.evaluate(CLAIM.claimed(v))
    assert ev.method == "boot_t" and ev.slope == pytest.approx(-1.0, abs=0.05)
    assert ev.status == "confirmed"


def _synthetic(seed=0):
    widths = (16, 32, 64, 128)
    pts = [CouplingInitPoint(act="tanh", n=n, L=4, n_seeds=64) for n in widths]
    rms = power_law_samples(widths, -0.5, 64, noise=0.05, rng_seed=seed + 100)
    # the moment effect (g2_reused - g2_removed) / g2_reused = 3/n with 5% scatter
    effect = power_law_samples(widths, -1.0, 64, scale=3.0, noise=0.05, rng_seed=seed)
    frames = [pd.DataFrame({"seed": np.arange(64), "cpl_rms": r, "g2_reused": np.ones(64),
                            "g2_removed": 1 - e}) for r, e in zip(rms, effect)]
    return pts, frames


def test_measure_recovers_known_slopes():
    pts, frames = _synthetic()
    m = CLAIM.measure(CouplingVariant("rms", 4), pts, frames)
    assert list(m.sizes) == [16, 32, 64, 128] and m.column == "cpl_rms"
    assert "L=4" in m.error_label and m.size_label == "width n"
    assert m.statistic is geometric_mean and not m.paired
    ev = m.evaluate(CLAIM.claimed(CouplingVariant("rms", 4)))
    assert ev.method == "log_t"
    assert ev.slope == pytest.approx(-0.5, abs=0.03) and ev.status == "refuted"
    m = CLAIM.measure(CouplingVariant("moment", 4), pts, frames)
    assert m.column is None and m.samples[0].shape == (64, 2)
    ev = m.evaluate(CLAIM.claimed(CouplingVariant("moment", 4)))
    assert ev.slope == pytest.approx(-1.0, abs=0.03) and ev.status == "confirmed"
    # an rms that does decay like 1/n is confirmed (the claimed rate)
    rms = power_law_samples((16, 32, 64, 128), -1.0, 64, noise=0.05, rng_seed=3)
    m = CLAIM.measure(CLAIM.primary, pts, [f.assign(cpl_rms=r) for f, r in zip(frames, rms)])
    assert m.evaluate(CLAIM.claimed(CLAIM.primary)).status == "confirmed"


def test_control_on_synthetic_data_is_refuted():
    """E|g_0|^2/n with a non-zero limit (and a 1/n finite-width correction) is refuted against
    the claim's band and agrees with its derived slope 0."""
    widths = (16, 32, 64, 128)
    g2 = [(1.3 + 0.5 / n) * s for n, s in zip(widths, power_law_samples(widths, 0.0, 64,
                                                                       noise=0.1, rng_seed=9))]
    pts = [CouplingInitPoint(act="tanh", n=n, L=4, n_seeds=64) for n in widths]
    frames = [pd.DataFrame({"seed": np.arange(64), "cpl_rms": np.ones(64), "g2_reused": g,
                            "g2_removed": g}) for g in g2]
    m = CLAIM.measure(CONTROL, pts, frames)
    assert m.column == "g2_reused" and m.statistic is geometric_mean and not m.paired
    assert "control" in m.error_label and "L=4" in m.error_label
    d = CLAIM.derived(CONTROL)
    ev = m.evaluate(CLAIM.claimed(CONTROL), (d.exponent - 0.15, d.exponent + 0.15))
    assert ev.method == "log_t" and ev.slope == pytest.approx(0.0, abs=0.05)
    assert ev.status == "refuted" and ev.status_derived == "confirmed"


def test_derived_per_reading():
    rms, moment = (CLAIM.derived(CouplingVariant(r, 4)) for r in ("rms", "moment"))
    assert rms.exponent == -0.5 and "slope -1/2 in n for the rms" in rms.text
    assert moment.exponent == -1.0 and "(the rms reading gives -1/2)" in moment.text
    assert CLAIM.derived(CouplingVariant("rms", 64)) == rms     # depth-uniform
    c = CLAIM.derived(CONTROL)
    assert c.exponent == 0.0 and "non-zero limit: slope 0 in n" in c.text


def test_bad_variant_message():
    with pytest.raises(ValueError, match="unknown init_coupling_width reading 'size'"):
        CouplingVariant("size", 4)
    with pytest.raises(ValueError, match="allowed: rms, moment"):
        CouplingVariant("size", 4)
    with pytest.raises(ValueError, match="positive integer"):
        CouplingVariant("rms", 0)
    with pytest.raises(ValueError, match="allowed: gradient_moment"):
        ControlVariant("gradient")
