"""Claim ``init_coupling_width``: variants, a tiny engine point, the two readings' statistics."""

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples, variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides, get_claim
from infdepth.validation.claims.init_coupling_width import (CLAIM, CouplingInitPoint,
                                                            CouplingVariant, _moment_effect)



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


def test_moment_effect_statistic():
    a = np.array([[1.0, 0.9], [1.0, 0.9], [2.0, 1.8]])
    assert _moment_effect(a) == pytest.approx(0.4 / 3 / (4 / 3))


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
    ev = m.evaluate(CLAIM.claimed(CouplingVariant("rms", 4)))
    assert ev.slope == pytest.approx(-0.5, abs=0.03) and ev.status == "refuted"
    m = CLAIM.measure(CouplingVariant("moment", 4), pts, frames)
    assert m.column is None and m.samples[0].shape == (64, 2)
    ev = m.evaluate(CLAIM.claimed(CouplingVariant("moment", 4)))
    assert ev.slope == pytest.approx(-1.0, abs=0.03) and ev.status == "confirmed"


def test_derived_per_reading():
    rms, moment = (CLAIM.derived(CouplingVariant(r, 4)) for r in ("rms", "moment"))
    assert rms.exponent == -0.5 and "slope -1/2 in n for the rms" in rms.text
    assert moment.exponent == -1.0 and "(the rms reading gives -1/2)" in moment.text
    assert CLAIM.derived(CouplingVariant("rms", 64)) == rms     # depth-uniform


def test_bad_variant_message():
    with pytest.raises(ValueError, match="unknown init_coupling_width reading 'size'"):
        CouplingVariant("size", 4)
    with pytest.raises(ValueError, match="allowed: rms, moment"):
        CouplingVariant("size", 4)
    with pytest.raises(ValueError, match="positive integer"):
        CouplingVariant("rms", 0)
