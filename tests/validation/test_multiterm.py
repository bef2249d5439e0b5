"""Multi-term models fitted jointly over several sweeps: on synthetic two-term data (known
constants and exponents) the fit recovers the exponents with intervals that contain them, and
the comparison prefers the true two-term form to a single power law."""

import numpy as np
import pytest

from infdepth.validation.intervals import geometric_mean
from infdepth.validation.measurements import Claimed, JointMeasurement
from infdepth.validation.multiterm import Model, Term, compare_models, fit_model

SIZES = ([(L, 16) for L in (4, 8, 16, 32, 64, 128)] + [(16, M) for M in (4, 8, 16, 32, 64, 128)]
         + [(m, m) for m in (4, 8, 16, 32, 64)])
GROUPS = [0] * 6 + [1] * 6 + [2] * 5
FREE = Model("a L^p + b (LM)^q", (Term("bias", {"L": -1.0}, ("L",)),
                                  Term("noise", {"LM": -0.5}, ("LM",))))
SINGLE = Model("c L^a M^b", (Term("one", {"L": -0.5, "M": -0.5}, ("L", "M")),))
CLAIMED = Model("a/L + b/sqrt(LM)", (Term("bias", {"L": -1.0}), Term("noise", {"LM": -0.5})))


def _data(a=0.5, b=0.3, p=-1.0, q=-0.5, seeds=24, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    X = {"L": np.array([s[0] for s in SIZES], float), "M": np.array([s[1] for s in SIZES], float)}
    X["LM"] = X["L"] * X["M"]
    samples = [(a * L ** p + b * (L * M) ** q) * np.exp(0.3 * rng.standard_normal(seeds))
               for L, M in SIZES]
    return X, samples


def test_two_term_fit_recovers_its_exponents():
    X, samples = _data()
    fit = fit_model(FREE, X, samples, geometric_mean, groups=GROUPS, n_boot=150)
    assert fit.ok and fit.n_points == len(SIZES)
    for name, truth in (("bias.L", -1.0), ("noise.LM", -0.5)):
        lo, hi = fit.ci[name]
        assert lo <= truth <= hi and hi - lo < 0.5, (name, fit.params[name], lo, hi)
    assert fit.params["bias.c"] == pytest.approx(0.5, rel=0.3)


def test_comparison_prefers_the_true_form():
    X, samples = _data(seeds=64)
    fits = [fit_model(m, X, samples, geometric_mean, groups=GROUPS, n_boot=20)
            for m in (SINGLE, CLAIMED)]
    lines = compare_models(fits)
    assert lines[0].startswith("a/L + b/sqrt(LM)") and "dAIC +0.00" in lines[0], lines
    assert float(lines[1].rsplit("dAIC ", 1)[1].rstrip(")")) > 4


def test_joint_measurement_decides_on_every_free_exponent():
    X, samples = _data(seeds=96)
    m = JointMeasurement(X, samples, geometric_mean, GROUPS, (FREE, SINGLE), "noise.LM",
                         {"bias.L": (-1.15, -0.85), "noise.LM": (-0.65, -0.35)}, n_boot=100)
    ev = m.evaluate(Claimed.around(-0.5, 0.15, "-1/2 in LM"))
    assert ev.kind == "joint" and ev.status == "confirmed", ev.reason
    assert ev.ci_low <= -0.5 <= ev.ci_high and len(ev.table) == 2
    wrong = JointMeasurement(X, samples, geometric_mean, GROUPS, (FREE,), "noise.LM",
                             {"bias.L": (-2.15, -1.85), "noise.LM": (-0.65, -0.35)}, n_boot=100)
    assert wrong.evaluate(Claimed.around(-0.5, 0.15, "")).status == "refuted"
