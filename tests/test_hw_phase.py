"""Claim ``hw_phase``: the regime classification of measured slopes, the map verdict, the mapping
of phase points onto Model B, and the runner/figure plumbing of the per-cell table."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from infdepth.validation.experiments import hw_phase as hp


def _signs(m, o, i="0"):
    return {"movement": m, "output_change": o, "output_init": i}


@pytest.mark.parametrize("signs, regime", [
    (_signs("0", "0"), "maximal"),
    (_signs("-", "0"), "lazy"),
    (_signs("-", "-"), "trivial"),
    (_signs("0", "-"), "trivial"),
    (_signs("+", "0"), "unstable"),
    (_signs("0", "0", "+"), "unstable"),
    (_signs("?", "+"), "unstable"),
    (_signs("?", "0"), "inconclusive"),
    (_signs("-", "0", "?"), "inconclusive"),
])
def test_classify(signs, regime):
    assert hp.classify(signs) == regime


def test_may_be_maximal():
    assert hp.may_be_maximal(_signs("?", "0"))
    assert hp.may_be_maximal(_signs("0", "0", "?"))
    assert not hp.may_be_maximal(_signs("-", "0", "?"))   # movement surely decays: not maximal
    assert not hp.may_be_maximal(_signs("0", "0", "+"))


def _synthetic(cells, seeds=12, m_values=(4, 8, 16, 32), noise=0.02, seed=0):
    """Frames whose movement / output change / init output are exact power laws in LM (known
    slopes, multiplicative noise): the independent reference of the fitted slopes."""
    rng = np.random.default_rng(seed)
    pts, frames = [], []
    for (s, q), (a_m, a_o, a_i) in cells.items():
        for m in m_values:
            p = hp.HWPhasePoint(scale_exponent=s, lr_exponent=q, L=m, M=m, n_seeds=seeds)
            LM = float(m * m)
            e = lambda a: 0.7 * LM ** a * np.exp(noise * rng.standard_normal(seeds))  # noqa: E731
            pts.append(p)
            frames.append(pd.DataFrame({"seed": np.arange(seeds), "movement": e(a_m),
                                        "output_change": e(a_o), "output_init": e(a_i)}))
    return pts, frames


def test_phase_table_recovers_known_slopes_and_regimes():
    cells = {(-1.0, 1.0): (0.0, 0.0, 0.0), (-1.0, 0.5): (-0.5, -0.5, 0.0),
             (-0.75, 0.5): (-0.25, 0.0, 0.0), (-1.0, 1.5): (0.5, 0.5, 0.0)}
    rows = {(r["scale_exponent"], r["lr_exponent"]): r
            for r in hp.phase_table(*_synthetic(cells))}
    for cell, slopes in cells.items():
        for qty, a in zip(hp.QUANTITIES, slopes):
            assert rows[cell][f"{qty}_slope"] == pytest.approx(a, abs=0.02)
    assert [rows[c]["regime"] for c in cells] == ["maximal", "trivial", "lazy", "unstable"]
    # these synthetic slopes are the calculus's exponents: measured = derived everywhere
    assert all(r["regime"] == r["derived_regime"] for r in rows.values())


def test_divergent_size_counts_as_unstable():
    pts, frames = _synthetic({(-1.0, 1.0): (0.0, 0.0, 0.0)})
    frames[-1].loc[3, "output_change"] = np.inf
    (row,) = hp.phase_table(pts, frames)
    assert row["output_change_diverged"] and row["regime"] == "unstable"


def _row(s, q, regime, maybe=None, derived=None):
    return {"scale_exponent": s, "lr_exponent": q, "regime": regime,
            "may_be_maximal": regime == "maximal" if maybe is None else maybe,
            "derived_regime": derived or regime, "movement_slope": 0.0,
            "output_change_slope": 0.0, "output_init_slope": 0.0, "derived_movement": 0.0,
            "derived_output_change": 0.0, "derived_noise": 0.0,
            "movement_diverged": False, "output_change_diverged": False}


def test_map_verdicts():
    ok = [_row(-1.0, 1.0, "maximal"), _row(-1.5, 1.0, "trivial"), _row(-0.5, 0.0, "lazy")]
    fit = hp.map_summary(ok)
    assert fit.status == "confirmed" and fit.slope == -1.0
    assert (fit.ci_low, fit.ci_high) == (-1.0, -1.0)
    # another scale measured maximal: the "only" of the claim fails
    bad = ok + [_row(-0.5, 0.5, "maximal", derived="unstable")]
    fit = hp.map_summary(bad)
    assert fit.status == "refuted" and fit.ci_high == -0.5
    assert any(n.startswith("(s=-0.5, q=+0.5): measured maximal") for n in fit.notes)
    # nothing maximal anywhere near the claimed scale
    assert hp.map_summary([_row(-1.0, 1.0, "trivial"), _row(-1.5, 1.0, "trivial")]
                          ).status == "refuted"
    # a cell at another scale cannot be excluded: undecided
    und = ok + [_row(-0.5, 0.5, "inconclusive", maybe=True)]
    assert hp.map_summary(und).status == "inconclusive"
    assert math.isnan(hp.map_summary([_row(-1.0, 1.0, "inconclusive", maybe=True)]).slope)


def test_phase_point_maps_onto_model_b():
    """alpha = (LM)^(s+1), eta = eta0 (LM)^(q+2s+1): the scale sqrt(D)(LM)^s, raw LR
    eta0 D (LM)^q of the parameterization (checked by compute; a wrong mapping raises)."""
    from infdepth.numerics.hidden_width import HWConfig
    p = hp.HWPhasePoint(scale_exponent=-0.75, lr_exponent=0.5, L=4, M=8, n_seeds=1)
    cfg = HWConfig(D=p.D, L=p.L, M=p.M, alpha=p.alpha, eta=p.eta)
    assert cfg.block_scale * math.sqrt(p.D) == pytest.approx(math.sqrt(p.D) * 32.0 ** -0.75)
    assert cfg.rate_u == pytest.approx(p.eta0 * p.D * 32.0 ** 0.5)
    hp._check_scales(p, cfg)
    with pytest.raises(ValueError, match="does not map"):
        hp._check_scales(p, HWConfig(D=p.D, L=p.L, M=p.M, alpha=p.alpha, eta=2 * p.eta))


def test_compute_at_the_claimed_point_is_order_one():
    rows = [hp.compute(hp.HWPhasePoint(scale_exponent=-1.0, lr_exponent=1.0, L=m, M=m,
                                       n_seeds=3)) for m in (4, 8)]
    for f in rows:
        assert list(f.columns) == ["seed", "movement", "output_change", "output_init",
                                   "movement_1", "output_change_1", "loss_K"]
        assert np.all(np.isfinite(f.to_numpy()))
        assert np.all((f["movement"] > 0.05) & (f["movement"] < 5))
        # the first step moves less than K steps, but not by orders of magnitude
        assert np.all((f["movement_1"] < f["movement"]) & (f["movement_1"] > 1e-3))


def test_points_and_overrides():
    pts = hp.points("maximal/output", "smoke")
    assert {(p.scale_exponent, p.lr_exponent) for p in pts} == {hp.MAXIMAL}
    assert [p.L for p in pts] == [p.M for p in pts] == list(hp.SUITES["smoke"]["m"])
    grid = hp.points("map", "smoke", hp.Overrides(depths=(2, 4)))
    cells = {(p.scale_exponent, p.lr_exponent) for p in grid}
    assert hp.MAXIMAL in cells and len(grid) == 2 * len(cells)


def test_runner_stores_table_and_figure_draws_it(tmp_path, monkeypatch):
    from infdepth.paper_figs import hw_phase as fig
    from infdepth.validation.claims import get_claim
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import load_verdicts, run_claim, save_verdicts
    monkeypatch.setitem(hp.SUITES, "smoke", {"seeds": 2, "m": (2, 4, 8), "scale": (-1.0,),
                                             "lr": (0.5, 1.0)})
    store = ResultsStore(tmp_path)
    recs = run_claim(get_claim("hw_phase"), "smoke", store)
    assert [r.variant for r in recs] == list(hp.VARIANTS)
    assert len(recs[0].table) == len(recs[1].table) == 2 and recs[0].status in ("confirmed", "refuted", "inconclusive")
    save_verdicts(store, recs)
    back = load_verdicts(store)
    assert back[0].table == json.loads(json.dumps(recs[0].table))
    assert back[2].table == [] and back[2].sizes   # maximal/*: plain rate rows
    paths = fig.make([r.to_dict() for r in back], tmp_path / "figures")
    assert {p.name for p in paths} >= {"hw_phase.png", "hw_phase.pdf", "hw_phase_maximal.png"}


def test_runner_takes_the_map_verdict_not_the_band_verdict(tmp_path, monkeypatch):
    """The map's interval is a range of scale exponents, not a slope CI: the band check alone
    would call an undecided map "confirmed". The runner must report the map's own status."""
    from infdepth.validation.claims import get_claim
    from infdepth.validation.rate_fit import band_verdict
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import run_claim
    undecided = hp.map_summary([_row(-1.0, 1.0, "inconclusive", maybe=True),
                                _row(-1.5, 1.0, "trivial")])
    assert undecided.status == "inconclusive"
    assert band_verdict(undecided, -1.15, -0.85) == "confirmed"
    monkeypatch.setitem(hp.SUITES, "smoke", {"seeds": 2, "m": (2, 4), "scale": (-1.0,),
                                             "lr": (1.0,)})
    monkeypatch.setattr(hp, "fit", lambda variant, pts, frames: undecided)
    recs = run_claim(get_claim("hw_phase"), "smoke", ResultsStore(tmp_path))
    assert {r.status for r in recs} == {"inconclusive"}


def test_bad_variant_is_named():
    with pytest.raises(ValueError, match="unknown hw_phase variant 'maps'"):
        hp.points("maps", "smoke")
