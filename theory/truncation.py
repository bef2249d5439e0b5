"""Derived exponents by series expansion, so the "derived" column is computed (THEORY.md s3, s9).

1. Depth error of the kernel recursion. The depth-L network at init is exactly the forward
   Euler scheme y_{l} = y_{l-1} + h F(y_{l-1}), h = 1/L, of the kernel ODE y' = F(y). The exact
   flow over one step is the Lie series y + h F + h^2/2 F'F + h^3/6 (F''F^2 + F'^2 F) + ...;
   subtracting the Euler step, the leading power h^q of the local error gives the global order
   q - 1 and the slope -(q - 1) in L -- provided the leading coefficient F'F does not vanish
   for the activation's kernel map (checked at a concrete point).
2. Finite-width bias. A statistic T = F(q_n) of an empirical second moment
   q_n = q + n^(-1/2) xi with E[xi] = 0, E[xi^2] = s^2 has E[T] = F(q) + sum_k eps^k F^(k)(q)
   E[xi^k]/k!, eps = n^(-1/2). Taking expectations term by term, the leading non-vanishing
   power of n is the bias exponent: -1 when F'' != 0, and no bias at this order when F is
   linear in q (the linear activation). This is power counting of the leading correction; it
   assumes the fluctuation is centred with O(1) variance at scale n^(-1/2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from . import gaussian_expectations as ge

h = sp.Symbol("h", positive=True)
y = sp.Symbol("y", real=True)


@dataclass(frozen=True)
class EulerOrder:
    local_order: int
    global_order: int
    leading_coefficient: sp.Expr
    depth_error_exponent: float | None
    explanation: str


def _lie_series(F: sp.Expr, order: int) -> sp.Expr:
    """Exact flow of y' = F(y) over a step h, to O(h^order): sum_k h^k/k! (F d/dy)^k y."""
    term, total = y, y
    for k in range(1, order + 1):
        term = F * sp.diff(term, y)
        total += h ** k / sp.factorial(k) * term
    return total


def euler_global_order(F: sp.Expr | None = None, order: int = 4) -> EulerOrder:
    """Local and global order of forward Euler for y' = F(y) (generic F if ``None``)."""
    F = sp.Function("F")(y) if F is None else F
    diff = sp.expand(_lie_series(F, order) - (y + h * F))
    poly = sp.Poly(diff, h)
    for q in range(1, order + 1):
        coeff = sp.simplify(poly.coeff_monomial(h ** q))
        if coeff != 0:
            g = q - 1
            return EulerOrder(q, g, coeff, -float(g),
                              f"Euler local error h^{q} ({sp.sstr(coeff)}), global O(h^{g}) "
                              f"= O(L^-{g})")
    return EulerOrder(order + 1, order, sp.Integer(0), None,
                      f"local error vanishes to O(h^{order})")


def _diagonal_map(act: str) -> sp.Expr | None:
    """F(q) = E[phi(u)^2], u ~ N(0, q): the kernel map on a diagonal entry (closed forms)."""
    if act not in ge.CLOSED_FORM_ACTIVATIONS:
        return None
    return sp.simplify(ge.phiphi_expr(act).subs({ge.s11: y, ge.s22: y, ge.s12: y}))


def euler_order_for_activation(act: str, point: float = 1.0) -> EulerOrder:
    """Euler order for the activation's kernel map: generic order, with the leading
    coefficient F'F evaluated at Sigma = ``point`` (tanh: by Gauss-Hermite quadrature)."""
    if act not in ge.ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; allowed: {', '.join(ge.ACTIVATIONS)}")
    generic = euler_global_order()
    F = _diagonal_map(act)
    if F is not None:
        val = float((sp.diff(F, y) * F / 2).subs(y, point))
    else:  # tanh: F(q) = E[tanh(sqrt(q) z)^2], F'(q) = E[tanh'(u)^2 + tanh(u) tanh''(u)]
        import numpy as np
        z, w = np.polynomial.hermite_e.hermegauss(96)
        w = w / w.sum()
        u = np.sqrt(point) * z
        t = np.tanh(u)
        F_val = float(w @ t ** 2)
        dF = float(w @ ((1 - t ** 2) ** 2 - 2 * t ** 2 * (1 - t ** 2)))
        val = dF * F_val / 2
    if abs(val) < 1e-14:
        return EulerOrder(generic.local_order + 1, generic.global_order + 1, sp.Integer(0), None,
                          f"{act}: F'F/2 vanishes at Sigma={point}; first order not generic")
    return EulerOrder(generic.local_order, generic.global_order, generic.leading_coefficient,
                      generic.depth_error_exponent,
                      f"{generic.explanation}; for {act} F'F/2 = {val:.4g} != 0 at "
                      f"Sigma={point:g}, so the error is first order in 1/L")


