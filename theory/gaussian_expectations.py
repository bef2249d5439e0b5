"""Bivariate Gaussian expectations of activations, in closed form (docs/theory.md s3).

For ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])`` the NFD limit at initialization evolves the
covariance by ``dSigma/dt = beta^2 E[phi(u) phi(v)]`` and the gradient second moment by
``E[phi'(u) phi'(v)]`` (docs/theory.md s3, "Closed forms at initialization"). This module holds those
two expectations as SymPy expressions in ``s11, s22`` (positive) and ``s12`` (real)::

    relu    E[phi(u) phi(v)]   = sqrt(s11 s22)/(2 pi) (sin th + (pi - th) cos th),
            E[phi'(u) phi'(v)] = (pi - th) / (2 pi),     th = acos(s12 / sqrt(s11 s22))
                                                         (arc-cosine kernels)
    erf     E[phi(u) phi(v)]   = (2/pi) asin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))
                                                         (arcsine kernel)
            E[phi'(u) phi'(v)] = (4/pi) / sqrt((1 + 2 s11)(1 + 2 s22) - 4 s12^2)
    linear  E[phi(u) phi(v)]   = s12,   E[phi'(u) phi'(v)] = 1

``erf`` is the plain error function ``erf(x) = 2/sqrt(pi) int_0^x exp(-t^2) dt`` (so
``erf'(x) = 2/sqrt(pi) exp(-x^2)``); relu's derivative is ``1{x > 0}``. ``tanh`` has no closed
form: :func:`phiphi_expr` refuses it and the numerics integrate it by quadrature
(``infdepth.numerics.gaussian_kernels``).

Every closed form is *verified symbolically* by :func:`verify` (SymPy integration against the
Gaussian density, no numbers involved); ``tests/theory/test_gaussian_expectations.py`` runs it. The
checks, per activation:

* Price's theorem ``d/ds12 E[phi(u) phi(v)] = E[phi'(u) phi'(v)]`` (differentiate the closed form);
* the independent case ``s12 = 0``: ``E[phi(u)] E[phi(v)]`` by 1-D integration, for both kinds;
* the diagonal ``s11 = s22 = s12 = q`` (u = v): ``E[phi(u)^2]`` by 1-D integration (relu -> q/2,
  erf' -> 4/(pi sqrt(1+4q)), linear -> q). For ``erf^2``, which SymPy cannot integrate directly,
  the diagonal is checked through the heat equation ``d/dq E[f(u)] = E[f''(u)]/2`` (integrated
  by SymPy) together with the value 0 at ``q = 0``;
* relu's derivative kernel once more through Price: ``d/ds12 E[1{u>0} 1{v>0}]`` equals the
  Gaussian density at the origin, ``1 / (2 pi sqrt(det Sigma))``;
* erf' and linear over the full covariance by 2-D integration in whitened coordinates
  ``u = a z1, v = b z1 + c z2`` (``s11 = a^2, s12 = a b, s22 = b^2 + c^2``).

A Price identity plus the ``s12 = 0`` boundary value determines ``E[phi(u) phi(v)]`` for every
``s12`` (integrate in ``s12``), so together these checks verify all the bivariate formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from .activation_names import ACTIVATIONS, CLOSED_FORM_ACTIVATIONS

#: The two expectation kinds: ``E[phi phi]`` and ``E[phi' phi']``.
KINDS: tuple[str, ...] = ("phiphi", "dphidphi")

#: Covariance entries of ``(u, v)``.
s11, s22 = sp.symbols("s11 s22", positive=True)
s12 = sp.Symbol("s12", real=True)
COVARIANCE_SYMBOLS: tuple[sp.Symbol, sp.Symbol, sp.Symbol] = (s11, s22, s12)
#: The common variance on the diagonal ``s11 = s22 = s12 = q`` (u = v).
q = sp.Symbol("q", positive=True)

#: Human-readable statement of every closed form, keyed by ``(activation, kind)``; used in
#: docstrings of the generated code.
EQUATIONS: dict[tuple[str, str], str] = {
    ("relu", "phiphi"): "sqrt(s11*s22)/(2*pi) * (sin(th) + (pi - th)*cos(th)),  "
                        "th = acos(s12/sqrt(s11*s22))",
    ("relu", "dphidphi"): "(pi - th)/(2*pi),  th = acos(s12/sqrt(s11*s22))",
    ("erf", "phiphi"): "(2/pi) * asin(2*s12/sqrt((1 + 2*s11)*(1 + 2*s22)))",
    ("erf", "dphidphi"): "(4/pi) / sqrt((1 + 2*s11)*(1 + 2*s22) - 4*s12**2)",
    ("linear", "phiphi"): "s12",
    ("linear", "dphidphi"): "1",
}


def _unknown(act: object) -> ValueError:
    return ValueError(f"unknown activation {act!r}; allowed: {', '.join(ACTIVATIONS)}")


def _check_closed_form(act: str) -> None:
    if act in CLOSED_FORM_ACTIVATIONS:
        return
    if act in ACTIVATIONS:
        raise ValueError(
            f"activation {act!r} has no closed-form Gaussian expectation; allowed: "
            f"{', '.join(CLOSED_FORM_ACTIVATIONS)} (use infdepth.numerics.gaussian_kernels, "
            f"which integrates {act} by quadrature)"
        )
    raise ValueError(
        f"unknown activation {act!r}; closed forms exist for: {', '.join(CLOSED_FORM_ACTIVATIONS)}"
        f" (all activations: {', '.join(ACTIVATIONS)})"
    )


# -------------------------------------------------------------------------------------------
# Pointwise activations
# -------------------------------------------------------------------------------------------

def phi_expr(act: str, x: sp.Expr) -> sp.Expr:
    """The activation ``phi(x)`` as a SymPy expression (docs/theory.md s1): ``relu = Max(x, 0)``,
    ``tanh(x)``, ``erf(x)``, ``linear = x``. Raises ``ValueError`` naming the allowed ones."""
    if act == "relu":
        return sp.Max(x, 0)
    if act == "tanh":
        return sp.tanh(x)
    if act == "erf":
        return sp.erf(x)
    if act == "linear":
        return sp.sympify(x)
    raise _unknown(act)


def dphi_expr(act: str, x: sp.Expr) -> sp.Expr:
    """The derivative ``phi'(x)`` as a SymPy expression (docs/theory.md s1): relu ``1{x > 0}``
    (``Heaviside(x, 0)``, value 0 at the kink), tanh ``1 - tanh(x)^2``, erf
    ``2/sqrt(pi) exp(-x^2)``, linear ``1``."""
    if act == "relu":
        return sp.Heaviside(x, 0)
    if act == "tanh":
        return 1 - sp.tanh(x) ** 2
    if act == "erf":
        return 2 / sp.sqrt(sp.pi) * sp.exp(-x ** 2)
    if act == "linear":
        return sp.Integer(1)
    raise _unknown(act)


# -------------------------------------------------------------------------------------------
# Closed forms
# -------------------------------------------------------------------------------------------

def relu_correlation(clip: bool = False) -> sp.Expr:
    """The correlation ``s12 / sqrt(s11 s22)`` (clipped to [-1, 1] by ``Max``/``Min`` if
    ``clip``), exactly as it appears inside relu's ``acos``."""
    rho = s12 / sp.sqrt(s11 * s22)
    return sp.Max(-1, sp.Min(1, rho)) if clip else rho


