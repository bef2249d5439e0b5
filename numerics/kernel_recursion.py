"""Infinite-width, depth-L network at init: the exact Euler scheme of the kernel ODE.

docs/theory.md s3: at infinite width the pre-activations of Model A1 at init are Gaussian with

    Sigma_l = Sigma_{l-1} + (beta^2 / L) K_phi(Sigma_{l-1}),     l = 1..L,
    K_phi(Sigma)_{ab} = E[phi(u_a) phi(u_b)],  u ~ N(0, Sigma),

and the gradient second moments (``g = n df/dh``, independent readout ``v``) obey

    G_L = E[phi'(h_L)^2]   (readout on phi(h_L); 1 for the linear readout on h_L)
    G_{l-1} = G_l (1 + (beta^2 / L) E[phi'(h_{l-1})^2]).

These are exactly the forward-Euler steps (with step 1/L) of the kernel ODE and of the
gradient-moment ODE solved in :mod:`infdepth.numerics.kernel_ode`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infdepth.validators import choice, positive_int

from .gaussian_kernels import dphidphi, phiphi

READOUTS = ("phi", "linear")


def kernel_map(act: str, sigma: np.ndarray) -> np.ndarray:
    """K_phi(Sigma): the matrix of E[phi(u_a) phi(u_b)] for u ~ N(0, Sigma)."""
    d = np.diag(sigma)
    return phiphi(act, d[:, None], d[None, :], sigma)


def derivative_kernel_diag(act: str, sigma: np.ndarray) -> np.ndarray:
    """E[phi'(u_a)^2] for each input a."""
    d = np.diag(sigma)
    return dphidphi(act, d, d, d)


def output_kernel(act: str, sigma: np.ndarray, readout: str = "phi") -> np.ndarray:
    """Infinite-width output kernel: E[phi(h_a) phi(h_b)] (readout on phi) or Sigma (linear)."""
    check_readout(readout)
    return kernel_map(act, sigma) if readout == "phi" else np.array(sigma, copy=True)


def check_readout(readout: str) -> None:
    choice("readout", readout, READOUTS)


def check_depth(L: int) -> int:
    return positive_int("depth L", L, integral=True)


@dataclass(frozen=True)
class InitMoments:
    """Kernel and gradient statistics of a network at init (any of: recursion, ODE, Monte Carlo).

    ``sigma`` -- Sigma at the last layer (P x P); ``output`` -- output kernel (P x P);
    ``grad`` -- G_0 = E[g_0^2] per input (P,).
    """

    sigma: np.ndarray
    output: np.ndarray
    grad: np.ndarray


def depth_recursion(act: str, sigma0: np.ndarray, L: int, beta: float = 1.0,
                    readout: str = "phi") -> InitMoments:
    """Run the depth-L recursion from Sigma_0 and return the final moments (docs/theory.md s3)."""
    L = check_depth(L)
    check_readout(readout)
    step = beta ** 2 / L
    sigma = np.array(sigma0, dtype=np.float64, copy=True)
    log_growth = np.zeros(sigma.shape[0])  # sum_l log(1 + step * E[phi'(h_{l-1})^2])
    for _ in range(L):
        log_growth += np.log1p(step * derivative_kernel_diag(act, sigma))
        sigma = sigma + step * kernel_map(act, sigma)
    g_last = derivative_kernel_diag(act, sigma) if readout == "phi" else np.ones(sigma.shape[0])
    return InitMoments(sigma=sigma, output=output_kernel(act, sigma, readout),
                       grad=g_last * np.exp(log_growth))
