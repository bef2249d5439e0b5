"""Exponent calculus (docs/theory.md s7) against hand-counted cases of s2, s4, s5, s6."""

import dataclasses

import pytest
import sympy as sp

from infdepth.theory.exponent_calculus import (a2_parameterization, a2_regime_map, derive,
                                               hw_regime_map)
from infdepth.theory.exponents_core import Order, cap_one, classify
from infdepth.theory.parameterization import GroupScaling, Parameterization, preset
from infdepth.theory.symbols import D, L, M, n

HALF = sp.Rational(1, 2)


# -- order algebra -------------------------------------------------------------------------

def test_order_algebra():
    a = Order.of(3 * L ** -1) + Order.of(n ** -HALF * L ** -HALF)
    assert len(a.terms) == 2                        # incomparable: both kept
    assert a.exponent("L") == -HALF and a.exponent("n") == 0
    assert a.limit_exponent("L", ("n",)) == -1      # width first: only L^-1 survives
    assert (a + Order.of(L ** -2)).terms == a.terms  # dominated term pruned
    assert (Order.of(L) / (Order.of(1) + Order.of(L ** HALF))).exponent("L") == HALF
    assert cap_one(Order.of(L ** 2 * n ** -1)).exponents()["L"] == 0
    assert classify(Order.of(L ** -HALF), ("n", "L")) == "collapsed"
    assert classify(Order(()), ("L",)) == "frozen"
    assert str(Order.of(n ** -1 * L ** HALF)) == "n^(-1)·L^(1/2)"


# -- Model A1 (s2, s4) ---------------------------------------------------------------------

def test_a1_depth_mup_hand_counted():
    r = derive("depth_mup", "A1")
    assert r.exponent("random_per_block") == -HALF          # beta (nL)^-1/2 W phi, CLT
    assert r.exponent("drift_per_block") == -1              # L^(c - 2a), c = 0, a = 1/2
    assert r.exponent("random_accumulated") == 0            # sqrt(L) L^-1/2
    assert r.exponent("drift_accumulated") == 0             # L L^-1
    assert r.limit_type == "sde"
    for layer in ("U", "W", "v", "output"):
        assert r.regime(layer) == "maximal"
    assert r.regime("width") == "feature_learning"
    for name in ("random_per_block", "drift_per_block", "input_update", "readout_output_update"):
        assert r.exponent(name, "n") == 0
    assert r.exponent("grad_scale", "n") == -1              # g = n df/dh is O(1)
    assert "s2" in r["drift_per_block"].derivation
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.limit_type = "ode"


def test_a1_mup_is_divergent_over_depth():
    r = derive("mup", "A1")
    assert r.exponent("random_per_block") == 0
    assert r.exponent("random_accumulated") == HALF
    assert r.limit_type == "divergent"
    assert r.regime("W") == "unstable"
    assert r.notes


def test_a1_completep_is_ode():
    r = derive("completep", "A1")
    assert r.exponent("random_per_block") == -1
    assert r.exponent("drift_per_block") == -1              # c_W - 2a = 1 - 2
    assert r.exponent("random_accumulated") == -HALF
    assert r.exponent("drift_accumulated") == 0
    assert r.limit_type == "ode"
    assert all(r.regime(k) == "maximal" for k in ("U", "W", "v"))


def test_a1_sp_divergent_in_depth_and_lazy_in_width():
    r = derive("sp", "A1")
    assert r.limit_type == "divergent"
    # multiplier-form SP with constant LR is NTK-like: features move n^-1/2 at fixed depth
    assert r.exponent("drift_per_block", "n") == -HALF
    assert r.exponent("input_update", "n") == -HALF
    assert r.exponent("readout_output_update", "n") == 0
    assert r.regime("width") == "kernel"


def test_a1_coupling_levels_depth_mup():
    r = derive("depth_mup", "A1")
    # at init: rms n^-1/2 per coordinate, flat in L; mean square n^-1
    assert r.exponent("coupling_init_accumulated", "n") == -HALF
    assert r.exponent("coupling_init_accumulated", "L") == 0
    assert r.exponent("coupling_init_accumulated_ms", "n") == -1
    # training, level (b): (beta^2/L) Gamma per block, Gamma = O(1) -> O(1) accumulated
    assert r.exponent("gamma_backward") == 0 and r.exponent("gamma_forward") == 0
    assert r.exponent("coupling_scalar_per_block") == -HALF
    assert r.exponent("coupling_b_per_block") == -1
    assert r.exponent("coupling_b_accumulated") == 0
    # level (c): finite-width remainder, n^-1/2, flat in L
    assert r.exponent("coupling_c_accumulated", "n") == -HALF
    assert r.exponent("coupling_c_accumulated", "L") == 0
    assert r.exponent("gia_gap") == 0