def phiphi_expr(act: str, *, clip_correlation: bool = False) -> sp.Expr:
    """``E[phi(u) phi(v)]`` for ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])`` (docs/theory.md s3).

    * relu: ``sqrt(s11 s22)/(2 pi) (sin th + (pi - th) cos th)``, ``th = acos(s12/sqrt(s11 s22))``
      (arc-cosine kernel of degree 1);
    * erf: ``(2/pi) asin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))`` (arcsine kernel);
    * linear: ``s12``.

    ``clip_correlation=True`` (relu only; others are unchanged) replaces the correlation inside
    ``acos`` by ``Max(-1, Min(1, s12/sqrt(s11 s22)))``, the form code generation emits so that
    round-off at ``s12 = sqrt(s11 s22)`` cannot produce NaN. Raises ``ValueError`` for tanh (no
    closed form) and unknown names, naming the allowed activations.
    """
    _check_closed_form(act)
    if act == "relu":
        th = sp.acos(relu_correlation(clip_correlation))
        return sp.sqrt(s11 * s22) / (2 * sp.pi) * (sp.sin(th) + (sp.pi - th) * sp.cos(th))
    if act == "erf":
        return 2 / sp.pi * sp.asin(2 * s12 / sp.sqrt((1 + 2 * s11) * (1 + 2 * s22)))
    return s12  # linear


