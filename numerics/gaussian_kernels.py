"""Gaussian expectations of the activations, numeric entry points (docs/theory.md s3).

For ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])``::

    phiphi(act, s11, s22, s12)   = E[phi(u) phi(v)]      (drives dSigma/dt = beta^2 E[phi phi])
    dphidphi(act, s11, s22, s12) = E[phi'(u) phi'(v)]    (drives the gradient second moment)

Activations whose registry entry (:mod:`~infdepth.numerics.activations`) has ``closed_form``
(relu, erf, linear) call the closed forms generated from SymPy
(:mod:`infdepth.theory.generated.gaussian_kernels`, derived and verified in
:mod:`infdepth.theory.gaussian_expectations`); the others (tanh), without a closed form, are
integrated with the entry's ``phi``/``phi'`` (and ``pole_distance``) on the Cholesky factor
of the covariance, by tensor Gauss-Hermite quadrature
(:func:`gauss_hermite_expectation`, :data:`DEFAULT_NODES` nodes per dimension; the default) or
by a variance-adaptive trapezoid rule (:func:`trapezoid_expectation`, ``method="trapezoid"``,
accurate to ~1e-15 at every variance). Arguments broadcast like numpy ufuncs; results are
float64 arrays of the broadcast shape.

The pointwise :func:`phi` and :func:`dphi` are those of :mod:`~infdepth.numerics.activations`
(re-exported here).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from infdepth.theory.gaussian_expectations import KINDS
from infdepth.theory.generated import gaussian_kernels as _generated
from infdepth.validators import choice, positive_int, positive_number

from .activations import ACTIVATION_NAMES, activation, check_activation, dphi, phi

#: Names of the registered activations (:mod:`~infdepth.numerics.activations`).
ACTIVATIONS = ACTIVATION_NAMES

#: Gauss-Hermite nodes per dimension for the quadrature (tanh).
DEFAULT_NODES = 96
#: Alias of :data:`DEFAULT_NODES`.
GH_NODES = DEFAULT_NODES
#: Quadrature rules for activations without a closed form (tanh); see :func:`expectation`.
METHODS = ("hermite", "trapezoid")
#: The rule used unless ``method=`` is given.
DEFAULT_METHOD = "trapezoid"
#: The trapezoid rule integrates z in [-TRAPEZOID_ZMAX, TRAPEZOID_ZMAX] (tail mass ~1e-20).
TRAPEZOID_ZMAX = 9.5
#: Quadrature grids are evaluated in chunks of at most this many points (memory bound).
CHUNK_POINTS = 1 << 22
#: Relative slack allowed in ``s12^2 <= s11 s22`` before a covariance is rejected.
PSD_RTOL = 1e-6

# -------------------------------------------------------------------------------------------
# Quadrature
# -------------------------------------------------------------------------------------------

def _broadcast(*args) -> list[np.ndarray]:
    return np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))


def check_covariance(s11: np.ndarray, s22: np.ndarray, s12: np.ndarray) -> None:
    """Raise ``ValueError`` unless every ``[[s11, s12], [s12, s22]]`` is positive semi-definite
    (variances >= 0 and ``s12^2 <= s11 s22`` up to a relative :data:`PSD_RTOL`). NaNs pass."""
    if np.any(s11 < 0) or np.any(s22 < 0):
        raise ValueError("variances s11 and s22 must be non-negative")
    if np.any(s12 * s12 > s11 * s22 * (1 + PSD_RTOL) + 1e-300):
        raise ValueError("covariance is not positive semi-definite: s12^2 > s11*s22 somewhere")


@lru_cache(maxsize=16)
def _hermite_rule(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(z)], z ~ N(0, 1) (probabilists' Hermite, weights sum to 1)."""
    positive_int("nodes", nodes)
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return z, w / np.sqrt(2 * np.pi)


def _cholesky(s11: np.ndarray, s22: np.ndarray, s12: np.ndarray):
    """Flattened ``(a, b, c)`` with ``u = a z1, v = b z1 + c z2`` (see
    :func:`gauss_hermite_expectation` for the degenerate cases)."""
    a = np.sqrt(s11).ravel()
    pos = a > 0
    b = np.where(pos, s12.ravel() / np.where(pos, a, 1.0), 0.0)
    c = np.sqrt(np.maximum(s22.ravel() - b * b, 0.0))
    return a, b, c