def test_a1_completep_coupling_decays():
    r = derive("completep", "A1")
    assert r.exponent("coupling_b_per_block") == -2
    assert r.exponent("coupling_b_accumulated") == -1
    assert r["gia_gap"].order.limit_exponent("L") == -1


def _nfd_by_hand(a, c, *, v_trainable=True, w_lr_n=1):
    a, c = sp.nsimplify(a), sp.nsimplify(c)
    groups = (("U", GroupScaling(multiplier=sp.Integer(1), lr=n)),
              ("W", GroupScaling(multiplier=2 * L ** -a * n ** -HALF, lr=n ** w_lr_n * L ** c)),
              ("v", GroupScaling(multiplier=1 / n, lr=n, trainable=v_trainable)))
    return Parameterization(name=f"hand(a={a},c={c})", family="nfd", groups=groups)


def test_a1_non_preset_parameterization():
    # a = 3/4, c = 1/2: random L^-3/4 per block (L^-1/4 accumulated), drift L^(1/2-3/2) = L^-1
    r = derive(_nfd_by_hand("3/4", "1/2"), "A1")
    assert r.exponent("random_per_block") == sp.Rational(-3, 4)
    assert r.exponent("random_accumulated") == sp.Rational(-1, 4)
    assert r.exponent("drift_per_block") == -1
    assert r.limit_type == "ode"
    assert r.exponent("coupling_b_accumulated") == sp.Rational(-1, 2)  # L r^2 = L^(1-3/2)
    # a = 1/2, c = -1/2: drift vanishes, random Theta(1): SDE that training does not move
    r = derive(_nfd_by_hand("1/2", "-1/2"), "A1")
    assert r.limit_type == "sde_lazy" and r.regime("W") == "collapsed"
    # a = 1/2 with a width-free block LR (no factor n): hidden blocks lazy in width
    r = derive(_nfd_by_hand("1/2", 0, w_lr_n=0), "A1")
    assert r.exponent("drift_per_block", "n") == -1 and r.regime("W") == "collapsed"
    # frozen readout
    r = derive(_nfd_by_hand("1/2", 0, v_trainable=False), "A1")
    assert r.regime("v") == "frozen" and r.regime("W") == "maximal"


# -- Model A2 (s5) -------------------------------------------------------------------------

def test_a2_depth_mup_collapse():
    r = derive("depth_mup", "A2")
    assert r.exponent("grad_internal") == -HALF             # branch factor in df/du
    assert r.exponent("internal_update") == -HALF           # Delta u = O(L^-1/2)
    assert r.regime("W1") == "collapsed"
    assert r.regime("W2") == "maximal" and r.regime("stream") == "maximal"
    assert r.limit_type == "sde"
    # the total change of u also carries the Theta(1) stream change through W1^0
    assert r.exponent("internal_update_total") == 0


@pytest.mark.parametrize("gamma", [0.25, 0.5])
def test_a2_corrected(gamma):
    g = sp.nsimplify(gamma)
    r = derive(preset("depth_mup_corrected", gamma=gamma), "A2")
    assert r.exponent("internal_update") == g - HALF
    assert r.exponent("drift_w1_per_block") == g - 1       # L^-1/2 at gamma = 1/2
    assert r.exponent("stream_update") == g                # accumulated growth L^gamma
    assert r.regime("stream") == "unstable" and r.limit_type == "divergent"
    if gamma == 0.5:
        assert r.regime("W1") == "maximal"


def test_a2_completep_all_maximal():
    r = derive("completep", "A2")
    assert r.limit_type == "ode"
    assert r.exponent("internal_update") == 0
    for k in ("U", "W1", "W2", "stream", "v"):
        assert r.regime(k) == "maximal"


def test_a2_regime_map_singles_out_completep():
    vals = [0, HALF, 1]
    rows = a2_regime_map(vals, vals, vals)
    assert len(rows) == 27 * 5
    best = {(r["a"], r["c1"], r["c2"]) for r in rows if r["all_maximal"]}
    assert best == {(1.0, 1.0, 1.0)}
    row = next(r for r in rows if (r["a"], r["c1"], r["c2"], r["layer"]) == (0.5, 0.0, 0.0, "W1"))
    assert row["regime"] == "collapsed" and row["exponent_L"] == -0.5
    row = next(r for r in rows if (r["a"], r["c1"], r["c2"], r["layer"]) == (0.5, 0.5, 0.0, "stream"))
    assert row["regime"] == "unstable" and row["exponent_text"] == "1/2"
    assert derive(a2_parameterization(1, 1, 1), "A2").limit_type == "ode"


