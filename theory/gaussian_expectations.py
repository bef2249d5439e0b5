"""Gaussian expectations of the activations in closed form (THEORY.md s3).

For (u, v) ~ N(0, [[s11, s12], [s12, s22]]):

    relu   E[phi phi]   = sqrt(s11 s22)/(2 pi) (sin th + (pi - th) cos th),  th = acos(s12/sqrt(s11 s22))
           E[phi' phi'] = (pi - th) / (2 pi)                                 (arc-cosine kernels)
    erf    E[phi phi]   = (2/pi) asin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))   (arcsine kernel)
           E[phi' phi'] = (4/pi) / sqrt((1 + 2 s11)(1 + 2 s22) - 4 s12^2)
    linear E[phi phi]   = s12,  E[phi' phi'] = 1

tanh has no closed form; numerics evaluates it by Gauss-Hermite quadrature.

Verification (:func:`verify`, run by the tests): Price's theorem
d/ds12 E[phi(u) phi(v)] = E[phi'(u) phi'(v)] holds symbolically, the value at s12 = 0 equals
E[phi(u)] E[phi(v)], and the one-dimensional diagonal cases agree with SymPy integration
against the Gaussian density.
"""

from __future__ import annotations

import sympy as sp

ACTIVATIONS = ("relu", "tanh", "erf", "linear")
CLOSED_FORM_ACTIVATIONS = ("relu", "erf", "linear")

s11, s22 = sp.symbols("s11 s22", positive=True)
s12 = sp.Symbol("s12", real=True)


def _check(act: str, closed: bool = True) -> None:
    allowed = CLOSED_FORM_ACTIVATIONS if closed else ACTIVATIONS
    if act not in allowed:
        what = "activation with a closed form" if closed else "activation"
        raise ValueError(f"unknown {what} {act!r}; allowed: {', '.join(allowed)}")


def _theta() -> sp.Expr:
    return sp.acos(s12 / sp.sqrt(s11 * s22))


def phiphi_expr(act: str) -> sp.Expr:
    """E[phi(u) phi(v)] as a SymPy expression in s11, s22, s12."""
    _check(act)
    if act == "relu":
        th = _theta()
        return sp.sqrt(s11 * s22) / (2 * sp.pi) * (sp.sin(th) + (sp.pi - th) * sp.cos(th))
    if act == "erf":
        return 2 / sp.pi * sp.asin(2 * s12 / sp.sqrt((1 + 2 * s11) * (1 + 2 * s22)))
    return s12


def dphidphi_expr(act: str) -> sp.Expr:
    """E[phi'(u) phi'(v)] as a SymPy expression in s11, s22, s12."""
    _check(act)
    if act == "relu":
        return (sp.pi - _theta()) / (2 * sp.pi)
    if act == "erf":
        return 4 / sp.pi / sp.sqrt((1 + 2 * s11) * (1 + 2 * s22) - 4 * s12 ** 2)
    return sp.Integer(1)


theta = sp.Symbol("theta", real=True)


def angle_form(act: str) -> tuple[sp.Expr, sp.Expr] | None:
    """relu only: (E[phi phi], E[phi' phi']) written in theta = acos(rho), rho = s12/sqrt(s11 s22).

    Code generation evaluates theta once with rho clipped to [-1, 1], so that round-off at
    |rho| = 1 gives no NaN (SymPy would otherwise rewrite sin(acos rho) as sqrt(1 - rho^2)).
    """
    if act != "relu":
        return None
    return (sp.sqrt(s11 * s22) / (2 * sp.pi) * (sp.sin(theta) + (sp.pi - theta) * sp.cos(theta)),
            (sp.pi - theta) / (2 * sp.pi))


def phi_expr(act: str, x: sp.Expr) -> sp.Expr:
    """The activation itself (all four, tanh included)."""
    _check(act, closed=False)
    return {"relu": sp.Max(x, 0), "tanh": sp.tanh(x), "erf": sp.erf(x), "linear": x}[act]


def dphi_expr(act: str, x: sp.Expr) -> sp.Expr:
    """The activation's derivative (relu: the Heaviside step)."""
    _check(act, closed=False)
    if act == "relu":
        return sp.Heaviside(x)
    return sp.diff(phi_expr(act, x), x) if act != "linear" else sp.Integer(1)


def mean_phi_expr(act: str, var: sp.Expr) -> sp.Expr:
    """E[phi(u)] for u ~ N(0, var), by SymPy integration."""
    x = sp.Symbol("x", real=True)
    dens = sp.exp(-x ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)
    if act == "relu":
        return sp.simplify(sp.integrate(x * dens, (x, 0, sp.oo)))
    return sp.Integer(0)  # tanh, erf, linear are odd


def verify(act: str) -> dict[str, sp.Expr]:
    """Symbolic checks of the closed forms; every returned residual simplifies to 0."""
    _check(act)
    q = sp.Symbol("q", positive=True)
    x = sp.Symbol("x", real=True)
    dens = sp.exp(-x ** 2 / (2 * q)) / sp.sqrt(2 * sp.pi * q)
    kk, dk = phiphi_expr(act), dphidphi_expr(act)
    out = {
        "price": sp.simplify(sp.diff(kk, s12) - dk),
        "independent": sp.simplify(kk.subs(s12, 0) - mean_phi_expr(act, s11)
                                   * mean_phi_expr(act, s22)),
    }
    if act == "relu":
        out["diag"] = sp.simplify(kk.subs({s11: q, s22: q, s12: q})
                                  - sp.integrate(x ** 2 * dens, (x, 0, sp.oo)))
    elif act == "erf":
        d = dk.subs({s11: q, s22: q, s12: q})
        out["diag_derivative"] = sp.simplify(
            d - sp.integrate(4 / sp.pi * sp.exp(-2 * x ** 2) * dens, (x, -sp.oo, sp.oo)))
    else:
        out["diag"] = sp.simplify(kk.subs({s11: q, s22: q, s12: q})
                                  - sp.integrate(x ** 2 * dens, (x, -sp.oo, sp.oo)))
    return out