def dphidphi_expr(act: str, *, clip_correlation: bool = False) -> sp.Expr:
    """``E[phi'(u) phi'(v)]`` for ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])`` (docs/theory.md s3).

    * relu: ``(pi - th) / (2 pi)``, ``th = acos(s12/sqrt(s11 s22))`` (= P(u > 0, v > 0));
    * erf: ``(4/pi) / sqrt((1 + 2 s11)(1 + 2 s22) - 4 s12^2)``;
    * linear: ``1``.

    ``clip_correlation`` as in :func:`phiphi_expr`. Raises ``ValueError`` for tanh and unknown
    names, naming the allowed activations.
    """
    _check_closed_form(act)
    if act == "relu":
        th = sp.acos(relu_correlation(clip_correlation))
        return (sp.pi - th) / (2 * sp.pi)
    if act == "erf":
        return 4 / sp.pi / sp.sqrt((1 + 2 * s11) * (1 + 2 * s22) - 4 * s12 ** 2)
    return sp.Integer(1)  # linear


def expectation_expr(act: str, kind: str, *, clip_correlation: bool = False) -> sp.Expr:
    """Dispatch on ``kind`` in :data:`KINDS` (``"phiphi"`` or ``"dphidphi"``)."""
    if kind == "phiphi":
        return phiphi_expr(act, clip_correlation=clip_correlation)
    if kind == "dphidphi":
        return dphidphi_expr(act, clip_correlation=clip_correlation)
    raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")


def diagonal(expr: sp.Expr) -> sp.Expr:
    """``expr`` on the diagonal ``s11 = s22 = s12 = q`` (u = v, variance q), simplified."""
    return sp.simplify(expr.subs({s11: q, s22: q, s12: q}))


