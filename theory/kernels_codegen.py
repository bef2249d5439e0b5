"""Renders ``generated/gaussian_kernels.py`` (registered in :mod:`infdepth.theory.codegen`): the
closed-form bivariate Gaussian expectations of :mod:`infdepth.theory.gaussian_expectations`
(docs/theory.md s3) as broadcasting numpy functions."""

from __future__ import annotations

import sympy as sp

from . import gaussian_expectations as ge
from .codegen import _docstring, render_numpy_function

_KERNELS_MODULE_DOC = [
    "Closed-form bivariate Gaussian expectations of the activations (docs/theory.md s3).",
    "",
    "For (u, v) ~ N(0, [[s11, s12], [s12, s22]]): ``<act>_phiphi`` is E[phi(u) phi(v)] and "
    "``<act>_dphidphi`` is E[phi'(u) phi'(v)], for act in relu, erf, linear (tanh has no closed "
    "form; infdepth.numerics.gaussian_kernels integrates it by quadrature). The expressions are "
    "those of infdepth.theory.gaussian_expectations, verified there symbolically.",
    "",
    "Arguments broadcast against each other and are converted to float64; the result has the "
    "broadcast shape. relu evaluates its correlation s12/sqrt(s11*s22) as rho = "
    "(s12/s11)/sqrt(s22/s11), which is exactly 1 when s11 = s22 = s12 (SymPy's "
    "sqrt(s11)*sqrt(s22) can be an ulp off, and arccos turns that into an error of 1e-8), and "
    "clips it to [-1, 1] before arccos, so round-off at s12 = sqrt(s11*s22) gives no NaN; relu "
    "needs s11 > 0 and s22 > 0 (zero variance gives NaN here; "
    "infdepth.numerics.gaussian_kernels handles that case). The erf "
    "forms need no clipping: for a positive semi-definite covariance the arcsin argument is "
    "below 1 in modulus and the square root's argument is at least 1 + 2 s11 + 2 s22.",
]

_RHO = sp.Symbol("rho", real=True)
#: relu's clipped correlation ``Max(-1, Min(1, s12/sqrt(s11 s22)))`` in a rounding-friendly
#: form (``tests/theory/test_codegen.py`` checks it against the SymPy expression).
_RELU_RHO_CODE = "numpy.clip((s12/s11)/numpy.sqrt(s22/s11), -1.0, 1.0)"


def render_gaussian_kernels() -> str:
    """Body of ``generated/gaussian_kernels.py``: ``<act>_<kind>(s11, s22, s12)`` for act in
    :data:`~infdepth.theory.gaussian_expectations.CLOSED_FORM_ACTIVATIONS` and kind in
    ``phiphi, dphidphi``, plus a ``KERNELS`` dict keyed by ``(act, kind)``."""
    args = ge.COVARIANCE_SYMBOLS
    names = [f"{act}_{kind}" for act in ge.CLOSED_FORM_ACTIVATIONS for kind in ge.KINDS]
    what = {"phiphi": "E[phi(u) phi(v)]", "dphidphi": "E[phi'(u) phi'(v)]"}
    out = _docstring(_KERNELS_MODULE_DOC, "")
    out += ["", "import numpy", "", "__all__ = ["]
    out += [f'    "{n}",' for n in names + ["KERNELS"]]
    out += ["]", "", ""]
    out += [
        "def _broadcast(*args):",
        '    """The arguments as float64 arrays of their common broadcast shape."""',
        "    return numpy.broadcast_arrays(*(numpy.asarray(a, dtype=numpy.float64) "
        "for a in args))",
        "", "",
        "def _result(value, shape):",
        '    """``value`` as a new float64 array of ``shape`` (forms that miss an argument)."""',
        "    return numpy.array(numpy.broadcast_to(value, shape), dtype=numpy.float64)",
    ]
    text = "\n".join(out) + "\n"
    for act in ge.CLOSED_FORM_ACTIVATIONS:
        for kind in ge.KINDS:
            expr = ge.expectation_expr(act, kind, clip_correlation=True)
            doc = [f"{what[kind]} for phi = {act}, (u, v) ~ N(0, [[s11, s12], [s12, s22]]) "
                   "(docs/theory.md s3):", "", "    " + ge.EQUATIONS[(act, kind)]]
            steps: list[tuple[sp.Symbol, sp.Expr | str]] = []
            if act == "relu":
                expr = expr.subs(ge.relu_correlation(clip=True), _RHO)
                steps = [(_RHO, _RELU_RHO_CODE)]
            text += "\n\n" + render_numpy_function(f"{act}_{kind}", args, expr, doc, steps)
    text += ("\n\n#: ``(activation, kind) -> function``, kind in ``phiphi, dphidphi``.\n"
             "KERNELS = {\n")
    for n in names:
        act, kind = n.split("_", 1)
        text += f'    ("{act}", "{kind}"): {n},\n'
    text += "}\n"
    return text


__all__ = ["render_gaussian_kernels"]