# -- Model B ([HW], s6) --------------------------------------------------------------------

def test_hw_mlu_maximal():
    r = derive("hw_mlu", "B")
    assert r.regime("joint") == "maximal"
    assert all(r.regime(s) == "maximal" for s in ("L", "M", "D"))
    noise = r["noise_embedding"].order
    assert (noise.exponent("L"), noise.exponent("M"), noise.exponent("D")) == (-HALF, -HALF, HALF)
    assert r.exponent("euler_bias") == -1
    assert r.exponent("drift_per_block") == -1 and r.exponent("drift_accumulated") == 0
    assert r.limit_type == "mean_ode"


def test_hw_lazy_over_alpha():
    r = derive("hw_lazy", "hw")
    assert r.regime("alpha") == "lazy"
    assert r.exponent("unit_movement", "alpha") == -1
    assert r.exponent("output_update", "alpha") == 0
    assert r.exponent("noise_embedding", "alpha") == 1
    assert any("alpha << sqrt(LM)" in t for t in r.notes)


def test_hw_regime_map_unique_maximal_point():
    s = [sp.Rational(k, 4) for k in range(-8, 1)]
    q = [sp.Rational(k, 4) for k in range(-4, 9)]
    rows = hw_regime_map(s, q)
    assert [(r["scale_exponent"], r["lr_exponent"]) for r in rows if r["regime"] == "maximal"] \
        == [(-1.0, 1.0)]
    regimes = {r["regime"] for r in rows}
    assert {"lazy", "trivial", "unstable"} <= regimes


# -- quantities behind derived exponents that no claim variant reports ----------------------
# (each claim's derived exponents are tested in tests/validation/claims/test_derived.py; theory
# knows no claim ids, so these are asked as quantities of a parameterization and a model)

def test_completep_coupling_level_b_decays_like_one_over_L():
    """Level (b) of the reused-weight coupling under CompleteP: accumulated L^-1 (depth-muP: 0)."""
    r = derive("completep", "A1")
    assert r["coupling_b_accumulated"].order.limit_exponent("L") == -1
    assert derive("depth_mup", "A1")["coupling_b_accumulated"].order.limit_exponent("L") == 0


def test_completep_gia_gap_closes_like_one_over_L():
    """Reused vs independent backward weights: the gap closes (L^-1) only under CompleteP."""
    assert derive("completep", "A1")["gia_gap"].order.limit_exponent("L") == -1
    for p in ("depth_mup", "mup", "sp"):
        assert derive(p, "A1")["gia_gap"].order.limit_exponent("L") >= 0, p


def test_hw_output_noise_is_flat_in_D():
    """[HW] the 1/D readout averages the noise out: the output error has slope 0 in D (the
    embedding error +1/2)."""
    r = derive("hw_mlu", "B")
    assert r["noise_output"].exponent("D") == 0
    assert r["noise_embedding"].exponent("D") == HALF


def test_coupling_at_init_is_flat_in_depth():
    r = derive("depth_mup", "A1")
    assert r.exponent("coupling_init_accumulated", "L") == 0
    assert r.exponent("coupling_init_accumulated", "n") == -HALF


def test_linear_activation_has_no_finite_width_bias():
    """Linear activation: the kernel map is affine, finite-width averages are unbiased at every
    order (no finite exponent); a non-linear one has the generic n^-1."""
    from infdepth.theory.width_bias import finite_width_bias_exponent
    lin = finite_width_bias_exponent("linear")
    assert lin.exponent is None and lin.status == "exact"
    assert finite_width_bias_exponent("tanh").exponent == -1.0


def test_derive_bad_input():
    with pytest.raises(ValueError, match="family 'nfd'"):
        derive("hw_mlu", "A1")
    with pytest.raises(ValueError, match="family 'hw'"):
        derive("depth_mup", "B")
    with pytest.raises(ValueError, match="unknown model"):
        derive("depth_mup", "C")
    with pytest.raises(ValueError, match="needs a Parameterization"):
        derive(42, "A1")
    with pytest.raises(ValueError, match="unknown parameterization"):
        derive("nope", "A1")
    only_w = Parameterization(name="w_only", family="nfd",
                              groups=(("W", GroupScaling(multiplier=L ** -HALF)),))
    with pytest.raises(ValueError, match="lacks U, v"):
        derive(only_w, "A1")
    hw_like = Parameterization(name="x", family="hw", groups=(
        ("u", GroupScaling(multiplier=1 / D)), ("v", GroupScaling(multiplier=1 / (L * M)))))
    with pytest.raises(ValueError, match="lacks W_in, W_out"):
        derive(hw_like, "B")
