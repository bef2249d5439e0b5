"""The fixed small regression task used by the training claims (docs/theory.md s2, s8).

Inputs are the three default inputs of :mod:`infdepth.numerics.inputs` (R^4, varied norms and
correlations), targets fixed; evaluation on the same inputs. SGD on one example per step
(step k uses example k mod 3), MSE loss, base learning rate ``ETA`` times the
parameterization's per-group factors, ``K`` steps unless a claim's suite says otherwise.
"""

from __future__ import annotations

from .inputs import DEFAULT_INPUTS, input_matrix

TARGETS: tuple[float, ...] = (0.5, -0.3, 0.8)
ETA = 0.5


def task_tensors(inputs: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS,
                 targets: tuple[float, ...] = TARGETS, dtype=None, device: str = "cpu"):
    """(X, y) as torch tensors of the given dtype (default float64) and device."""
    import torch
    dtype = torch.float64 if dtype is None else dtype
    X = torch.as_tensor(input_matrix(inputs), dtype=dtype, device=device)
    y = torch.as_tensor(targets, dtype=dtype, device=device)
    return X, y
