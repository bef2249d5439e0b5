"""Neural Mean ODE of the [HW] 2LP ResNet with linear activation: the closed second-moment
system (docs/theory.md s6, "exact reference").

With ``sigma(p) = p`` a block acts linearly on the stream::

    h_l = h_{l-1} + (alpha/(L M)) sum_j v_j (u_j . h_{l-1}) / D = (I + (alpha/L) A_l) h_{l-1},
    A_l = (1/(M D)) sum_j v_j u_j^T          (the drift matrix; E[v u^T]/D -> 0 at init)

and one full-batch GD step (raw rates ``eta_u L M D/alpha^2``, ``eta_v L M D/alpha^2``) moves
every unit linearly in the others, through ``C_l = sum_x g_l(x) h_{l-1}(x)^T`` (adjoint times
stream, summed over inputs; the loss carries the 1/N)::

    u_j <- u_j - e_u C_l^T v_j,   v_j <- v_j - e_v C_l u_j,     e_u = eta_u/alpha, e_v = eta_v/alpha

so the unit moments ``P = (1/MD) sum u u^T``, ``Q = (1/MD) sum v v^T`` and ``A`` close exactly
(at any M) -- :func:`moment_update` derives, :func:`verify_moment_update` checks it entry by
entry on explicit units::

    A' = A - e_v C P - e_u Q C + e_u e_v C A^T C
    P' = P - e_u (C^T A + A^T C) + e_u^2 C^T Q C
    Q' = Q - e_v (C A^T + A C^T) + e_v^2 C P C^T

Limit L -> infinity (the L M units of a depth interval average; the centred noise vanishes like
alpha sqrt(D)/sqrt(LM)): at init ``P = Q = I``, ``A = 0`` at every depth-time s, and step k is

    forward   d/ds h_k(s,x) =  alpha A_k(s) h_k(s,x),        h_k(0,x) = W_in x
    backward  d/ds b_k(s,x) = -alpha A_k(s)^T b_k(s,x),      b_k(1,x) = (f_k(x) - y) W_out^T/(D N)
    training  (P, Q, A)_{k+1}(s) = update((P, Q, A)_k(s), C_k(s)),  C_k(s) = sum_x b_k h_k^T

With propagators ``U_k(s)`` (``U' = alpha A_k U``, ``U(0) = I``) and ``V_k = U_k^{-1}``
(``V' = -alpha V A_k``): ``h_k(s) = U_k(s) h_0``, ``b_k(s) = V_k(s)^T U_k(1)^T b_k(1)``, hence
``C_k(s) = V_k(s)^T B_k U_k(s)^T`` with the constant ``B_k = U_k(1)^T sum_x b_k(1,x) h_0(x)^T``
(:func:`propagator_form`). :mod:`infdepth.numerics.mean_ode_linear` integrates this.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["moment_update", "verify_moment_update", "mean_ode_rhs", "propagator_form"]


def _symbols(D: int | sp.Symbol):
    P, Q, A, C = (sp.MatrixSymbol(nm, D, D) for nm in ("P", "Q", "A", "C"))
    e_u, e_v = sp.symbols("e_u e_v", positive=True)
    return P, Q, A, C, e_u, e_v


def moment_update(D: int | sp.Symbol = sp.Symbol("D", positive=True, integer=True)):
    """The GD update of the moments as SymPy matrix expressions in ``P, Q, A, C`` (D x D
    MatrixSymbols) and ``e_u, e_v``: ``{"P": P', "Q": Q', "A": A'}``.

    Derived by writing the units as the columns of ``U, V`` (D x M): ``P = U U^T/(MD)``,
    ``Q = V V^T/(MD)``, ``A = V U^T/(MD)``; the update is ``U' = U - e_u C^T V``,
    ``V' = V - e_v C U``; expanding ``V' U'^T``, ``U' U'^T``, ``V' V'^T`` and replacing each
    product of two unit matrices by its moment gives the closed form.
    """
    P, Q, A, C, e_u, e_v = _symbols(D)
    # U' U'^T = U U^T - e_u (U V^T C + C^T V U^T) + e_u^2 C^T V V^T C, etc., divided by MD:
    # the moments of (U, V) enter only through P, Q, A, A^T.
    return {
        "A": A - e_v * C * P - e_u * Q * C + e_u * e_v * C * A.T * C,
        "P": P - e_u * (C.T * A + A.T * C) + e_u ** 2 * C.T * Q * C,
        "Q": Q - e_v * (C * A.T + A * C.T) + e_v ** 2 * C * P * C.T,
    }


def verify_moment_update(D: int = 2, M: int = 3) -> bool:
    """Check :func:`moment_update` entry by entry with explicit symbolic units (D x M each) and
    a symbolic ``C``; returns True when every entry of P', Q', A' agrees exactly."""
    U = sp.Matrix(D, M, lambda i, j: sp.Symbol(f"u_{i}{j}"))
    V = sp.Matrix(D, M, lambda i, j: sp.Symbol(f"v_{i}{j}"))
    Cm = sp.Matrix(D, D, lambda i, j: sp.Symbol(f"c_{i}{j}"))
    e_u, e_v = sp.symbols("e_u e_v", positive=True)
    Un, Vn = U - e_u * Cm.T * V, V - e_v * Cm * U
    k = sp.Integer(M * D)
    mom = {"P": U * U.T / k, "Q": V * V.T / k, "A": V * U.T / k}
    new = {"P": Un * Un.T / k, "Q": Vn * Vn.T / k, "A": Vn * Un.T / k}
    P, Q, A, C, eu, ev = _symbols(D)
    subs = {P: mom["P"], Q: mom["Q"], A: mom["A"], C: Cm, eu: e_u, ev: e_v}
    for name, expr in moment_update(D).items():
        val = sp.Matrix(expr.subs(subs).doit())
        if sp.expand(val - new[name]) != sp.zeros(D, D):
            return False
    return True


def mean_ode_rhs(D: int | sp.Symbol = sp.Symbol("D", positive=True, integer=True)):
    """Right-hand sides of the forward (in ``h``) and backward (in ``b``) Mean ODEs and of the
    propagators, as SymPy matrix expressions: ``{"h": alpha A h, "b": -alpha A^T b,
    "U": alpha A U, "V": -alpha V A}``."""
    A = sp.MatrixSymbol("A", D, D)
    h, b = sp.MatrixSymbol("h", D, 1), sp.MatrixSymbol("b", D, 1)
    U, V = sp.MatrixSymbol("U", D, D), sp.MatrixSymbol("V", D, D)
    a = sp.Symbol("alpha", positive=True)
    return {"h": a * A * h, "b": -a * A.T * b, "U": a * A * U, "V": -a * V * A}


def propagator_form(D: int = 2) -> bool:
    """Check that ``C(s) = V^T B U^T`` is constant-coefficient consistent: with ``h = U h0`` and
    ``b = V^T beta`` (``beta`` constant), ``d/ds (b h^T) = -alpha A^T b h^T + alpha b h^T A^T``
    follows from the propagator ODEs (exact symbolic check at dimension ``D``)."""
    s, a = sp.symbols("s alpha")
    A = sp.Matrix(D, D, lambda i, j: sp.Function(f"a_{i}{j}")(s))
    U = sp.Matrix(D, D, lambda i, j: sp.Function(f"U_{i}{j}")(s))
    V = sp.Matrix(D, D, lambda i, j: sp.Function(f"V_{i}{j}")(s))
    beta = sp.Matrix(D, 1, lambda i, j: sp.Symbol(f"beta_{i}"))
    h0 = sp.Matrix(D, 1, lambda i, j: sp.Symbol(f"x_{i}"))
    dU, dV = a * A * U, -a * V * A
    rep = {sp.Derivative(U[i, j], s): dU[i, j] for i in range(D) for j in range(D)}
    rep.update({sp.Derivative(V[i, j], s): dV[i, j] for i in range(D) for j in range(D)})
    Cs = V.T * beta * (U * h0).T
    lhs = Cs.diff(s).subs(rep)
    rhs = -a * A.T * Cs + a * Cs * A.T
    return sp.expand(lhs - rhs) == sp.zeros(D, D)