@dataclass(frozen=True)
class BiasOrder:
    exponent: float | None
    explanation: str


@lru_cache(maxsize=None)
def finite_width_bias_exponent(act: str) -> BiasOrder:
    """Leading exponent of n in E[K(S + n^-1/2 Xi)] - K(S) for the kernel map K (module doc).

    K is the bivariate map (s11, s22, s12) -> E[phi(u) phi(v)]; Xi is a centred fluctuation of
    the three entries with covariance C (symbols). The expansion to second order in
    eps = n^-1/2 is taken symbolically: the first-order term vanishes in expectation, the
    second is eps^2/2 sum_ij H_ij C_ij with H the Hessian of K. It is non-zero (bias O(1/n))
    unless K is linear. tanh has no closed form: its Hessian is checked numerically at a point.
    """
    if act not in ge.ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; allowed: {', '.join(ge.ACTIVATIONS)}")
    eps = sp.Symbol("epsilon", positive=True)
    if act in ge.CLOSED_FORM_ACTIVATIONS:
        args = (ge.s11, ge.s22, ge.s12)
        xi = sp.symbols("xi1:4", real=True)
        K = ge.phiphi_expr(act)
        shifted = K.subs({a: a + eps * x for a, x in zip(args, xi)}, simultaneous=True)
        series = sp.series(shifted, eps, 0, 3).removeO()
        C = {(i, j): sp.Symbol(f"C{min(i, j)}{max(i, j)}") for i in range(3) for j in range(3)}
        expectation = sp.Integer(0)
        for k in (1, 2):
            coeff = sp.expand(series.coeff(eps, k))
            poly = sp.Poly(coeff, *xi)
            for monom, c in poly.terms():
                if sum(monom) != 2:
                    continue  # E[xi_i] = 0; degree-0 terms are absent (or zero)
                idx = [i for i, m in enumerate(monom) for _ in range(m)]
                expectation += eps ** k * c * C[(idx[0], idx[1])]
        # evaluate at a generic non-degenerate point to decide whether the term vanishes
        point = {ge.s11: sp.Rational(13, 10), ge.s22: sp.Rational(7, 10), ge.s12: sp.Rational(3, 10)}
        lead = sp.simplify(expectation.coeff(eps, 2).subs(point))
        if lead == 0:
            return BiasOrder(None, f"{act}: K(Sigma) is linear in Sigma, the eps^2 term "
                                   f"vanishes: no O(1/n) bias (unbiased at this order)")
        return BiasOrder(-1.0, f"{act}: E[K(S + n^-1/2 Xi)] - K(S) = (1/2n) sum H_ij C_ij "
                               f"+ O(n^-3/2) with Hessian H != 0: bias O(n^-1)")
    import numpy as np
    z, w = np.polynomial.hermite_e.hermegauss(96)
    w = w / w.sum()
    F = [float(w @ np.tanh(np.sqrt(q) * z) ** 2) for q in (0.9, 1.0, 1.1)]
    second = (F[0] - 2 * F[1] + F[2]) / 0.01
    return BiasOrder(-1.0 if abs(second) > 1e-8 else None,
                     f"{act}: no closed form; generic expansion gives (1/2n) F'' s^2 with "
                     f"F''(1) = {second:.4g} (quadrature) != 0: bias O(n^-1)")
