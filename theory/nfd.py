"""Per-block drift and diffusion of the NFD limit from the finite recursion (docs/theory.md s2, s3).

Model A1 under depth-muP (docs/theory.md s2): width ``n``, ``L`` blocks, unit-variance weights,
branch multiplier ``m_W = beta L^(-1/2) n^(-1/2)``, readout ``f = v . phi(h_L) / n``, input layer
``h_0 = U x / sqrt(d)``, learning rate ``eta n`` for every group, loss ``1/2 (f - y)^2`` with
``chi = f - y``; ``g_l := n df/dh_l``. Write ``eps = L^(-1/2)`` (so ``dt = 1/L = eps^2``).

One SGD step ``s`` on example ``x_s`` changes the block matrix by the gradient of the loss:

    dloss/dW_l = chi_s m_W (g^s_l / n) phi(h^s_{l-1}(x_s))^T
    Delta W_l  = -(eta n) dloss/dW_l = -eta chi_s m_W g^s_l phi^s^T

and likewise ``Delta U = -eta chi_s g^s_0 x_s^T / sqrt(d)``, ``Delta v = -eta chi_s phi(h^s_L)``.
The forward increment of block ``l`` at step ``k`` on input ``x`` is therefore

    h^k_l - h^k_{l-1} = m_W (W^0_l + sum_{s<k} Delta W^s_l) phi^k
                      = beta eps z^k - eps^2 eta beta^2 sum_{s<k} chi_s c^{sk} g^s_l

with ``z^k = W^0_l phi^k / sqrt(n)`` and ``c^{sk} = <phi^s, phi^k>_n``. In the width limit the
``z`` are centred Gaussians with ``E[z^k z^k'] = c^{kk'}`` (one family per block, independent
across blocks), so the conditional mean per block is ``eps^2 * drift`` and the conditional
covariance ``eps^2 * diffusion``: the Euler-Maruyama step of the SDE of docs/theory.md s3 with
``dt = eps^2``. The backward increment is derived the same way from
``g^k_{l-1} = g^k_l + phi'(h^k_{l-1}) m_W (W_l)^T g^k_l`` with ``q^{sk} = <g^s_l, g^k_l>_n``.

Covariance variant (docs/theory.md s3, "Two NFD variants"): with weights reused in the backward pass
the Gaussian part of ``W^T g^k / sqrt(n)`` gains the Tensor-Programs correction
``Zdot = sum_s phi^s E[d g^k / d z^s]``; ``z^s`` enters the state only through
``h^s_l = h^s_{l-1} + beta eps z^s + ...``, so ``E[d g^k / d z^s] = beta eps Gamma^{ks}`` with
``Gamma^{ks} = E[d g^k_l / d h^s_l]`` and the backward increment gains
``m_W sqrt(n) Zdot = eps^2 beta^2 sum_s Gamma^{ks} phi^s``. The forward twin (``Zdot`` of
``W phi^k`` through the backward uses ``W^T g^s``; the backward increment of block ``l`` is
``b^s = beta eps zt^s`` times ``phi'``) gives ``eps^2 beta^2 sum_s Gammat^{ks} g^s_l`` with
``Gammat^{ks} = E[d phi(h^k_{l-1}) / d b^s_l]``.

:func:`derive_terms` carries out this expansion in SymPy (series in ``eps``, Gaussian moments,
the chain rule for the correction), checks that the order-``eps`` mean vanishes and that nothing
beyond ``eps^2`` survives, and returns the drift and diffusion coefficients per unit depth-time
as expressions in the kernels. :func:`render_nfd_terms` emits them as the generated module
``infdepth.theory.generated.nfd_terms`` (registered in :mod:`infdepth.theory.codegen`), whose
functions are plain arithmetic and so evaluate on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

# -- symbols -----------------------------------------------------------------------------------
eps = sp.Symbol("eps", positive=True)          # L^(-1/2)
n = sp.Symbol("n", positive=True)              # width
d = sp.Symbol("d", positive=True)              # input dimension
beta = sp.Symbol("beta", positive=True)
eta = sp.Symbol("eta", nonnegative=True)
chi = sp.Symbol("chi", real=True)              # chi_s = f^s(x_s) - y_s
c = sp.Symbol("c", real=True)                  # <phi^s, phi^k>_n (a kernel entry)
q = sp.Symbol("q", real=True)                  # <g^s, g^k>_n
xx = sp.Symbol("xx", real=True)                # x_s . x / d
gamma = sp.Symbol("gamma", real=True)          # Gamma^{ks} = E[d g^k_l / d h^s_l]
gammat = sp.Symbol("gammat", real=True)        # Gammat^{ks} = E[d phi(h^k_{l-1}) / d b^s_l]

#: Names of the generated functions, in order.
TERM_NAMES: tuple[str, ...] = (
    "forward_diffusion", "forward_drift_coefficient", "forward_gamma_coefficient",
    "backward_diffusion", "backward_drift_coefficient", "backward_gamma_coefficient",
    "input_layer_coefficient", "readout_coefficient",
)


@dataclass(frozen=True)
class NFDTerm:
    """One coefficient of the NFD increment: ``name(*args) = expr``, with its meaning."""

    name: str
    args: tuple[sp.Symbol, ...]
    expr: sp.Expr
    doc: str


def _order_coefficients(expr: sp.Expr, upto: int = 4) -> list[sp.Expr]:
    """Coefficients of ``eps^0 .. eps^upto`` of ``expr`` (a polynomial in ``eps``)."""
    poly = sp.Poly(sp.expand(expr), eps)
    if poly.degree() > upto:
        raise ValueError(f"increment has order eps^{poly.degree()} > eps^{upto}")
    return [sp.simplify(poly.coeff_monomial(eps ** j)) for j in range(upto + 1)]


@lru_cache(maxsize=1)
def derive_terms() -> tuple[NFDTerm, ...]:
    """Expand one block's forward and backward increments in ``eps = L^(-1/2)`` (module doc).

    Returns the drift/diffusion coefficients per unit depth-time ``t = l/L``. Raises
    ``AssertionError`` if the expansion does not have the Euler-Maruyama structure (zero mean at
    order ``eps``, nothing beyond ``eps^2``).
    """
    m_W = beta * eps / sp.sqrt(n)
    lr = eta * n
    # Vectors enter through normalized inner products only; represent one coordinate of
    # g^s_l, phi^s and the Gaussians by symbols and the inner products by kernels.
    g_s, phi_s, z_k, z_kp, zt_k, zt_kp = sp.symbols("g_s phi_s z_k z_kp zt_k zt_kp", real=True)

    # ---- forward: m_W (W^0 + Delta W) phi^k ----------------------------------------------
    # Delta W phi^k = -(lr) chi m_W (g/n) (phi^s . phi^k) = -lr chi m_W (g/n) (n c)
    delta_W_phi = -lr * chi * m_W * (g_s / n) * (n * c)
    inc = m_W * sp.sqrt(n) * z_k + m_W * delta_W_phi
    coef = _order_coefficients(inc)
    assert coef[0] == 0 and coef[3] == 0 and coef[4] == 0
    # mean: E[z] = 0 kills the eps^1 part; diffusion: Cov of the eps^1 part
    mean1 = coef[1].subs(z_k, 0)
    assert sp.simplify(mean1) == 0
    fwd_drift = sp.simplify(coef[2] / g_s)                       # multiplies g^s_l
    noise = coef[1]                                              # beta z_k
    noise_p = noise.subs(z_k, z_kp)
    # E[z_k z_kp] = c (the kernel of the two forward vectors)
    fwd_diff = sp.expand(noise * noise_p).subs(z_k * z_kp, c)
    assert not fwd_diff.has(z_k) and not fwd_diff.has(z_kp)

    # ---- backward: m_W (W^0 + Delta W)^T g^k (times phi'(h^k_{l-1})) --------------------
    # Delta W^T g^k = -lr chi m_W phi^s (g^s . g^k)/n = -lr chi m_W phi^s q
    delta_WT_g = -lr * chi * m_W * phi_s * q
    binc = m_W * sp.sqrt(n) * zt_k + m_W * delta_WT_g
    bcoef = _order_coefficients(binc)
    assert bcoef[0] == 0 and bcoef[3] == 0 and bcoef[4] == 0
    assert sp.simplify(bcoef[1].subs(zt_k, 0)) == 0
    bwd_drift = sp.simplify(bcoef[2] / phi_s)                    # multiplies phi^s
    bnoise = bcoef[1]
    bwd_diff = sp.expand(bnoise * bnoise.subs(zt_k, zt_kp)).subs(zt_k * zt_kp, q)

    # ---- covariance variant: Tensor-Programs correction by the chain rule ----------------
    # g^k depends on z^s only through h^s_l = h^s_{l-1} + beta eps z^s: d g / d z = beta eps G'
    hprev, zs = sp.symbols("hprev zs", real=True)
    G = sp.Function("G")
    g_of_z = G(hprev + beta * eps * zs)
    gamma_factor = sp.simplify(sp.diff(g_of_z, zs) / sp.diff(g_of_z, hprev))   # beta eps
    assert not gamma_factor.has(G)
    bcorr = m_W * sp.sqrt(n) * phi_s * gamma_factor * gamma      # m_W sqrt(n) Zdot
    bgcoef = _order_coefficients(bcorr)
    assert bgcoef[1] == 0 and bgcoef[3] == 0
    bwd_gamma = sp.simplify(bgcoef[2] / phi_s)
    # forward twin: phi(h^k_{l-1}) depends on zt^s through b^s = beta eps zt^s
    F = sp.Function("F")
    f_of_zt = F(hprev + beta * eps * zs)
    twin_factor = sp.simplify(sp.diff(f_of_zt, zs) / sp.diff(f_of_zt, hprev))  # beta eps
    assert not twin_factor.has(F)
    fcorr = m_W * sp.sqrt(n) * g_s * twin_factor * gammat
    fgcoef = _order_coefficients(fcorr)
    assert fgcoef[1] == 0 and fgcoef[3] == 0
    fwd_gamma = sp.simplify(fgcoef[2] / g_s)

    # ---- input layer and readout (exact, no depth factor) -------------------------------
    mU = 1 / sp.sqrt(d)
    # dloss/dU = chi mU (g_0 / n) x_s^T ; Delta U x mU = -lr chi mU^2 (g_0/n) (x_s . x)
    input_coef = sp.simplify((-lr * chi * mU * (1 / n) * mU * (xx * d)))   # multiplies g^s_0
    # dloss/dv = chi phi(h_L)/n ; Delta v = -lr chi phi/n
    readout_coef = sp.simplify(-lr * chi / n)                              # multiplies phi^s_L

    def check(expr):
        assert not expr.has(eps) and not expr.has(n), expr
        return expr

    return (
        NFDTerm("forward_diffusion", (beta, c), check(fwd_diff),
                "d<B^{k,x}, B^{k',x'}>/dt given c = E[phi(h^k(x)) phi(h^{k'}(x'))]"),
        NFDTerm("forward_drift_coefficient", (eta, beta, chi, c), check(fwd_drift),
                "forward drift per unit t multiplying g^s_t, given chi_s and "
                "c = E[phi(h^s_t(x_s)) phi(h^k_t(x))]"),
        NFDTerm("forward_gamma_coefficient", (beta, gammat), check(fwd_gamma),
                "covariance variant: forward drift per unit t multiplying g^s_t, given "
                "gammat = Gammat^{ks}_t(x) = E[d phi(h^k_t(x)) / d b^s_t]"),
        NFDTerm("backward_diffusion", (beta, q), check(bwd_diff),
                "d<Bt^k, Bt^{k'}>/dt given q = E[g^k_t g^{k'}_t]"),
        NFDTerm("backward_drift_coefficient", (eta, beta, chi, q), check(bwd_drift),
                "backward drift per unit t (inside phi'(h^k_t(x_k)) [...]) multiplying "
                "phi(h^s_t(x_s)), given chi_s and q = E[g^s_t g^k_t]"),
        NFDTerm("backward_gamma_coefficient", (beta, gamma), check(bwd_gamma),
                "covariance variant: backward drift per unit t (inside phi' [...]) multiplying "
                "phi(h^s_t(x_s)), given gamma = Gamma^{ks}_t = E[d g^k_t / d h^s_t(x_s)]"),
        NFDTerm("input_layer_coefficient", (eta, chi, xx), check(input_coef),
                "h^k_0(x) = h^0_0(x) + sum_{s<k} coefficient * g^s_0, given chi_s and "
                "xx = x_s . x / d"),
        NFDTerm("readout_coefficient", (eta, chi), check(readout_coef),
                "v^k = v^0 + sum_{s<k} coefficient * phi(h^s_1(x_s)), given chi_s"),
    )


_MODULE_DOC = [
    "Drift and diffusion coefficients of the NFD limit of Model A1 under depth-muP "
    "(docs/theory.md s2, s3), per unit depth-time t = l/L.",
    "",
    "Derived in infdepth.theory.nfd by expanding one block's forward and backward increments of "
    "the finite network in eps = L^(-1/2): each block adds eps * (centred Gaussian with the "
    "diffusion below) + eps^2 * drift, the Euler-Maruyama step of the SDE of docs/theory.md s3. "
    "Every function is plain arithmetic on its arguments, so it evaluates on Python floats, "
    "numpy arrays and torch tensors (broadcasting as they do).",
    "",
    "    forward   dh^k_t(x) = dB^{k,x}_t + sum_{s<k} [forward_drift_coefficient(eta, beta, "
    "chi_s, c)",
    "                          (+ forward_gamma_coefficient(beta, Gammat^{ks}))] g^s_t dt",
    "    backward  -dg^k_t = phi'(h^k_t(x_k)) [dBt^k_t + sum_s [backward_drift_coefficient(eta,",
    "                          beta, chi_s, q) (+ backward_gamma_coefficient(beta, Gamma^{ks}))]",
    "                          phi(h^s_t(x_s)) dt]",
    "",
    "with c = E[phi(h^s_t(x_s)) phi(h^k_t(x))], q = E[g^s_t g^k_t]; the drift sums run over s < k "
    "and the Gamma sums over s <= k (s < k for the forward one).",
]


def render_nfd_terms() -> str:
    """Body of ``generated/nfd_terms.py`` (one function per :data:`TERM_NAMES` entry)."""
    from .codegen import _docstring, render_formula_function

    terms = derive_terms()
    out = _docstring(_MODULE_DOC, "")
    out += ["", "__all__ = ["]
    out += [f'    "{t.name}",' for t in terms] + ['    "TERMS",', "]"]
    text = "\n".join(out) + "\n"
    for t in terms:     # all terms are polynomials
        text += "\n\n" + render_formula_function(t.name, t.args, t.expr,
                                                 f"{t.doc} (docs/theory.md s3)")
    text += "\n\n#: ``name -> function``.\nTERMS = {\n"
    text += "".join(f'    "{t.name}": {t.name},\n' for t in terms)
    text += "}\n"
    return text


__all__ = ["NFDTerm", "TERM_NAMES", "derive_terms", "render_nfd_terms"]
