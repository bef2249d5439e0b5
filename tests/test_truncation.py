"""Derived exponents come from series expansions, checked against hand-counted cases."""

import pytest
import sympy as sp

from infdepth.theory.truncation import (euler_global_order, euler_order_for_activation,
                                        finite_width_bias_exponent, y)


def test_generic_euler_is_first_order():
    res = euler_global_order()
    assert (res.local_order, res.global_order, res.depth_error_exponent) == (2, 1, -1.0)


def test_euler_order_rises_when_leading_term_vanishes():
    """F constant: Euler is exact (no local error to the expansion order)."""
    res = euler_global_order(sp.Integer(3))
    assert res.depth_error_exponent is None
    assert euler_global_order(y ** 2).global_order == 1


@pytest.mark.parametrize("act", ["relu", "tanh", "erf", "linear"])
def test_activation_orders(act):
    assert euler_order_for_activation(act).depth_error_exponent == -1.0


def test_width_bias_exponents():
    assert finite_width_bias_exponent("relu").exponent == -1.0
    assert finite_width_bias_exponent("erf").exponent == -1.0
    assert finite_width_bias_exponent("tanh").exponent == -1.0
    lin = finite_width_bias_exponent("linear")
    assert lin.exponent is None and "linear" in lin.explanation


def test_bad_activation():
    with pytest.raises(ValueError, match="allowed: relu, tanh, erf, linear"):
        finite_width_bias_exponent("softplus")
