"""Adam LR factors from the calculus (theory/adam_scaling.py) against closed forms."""

from itertools import product

import pytest
import sympy as sp

from infdepth.theory.adam_scaling import (adam_parameterization, gradient_entries,
                                          lr_exponents, optimizer_parameterization)
from infdepth.theory.exponents_a2 import a2_parameterization

H = sp.Rational(1, 2)


@pytest.mark.parametrize("a,c1,c2", list(product([H, 1], [0, H, 1], [0, H, 1])))
def test_two_layer_family_closed_form(a, c1, c2):
    """muP-width family: a gradient entry of W1 and of W2 is n^-3/2 L^-a at init, so
    lr^Adam = n^-1/2 L^(c - a); U and v: entries n^-1, lr^Adam = 1."""
    e = gradient_entries(a2_parameterization(a, c1, c2), "A2")
    assert e["W1"].adam_lr.exponents()["n"] == -H and e["W1"].adam_lr.exponent("L") == c1 - a
    assert e["W2"].adam_lr.exponent("n") == -H and e["W2"].adam_lr.exponent("L") == c2 - a
    for g in ("U", "v"):
        assert e[g].adam_lr.exponent("n") == 0 and e[g].adam_lr.exponent("L") == 0


def test_known_presets():
    """Depth-muP with Adam: hidden LR L^-1/2 (Tensor Programs VI); CompleteP: L^0 (Dey et al.);
    in this multiplier form the width factor is n^-1/2 (1/fan_in for a multiplier-1 layer)."""
    dm = {r["group"]: r for r in lr_exponents("depth_mup", "A1")}
    assert (dm["W"]["adam_n"], dm["W"]["adam_L"]) == ("-1/2", "-1/2")
    assert (dm["U"]["adam_n"], dm["U"]["adam_L"], dm["v"]["adam_n"]) == ("0", "0", "0")
    cp = {r["group"]: r for r in lr_exponents("completep", "A2")}
    assert (cp["W1"]["adam_L"], cp["W2"]["adam_L"]) == ("0", "0")


def test_parameterization_keeps_forward_and_changes_lr():
    p = adam_parameterization("depth_mup", "A1")
    q = optimizer_parameterization("depth_mup", "sgd")
    for g in ("U", "W", "v"):
        assert p.group(g).multiplier == q.group(g).multiplier
    assert p.exponents("W", "lr") != q.exponents("W", "lr")
    with pytest.raises(ValueError, match="optimizer"):
        optimizer_parameterization("depth_mup", "rmsprop")
