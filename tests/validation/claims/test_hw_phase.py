"""Claim ``hw_phase``: the regime classification of measured slopes (geometric means over seeds,
paired log-slope intervals), the map verdict, the mapping of phase points onto Model B, the
negative control ``control/lazy_cell``, and the runner/figure plumbing of the per-cell table."""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from infdepth.run_fields import RunFields
from infdepth.validation.claims import Overrides
from infdepth.validation.claims import hw_phase as hp
from infdepth.validation.claims import hw_phase_rules as rules
from infdepth.validation.intervals import geometric_mean

CLAIM = hp.CLAIM
MAP, STEP1 = hp.PhaseVariant("map", "K"), hp.PhaseVariant("map", "step1")
CONTROL = hp.PhaseVariant("control", "lazy_cell")


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
    assert rules.classify(signs) == regime


def test_may_be_maximal():
    assert rules.may_be_maximal(_signs("?", "0"))
    assert rules.may_be_maximal(_signs("0", "0", "?"))
    assert not rules.may_be_maximal(_signs("-", "0", "?"))   # movement surely decays: not maximal
    assert not rules.may_be_maximal(_signs("0", "0", "+"))


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


def _rows(pts, frames):
    return CLAIM.measure(MAP, pts, frames).evaluate(CLAIM.claimed(MAP)).table


def test_map_recovers_known_slopes_and_regimes():
    cells = {(-1.0, 1.0): (0.0, 0.0, 0.0), (-1.0, 0.5): (-0.5, -0.5, 0.0),
             (-0.75, 0.5): (-0.25, 0.0, 0.0), (-1.0, 1.5): (0.5, 0.5, 0.0)}
    rows = {(r["scale_exponent"], r["lr_exponent"]): r for r in _rows(*_synthetic(cells))}
    for cell, slopes in cells.items():
        for qty, a in zip(hp.QUANTITIES, slopes):
            assert rows[cell][f"{qty}_slope"] == pytest.approx(a, abs=0.02)
    assert [rows[c]["regime"] for c in cells] == ["maximal", "trivial", "lazy", "unstable"]
    # these synthetic slopes are the calculus's exponents: measured = derived everywhere
    assert all(r["regime"] == r["derived_regime"] for r in rows.values())
    assert [rows[c]["may_be_maximal"] for c in cells] == [True, False, False, False]


def test_divergent_size_counts_as_unstable():
    pts, frames = _synthetic({(-1.0, 1.0): (0.0, 0.0, 0.0)})
    frames[-1].loc[3, "output_change"] = np.inf
    (row,) = _rows(pts, frames)
    assert row["output_change_diverged"] and row["regime"] == "unstable"


def _row(s, q, regime, maybe=None, derived=None):
    return {"scale_exponent": s, "lr_exponent": q, "regime": regime,
            "signs": _signs("0", "0") if (regime == "maximal" if maybe is None else maybe)
            else _signs("-", "-"),
            "derived_regime": derived or regime, "movement_slope": 0.0,
            "output_change_slope": 0.0, "output_init_slope": 0.0, "derived_movement": 0.0,
            "derived_output_change": 0.0, "derived_noise": 0.0,
            "movement_diverged": False, "output_change_diverged": False}


def test_map_verdicts():
    ok = [_row(-1.0, 1.0, "maximal"), _row(-1.5, 1.0, "trivial"), _row(-0.5, 0.0, "lazy")]
    s = rules.summarize(ok)
    assert s.status == "confirmed" and s.value == -1.0
    assert (s.low, s.high) == (-1.0, -1.0)
    # another scale measured maximal: the "only" of the claim fails
    bad = ok + [_row(-0.5, 0.5, "maximal", derived="unstable")]
    s = rules.summarize(bad)
    assert s.status == "refuted" and s.high == -0.5
    assert any(n.startswith("(s=-0.5, q=+0.5): measured maximal") for n in s.notes)
    # nothing maximal anywhere near the claimed scale
    assert rules.summarize([_row(-1.0, 1.0, "trivial"), _row(-1.5, 1.0, "trivial")]
                        ).status == "refuted"
    # a cell at another scale cannot be excluded: undecided
    und = ok + [_row(-0.5, 0.5, "inconclusive", maybe=True)]
    assert rules.summarize(und).status == "inconclusive"
    assert math.isnan(rules.summarize([_row(-1.0, 1.0, "inconclusive", maybe=True)]).value)


