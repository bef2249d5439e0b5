"""Closed-form Gaussian expectations (docs/theory.md s3), symbolically, and their generated code
(theory/generated/gaussian_kernels.py).

References, for (u, v) ~ N(0, [[s11, s22, s12]]): ``gaussian_expectations.verify`` (Price's
theorem, independent and diagonal cases, 2-D integration in whitened coordinates), and a wrong
formula must fail it; the generated functions against ``sympy.lambdify`` of the expressions.
Numbers (quadrature, Monte Carlo, the closed forms of tests/problems.py):
tests/numerics/test_gaussian_kernels.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

from helpers import random_covariances
from infdepth.theory import gaussian_expectations as ge
from infdepth.theory.generated import gaussian_kernels as gen

CLOSED = ge.CLOSED_FORM_ACTIVATIONS
KINDS = ge.KINDS
ALLOWED_MSG = "allowed: relu, tanh, erf, linear"


# -------------------------------------------------------------------------------------------
# Symbolic
# -------------------------------------------------------------------------------------------

#: erf's full symbolic verification (about 4 s) is slow; in the fast tier its closed forms are
#: guarded by tests/numerics/test_gaussian_kernels.py (generated code == the textbook arcsine
#: kernels of tests/problems.py, and those == Monte Carlo) and by test_generated_equals_lambdify
@pytest.mark.parametrize("act", [pytest.param(a, marks=pytest.mark.slow) if a == "erf" else a
                                 for a in CLOSED])
def test_closed_forms_verified_symbolically(act):
    checks = ge.verify(act)
    assert len(checks) >= 5
    failed = [c for c in checks if not c.passed]
    assert not failed, failed


def test_wrong_formula_fails_the_symbolic_checks():
    bad_relu = ge.check_expressions("relu", sp.Rational(11, 10) * ge.phiphi_expr("relu"),
                                    ge.dphidphi_expr("relu"))
    assert {c.name for c in bad_relu if not c.passed} >= {"price", "independent", "diagonal"}
    bad_linear = ge.check_expressions("linear", ge.s12, sp.Integer(2))
    assert {c.name for c in bad_linear if not c.passed} >= {"price", "independent'"}


def test_diagonal_values():
    q = ge.q
    assert ge.diagonal(ge.phiphi_expr("relu")) == q / 2
    assert ge.diagonal(ge.dphidphi_expr("relu")) == sp.Rational(1, 2)
    assert sp.simplify(ge.diagonal(ge.phiphi_expr("erf"))
                       - 2 / sp.pi * sp.asin(2 * q / (1 + 2 * q))) == 0
    assert sp.simplify(ge.diagonal(ge.dphidphi_expr("erf"))
                       - 4 / (sp.pi * sp.sqrt(1 + 4 * q))) == 0
    assert ge.diagonal(ge.phiphi_expr("linear")) == q


def test_clipped_form_equals_plain_form_inside_the_domain():
    pt = {ge.s11: sp.Rational(3, 2), ge.s22: sp.Rational(1, 3), ge.s12: sp.Rational(-1, 4)}
    for act in CLOSED:
        for kind in KINDS:
            plain = ge.expectation_expr(act, kind)
            clipped = ge.expectation_expr(act, kind, clip_correlation=True)
            assert sp.N(plain.subs(pt) - clipped.subs(pt), 30) == 0


def test_pointwise_expressions():
    x = sp.Symbol("x", real=True)
    for act in ("tanh", "erf", "linear"):
        assert sp.simplify(sp.diff(ge.phi_expr(act, x), x) - ge.dphi_expr(act, x)) == 0
    assert ge.phi_expr("relu", x).subs(x, -2) == 0 and ge.phi_expr("relu", x).subs(x, 3) == 3
    assert ge.dphi_expr("relu", x).subs(x, 0) == 0 and ge.dphi_expr("relu", x).subs(x, 1) == 1
    assert ge.ACTIVATIONS == ("relu", "tanh", "erf", "linear")
    assert ge.CLOSED_FORM_ACTIVATIONS == ("relu", "erf", "linear")


def test_bad_activation_names_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: relu, erf, linear"):
        ge.phiphi_expr("tanh")
    with pytest.raises(ValueError, match="allowed: relu, erf, linear"):
        ge.dphidphi_expr("tanh")
    with pytest.raises(ValueError, match="relu, erf, linear"):
        ge.phiphi_expr("softplus")
    with pytest.raises(ValueError, match=ALLOWED_MSG):
        ge.phi_expr("softplus", sp.Symbol("x"))
    with pytest.raises(ValueError, match=ALLOWED_MSG):
        ge.dphi_expr("gelu", sp.Symbol("x"))
    with pytest.raises(ValueError, match="allowed: phiphi, dphidphi"):
        ge.expectation_expr("relu", "phi3")


# -------------------------------------------------------------------------------------------
# Generated code vs SymPy
# -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", CLOSED)
@pytest.mark.parametrize("kind", KINDS)
def test_generated_equals_lambdify(act, kind):
    s11, s22, s12 = random_covariances()
    ref_fn = sp.lambdify(ge.COVARIANCE_SYMBOLS, ge.expectation_expr(act, kind), "numpy")
    ref = np.broadcast_to(ref_fn(s11, s22, s12), s11.shape)
    got = getattr(gen, f"{act}_{kind}")(s11, s22, s12)
    assert got.shape == s11.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    assert gen.KERNELS[(act, kind)] is getattr(gen, f"{act}_{kind}")


@pytest.mark.parametrize("act", CLOSED)
@pytest.mark.parametrize("kind", KINDS)
def test_generated_functions_broadcast(act, kind):
    fn = gen.KERNELS[(act, kind)]
    s11 = np.array([[1.0], [2.0], [3.0]])
    s12 = np.array([[0.1, -0.2, 0.3, 0.0]])
    out = fn(s11, 1.5, s12)
    assert out.shape == (3, 4) and out.dtype == np.float64
    assert np.asarray(fn(1.0, 1.0, 0.5)).shape == ()
    np.testing.assert_allclose(out[1, 2], fn(2.0, 1.5, 0.3), rtol=1e-15)
    if (act, kind) == ("linear", "dphidphi"):
        np.testing.assert_array_equal(out, np.ones((3, 4)))
    if (act, kind) == ("linear", "phiphi"):
        np.testing.assert_array_equal(out, np.broadcast_to(s12, (3, 4)))
        out[0, 0] = 99.0  # a fresh array, not a view of the input
        assert s12[0, 0] == 0.1


def test_relu_no_nan_at_full_correlation():
    s11, s22 = 0.1, 0.7
    s12 = np.sqrt(s11 * s22) * np.array([1 + 4e-16, 1.0, -1.0, -(1 + 4e-16)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        k = gen.relu_phiphi(s11, s22, s12)
        kd = gen.relu_dphidphi(s11, s22, s12)
    assert np.all(np.isfinite(k)) and np.all(np.isfinite(kd))
    np.testing.assert_allclose(k[:2], np.sqrt(s11 * s22) / 2, rtol=1e-12)  # u = const * v
    np.testing.assert_allclose(k[2:], 0.0, atol=1e-12)
    np.testing.assert_allclose(kd, [0.5, 0.5, 0.0, 0.0], atol=1e-7)
    # u = v exactly: rho is exactly 1, so the derivative kernel is exactly 1/2
    q = np.array([0.3, 1.7, 10.0, 0.565])
    np.testing.assert_allclose(gen.relu_phiphi(q, q, q), q / 2, rtol=1e-14)
    np.testing.assert_array_equal(gen.relu_dphidphi(q, q, q), 0.5)
    np.testing.assert_array_equal(gen.relu_dphidphi(q, q, -q), 0.0)
