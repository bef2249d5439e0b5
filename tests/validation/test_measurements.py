"""Measurement kinds and their evaluation (validation/measurements.py, docs/theory.md s9): a rate
measurement is the rate fitter plus a band verdict; a regime map reads each cell's slopes as
signs, classifies them and summarises the rows with the claim's own rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import power_law_samples
from infdepth.validation.measurements import (Claimed, Evaluation, MapCell, MapSummary,
                                              RateMeasurement, RegimeMap, slope_sign)
from infdepth.validation.rate_fit import RateFit, fit_rate

SIZES = (4, 8, 16, 32, 64)


def _rate(slope, *, noise=0.05, rng_seed=0, **kw):
    return RateMeasurement(SIZES, power_law_samples(SIZES, slope, 32, noise=noise,
                                                    rng_seed=rng_seed), None, "depth L",
                           "synthetic error", **kw)


def _fit(lo, hi, refused=False):
    return RateFit(slope=(lo + hi) / 2, intercept=0.0, ci_low=lo, ci_high=hi, pairwise=(),
                   sizes=(), errors=(), stderr=(), used=(), refused=refused, method="bootstrap",
                   n_boot=10)


def test_claimed_around_a_slope():
    c = Claimed.around(-1.0, 0.15, "-1 in L")
    assert c == Claimed(-1.0, (-1.15, -0.85), "-1 in L")


def test_rate_measurement_is_the_rate_fitter():
    m = _rate(-1.0, paired=True, noise_floor_factor=0.0)
    ref = fit_rate(SIZES, m.samples, None, paired=True, noise_floor_factor=0.0)
    assert m.fit() == ref


def test_rate_evaluation_against_the_band():
    m = _rate(-1.0, notes=("budget",), column="err")
    ev = m.evaluate(Claimed.around(-1.0, 0.15, "x"))
    assert isinstance(ev, Evaluation) and ev.kind == "rate" and ev.status == "confirmed"
    assert ev.slope == pytest.approx(-1.0, abs=0.03) and ev.ci_low < ev.slope < ev.ci_high
    assert ev.sizes == SIZES and len(ev.errors) == len(ev.stderr) == len(ev.used) == 5
    assert ev.notes[-1] == "budget" and ev.seed_column == "err"
    assert (ev.size_label, ev.error_label) == ("depth L", "synthetic error")
    assert m.evaluate(Claimed.around(-0.5, 0.15, "x")).status == "refuted"
    # one-sided bands (either end infinite)
    assert m.evaluate(Claimed(None, (-math.inf, -0.15), "decreasing")).status == "confirmed"
    assert m.evaluate(Claimed(None, (-0.15, math.inf), "not decreasing")).status == "refuted"
    # a qualitative claim with no band is never decided
    assert m.evaluate(Claimed(None, (math.nan, math.nan), "?")).status == "inconclusive"


def test_evaluation_of_fit_keeps_the_fit():
    f = fit_rate(SIZES, power_law_samples(SIZES, -2.0, 8, rng_seed=3), n_boot=100)
    ev = Evaluation.of_fit(f, "refuted", size_label="L", error_label="e", notes=("n",))
    assert (ev.slope, ev.ci_low, ev.ci_high, ev.method) == (f.slope, f.ci_low, f.ci_high,
                                                            f.method)
    assert ev.pairwise == f.pairwise and ev.notes == tuple(f.notes) + ("n",)


@pytest.mark.parametrize("lo, hi, refused, diverged, sign", [
    (0.3, 0.5, False, False, "+"),
    (-0.5, -0.3, False, False, "-"),
    (-0.1, 0.1, False, False, "0"),
    (-0.15, 0.15, False, False, "0"),             # band edges inclusive
    (-0.1, 0.3, False, False, "?"),
    (-0.5, 0.5, False, False, "?"),
    (-0.1, 0.1, True, False, "?"),
    (math.nan, math.nan, False, False, "?"),
    (-0.5, -0.3, False, True, "+"),               # divergence counts as growth
])
def test_slope_sign(lo, hi, refused, diverged, sign):
    assert slope_sign(_fit(lo, hi, refused), 0.15, diverged) == sign


def _map(cells, summarize=None):
    def classify(signs):
        return {"-": "decaying", "0": "flat", "+": "growing"}.get(signs["a"], "unclear")

    def default(rows):
        flat = [r["x"] for r in rows if r["regime"] == "flat"]
        return MapSummary("confirmed" if flat else "refuted", float(np.mean(flat)) if flat
                          else math.nan, min(flat, default=math.nan),
                          max(flat, default=math.nan), ("read",))
    return RegimeMap(cells, 0.15, classify, summarize or default, size_label="LM",
                     error_label="map")


def test_regime_map_rows():
    rate = {0.0: _rate(-1.0, rng_seed=1), 1.0: _rate(0.0, rng_seed=2)}
    div = power_law_samples(SIZES, 0.0, 32, rng_seed=4)
    div[-1] = div[-1].copy()
    div[-1][0] = np.inf                                     # diverged at the largest size
    cells = [MapCell({"x": 0.0}, {"a": rate[0.0]}, {"derived_regime": "decaying"}),
             MapCell({"x": 1.0}, {"a": rate[1.0]}, {"derived_regime": "flat"}),
             MapCell({"x": 2.0}, {"a": RateMeasurement(SIZES, div, None, "LM", "e")})]
    rows = _map(cells).rows()
    assert [r["x"] for r in rows] == [0.0, 1.0, 2.0]
    assert [r["regime"] for r in rows] == ["decaying", "flat", "growing"]
    assert [r["a_sign"] for r in rows] == ["-", "0", "+"] and rows[2]["a_diverged"]
    assert rows[0]["a_slope"] == pytest.approx(-1.0, abs=0.03)
    assert len(rows[0]["a_ci"]) == 2 and rows[0]["signs"] == {"a": "-"}
    assert rows[0]["derived_regime"] == "decaying" and "derived_regime" not in rows[2]


def test_regime_map_evaluation_is_the_claims_summary():
    cells = [MapCell({"x": 0.0}, {"a": _rate(-1.0, rng_seed=1)}),
             MapCell({"x": 1.0}, {"a": _rate(0.0, rng_seed=2)})]
    ev = _map(cells).evaluate(Claimed.around(1.0, 0.15, "flat at 1"))
    assert ev.kind == "map" and ev.method == "regime map" and ev.status == "confirmed"
    assert (ev.slope, ev.ci_low, ev.ci_high) == (1.0, 1.0, 1.0) and ev.notes == ("read",)
    assert [r["regime"] for r in ev.table] == ["decaying", "flat"]
    assert all("signs" not in r for r in ev.table) and math.isnan(ev.intercept)
    assert (ev.size_label, ev.error_label) == ("LM", "map")
    # the claim's summary decides, not a band check of its range
    undecided = _map(cells, lambda rows: MapSummary("inconclusive", 1.0, 1.0, 1.0))
    assert undecided.evaluate(Claimed.around(1.0, 0.15, "x")).status == "inconclusive"



@pytest.mark.parametrize("seeds, statistic, flagged", [
    (8, "norm", True), (16, "norm", False), (8, "mean-of-norms", False)])
def test_norm_of_mean_rows_with_few_seeds_carry_the_calibration_caveat(seeds, statistic,
                                                                       flagged):
    from infdepth.validation.noise_budget import NormOfMean
    rng = np.random.default_rng(7)
    sizes = [2.0, 4.0, 8.0, 16.0, 32.0]
    samples = [s ** -1.0 + 0.01 * rng.standard_normal((seeds, 3)) for s in sizes]
    stat = (NormOfMean() if statistic == "norm"
            else (lambda a: float(np.linalg.norm(a, axis=1).mean())))
    m = RateMeasurement(sizes, samples, stat, "L", "err", paired=False)
    ev = m.evaluate(Claimed.around(-1.0, 0.15, "-1"))
    assert any("norm of a noisy mean over" in n for n in ev.notes) is flagged
