"""Claim ``init_width`` (docs/theory.md s3, s8, s9): variants activation/statistic, one point per
width evaluating every activation on the same draws, the relative bias to the exact
infinite-width recursion (the noise-corrected norm of the seed mean), the negative control."""

import numpy as np
import pandas as pd
import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims.init_width import (CLAIM, ControlVariant, WidthPoint,
                                                   WidthVariant, bias_statistic,
                                                   frobenius_weight, reference_vector,
                                                   seed_deviations)
from infdepth.validation.intervals import geometric_mean
from infdepth.validation.noise_budget import NormOfMean

NOISE = ControlVariant("noise")


def test_variants_and_points():
    sw = CLAIM.sweep("smoke")
    assert variant_labels(CLAIM, "smoke") == ["tanh/output", "relu/output"]
    assert variant_labels(CLAIM, "smoke", Overrides(activations=("erf",))) == \
        ["erf/output", "erf/grad"]
    assert CLAIM.primary == WidthVariant("tanh", "output")
    pts = CLAIM.points(CLAIM.primary, sw, Overrides(), RunFields())
    assert [p.n for p in pts] == list(sw.widths)
    assert [p.n_seeds for p in pts] == [sw.seeds_per_width * n for n in sw.widths]
    assert {p.activations for p in pts} == {("tanh", "relu")}          # one point, every act
    assert pts == CLAIM.points(WidthVariant("relu", "output"), sw, Overrides(), RunFields())
    with pytest.raises(ValueError, match="allowed: output, grad"):
        WidthVariant("tanh", "mean")


def test_tiny_compute_holds_every_activation():
    p = WidthPoint(activations=("tanh", "relu"), n=8, L=2, n_seeds=3)
    f = CLAIM.compute(p)
    assert list(f["activation"].unique()) == ["tanh", "relu"] and len(f) == 6
    names, ref = reference_vector(p, "tanh", "output")
    assert set(names) <= set(f.columns) and np.all(np.isfinite(f[names].to_numpy()))
    assert CLAIM.compute(p).equals(f)                                 # pure


def test_bias_statistic_by_hand():
    """|W (mean - ref)| / |W ref| with tr(W Sigma W)/S removed from the square; the weight
    sqrt(2) of off-diagonal entries (their multiplicity in the Frobenius norm)."""
    ref, w = np.array([1.0, 1.0]), np.array([1.0, 2 ** 0.5])
    a = np.array([[2.0, 0.0], [0.0, 0.0]])
    st = bias_statistic(ref, w)
    assert isinstance(st, NormOfMean) and st.corrected and not st.rms
    mean = a.mean(axis=0)
    raw = np.sum((w * (mean - ref)) ** 2)
    noise = np.sum(w ** 2 * a.var(axis=0, ddof=1)) / 2
    assert st(a) == pytest.approx(np.sqrt(max(raw - noise, 0)) / np.sqrt(3))
    assert bias_statistic(ref, np.ones(2))(np.array([[2.0, 0.0], [0.0, 2.0]])) == 0.0
    np.testing.assert_allclose(frobenius_weight(["out_00", "out_01", "out_11"], "output"),
                               [1, 2 ** 0.5, 1])
    np.testing.assert_allclose(frobenius_weight(["grad_0", "grad_1"], "grad"), [1, 1])
    # rows (2, 0), (0, 0): W (T_s - ref) = (1, -sqrt 2), (-1, -sqrt 2); |W ref| = sqrt 3
    np.testing.assert_allclose(seed_deviations(a, ref, w), [1.0, 1.0])


def _synthetic(widths=(4, 8, 16, 32), per_width=100, bias=0.5, noise=0.3, seed=0):
    """Seed rows T_s = ref (1 + bias/n) + CLT noise of size ``noise`` ref / sqrt(n) per entry,
    ``per_width * n`` seeds (as the suites): bias exactly O(1/n), one seed's deviation
    O(n^-1/2) where the noise dominates the bias."""
    rng = np.random.default_rng(seed)
    pts = [WidthPoint(activations=("tanh",), n=n, L=2, n_seeds=per_width * n) for n in widths]
    names, ref = reference_vector(pts[0], "tanh", "output")
    frames = [pd.DataFrame({"activation": "tanh", **{
        c: r * (1 + bias / p.n + noise / np.sqrt(p.n) * rng.standard_normal(p.n_seeds))
        for c, r in zip(names, ref)}}) for p in pts]
    return pts, frames


def test_primary_recovers_the_claimed_rate_on_synthetic_data():
    pts, frames = _synthetic(per_width=30)
    m = CLAIM.measure(CLAIM.primary, pts, frames)
    assert isinstance(m.statistic, NormOfMean) and not m.paired
    assert list(m.reference_error) == [0.0] * 4
    ev = m.evaluate(CLAIM.claimed(CLAIM.primary))
    assert ev.method == "boot_t"
    assert ev.slope == pytest.approx(-1.0, abs=0.1) and ev.status == "confirmed"


def test_noise_control_is_refuted_on_synthetic_data():
    """One seed's deviation is the O(n^-1/2) fluctuation: geometric mean, log_t, unpaired;
    refuted against the claimed -1, derived -1/2."""
    pts, frames = _synthetic(bias=0.05)
    assert CLAIM.role(NOISE) == "control" and NOISE.label == "control/noise"
    assert NOISE in CLAIM.suite_variants(CLAIM.sweep("smoke"), Overrides())
    m = CLAIM.measure(NOISE, pts, frames)
    assert m.statistic is geometric_mean and not m.paired
    assert [s.shape for s in m.samples] == [(p.n_seeds,) for p in pts]
    ev = m.evaluate(CLAIM.claimed(NOISE))
    assert ev.method == "log_t" and ev.slope == pytest.approx(-0.5, abs=0.05)
    assert ev.status == "refuted"
    d = CLAIM.derived(NOISE)
    assert d.exponent == -0.5 and "CLT" in d.text


def test_control_reads_the_primary_points():
    sw = CLAIM.sweep("smoke")
    assert CLAIM.points(NOISE, sw, Overrides(), RunFields()) == \
        CLAIM.points(CLAIM.primary, sw, Overrides(), RunFields())
    # --activations without tanh: the control's points add it
    pts = CLAIM.points(NOISE, sw, Overrides(activations=("relu",)), RunFields())
    assert {p.activations for p in pts} == {("relu", "tanh")}