def test_phase_point_maps_onto_model_b():
    """alpha = (LM)^(s+1), eta = eta0 (LM)^(q+2s+1): the scale sqrt(D)(LM)^s, raw LR
    eta0 D (LM)^q of the parameterization (checked by compute; a wrong mapping raises)."""
    from infdepth.numerics.hidden_width import HWConfig
    p = hp.HWPhasePoint(scale_exponent=-0.75, lr_exponent=0.5, L=4, M=8, n_seeds=1)
    cfg = HWConfig(D=p.D, L=p.L, M=p.M, alpha=p.alpha, eta=p.eta)
    assert cfg.block_scale * math.sqrt(p.D) == pytest.approx(math.sqrt(p.D) * 32.0 ** -0.75)
    assert cfg.rate_u == pytest.approx(p.eta0 * p.D * 32.0 ** 0.5)
    CLAIM.check_scales(p, cfg)
    with pytest.raises(ValueError, match="does not map"):
        CLAIM.check_scales(p, HWConfig(D=p.D, L=p.L, M=p.M, alpha=p.alpha, eta=2 * p.eta))


def test_compute_at_the_claimed_point_is_order_one():
    rows = [CLAIM.compute(hp.HWPhasePoint(scale_exponent=-1.0, lr_exponent=1.0, L=m, M=m,
                                          n_seeds=3)) for m in (4, 8)]
    for f in rows:
        assert list(f.columns) == ["seed", "movement", "output_change", "output_init",
                                   "movement_1", "output_change_1", "loss_K"]
        assert np.all(np.isfinite(f.to_numpy()))
        assert np.all((f["movement"] > 0.05) & (f["movement"] < 5))
        # the first step moves less than K steps, but not by orders of magnitude
        assert np.all((f["movement_1"] < f["movement"]) & (f["movement_1"] > 1e-3))


def test_variants_points_and_overrides():
    sweep = CLAIM.sweep("smoke")
    labels = [v.label for v in CLAIM.variants(sweep, Overrides())]
    assert labels == ["map", "map/step1", "maximal/movement", "maximal/output"]
    assert CLAIM.role(MAP) == "primary" and CLAIM.role(STEP1) == "exploratory"
    pts = CLAIM.points(hp.PhaseVariant("maximal", "output"), sweep, Overrides(), RunFields())
    assert {(p.scale_exponent, p.lr_exponent) for p in pts} == {hp.MAXIMAL}
    assert [p.L for p in pts] == [p.M for p in pts] == list(sweep.m)
    grid = CLAIM.points(MAP, sweep, Overrides(depths=(2, 4)), RunFields(dtype="float32"))
    cells = {(p.scale_exponent, p.lr_exponent) for p in grid}
    assert hp.MAXIMAL in cells and len(grid) == 2 * len(cells)
    assert {p.dtype for p in grid} == {"float32"}


def test_runner_stores_table_and_figures_draw_it(tmp_path, monkeypatch):
    from infdepth.paper_figs import make_figures
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import load_verdicts, run_claim, save_verdicts
    from infdepth.validation.tables import table_path
    tiny = hp.Sweep(2, (2, 4, 8), (-1.0,), (0.5, 1.0))
    monkeypatch.setitem(hp.HWPhase.suites, "smoke", tiny)
    monkeypatch.setattr(hp, "CONTROL_CELL", (-1.0, 0.5))    # a cell of the tiny grid
    store = ResultsStore(tmp_path)
    recs = run_claim(CLAIM, "smoke", store)
    assert [r.variant for r in recs] == ["map", "map/step1", "maximal/movement",
                                         "maximal/output", "control/lazy_cell"]
    assert recs[-1].role == "control" and recs[-1].method == "log_t"
    assert len(recs[0].table) == len(recs[1].table) == 2 and recs[0].kind == "map"
    assert recs[0].status in ("confirmed", "refuted", "inconclusive")
    save_verdicts(store, recs)
    back = load_verdicts(store)
    assert back[0].table == json.loads(json.dumps(recs[0].table))   # cells survive JSON
    assert back[2].table == [] and back[2].sizes   # maximal/*: plain rate rows
    cells = store.get_table(table_path("hw_phase", "map", summary=True))
    assert len(cells) == 2 and {"regime", "derived_regime", "may_be_maximal"} <= set(cells)
    raw = store.get_table(table_path("hw_phase", "map"))
    assert len(raw) == 2 * 3 * 2 and {"scale_exponent", "L", "seed", "movement"} <= set(raw)
    paths = make_figures(store, [r.to_dict() for r in back])["hw_phase"]
    assert {p.name for p in paths} >= {"hw_phase.png", "hw_phase.pdf", "hw_phase_maximal.png"}


