"""Fixed input sets for init experiments (docs/theory.md s2: h_0 = U x / sqrt(d), Cov = x.x'/d).

The default set has three inputs in R^4 with different norms and both signs of correlation, so
the kernel recursion exercises diagonal, positively and negatively correlated entries.
"""

from __future__ import annotations

import numpy as np

DEFAULT_INPUTS: tuple[tuple[float, ...], ...] = (
    (1.0, 0.5, -0.5, 1.0),
    (0.8, 1.6, 0.4, 0.0),
    (-1.0, 0.3, 0.9, -0.6),
)


def input_matrix(inputs: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS) -> np.ndarray:
    """Inputs as a float64 array of shape (P, d)."""
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"inputs must be a non-empty (P, d) table, got shape {x.shape}")
    return x


def input_covariance(inputs: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS) -> np.ndarray:
    """Sigma_0 = X X^T / d, the covariance of h_0 at init (docs/theory.md s3)."""
    x = input_matrix(inputs)
    return x @ x.T / x.shape[1]
