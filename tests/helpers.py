"""The one helper every test uses for observed convergence orders and rates, the synthetic data
and references the tests share (power-law samples, random covariances, the exact linear Mean
ODE), and the labels of a claim's variants.

``observed_order(sizes, errors)`` is the least-squares slope of ``log(error)`` on ``log(size)``
(negative for a decaying error: ``-1`` for O(1/L)); ``pairwise_orders`` the slopes between
consecutive sizes (a rate that bends shows there); ``assert_order`` checks both against an
expected order with stated tolerances and prints the data when it fails.
``roundoff_sensitivity`` measures how far a float64 computation moves when its input moves by
round-off: the floor of any agreement between two devices or summation orders.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def observed_order(sizes: Sequence[float], errors: Sequence[float]) -> float:
    """Least-squares slope of ``log(errors)`` on ``log(sizes)``."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(errors, float))
    if x.size < 2 or not np.all(np.isfinite(y)):
        raise ValueError(f"need >= 2 positive finite errors, got {list(errors)}")
    return float(np.polyfit(x, y, 1)[0])


def pairwise_orders(sizes: Sequence[float], errors: Sequence[float]) -> np.ndarray:
    """Slopes ``log(e_{i+1}/e_i) / log(s_{i+1}/s_i)`` between consecutive sizes."""
    s, e = np.asarray(sizes, float), np.asarray(errors, float)
    return np.diff(np.log(e)) / np.diff(np.log(s))


def assert_order(sizes: Sequence[float], errors: Sequence[float], expected: float, tol: float,
                 *, pairwise_tol: float | None = None) -> float:
    """Assert the observed order is ``expected +- tol`` (and, with ``pairwise_tol``, every
    pairwise slope too); returns the observed order."""
    q = observed_order(sizes, errors)
    msg = f"sizes {list(sizes)}, errors {list(errors)}: order {q:+.3f}, expected {expected:+g}"
    assert abs(q - expected) <= tol, msg + f" +- {tol}"
    if pairwise_tol is not None:
        pw = pairwise_orders(sizes, errors)
        assert np.all(np.abs(pw - expected) <= pairwise_tol), \
            msg + f"; pairwise {np.round(pw, 3).tolist()} not within +- {pairwise_tol}"
    return q


def power_law_samples(sizes: Sequence[float], slope: float, seeds: int, *, scale: float = 1.0,
                      noise: float = 0.05, rng_seed: int = 0) -> list[np.ndarray]:
    """Per-seed samples ``scale * size^slope * exp(noise * z)``: synthetic data of known slope
    (log-normal seed scatter), one array of ``seeds`` values per size."""
    rng = np.random.default_rng(rng_seed)
    return [scale * float(s) ** slope * np.exp(noise * rng.standard_normal(seeds))
            for s in sizes]


def random_covariances(n: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s11, s22, s12)``: ``n`` random 2x2 covariances, variances in [0.05, 5] and correlations
    in [-0.99, 0.99]."""
    rng = np.random.default_rng(seed)
    s11 = rng.uniform(0.05, 5.0, n)
    s22 = rng.uniform(0.05, 5.0, n)
    rho = rng.uniform(-0.99, 0.99, n)
    return s11, s22, rho * np.sqrt(s11 * s22)


def variant_labels(claim, suite: str, overrides=None) -> list[str]:
    """The labels of the variants ``claim`` reports in ``suite`` (under ``overrides``, default
    none)."""
    from infdepth.validation.claims import Overrides
    return [v.label for v in claim.variants(claim.sweep(suite), overrides or Overrides())]


def linear_mean_ode_reference(S: int, K: int, eta: float = 0.2):
    """``(X, Y, w, ref)``: the typical [HW] data, ``W_in``/``W_out`` of ``S`` seeds (D = 5) in
    ``w`` and the exact linear Mean ODE ``ref`` after ``K`` GD steps, rate ``eta`` on u and v."""
    from infdepth.numerics.hidden_width import HWConfig, hw_data, init_weights
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
    X, Y = hw_data()
    w = init_weights(HWConfig(D=5, L=1, M=1, n_seeds=S), 5, 5)
    ref = solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, K=K, eta_u=eta, eta_v=eta)
    return X, Y, w, ref


def roundoff_sensitivity(fn: Callable, x, *, rel: float = 1e-15, trials: int = 3,
                         seed: int = 0) -> float:
    """Largest relative change (2-norm) of ``fn(x)`` when the float64 tensor ``x`` is multiplied
    entrywise by ``1 + rel * N(0, 1)``, over ``trials`` perturbations: a computation whose answer
    moves by ``s`` under a round-off perturbation of its input cannot be asked to agree across
    devices (other summation orders, other library kernels) to better than about ``s``."""
    import torch
    ref = fn(x).detach().double()
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for _ in range(trials):
        xp = x * (1 + rel * torch.randn(x.shape, dtype=x.dtype, generator=g))
        out = fn(xp).detach().double()
        worst = max(worst, float((out - ref).norm() / ref.norm()))
    return worst
