"""Continuous-depth reference at init: the kernel ODE and the gradient-moment ODE.

docs/theory.md s3:

    dSigma/dt = beta^2 K_phi(Sigma),            Sigma(0) = Sigma_0,
    G_0 = G_1 exp(beta^2 int_0^1 E[phi'(h_u)^2] du),   G_1 = E[phi'(h_1)^2] (readout on phi).

Closed form for the linear activation (K(Sigma) = Sigma): Sigma(t) = Sigma_0 e^{beta^2 t},
G_0 = e^{beta^2}. Otherwise SciPy ``solve_ivp`` (DOP853) at tight tolerance on the upper
triangle of Sigma plus the running integral of E[phi'^2], in float64.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .kernel_recursion import (InitMoments, check_readout, derivative_kernel_diag, kernel_map,
                               output_kernel)

ODE_RTOL = 1e-12
ODE_ATOL = 1e-14


def kernel_ode(act: str, sigma0: np.ndarray, beta: float = 1.0, readout: str = "phi",
               t_end: float = 1.0, rtol: float = ODE_RTOL, atol: float = ODE_ATOL) -> InitMoments:
    """Solve the kernel and gradient-moment ODEs to depth-time ``t_end``."""
    check_readout(readout)
    sigma0 = np.asarray(sigma0, dtype=np.float64)
    p = sigma0.shape[0]
    if act == "linear":
        sigma = sigma0 * np.exp(beta ** 2 * t_end)
        g_last = np.ones(p)
        grad = g_last * np.exp(beta ** 2 * t_end)
        return InitMoments(sigma=sigma, output=output_kernel(act, sigma, readout), grad=grad)

    iu = np.triu_indices(p)

    def unpack(y: np.ndarray) -> np.ndarray:
        s = np.zeros((p, p))
        s[iu] = y[: len(iu[0])]
        return s + np.triu(s, 1).T

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        s = unpack(y)
        return np.concatenate([beta ** 2 * kernel_map(act, s)[iu],
                               beta ** 2 * derivative_kernel_diag(act, s)])

    y0 = np.concatenate([sigma0[iu], np.zeros(p)])
    sol = solve_ivp(rhs, (0.0, t_end), y0, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover - tight tolerances on smooth RHS
        raise RuntimeError(f"kernel ODE solve failed for {act}: {sol.message}")
    y = sol.y[:, -1]
    sigma = unpack(y)
    integral = y[len(iu[0]):]
    g_last = derivative_kernel_diag(act, sigma) if readout == "phi" else np.ones(p)
    return InitMoments(sigma=sigma, output=output_kernel(act, sigma, readout),
                       grad=g_last * np.exp(integral))
