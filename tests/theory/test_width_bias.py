"""The finite-width bias exponent comes from a series expansion (delta method, docs/theory.md
s3, s9), checked against hand-computed cases: O(1/n) unless the statistic is affine (linear
activation), the leading term is half the Hessian contracted with the covariance, and a direct
average by quadrature scales as 1/n with the predicted coefficient."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from infdepth.theory import gaussian_expectations as ge
from infdepth.theory import width_bias as wb
from infdepth.theory.symbols import n
from infdepth.theory.width_bias import finite_width_bias_exponent


@pytest.mark.parametrize("act", ["relu", "tanh", "erf"])
def test_width_bias_is_one_over_n(act):
    res = finite_width_bias_exponent(act)
    assert res.exponent == -1.0 and res.status == "power"
    assert res.leading_term.has(n) and act in res.explanation


def test_linear_width_bias_is_exact():
    lin = finite_width_bias_exponent("linear")
    assert lin.exponent is None and lin.status == "exact"
    assert "linear" in lin.explanation and "affine" in lin.explanation


def test_diagonal_statistic():
    """Honest corner: relu's one-input map q/2 is affine too, so it carries no bias at this
    order; the two-input kernel (the default statistic) does."""
    assert finite_width_bias_exponent("relu", "diagonal").status == "exact"
    assert finite_width_bias_exponent("erf", "diagonal").exponent == -1.0
    assert finite_width_bias_exponent("tanh", "diagonal").exponent == -1.0
    with pytest.raises(ValueError, match="allowed: kernel, diagonal"):
        finite_width_bias_exponent("erf", "output")


def test_bias_term_is_half_hessian_contracted_with_covariance():
    """Series expansion + term-by-term expectation reproduce (1/2n) sum_ab H_ab C_ab."""
    res = finite_width_bias_exponent("erf")
    K = ge.phiphi_expr("erf")
    pt = dict(zip(ge.COVARIANCE_SYMBOLS, wb.DEFAULT_KERNEL_POINT))
    names = ("s11", "s22", "s12")
    expected = sum(sp.diff(K, a, b).subs(pt) / 2 * wb._moment_symbol([i, j], names)
                   for i, a in enumerate(ge.COVARIANCE_SYMBOLS)
                   for j, b in enumerate(ge.COVARIANCE_SYMBOLS)) / n
    assert sp.N(sp.expand(res.leading_term - expected), 20) == 0


def test_quadrature_hessian_matches_symbolic_hessian():
    """The Price/heat-equation Hessian used for tanh, checked on erf (closed form)."""
    point = (1.0, 2.0, 0.5)
    H = wb.kernel_hessian_by_quadrature("erf", point)
    K = ge.phiphi_expr("erf")
    subs = dict(zip(ge.COVARIANCE_SYMBOLS, point))
    Hs = np.array([[float(sp.diff(K, a, b).subs(subs)) for b in ge.COVARIANCE_SYMBOLS]
                   for a in ge.COVARIANCE_SYMBOLS])
    np.testing.assert_allclose(H, Hs, atol=1e-12)


def test_delta_method_against_direct_average():
    """E[F(q + eps xi)] - F(q), xi ~ N(0, 1), computed by quadrature for erf's diagonal map,
    scales as eps^2 = 1/n with the coefficient the expansion predicts."""
    q0 = 1.0
    Fq = sp.lambdify(ge.q, ge.diagonal(ge.phiphi_expr("erf")), "numpy")
    z, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    res = finite_width_bias_exponent("erf", "diagonal")
    coeff = float(res.leading_term.subs({n: 1, sp.Symbol("C_q_q", real=True): 1}))
    for width in (1e4, 1e5):
        bias = float(w @ Fq(q0 + z / np.sqrt(width))) - float(Fq(q0))
        assert bias * width == pytest.approx(coeff, rel=5e-3)


def test_bad_activation():
    with pytest.raises(ValueError, match="allowed: relu, tanh, erf, linear"):
        finite_width_bias_exponent("softplus")
