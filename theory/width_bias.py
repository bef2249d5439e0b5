"""Finite-width bias of statistics of empirical second moments, derived by series expansion
(docs/theory.md s3, s9): the derived exponent of the init-width rate.

A statistic ``T = F(X_n)`` of an empirical second moment
``X_n = X + eps xi`` with ``eps = n^(-1/2)``, ``E[xi] = 0`` and ``O(1)`` moments of ``xi``
(``E[xi xi^T] = C``) has, expanding ``F`` in ``eps`` and taking the expectation term by term,
``E[T] - F(X) = eps^2/2 sum_ab H_ab C_ab + O(eps^3)``, ``H`` the Hessian of ``F`` (delta method).
:func:`finite_width_bias_exponent` finds the lowest power ``eps^k`` whose expected coefficient
is non-zero and reports the exponent ``-k/2`` of ``n`` (``-1`` generically). Assumptions: ``F``
is smooth at ``X``; ``xi`` is centred with moments of order one (conservative for odd moments,
which for averages of ``n`` i.i.d. terms are themselves ``O(n^-1/2)``); only the leading power
is counted, not its constant. By default ``F`` is the two-input kernel map
``K(s11, s22, s12) = E[phi(u) phi(v)]`` at a generic covariance (the finite-width kernel is an
empirical average over ``n`` coordinates); ``statistic="diagonal"`` uses the one-input map
``F(q)``. When ``F`` is affine (linear activation: ``K = s12``) the bias vanishes at every
order: exponent ``None``, status ``"exact"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import sympy as sp

from . import gaussian_expectations as ge
from .symbols import n as n_width
from .truncation import (LAMBDIFY_MODULES, QUADRATURE_RTOL, check_activation, is_nonzero,
                         trapezoid_rule)

#: Expansion parameter ``eps = n^(-1/2)`` of the finite-width fluctuation.
eps = sp.Symbol("epsilon", positive=True)
#: Default covariance point for the two-input kernel statistic (generic: |rho| < 1, s11 != s22).
DEFAULT_KERNEL_POINT = (sp.Integer(1), sp.Integer(2), sp.Rational(1, 2))

__all__ = ["eps", "BiasOrder", "STATISTICS", "DEFAULT_KERNEL_POINT", "expected_term",
           "kernel_hessian_by_quadrature", "finite_width_bias_exponent"]


@dataclass(frozen=True)
class BiasOrder:
    """Leading power of ``n`` in ``E[F(X + n^-1/2 xi)] - F(X)`` (module doc, part b).

    ``exponent``: ``-k/2`` for the first non-vanishing order ``eps^k`` (``-1.0`` generically),
    ``None`` if none; ``status``: ``"power"``, ``"exact"`` (``F`` affine: no bias at any order)
    or ``"undetermined"`` (vanishes through the expansion order although ``F`` is not affine);
    ``leading_term``: the expected leading term as a SymPy expression in ``n`` and the moment
    symbols ``C_a_b = E[xi_a xi_b]`` (higher moments ``m_...``) at ``point``.
    """

    activation: str
    statistic: str
    exponent: float | None
    status: str
    leading_term: sp.Expr | None
    point: tuple[float, ...]
    explanation: str


STATISTICS = ("kernel", "diagonal")


def _moment_symbol(idx: Sequence[int], names: Sequence[str]) -> sp.Expr:
    """``E[prod xi_idx]``: 0 for one factor, ``C_a_b`` for two, ``m_a_b_c...`` beyond."""
    idx = sorted(idx)
    if len(idx) == 1:
        return sp.Integer(0)
    tag = "_".join(names[i] for i in idx)
    return sp.Symbol(("C_" if len(idx) == 2 else "m_") + tag, real=True)


def expected_term(poly_in_xi: sp.Expr, xi: Sequence[sp.Symbol], names: Sequence[str]) -> sp.Expr:
    """Expectation of a polynomial in ``xi``, term by term, with :func:`_moment_symbol`."""
    poly = sp.Poly(sp.expand(poly_in_xi), *xi)
    total = sp.Integer(0)
    for monom, c in poly.terms():
        idx = [i for i, m in enumerate(monom) for _ in range(m)]
        total += c * (_moment_symbol(idx, names) if idx else 1)
    return total


def _is_affine(F: sp.Expr, variables: Sequence[sp.Symbol]) -> bool:
    return all(sp.simplify(sp.diff(F, a, b)) == 0 for a in variables for b in variables)


def _fluctuation_expansion(F: sp.Expr, variables: Sequence[sp.Symbol], point: Sequence[sp.Expr],
                           names: Sequence[str], order: int) -> tuple[int | None, sp.Expr]:
    """First ``k >= 1`` with ``E[coeff of eps^k in F(point + eps xi)] != 0``, and that term."""
    xi = sp.symbols(f"xi0:{len(variables)}", real=True)
    shifted = F.subs({v: p + eps * x for v, p, x in zip(variables, point, xi)},
                     simultaneous=True)
    for n_terms in (3, order + 1):  # cheap second-order pass first
        series = sp.expand(sp.series(shifted, eps, 0, n_terms).removeO())
        for k in range(1, n_terms):
            term = expected_term(series.coeff(eps, k), xi, names)
            coeffs = sp.Poly(term, *term.free_symbols).coeffs() if term.free_symbols else [term]
            if any(is_nonzero(c) for c in coeffs):
                return k, term
    return None, sp.Integer(0)


def _quadrature_2d(fn, s11: float, s22: float, s12: float) -> tuple[float, float]:
    """``(E[fn(u, v)], E[|fn(u, v)|])`` for ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])``, by the
    tensor trapezoid rule of :func:`trapezoid_rule` on the Cholesky factor (``s11 > 0``)."""
    a = np.sqrt(s11)
    b = s12 / a
    c = np.sqrt(max(s22 - b * b, 0.0))
    z, w = trapezoid_rule(max(a, abs(b) + c))
    u = a * z[:, None]
    v = b * z[:, None] + c * z[None, :]
    vals = np.broadcast_to(fn(u, v), v.shape)
    return float(w @ (vals @ w)), float(w @ (np.abs(vals) @ w))


def kernel_hessian_by_quadrature(act: str, point: Sequence[float],
                                 with_scale: bool = False):
    """Hessian of ``K(s11, s22, s12) = E[phi(u) phi(v)]`` at ``point`` by quadrature.

    Differentiating a Gaussian expectation in the covariance moves the derivatives onto the
    integrand (heat equation / Price's theorem): ``d/ds11 <-> (1/2) d^2/du^2``,
    ``d/ds22 <-> (1/2) d^2/dv^2``, ``d/ds12 <-> d^2/du dv``; so ``H_ab = E[D_a D_b (phi(u)
    phi(v))]``, differentiated by SymPy and integrated numerically (:func:`trapezoid_rule`).
    Needs an activation analytic near the real axis (tanh, erf, linear). Order of the axes:
    ``(s11, s22, s12)``. With ``with_scale`` also returns ``E[|D_a D_b (phi(u) phi(v))|]`` (to
    judge what is zero).
    """
    check_activation(act)
    if act == "relu":
        raise ValueError("kernel_hessian_by_quadrature needs a smooth activation; relu has a kink")
    u, v = sp.symbols("u v", real=True)
    f = ge.phi_expr(act, u) * ge.phi_expr(act, v)
    ops = (lambda e: sp.diff(e, u, 2) / 2, lambda e: sp.diff(e, v, 2) / 2,
           lambda e: sp.diff(e, u, v))
    H, scale = np.empty((3, 3)), np.empty((3, 3))
    for i in range(3):
        for j in range(i, 3):
            g = sp.lambdify((u, v), ops[i](ops[j](f)), LAMBDIFY_MODULES)
            H[i, j], scale[i, j] = _quadrature_2d(g, *map(float, point))
            H[j, i], scale[j, i] = H[i, j], scale[i, j]
    return (H, scale) if with_scale else H


@lru_cache(maxsize=None)
def finite_width_bias_exponent(act: str, statistic: str = "kernel",
                               point: tuple | None = None, order: int = 4) -> BiasOrder:
    """Leading exponent of ``n`` in the finite-width bias of a kernel statistic (module doc).

    ``statistic="kernel"`` (default): ``F = K(s11, s22, s12) = E[phi(u) phi(v)]`` at ``point``
    (default :data:`DEFAULT_KERNEL_POINT` = ``(1, 2, 1/2)``); ``"diagonal"``: ``F(q) =
    E[phi(u)^2]`` at ``point = (q,)`` (default ``(1,)``). Closed forms are expanded with
    ``sympy.series`` in ``eps = n^-1/2`` and averaged term by term; tanh uses the Hessian by
    quadrature (:func:`kernel_hessian_by_quadrature`; diagonal: ``F'' = E[(tanh^2)''''(u)]/4``)
    for the ``eps^2`` term. Returns ``exponent = -1.0`` generically; ``None`` with status
    ``"exact"`` for the linear activation (``F`` affine, so ``E[F(X + eps xi)] = F(X)``).
    """
    check_activation(act)
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; allowed: {', '.join(STATISTICS)}")
    if statistic == "kernel":
        variables, names = ge.COVARIANCE_SYMBOLS, ("s11", "s22", "s12")
        pt = tuple(sp.nsimplify(p, rational=True) for p in (point or DEFAULT_KERNEL_POINT))
        what = "K(s11, s22, s12) = E[phi(u) phi(v)]"
    else:
        variables, names = (ge.q,), ("q",)
        pt = tuple(sp.nsimplify(p, rational=True) for p in (point or (1,)))
        what = "F(q) = E[phi(u)^2]"
    if len(pt) != len(variables):
        raise ValueError(f"point must have {len(variables)} entries for statistic {statistic!r}")
    pt_float = tuple(float(p) for p in pt)
    where = ", ".join(f"{nm}={p:g}" for nm, p in zip(names, pt_float))

    if act in ge.CLOSED_FORM_ACTIVATIONS:
        F = ge.phiphi_expr(act) if statistic == "kernel" else ge.diagonal(ge.phiphi_expr(act))
        if _is_affine(F, variables):
            return BiasOrder(act, statistic, None, "exact", None, pt_float,
                             f"{act}: {what} = {sp.sstr(F)} is affine in its arguments, so "
                             f"E[F(X + n^-1/2 xi)] = F(X) for any centred xi: no finite-width "
                             f"bias at any order (exact)")
        k, term = _fluctuation_expansion(F, variables, pt, names, order)
    else:  # tanh: second-order term from a numeric Hessian
        if statistic == "kernel":
            H, scale = kernel_hessian_by_quadrature(act, pt_float, with_scale=True)
        else:
            x = sp.Symbol("x", real=True)
            f4 = sp.lambdify(x, sp.diff(ge.phi_expr(act, x) ** 2, x, 4), LAMBDIFY_MODULES)
            z, w = trapezoid_rule(np.sqrt(pt_float[0]))
            vals = f4(np.sqrt(pt_float[0]) * z)
            H = np.array([[float(w @ vals) / 4]])
            scale = np.array([[float(w @ np.abs(vals)) / 4]])
        m = len(variables)
        term = sum(sp.Float(H[i, j], 15) / 2 * _moment_symbol([i, j], names)
                   for i in range(m) for j in range(m))
        k = 2 if np.any(np.abs(H) > QUADRATURE_RTOL * scale) else None
    if k is None:
        return BiasOrder(act, statistic, None, "undetermined", None, pt_float,
                         f"{act}: the expected correction of {what} vanishes through "
                         f"O(n^-{order / 2:g}) at {where}; exponent not derived")
    exponent = -k / 2
    leading = term * n_width ** sp.Rational(-k, 2)
    how = ("(1/2n) sum_ab H_ab C_ab with Hessian H != 0" if k == 2
           else f"a non-zero eps^{k} term")
    return BiasOrder(act, statistic, exponent, "power", leading, pt_float,
                     f"{act}: delta method on {what} at ({where}): E[F(X + n^-1/2 xi)] - F(X) "
                     f"= {how}, so the bias scales as n^{exponent:g}")
