"""Exact reference for Model B with linear activation: the Neural Mean ODE's closed
second-moment system (docs/theory.md s6; derivation and symbolic checks in
:mod:`infdepth.theory.mean_ode_linear`).

:func:`solve_mean_ode_linear` integrates, for each GD step k = 0..K, the propagators
``U_j(s)`` (``U' = alpha A_j U``) and ``V_j(s) = U_j^{-1}`` (``V' = -alpha V A_j``) of the steps
j <= k with ``scipy.integrate.solve_ivp`` over s in [0, 1]. At each s the drift matrices are
rebuilt from the moment recursion ``(P, Q, A)_0 = (I, I, 0)``,
``(P, Q, A)_{j+1} = update((P, Q, A)_j, C_j(s))`` with ``C_j(s) = V_j(s)^T B_j U_j(s)^T``; the
constant ``B_k = U_k(1)^T sum_x b_k(1,x) h_0(x)^T`` is known once step k's pass has reached s = 1.
Seeds (different ``W_in``, ``W_out``) are batched in one state vector.

:func:`train_moments_discrete` is the same recursion on a depth-L grid (Euler products
``prod_l (I + alpha A_l / L)``) from given per-block moments: it reproduces the finite linear
network of :mod:`infdepth.numerics.hidden_width` exactly (any L, M), a check of the derivation.

Both take the named ``convention`` of the network (:mod:`infdepth.numerics.hw_conventions`,
docs/theory.md s6 "The authors' own setting"): it sets the loss normalizer ``n`` of the adjoint
at the top, ``b(1) = (f - y) W_out^T / (D n)`` (``n = N``, or ``N d_out`` under ``"authors"``),
and which steps are recorded (``0..K``, or ``0..K-1``); the std of ``W_out`` is that of the
``W_out`` passed in (drawn by :func:`~infdepth.numerics.hidden_width.init_weights` under the same
convention).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from infdepth.validators import nonneg_int, positive_number

from .hw_conventions import DEFAULT, convention as _convention

__all__ = ["moment_update", "solve_mean_ode_linear", "train_moments_discrete"]


def _T(x):
    return np.swapaxes(x, -1, -2)


def _np(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().double().numpy()
    return np.asarray(t, dtype=np.float64)


def moment_update(P, Q, A, C, e_u: float, e_v: float):
    """One GD step of the unit moments (docs/theory.md s6; :func:`infdepth.theory.mean_ode_linear.
    moment_update`), batched over leading axes."""
    CT, AT = _T(C), _T(A)
    A2 = A - e_v * C @ P - e_u * Q @ C + e_u * e_v * C @ AT @ C
    P2 = P - e_u * (CT @ A + AT @ C) + e_u ** 2 * CT @ Q @ C
    Q2 = Q - e_v * (C @ AT + A @ CT) + e_v ** 2 * C @ P @ CT
    return P2, Q2, A2


def _readout(W_out, h, Y, D, n):
    """f = W_out^T h / D and the adjoint at the top b(1) = (f - y) W_out^T / (D n), ``n`` the
    loss normalizer."""
    f = np.einsum("sdo,snd->sno", W_out, h) / D
    b = np.einsum("sno,sdo->snd", f - Y[None], W_out) / (D * n)
    return f, b


def solve_mean_ode_linear(W_in, W_out, X, Y, *, alpha: float = 1.0, eta_u: float = 1.0,
                          eta_v: float = 1.0, K: int = 15, rtol: float = 1e-10,
                          atol: float = 1e-12, method: str = "DOP853",
                          convention: str = DEFAULT) -> dict[str, np.ndarray]:
    """Mean-ODE limit (L -> infinity, LM -> infinity) of K GD steps of the linear [HW] 2LP
    ResNet, per seed of ``W_in`` (S, D, d_in) and ``W_out`` (S, D, d_out) (arrays or tensors).

    Returns ``f`` (S, R, N, d_out), ``h_L`` (S, R, N, D), ``loss`` (S, R) at the steps the
    ``convention`` records (``"default"``: 0..K, R = K+1; ``"authors"``: 0..K-1, R = K; step k
    before the (k+1)-th update), with the loss ``(1/(2n)) sum_x |f - y|^2`` (module docstring).
    """
    W_in, W_out, X, Y = (_np(t) for t in (W_in, W_out, X, Y))
    if W_in.ndim != 3 or W_out.ndim != 3 or W_in.shape[:2] != W_out.shape[:2]:
        raise ValueError(f"W_in, W_out must be (S, D, d_in), (S, D, d_out), got {W_in.shape}, "
                         f"{W_out.shape}")
    positive_number("alpha", alpha)
    nonneg_int("K", K, integral=True)
    rules = _convention(convention)
    S, D, _ = W_in.shape
    n = rules.loss_count(X.shape[0], Y.shape[1])
    e_u, e_v = eta_u / alpha, eta_v / alpha
    h0 = np.einsum("sdi,ni->snd", W_in, X)
    eye = np.broadcast_to(np.eye(D), (S, D, D))
    Bs: list[np.ndarray] = []
    fs, hs, losses = [], [], []
    for k in range(rules.recorded_steps(K)):
        nk = k + 1

        def rhs(s, y, nk=nk):
            UV = y.reshape(nk, 2, S, D, D)
            dUV = np.empty_like(UV)
            P, Q, A = eye, eye, np.zeros((S, D, D))
            for j in range(nk):
                U, V = UV[j, 0], UV[j, 1]
                dUV[j, 0] = alpha * A @ U
                dUV[j, 1] = -alpha * V @ A
                if j < nk - 1:
                    C = _T(V) @ Bs[j] @ _T(U)
                    P, Q, A = moment_update(P, Q, A, C, e_u, e_v)
            return dUV.ravel()

        y0 = np.broadcast_to(np.eye(D), (nk, 2, S, D, D)).ravel().copy()
        sol = solve_ivp(rhs, (0.0, 1.0), y0, method=method, rtol=rtol, atol=atol, t_eval=[1.0])
        if not sol.success:
            raise RuntimeError(f"mean ODE solve failed at step {k}: {sol.message}")
        U1 = sol.y[:, -1].reshape(nk, 2, S, D, D)[k, 0]
        h1 = np.einsum("sde,sne->snd", U1, h0)
        f, b1 = _readout(W_out, h1, Y, D, n)
        Bs.append(_T(U1) @ np.einsum("snd,sne->sde", b1, h0))
        fs.append(f)
        hs.append(h1)
        losses.append(0.5 * ((f - Y[None]) ** 2).sum(axis=(1, 2)) / n)
    return {"f": np.stack(fs, 1), "h_L": np.stack(hs, 1), "loss": np.stack(losses, 1)}


def train_moments_discrete(P, Q, A, W_in, W_out, X, Y, *, alpha: float = 1.0,
                           eta_u: float = 1.0, eta_v: float = 1.0, K: int = 15,
                           convention: str = DEFAULT) -> dict[str, np.ndarray]:
    """K GD steps of the linear [HW] network written in per-block moments ``P, Q, A``
    (S, L, D, D): ``h_l = (I + alpha A_l / L) h_{l-1}``, adjoint ``g_{l-1} = (I + alpha A_l/L)^T
    g_l``, ``C_l = sum_x g_l h_{l-1}^T``, then :func:`moment_update` per block. Same outputs
    (and ``convention``) as :func:`solve_mean_ode_linear`."""
    P, Q, A, W_in, W_out, X, Y = (_np(t) for t in (P, Q, A, W_in, W_out, X, Y))
    S, L, D, _ = A.shape
    rules = _convention(convention)
    n = rules.loss_count(X.shape[0], Y.shape[1])
    e_u, e_v = eta_u / alpha, eta_v / alpha
    h0 = np.einsum("sdi,ni->snd", W_in, X)
    fs, hs, losses = [], [], []
    for k in range(rules.recorded_steps(K)):
        T = np.eye(D) + alpha * A / L                          # (S, L, D, D)
        stream = [h0]
        for l in range(L):
            stream.append(np.einsum("sde,sne->snd", T[:, l], stream[-1]))
        f, g = _readout(W_out, stream[-1], Y, D, n)
        fs.append(f)
        hs.append(stream[-1])
        losses.append(0.5 * ((f - Y[None]) ** 2).sum(axis=(1, 2)) / n)
        if k == K:
            break
        C = np.empty_like(A)
        for l in range(L - 1, -1, -1):
            C[:, l] = np.einsum("snd,sne->sde", g, stream[l])
            g = np.einsum("sed,sne->snd", T[:, l], g)
        P, Q, A = moment_update(P, Q, A, C, e_u, e_v)
    return {"f": np.stack(fs, 1), "h_L": np.stack(hs, 1), "loss": np.stack(losses, 1)}