def _tensor_rule(f, a, b, c, z, w) -> np.ndarray:
    """``sum_ij w_i w_j f(a z_i, b z_i + c z_j)`` for every batch entry, in chunks."""
    out = np.empty(a.shape, dtype=np.float64)
    n = len(z)
    chunk = max(1, CHUNK_POINTS // (n * n))
    z_row, z_col = z[None, :, None], z[None, None, :]
    for start in range(0, a.size, chunk):
        sl = slice(start, start + chunk)
        u = a[sl, None, None] * z_row
        v = b[sl, None, None] * z_row + c[sl, None, None] * z_col
        vals = np.broadcast_to(f(u, v), v.shape)
        out[sl] = (vals @ w) @ w
    return out


def gauss_hermite_expectation(f: Callable[[np.ndarray, np.ndarray], np.ndarray],
                              s11, s22, s12, *, nodes: int = DEFAULT_NODES) -> np.ndarray:
    """``E[f(u, v)]`` for ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])`` by tensor Gauss-Hermite
    quadrature (docs/theory.md s3: "tanh needs quadrature").

    With the Cholesky factor ``u = a z1, v = b z1 + c z2`` (``a = sqrt(s11)``, ``b = s12/a``,
    ``c = sqrt(s22 - b^2)``, clipped at 0 so that ``s12^2 = s11 s22`` is exact; ``a = 0``
    gives ``b = 0, c = sqrt(s22)``) and ``z ~ N(0, I)``::

        E[f(u, v)] ~= sum_ij w_i w_j f(a z_i, b z_i + c z_j)

    with ``nodes`` probabilists' Hermite nodes per dimension (at most about 300: numpy's rule
    overflows beyond). Exact for polynomials of degree ``< 2 nodes`` in each variable; converges
    fast for entire ``f`` of moderate width (erf), only algebraically for kinks (relu). For tanh
    the accuracy depends on the variance because tanh(u) has poles at ``u = +-i pi/2``: with 96
    nodes the error of ``E[tanh tanh]`` / ``E[tanh' tanh']`` is ~1e-16 at variance 0.5, ~1e-10 /
    4e-9 at variance 1, ~1e-7 / 3e-6 at variance 2, ~2e-5 / 2e-4 at variance 4 (worst case,
    correlation near 1); :func:`trapezoid_expectation` stays near 1e-15 at any variance.
    ``f(u, v)`` must broadcast: it is called with ``u`` of shape ``(B, N, 1)`` and ``v`` of shape
    ``(B, N, N)``. Covariance arguments broadcast; the batch is processed in chunks of at most
    :data:`CHUNK_POINTS` grid points.
    """
    s11, s22, s12 = _broadcast(s11, s22, s12)
    check_covariance(s11, s22, s12)
    z, w = _hermite_rule(int(nodes))
    return _tensor_rule(f, *_cholesky(s11, s22, s12), z, w).reshape(s11.shape)


def trapezoid_expectation(f: Callable[[np.ndarray, np.ndarray], np.ndarray],
                          s11, s22, s12, *, pole_distance: float = np.pi / 2,
                          step: float | None = None) -> np.ndarray:
    """``E[f(u, v)]`` for ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])`` by the trapezoid rule on
    a uniform grid in the Cholesky coordinates ``z`` (docs/theory.md s3, tanh).

    For ``f`` analytic in the strip ``|Im u|, |Im v| < pole_distance`` (tanh: ``pi/2``) the
    trapezoid rule with the Gaussian weight converges geometrically, error about
    ``exp(-2 pi d / step)`` with ``d = pole_distance / A`` the pole distance in ``z`` and
    ``A = max(a, |b| + c)``; the default ``step = min(0.5, 2 pi pole_distance / (40 A_max))``
    makes that ~1e-17 for every variance (at a cost of about ``76 A_max`` points per dimension,
    ``A_max`` the largest over the batch), whereas Gauss-Hermite with a fixed node count loses
    accuracy as the variance grows. ``z`` spans ``[-9.5, 9.5]``. Same ``f`` convention and
    degenerate-covariance handling as :func:`gauss_hermite_expectation`.
    """
    s11, s22, s12 = _broadcast(s11, s22, s12)
    check_covariance(s11, s22, s12)
    a, b, c = _cholesky(s11, s22, s12)
    if step is None:
        A = float(np.max(np.maximum(a, np.abs(b) + c), initial=0.0))
        step = 0.5 if A == 0 else min(0.5, 2 * np.pi * pole_distance / (40 * A))
    positive_number("step", step)
    k = int(np.ceil(TRAPEZOID_ZMAX / step))
    z = step * np.arange(-k, k + 1, dtype=np.float64)
    w = step * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    return _tensor_rule(f, a, b, c, z, w).reshape(s11.shape)


# -------------------------------------------------------------------------------------------
# Kernels
# -------------------------------------------------------------------------------------------

def expectation(act: str, kind: str, s11, s22, s12, *, nodes: int = DEFAULT_NODES,
                method: str | None = None, validate: bool = True) -> np.ndarray:
    """``E[phi(u) phi(v)]`` (``kind="phiphi"``) or ``E[phi'(u) phi'(v)]`` (``"dphidphi"``).

    Closed forms (relu, erf, linear) come from the generated module; tanh is integrated by
    ``method`` (default :data:`DEFAULT_METHOD`): ``"hermite"``,
    :func:`gauss_hermite_expectation` with ``nodes`` nodes per dimension, or ``"trapezoid"``,
    :func:`trapezoid_expectation` (accurate to ~1e-15 at every variance; see the accuracy notes
    there). ``nodes`` and ``method`` are ignored for closed forms. relu with a zero variance
    (``s11 s22 = 0``) returns 0 for both kinds (``u = 0`` almost surely, relu(0) = 0 and
    relu'(0) = 0). ``validate`` checks positive semi-definiteness (:func:`check_covariance`;
    always on for quadrature).
    """
    check_activation(act)
    choice("kind", kind, KINDS)
    method = choice("method", DEFAULT_METHOD if method is None else method, METHODS)
    s11, s22, s12 = _broadcast(s11, s22, s12)
    entry = activation(act)
    if not entry.closed_form:  # tanh: quadrature with the registry's numpy phi / phi'
        g = entry.phi_numpy if kind == "phiphi" else entry.dphi_numpy
        f = lambda u, v: g(u) * g(v)  # noqa: E731
        if method == "trapezoid":
            return trapezoid_expectation(f, s11, s22, s12, pole_distance=entry.pole_distance)
        return gauss_hermite_expectation(f, s11, s22, s12, nodes=nodes)
    if validate:
        check_covariance(s11, s22, s12)
    fn = _generated.KERNELS[(act, kind)]
    if act == "relu":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.asarray(fn(s11, s22, s12), dtype=np.float64)
        degenerate = (s11 == 0) | (s22 == 0)
        if np.any(degenerate):
            out = np.where(degenerate, 0.0, out)
        return out
    return np.asarray(fn(s11, s22, s12), dtype=np.float64)


def phiphi(act: str, s11, s22, s12, *, nodes: int = DEFAULT_NODES, method: str | None = None,
           validate: bool = True) -> np.ndarray:
    """``E[phi(u) phi(v)]`` for ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])`` (docs/theory.md s3):
    arc-cosine kernel (relu), arcsine kernel (erf), ``s12`` (linear), quadrature (tanh).
    Broadcasts; float64 result. See :func:`expectation`."""
    return expectation(act, "phiphi", s11, s22, s12, nodes=nodes, method=method,
                       validate=validate)


def dphidphi(act: str, s11, s22, s12, *, nodes: int = DEFAULT_NODES, method: str | None = None,
             validate: bool = True) -> np.ndarray:
    """``E[phi'(u) phi'(v)]`` for ``(u, v) ~ N(0, [[s11, s12], [s12, s22]])`` (docs/theory.md s3):
    ``(pi - th)/(2 pi)`` (relu), ``(4/pi)/sqrt((1+2 s11)(1+2 s22) - 4 s12^2)`` (erf), 1
    (linear), quadrature (tanh). Broadcasts; float64 result. See :func:`expectation`."""
    return expectation(act, "dphidphi", s11, s22, s12, nodes=nodes, method=method,
                       validate=validate)


__all__ = [
    "ACTIVATIONS", "DEFAULT_NODES", "GH_NODES", "check_activation", "check_covariance",
    "METHODS", "DEFAULT_METHOD", "phi", "dphi", "gauss_hermite_expectation",
    "trapezoid_expectation", "expectation", "phiphi", "dphidphi",
]
