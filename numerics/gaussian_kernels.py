"""Gaussian expectations of activations, numeric entry points (THEORY.md s3).

    phiphi(act, s11, s22, s12)   = E[phi(u) phi(v)],   (u, v) ~ N(0, [[s11, s12], [s12, s22]])
    dphidphi(act, s11, s22, s12) = E[phi'(u) phi'(v)]

relu, erf and linear use the closed forms generated from SymPy
(``infdepth.theory.generated.gaussian_kernels``); tanh uses 2-D Gauss-Hermite quadrature on
the Cholesky factor of the covariance (``GH_NODES`` nodes per dimension).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import erf as _erf

from infdepth.theory.gaussian_expectations import ACTIVATIONS
from infdepth.theory.generated import gaussian_kernels as _gen
GH_NODES = 96


def _check(act):
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; allowed: {', '.join(ACTIVATIONS)}")


def phi(act, x):
    """The activation, on numpy arrays or torch tensors."""
    _check(act)
    t = isinstance(x, torch.Tensor)
    if act == "relu":
        return torch.relu(x) if t else np.maximum(x, 0.0)
    if act == "tanh":
        return torch.tanh(x) if t else np.tanh(x)
    if act == "erf":
        return torch.special.erf(x) if t else _erf(x)
    return x


def dphi(act, x):
    """The activation's derivative (relu: 1{x > 0}), on numpy arrays or torch tensors."""
    _check(act)
    t = isinstance(x, torch.Tensor)
    if act == "relu":
        return (x > 0).to(x.dtype) if t else (np.asarray(x) > 0).astype(float)
    if act == "tanh":
        return 1 - torch.tanh(x) ** 2 if t else 1 - np.tanh(x) ** 2
    if act == "erf":
        return 2 / np.sqrt(np.pi) * (torch.exp(-x * x) if t else np.exp(-np.square(x)))
    return torch.ones_like(x) if t else np.ones_like(np.asarray(x, dtype=float))


def _gh(f, s11, s22, s12):
    """E[f(u) f(v)] by tensor Gauss-Hermite: u = a z1, v = b z1 + c z2, z ~ N(0, I)."""
    z, w = np.polynomial.hermite_e.hermegauss(GH_NODES)
    w = w / w.sum()
    s11, s22, s12 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (s11, s22, s12)))
    a = np.sqrt(s11)[..., None, None]
    b = np.where(s11 > 0, s12 / np.sqrt(np.where(s11 > 0, s11, 1)), 0)[..., None, None]
    c = np.sqrt(np.maximum(s22 - np.square(b[..., 0, 0]), 0))[..., None, None]
    z1, z2 = z[:, None], z[None, :]
    return np.sum(np.outer(w, w) * f(a * z1) * f(b * z1 + c * z2), axis=(-1, -2))


def _broadcast(*args):
    return np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))


def phiphi(act, s11, s22, s12):
    """E[phi(u) phi(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]), broadcasting."""
    _check(act)
    s11, s22, s12 = _broadcast(s11, s22, s12)
    if act == "tanh":
        return _gh(np.tanh, s11, s22, s12)
    return getattr(_gen, f"{act}_phiphi")(s11, s22, s12)


def dphidphi(act, s11, s22, s12):
    """E[phi'(u) phi'(v)], broadcasting."""
    _check(act)
    s11, s22, s12 = _broadcast(s11, s22, s12)
    if act == "tanh":
        return _gh(lambda x: 1 - np.tanh(x) ** 2, s11, s22, s12)
    return getattr(_gen, f"{act}_dphidphi")(s11, s22, s12)
