"""Derived depth orders come from series expansions (docs/theory.md s3, s9), checked against
hand-counted cases: Euler is first order, Heun second, constants exact."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from infdepth.theory import gaussian_expectations as ge
from infdepth.theory import truncation as tr
from infdepth.theory.truncation import euler_global_order, euler_order_for_activation, h, y
from problems import OrderProblem, params

F = sp.Function("F")


def test_generic_euler_is_first_order():
    res = euler_global_order()
    assert (res.local_order, res.global_order, res.depth_error_exponent) == (2, 1, -1.0)
    assert sp.simplify(res.leading_coefficient - F(y) * sp.diff(F(y), y) / 2) == 0


def test_exact_flow_series_matches_known_solutions():
    # y' = y: y e^h;  y' = y^2: y / (1 - h y)
    for Fy, exact in ((y, y * sp.exp(h)), (y ** 2, y / (1 - h * y))):
        series = sp.series(exact, h, 0, 6).removeO()
        assert sp.expand(tr.exact_flow_series(Fy, 5) - series) == 0


def test_euler_order_rises_when_leading_term_vanishes():
    res = euler_global_order(sp.Integer(3))  # F constant: Euler is exact
    assert res.local_order is None and res.depth_error_exponent is None
    assert euler_global_order(y ** 2).global_order == 1


def test_second_order_scheme_is_recognized():
    """The machinery is not hard-wired to Euler: Heun's method has local order 3."""
    heun = y + h / 2 * (F(y) + F(y + h * F(y)))
    q, coeff = tr.local_error_order(heun, F(y))
    assert q == 3
    expected = (2 * sp.diff(F(y), y) ** 2 - F(y) * sp.diff(F(y), y, 2)) * F(y) / 12
    assert sp.simplify(coeff - expected) == 0


@pytest.mark.parametrize("act", ge.ACTIVATIONS)
def test_activation_orders(act):
    res = euler_order_for_activation(act)
    assert (res.local_order, res.global_order, res.depth_error_exponent) == (2, 1, -1.0)
    assert res.nonzero and res.leading_value > 0 and act in res.explanation


def test_activation_kernel_maps_and_coefficients():
    relu = euler_order_for_activation("relu", point=2.0)
    assert relu.kernel_map == y / 2 and relu.leading_coefficient == y / 8
    assert relu.leading_value == pytest.approx(0.25)
    lin = euler_order_for_activation("linear", point=3.0)
    assert lin.kernel_map == y and lin.leading_value == pytest.approx(1.5)
    erf = euler_order_for_activation("erf", point=1.0)
    Fq = 2 / np.pi * np.arcsin(2 / 3)
    dF = 4 / (np.pi * 3 * np.sqrt(5))  # d/dq (2/pi) asin(2q/(1+2q)) at q = 1
    assert erf.leading_value == pytest.approx(Fq * dF / 2, rel=1e-12)


def test_tanh_coefficient_by_quadrature_matches_finite_difference():
    z, w = np.polynomial.hermite_e.hermegauss(150)
    w = w / w.sum()
    Fq = lambda q: float(w @ np.tanh(np.sqrt(q) * z) ** 2)  # noqa: E731
    d = 1e-4
    dF = (Fq(1 + d) - Fq(1 - d)) / (2 * d)
    res = euler_order_for_activation("tanh", point=1.0)
    assert res.leading_value == pytest.approx(Fq(1.0) * dF / 2, rel=1e-6)
    # large variance: F is increasing, so F'F > 0 (quadrature resolves tanh's sharp profile)
    assert euler_order_for_activation("tanh", point=100.0).leading_value > 0


def test_point_must_be_positive_and_tiny_variances_are_judged_exactly():
    """The coefficient F'F/2 is small but non-zero at tiny variances (exact rational point)."""
    with pytest.raises(ValueError, match="positive"):
        euler_order_for_activation("relu", point=0.0)
    tiny = euler_order_for_activation("relu", point=1e-60)
    assert tiny.depth_error_exponent == -1.0 and tiny.leading_value == pytest.approx(1.25e-61)


def test_vanishing_leading_coefficient_raises_the_order():
    """If F'F vanishes at the point, the next non-zero coefficient sets the order: for
    F = (y - 1)^2 at y = 1 every coefficient vanishes (a fixed point: Euler is exact there)."""
    F = (y - 1) ** 2
    q, _ = tr.local_error_order(tr.euler_step(F), F, at=sp.Integer(1))
    assert q is None
    q, coeff = tr.local_error_order(tr.euler_step(F), F, at=sp.Integer(2))
    assert q == 2 and coeff.subs(y, 2) == 1


def test_bad_activation():
    with pytest.raises(ValueError, match="allowed: relu, tanh, erf, linear"):
        euler_order_for_activation("softplus")


#: the one-step schemes of tests/problems.py's scalar ODE problems, as SymPy steps of y' = F(y)
_SCHEMES = {"euler_scalar_ode": y + h * F(y),
            "heun_scalar_ode": y + h / 2 * (F(y) + F(y + h * F(y)))}


@pytest.mark.parametrize("problem", params(OrderProblem, "theory.truncation"))
def test_derived_global_order_is_the_observed_one(problem):
    """The series expansion's global order (local order - 1) is the order observed on y' = y
    with its known solution (Euler 1, Heun 2; tolerance stated in the problem)."""
    local, _ = tr.local_error_order(_SCHEMES[problem.name], F(y))
    assert problem.order == -(local - 1)
    problem.check()
