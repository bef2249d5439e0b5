"""Derived exponents, computed by series expansion rather than typed in (docs/theory.md s3, s9).

A claim's "derived" exponent is an output of this module.

**(a) Depth error of the kernel recursion.** At initialization the infinite-width, depth-L
network is exactly the forward Euler scheme ``Sigma_l = Sigma_{l-1} + h K(Sigma_{l-1})``,
``h = 1/L``, of the kernel ODE ``dSigma/dt = K(Sigma)`` (docs/theory.md s3; ``beta^2`` is absorbed
in ``K``, it rescales the coefficient, not the order). :func:`euler_global_order` compares, by
SymPy series expansion in ``h``, the exact one-step flow of ``y' = F(y)`` -- the Lie series
``y + h F + h^2/2 F'F + h^3/6 (F''F^2 + F'^2 F) + ...``, the Taylor series of the solution with
its derivatives eliminated through the ODE -- with the Euler step ``y + h F(y)``. The lowest
power ``h^q`` with a non-zero coefficient is the local order ``q`` (= 2 for undefined ``F``); the
global order is ``q - 1`` (the standard accumulation of ``L = 1/h`` local errors for Lipschitz
``F``), so the error of the depth-L network scales as ``L^-(q-1)``: ``depth_error_exponent``.

:func:`euler_order_for_activation` puts the activation's own kernel map into the expansion: the
diagonal entry ``F(q) = E[phi(u)^2]``, ``u ~ N(0, q)`` (``phiphi_expr`` at ``s11 = s22 = s12 =
q``), which evolves autonomously inside the matrix ODE, so a non-zero error there makes the
matrix error of the same order. If the leading coefficient ``F'F/2`` vanished at the starting
point the order would be higher; it is evaluated at a concrete ``q`` (symbolically for closed
forms, by quadrature for tanh, where ``F'(q) = E[(phi^2)''(u)]/2`` by the heat equation).

The finite-width bias of empirical second moments (the delta method) is
:mod:`infdepth.theory.width_bias`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import gaussian_expectations as ge

#: Step size ``h = 1/L`` and state ``y`` of the scalar ODE ``y' = F(y)``.
h = sp.Symbol("h", positive=True)
y = sp.Symbol("y", real=True)
#: tanh, which has no closed form, is integrated here by a trapezoid rule on a uniform grid
#: in z ~ N(0, 1) over [-QUADRATURE_ZMAX, QUADRATURE_ZMAX] (theory does not import numerics).
QUADRATURE_ZMAX = 9.5
#: Modules for ``sympy.lambdify`` (scipy provides erf).
LAMBDIFY_MODULES = ["scipy", "numpy"]
#: Exact expressions are evaluated with this many digits to decide whether they vanish ...
_DIGITS = 60
#: ... and count as zero below this magnitude (an unsimplified exact zero evaluates to ~1e-60
#: times its terms; genuine values at points down to ~1e-40 stay far above it).
_EXACT_ZERO = 1e-45
#: Quadrature results count as zero below this fraction of the mean absolute integrand.
QUADRATURE_RTOL = 1e-9


def check_activation(act: str) -> None:
    if act not in ge.ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; allowed: {', '.join(ge.ACTIVATIONS)}")


def is_nonzero(value: sp.Expr) -> bool:
    """Whether an exact expression (evaluated at a rational point) is non-zero: SymPy's own
    ``is_zero`` when it decides, else a :data:`_DIGITS`-digit evaluation against
    :data:`_EXACT_ZERO`."""
    decided = sp.sympify(value).is_zero
    if decided is not None:
        return not decided
    return abs(complex(sp.N(value, _DIGITS))) > _EXACT_ZERO


# -------------------------------------------------------------------------------------------
# (a) Euler order
# -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EulerOrder:
    """Order of a one-step scheme for ``y' = F(y)``.

    ``local_order`` q: the one-step error is ``leading_coefficient * h^q + O(h^(q+1))``;
    ``global_order`` ``q - 1``; ``depth_error_exponent`` ``-(q - 1)``, the slope of the error in
    ``L = 1/h``. All ``None`` when the error vanishes through the expansion order (e.g. ``F``
    constant: Euler is exact).
    """

    local_order: int | None
    global_order: int | None
    leading_coefficient: sp.Expr
    depth_error_exponent: float | None
    explanation: str


def exact_flow_series(F: sp.Expr, order: int) -> sp.Expr:
    """Taylor series in ``h`` of the exact flow of ``y' = F(y)`` over one step, to ``h^order``.

    ``Y(h) = sum_k h^k/k! Y^(k)(0)`` with ``Y(0) = y`` and each derivative rewritten through the
    ODE, ``Y^(k+1)(0) = (F d/dy) Y^(k)`` -- the Lie series ``y + h F + h^2/2 F'F + ...``.
    ``F`` is an expression in :data:`y` (e.g. ``Function('F')(y)``).
    """
    term, total = y, sp.sympify(y)
    for k in range(1, order + 1):
        term = F * sp.diff(term, y)
        total += h ** k / sp.factorial(k) * term
    return total


def local_error_order(step: sp.Expr, F: sp.Expr, order: int = 4,
                      at: sp.Expr | None = None) -> tuple[int | None, sp.Expr]:
    """``(q, c)`` with ``exact flow - step = c h^q + O(h^(q+1))``, by series expansion in ``h``.

    ``step`` is the scheme's one-step map as an expression in ``y`` and ``h`` (it may apply
    ``F`` to shifted arguments, e.g. Heun's ``y + h/2 (F(y) + F(y + h F(y)))``). If ``at`` is
    given, coefficients are judged non-zero at ``y = at``. ``q = None`` if the difference
    vanishes through ``h^order``.
    """
    step_series = sp.series(step, h, 0, order + 1).removeO().doit()
    diff = sp.expand(exact_flow_series(F, order) - step_series)
    for k in range(0, order + 1):
        coeff = sp.simplify(diff.coeff(h, k))
        if coeff == 0:
            continue
        if at is not None and not is_nonzero(coeff.subs(y, at)):
            continue
        return k, coeff
    return None, sp.Integer(0)


def euler_step(F: sp.Expr) -> sp.Expr:
    """Forward Euler ``y + h F(y)`` -- the depth-L network at init (docs/theory.md s3)."""
    return y + h * F


def _order_result(q: int | None, coeff: sp.Expr, what: str, order: int) -> EulerOrder:
    if q is None:
        return EulerOrder(None, None, sp.Integer(0), None,
                          f"{what}: the one-step error vanishes through O(h^{order}) "
                          "(no power of L derived)")
    g = q - 1
    return EulerOrder(q, g, coeff, -float(g),
                      f"{what}: exact flow - step = ({sp.sstr(coeff)}) h^{q} + O(h^{q + 1}), "
                      f"so the global error is O(h^{g}) = O(L^-{g})")


def euler_global_order(F: sp.Expr | None = None, order: int = 4) -> EulerOrder:
    """Local and global order of forward Euler for ``y' = F(y)``, by series expansion.

    ``F=None`` uses an undefined function ``F(y)``: local order 2 with leading coefficient
    ``F(y) F'(y) / 2``, global order 1, ``depth_error_exponent = -1`` (error ``~ 1/L``). A
    concrete ``F`` (expression in :data:`y`) gives its own order, e.g. ``None`` for a constant.
    """
    F = sp.Function("F")(y) if F is None else sp.sympify(F)
    q, coeff = local_error_order(euler_step(F), F, order)
    return _order_result(q, coeff, "Euler", order)


@dataclass(frozen=True)
class ActivationEulerOrder(EulerOrder):
    """:class:`EulerOrder` for an activation's kernel map, at the diagonal variance ``point``.

    ``kernel_map``: ``F(y) = E[phi(u)^2], u ~ N(0, y)`` (``None`` for tanh: no closed form);
    ``leading_value``: the leading coefficient at ``y = point`` (float); ``nonzero``: whether
    ``F'F/2`` is non-zero there (if not, the order would be higher than the generic one).
    """

    activation: str = ""
    point: float = 1.0
    kernel_map: sp.Expr | None = None
    leading_value: float = float("nan")
    nonzero: bool = True


def trapezoid_rule(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ``E[g(z)]``, ``z ~ N(0, 1)``, where ``g(z) = G(scale * z)`` and
    ``G`` is analytic in the strip ``|Im| < pi/2`` (tanh and its derivatives): the trapezoid
    rule then converges geometrically, error ~``exp(-pi^2 / (scale * step))``; the step
    ``min(0.5, pi^2 / (40 scale))`` makes that ~1e-17 at every variance (Gauss-Hermite with a
    fixed node count degrades as the variance grows)."""
    step = 0.5 if scale <= 0 else min(0.5, np.pi ** 2 / (40 * scale))
    k = int(np.ceil(QUADRATURE_ZMAX / step))
    z = step * np.arange(-k, k + 1, dtype=np.float64)
    return z, step * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)