# -------------------------------------------------------------------------------------------
# Symbolic verification
# -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One symbolic verification: ``equation`` holds iff ``passed`` (the difference of its
    sides simplifies to 0)."""

    activation: str
    name: str
    equation: str
    passed: bool


_x = sp.Symbol("x", real=True)
_z1, _z2 = sp.symbols("z1 z2", real=True)
_a, _c = sp.symbols("a c", positive=True)
_b = sp.Symbol("b", real=True)


def _std_normal(z: sp.Symbol) -> sp.Expr:
    return sp.exp(-z ** 2 / 2) / sp.sqrt(2 * sp.pi)


def _gauss_integrate(expr: sp.Expr, z: sp.Symbol, lower: sp.Expr = -sp.oo) -> sp.Expr:
    """``int_lower^oo expr * N(z; 0, 1) dz`` by SymPy, exponents normalised first.

    Expanding and cancelling each exponent makes the positivity of the quadratic coefficient
    visible to SymPy (otherwise it returns a conditional ``Piecewise``).
    """
    integrand = sp.powsimp(sp.expand(expr * _std_normal(z)), combine="exp")
    integrand = integrand.replace(
        lambda e: isinstance(e, sp.exp), lambda e: sp.exp(sp.cancel(sp.expand(e.args[0]))))
    return sp.simplify(sp.integrate(integrand, (z, lower, sp.oo)))


def _gauss_1d(f_of_x: sp.Expr, var: sp.Expr, lower: sp.Expr = -sp.oo) -> sp.Expr:
    """``E[f(u) 1{u > lower}]`` for ``u ~ N(0, var)`` (``f`` in ``x``), via ``u = sqrt(var) z``."""
    z = sp.Symbol("z", real=True)
    lo = lower if lower in (-sp.oo, sp.oo) else lower / sp.sqrt(var)
    return _gauss_integrate(f_of_x.subs(_x, sp.sqrt(var) * z), z, lo)


def _gauss_2d_whitened(f_uv) -> sp.Expr:
    """``E[f(u, v)]`` over ``u = a z1, v = b z1 + c z2``, ``z ~ N(0, I)``."""
    u, v = _a * _z1, _b * _z1 + _c * _z2
    inner = _gauss_integrate(f_uv(u, v), _z2)
    return _gauss_integrate(inner, _z1)


def _whitened(expr: sp.Expr) -> sp.Expr:
    """Closed form in whitened parameters: ``s11 = a^2, s12 = a b, s22 = b^2 + c^2``."""
    return expr.subs({s11: _a ** 2, s12: _a * _b, s22: _b ** 2 + _c ** 2})


def _is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


@lru_cache(maxsize=None)
def verify(act: str) -> tuple[Check, ...]:
    """Symbolically verify the closed forms of ``act`` (see the module docstring).

    Returns one :class:`Check` per identity; all must have ``passed=True``. Takes up to a few
    seconds (SymPy integration; erf is the slowest); cached. Raises ``ValueError`` for
    activations without a closed form.
    """
    _check_closed_form(act)
    return check_expressions(act, phiphi_expr(act), dphidphi_expr(act))


def check_expressions(act: str, K: sp.Expr, Kd: sp.Expr) -> tuple[Check, ...]:
    """Run :func:`verify`'s identities on candidate expressions ``K = E[phi phi]`` and
    ``Kd = E[phi' phi']`` for ``act`` (lets tests show that a wrong formula fails)."""
    _check_closed_form(act)
    checks: list[Check] = []

    def add(name: str, equation: str, difference: sp.Expr) -> None:
        checks.append(Check(act, name, equation, _is_zero(difference)))

    add("price", "d/ds12 E[phi(u)phi(v)] = E[phi'(u)phi'(v)]", sp.diff(K, s12) - Kd)
    # Independent case s12 = 0: the expectation factorises.
    lower = 0 if act == "relu" else -sp.oo
    phi_int = _x if act in ("relu", "linear") else phi_expr(act, _x)
    mean_u = _gauss_1d(phi_int, s11, lower)
    mean_v = _gauss_1d(phi_int, s22, lower)
    add("independent", "E[phi(u)phi(v)] at s12=0 = E[phi(u)] E[phi(v)]",
        K.subs(s12, 0) - mean_u * mean_v)
    # Derivative kernel at s12 = 0.
    if act == "relu":
        dmean_u = _gauss_1d(sp.Integer(1), s11, 0)
        dmean_v = _gauss_1d(sp.Integer(1), s22, 0)
    else:
        dmean_u = _gauss_1d(dphi_expr(act, _x), s11)
        dmean_v = _gauss_1d(dphi_expr(act, _x), s22)
    add("independent'", "E[phi'(u)phi'(v)] at s12=0 = E[phi'(u)] E[phi'(v)]",
        Kd.subs(s12, 0) - dmean_u * dmean_v)
    # Diagonal u = v ~ N(0, q).
    if act == "erf":
        f = phi_expr(act, _x) ** 2
        heat = _gauss_1d(sp.expand(sp.diff(f, _x, 2)), q) / 2
        Kq = diagonal(K)
        add("diagonal", "d/dq E[erf(u)^2] = E[(erf^2)''(u)]/2 for u ~ N(0, q) (heat equation)",
            sp.diff(Kq, q) - heat)
        add("diagonal q=0", "E[erf(u)^2] -> 0 as q -> 0", sp.limit(Kq, q, 0))
    else:
        add("diagonal", "E[phi(u)^2] for u ~ N(0, q)",
            diagonal(K) - _gauss_1d(_x ** 2, q, lower))
    if act == "relu":
        add("diagonal'", "E[1{u>0}] for u ~ N(0, q)",
            diagonal(Kd) - _gauss_1d(sp.Integer(1), q, 0))
        Sigma = sp.Matrix([[s11, s12], [s12, s22]])
        density0 = 1 / (2 * sp.pi * sp.sqrt(Sigma.det()))
        add("price'", "d/ds12 E[1{u>0}1{v>0}] = E[delta(u)delta(v)] = 1/(2 pi sqrt(det Sigma))",
            sp.diff(Kd, s12) - density0)
    else:
        add("diagonal'", "E[phi'(u)^2] for u ~ N(0, q)",
            diagonal(Kd) - _gauss_1d(sp.expand(dphi_expr(act, _x) ** 2), q))
        add("bivariate'", "E[phi'(u)phi'(v)] by 2-D integration in whitened coordinates",
            _whitened(Kd) - _gauss_2d_whitened(lambda u, v: dphi_expr(act, u) * dphi_expr(act, v)))
    if act == "linear":
        add("bivariate", "E[u v] by 2-D integration in whitened coordinates",
            _whitened(K) - _gauss_2d_whitened(lambda u, v: u * v))
    return tuple(checks)


__all__ = [
    "ACTIVATIONS", "CLOSED_FORM_ACTIVATIONS", "KINDS", "COVARIANCE_SYMBOLS", "EQUATIONS",
    "s11", "s22", "s12", "q", "Check",
    "phi_expr", "dphi_expr", "phiphi_expr", "dphidphi_expr", "relu_correlation",
    "expectation_expr", "diagonal", "verify", "check_expressions",
]