def test_the_map_verdict_is_the_maps_own_not_a_band_check():
    """The map's interval is a range of scale exponents, not a slope CI: a band check alone
    would call an undecided map "confirmed". Its evaluation must carry the map's own status."""
    pts, frames = _synthetic({(-1.0, 1.0): (0.0, 0.0, 0.0), (-0.5, 0.5): (0.0, 0.0, 0.0)})
    ev = CLAIM.measure(MAP, pts, frames).evaluate(CLAIM.claimed(MAP))
    # maximal measured at s = -0.5 too: the claim's "only" fails although -1 is maximal
    assert ev.status == "refuted" and (ev.ci_low, ev.ci_high) == (-1.0, -0.5)
    # an undecided map (no cell measured maximal, the only possibly maximal one at s = -1) has
    # the range [-1, -1], which a band check would call "confirmed": the evaluation must carry
    # the map's own "inconclusive"
    from types import SimpleNamespace

    from infdepth.validation.verdict import band_verdict
    undecided = rules.summarize([_row(-1.0, 1.0, "inconclusive", maybe=True),
                              _row(-1.5, 1.0, "trivial")])
    assert undecided.status == "inconclusive" and (undecided.low, undecided.high) == (-1, -1)
    as_fit = SimpleNamespace(refused=False, ci_low=undecided.low, ci_high=undecided.high)
    assert band_verdict(as_fit, *CLAIM.claimed(MAP).band) == "confirmed"
    m = CLAIM.measure(MAP, pts, frames)
    ev = replace(m, summarize=lambda rows: undecided).evaluate(CLAIM.claimed(MAP))
    assert ev.status == "inconclusive" and ev.kind == "map"


def test_bad_variant_is_named():
    with pytest.raises(ValueError, match="allowed: map, map/step1, maximal/movement, "
                                         "maximal/output, control/lazy_cell"):
        hp.PhaseVariant("maps", "K")
    with pytest.raises(ValueError, match="allowed"):
        replace(MAP, detail="output")


def test_cell_statistic_is_the_geometric_mean_paired_log_t():
    pts, frames = _synthetic({(-1.0, 1.0): (0.0, 0.0, 0.0)})
    m = CLAIM.quantity_of(pts, frames, "movement", "K")
    assert m.statistic is geometric_mean and m.paired and m.noise_floor_factor == 0.0
    assert m.fit().method == "log_t" and m.error_label.startswith("geometric mean")
    frames[1].loc[2, "movement"] = np.nan            # a divergent seed: the point is divergent
    assert math.isnan(CLAIM.quantity_of(pts, frames, "movement", "K").fit().errors[1])


def test_control_cell_is_in_every_grid_and_reads_the_maps_points():
    assert CONTROL.label == "control/lazy_cell" and CLAIM.role(CONTROL) == "control"
    assert CLAIM.controls == (CONTROL,)
    for suite in ("smoke", "standard", "full"):
        sw = CLAIM.sweep(suite)
        assert hp.CONTROL_CELL[0] in sw.scale and hp.CONTROL_CELL[1] in sw.lr
        ctrl = CLAIM.points(CONTROL, sw, Overrides(), RunFields())
        grid = CLAIM.points(MAP, sw, Overrides(), RunFields())
        assert ctrl and all(p in grid for p in ctrl)            # no extra compute
        assert {(p.scale_exponent, p.lr_exponent) for p in ctrl} == {hp.CONTROL_CELL}
    d = CLAIM.derived(CONTROL)
    assert d.exponent == -1.0 and "(LM)^(q+s) = (LM)^-1" in d.text
    assert CLAIM.claimed(CONTROL).band == pytest.approx((-0.15, 0.15))


def test_control_is_refuted_on_synthetic_data():
    """Movement (LM)^-1 at the control cell (the calculus's exponent): refuted against the
    maximal band 0 +- 0.15."""
    pts, frames = _synthetic({hp.CONTROL_CELL: (-1.0, -1.5, 0.0)}, seeds=8, noise=0.3)
    m = CLAIM.measure(CONTROL, pts, frames)
    assert m.column == "movement" and m.paired
    ev = m.evaluate(CLAIM.claimed(CONTROL))
    assert ev.method == "log_t" and ev.status == "refuted"
    assert ev.slope == pytest.approx(-1.0, abs=0.1)
