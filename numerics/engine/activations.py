"""Activation table of the training engine (THEORY.md s1: relu, tanh, erf, linear).

Self-contained on purpose (the engine does not depend on the Gaussian-kernel module). Every
function works on torch tensors of any dtype/device and keeps them.
"""

from __future__ import annotations

import math

import torch

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _relu(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp_min(x, 0.0)


def _drelu(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype)


def _dtanh(x: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(x)
    return 1.0 - t * t


def _derf(x: torch.Tensor) -> torch.Tensor:
    return _TWO_OVER_SQRT_PI * torch.exp(-x * x)


def _dlinear(x: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(x)


#: name -> (phi, phi')
ACTIVATIONS: dict[str, tuple] = {
    "relu": (_relu, _drelu),
    "tanh": (torch.tanh, _dtanh),
    "erf": (torch.erf, _derf),
    "linear": (lambda x: x, _dlinear),
}

ACTIVATION_NAMES: tuple[str, ...] = tuple(ACTIVATIONS)


def check_activation(act: str) -> str:
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; allowed: {', '.join(ACTIVATION_NAMES)}")
    return act


def phi(act: str, x: torch.Tensor) -> torch.Tensor:
    """phi(x) for the named activation."""
    return ACTIVATIONS[check_activation(act)][0](x)


def dphi(act: str, x: torch.Tensor) -> torch.Tensor:
    """phi'(x) for the named activation (relu'(0) := 0)."""
    return ACTIVATIONS[check_activation(act)][1](x)