def _diagonal_map(act: str) -> sp.Expr:
    return ge.diagonal(ge.phiphi_expr(act)).subs(ge.q, y)


def euler_order_for_activation(act: str, point: float = 1.0, order: int = 4
                               ) -> ActivationEulerOrder:
    """Euler order for the activation's diagonal kernel map ``F(q) = E[phi(u)^2]`` (module doc).

    Closed forms (relu ``q/2``, erf ``(2/pi) asin(2q/(1+2q))``, linear ``q``): the concrete
    ``F`` goes into :func:`local_error_order` and the first coefficient non-zero at
    ``q = point`` gives the order. tanh: ``F`` and ``F' = E[(tanh^2)''(u)]/2`` by quadrature;
    the generic order stands if ``F'F/2 != 0`` at ``point`` (higher orders are not computed
    for tanh; if it vanished the result would be ``None``). ``point`` is the variance
    ``q > 0``.
    """
    check_activation(act)
    if not point > 0:
        raise ValueError(f"point must be a positive variance, got {point!r}")
    generic = euler_global_order()
    if act in ge.CLOSED_FORM_ACTIVATIONS:
        F = _diagonal_map(act)
        at = sp.nsimplify(point, rational=True)
        q, coeff = local_error_order(euler_step(F), F, order, at=at)
        value = float(coeff.subs(y, at)) if q is not None else 0.0
        base = _order_result(q, coeff, f"Euler on F(q) = {sp.sstr(F.subs(y, ge.q))} ({act})",
                             order)
        nonzero = q == generic.local_order
        if q is None:
            explanation = base.explanation
        else:
            explanation = (f"{act}: Euler on F(q) = {sp.sstr(F.subs(y, ge.q))}: local error "
                           f"c h^{q} with c = {value:.4g} != 0 at q={point:g}, so the global "
                           f"error is O(L^-{q - 1})")
        return ActivationEulerOrder(base.local_order, base.global_order,
                                    base.leading_coefficient, base.depth_error_exponent,
                                    explanation, activation=act, point=float(point),
                                    kernel_map=F, leading_value=value, nonzero=nonzero)
    # tanh: numeric F and F' (heat equation) at the point.
    x = sp.Symbol("x", real=True)
    f = ge.phi_expr(act, x) ** 2
    f_fn = sp.lambdify(x, f, LAMBDIFY_MODULES)
    f2_fn = sp.lambdify(x, sp.diff(f, x, 2), LAMBDIFY_MODULES)
    z, w = trapezoid_rule(np.sqrt(point))
    u = np.sqrt(point) * z
    f_vals, f2_vals = f_fn(u), f2_fn(u)
    F_val = float(w @ f_vals)
    dF_val = float(w @ f2_vals) / 2
    value = dF_val * F_val / 2
    nonzero = (abs(F_val) > QUADRATURE_RTOL * float(w @ np.abs(f_vals))
               and abs(dF_val) > QUADRATURE_RTOL * float(w @ np.abs(f2_vals)) / 2)
    if nonzero:
        return ActivationEulerOrder(
            generic.local_order, generic.global_order, generic.leading_coefficient,
            generic.depth_error_exponent,
            f"{act}: Euler on F(q) = E[tanh(u)^2]: local error c h^2 with c = F'F/2 = "
            f"{value:.4g} != 0 at q={point:g} (quadrature), so the global error is O(L^-1)",
            activation=act, point=float(point), kernel_map=None, leading_value=value,
            nonzero=True)
    return ActivationEulerOrder(
        None, None, generic.leading_coefficient, None,
        f"{act}: F'F/2 vanishes at q={point:g}; the order is higher than 2 and not derived",
        activation=act, point=float(point), kernel_map=None, leading_value=value, nonzero=False)


__all__ = [
    "h", "y", "EulerOrder", "ActivationEulerOrder", "exact_flow_series", "local_error_order",
    "euler_step", "euler_global_order", "euler_order_for_activation", "check_activation",
    "is_nonzero", "trapezoid_rule",
]
