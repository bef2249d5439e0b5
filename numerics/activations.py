"""The activations of the toolkit (docs/theory.md s1): the one registry of the numerics layer.

Each entry of :data:`ACTIVATIONS` holds ``phi`` and ``phi'`` for numpy arrays and for torch
tensors, and says how its Gaussian expectations ``E[phi(u) phi(v)]``, ``E[phi'(u) phi'(v)]``
(docs/theory.md s3) are evaluated: from the closed forms that SymPy derives and verifies in
:mod:`infdepth.theory.gaussian_expectations` and that :mod:`infdepth.theory.generated.
gaussian_kernels` holds (``closed_form=True``), or by quadrature in
:mod:`~infdepth.numerics.gaussian_kernels` (``closed_form=False``; ``pole_distance`` is the
half-width of the strip around the real axis where ``phi`` is analytic, which sets the
trapezoid rule's step).

**Adding an activation** is one entry here plus its derivation in theory: ``phi_expr`` /
``dphi_expr`` (and, for a closed form, ``phiphi_expr`` / ``dphidphi_expr`` with their symbolic
checks and a regenerated ``theory/generated``) in ``theory/gaussian_expectations.py``, whose
``ACTIVATIONS`` must list the same names in the same order (``tests/numerics/test_activations.py``
checks both, and that every ``phi``/``phi'`` here agrees with the lambdified SymPy
expressions).

Conventions: relu' = 1{x > 0} (0 at the kink); erf is the plain error function, erf' =
2/sqrt(pi) exp(-x^2); tanh' = 1 - t*t with t = tanh(x) (bit-identical to 1 - tanh(x)**2 in numpy
and torch). Every function returns a new array/tensor (linear included) of the input's dtype
(numpy: non-float input becomes float64) and, for torch, on the input's device; the torch
functions are differentiable by autograd (relu's autograd derivative at 0 is 0, like ``dphi``).

    from infdepth.numerics.activations import phi, dphi, phi_dphi, check_activation
    phi("tanh", x); dphi("relu", x); t, dt = phi_dphi("tanh", x)    # numpy or torch
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.special
import torch

from infdepth.validators import choice

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# a numpy float64 scalar: numpy then evaluates erf' of float32 arrays in float64 and rounds once
_TWO_OVER_SQRT_PI_NP = 2.0 / np.sqrt(np.pi)


@dataclass(frozen=True)
class Activation:
    """One activation: pointwise functions and how its Gaussian expectations are computed."""

    name: str
    phi_torch: Callable[[torch.Tensor], torch.Tensor]
    dphi_torch: Callable[[torch.Tensor], torch.Tensor]
    phi_numpy: Callable[[np.ndarray], np.ndarray]
    dphi_numpy: Callable[[np.ndarray], np.ndarray]
    #: True: E[phi phi], E[phi' phi'] come from theory/generated/gaussian_kernels.py (SymPy).
    closed_form: bool
    #: Quadrature only: phi is analytic for |Im x| < pole_distance (trapezoid step size).
    pole_distance: float | None = None
    #: Optional fused ``x -> (phi(x), phi'(x))`` sharing work (torch); default: both calls.
    phi_dphi_torch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
    #: Optional ``t -> phi'(x)`` from ``t = phi(x)`` (numpy or torch), the numbers ``dphi``
    #: computes; default: ``dphi`` of ``x`` (:func:`dphi_given`).
    dphi_from_phi: Callable | None = None


# -- relu ------------------------------------------------------------------------------------

def _drelu_torch(x):
    return (x > 0).to(x.dtype)


def _relu_numpy(x):
    return np.maximum(x, 0)


def _drelu_numpy(x):
    return (x > 0).astype(x.dtype)


# -- tanh ------------------------------------------------------------------------------------

def _dtanh_from_tanh(t):
    """tanh' from ``t = tanh(x)``: ``1 - t*t`` (numpy or torch)."""
    return 1.0 - t * t


def _dtanh_torch(x):
    return _dtanh_from_tanh(torch.tanh(x))


def _tanh_dtanh_torch(x):
    t = torch.tanh(x)
    return t, _dtanh_from_tanh(t)


def _dtanh_numpy(x):
    return _dtanh_from_tanh(np.tanh(x))


# -- erf -------------------------------------------------------------------------------------

def _derf_torch(x):
    return _TWO_OVER_SQRT_PI * torch.exp(-x * x)


def _derf_numpy(x):
    return (_TWO_OVER_SQRT_PI_NP * np.exp(-x * x)).astype(x.dtype, copy=False)


# -- linear ----------------------------------------------------------------------------------

def _copy(x):
    return x.clone() if isinstance(x, torch.Tensor) else x.copy()


#: name -> :class:`Activation`, in the order of docs/theory.md s1 (and of the error messages).
ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (
        Activation("relu", torch.relu, _drelu_torch, _relu_numpy, _drelu_numpy,
                   closed_form=True),
        Activation("tanh", torch.tanh, _dtanh_torch, np.tanh, _dtanh_numpy,
                   closed_form=False, pole_distance=math.pi / 2,
                   phi_dphi_torch=_tanh_dtanh_torch, dphi_from_phi=_dtanh_from_tanh),
        Activation("erf", torch.erf, _derf_torch, scipy.special.erf, _derf_numpy,
                   closed_form=True),
        Activation("linear", _copy, torch.ones_like, _copy, np.ones_like, closed_form=True),
    )
}

ACTIVATION_NAMES: tuple[str, ...] = tuple(ACTIVATIONS)
#: Activations whose Gaussian expectations are closed forms generated from SymPy.
CLOSED_FORM_ACTIVATIONS: tuple[str, ...] = tuple(a for a, e in ACTIVATIONS.items()
                                                 if e.closed_form)


def check_activation(name: str) -> str:
    """Return ``name`` if it is registered, else raise ``ValueError`` naming the allowed ones."""
    return choice("activation", name, ACTIVATION_NAMES)


def activation(name: str) -> Activation:
    """The registry entry of ``name`` (``ValueError`` if unknown)."""
    return ACTIVATIONS[check_activation(name)]


def _as_float_array(x) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def phi(name: str, x):
    """``phi(x)`` elementwise, on a torch tensor (same dtype/device, autograd-friendly) or a
    numpy array (or anything ``numpy.asarray`` accepts; integers become float64)."""
    a = ACTIVATIONS[check_activation(name)]
    if isinstance(x, torch.Tensor):
        return a.phi_torch(x)
    return a.phi_numpy(_as_float_array(x))


def dphi(name: str, x):
    """``phi'(x)`` elementwise, on torch tensors or numpy arrays (see :func:`phi`)."""
    a = ACTIVATIONS[check_activation(name)]
    if isinstance(x, torch.Tensor):
        return a.dphi_torch(x)
    return a.dphi_numpy(_as_float_array(x))


def phi_dphi(name: str, x):
    """``(phi(x), phi'(x))``, the same numbers as :func:`phi` and :func:`dphi` (tanh shares its
    ``tanh(x)`` between the two on torch tensors)."""
    a = ACTIVATIONS[check_activation(name)]
    if isinstance(x, torch.Tensor) and a.phi_dphi_torch is not None:
        return a.phi_dphi_torch(x)
    return phi(name, x), dphi(name, x)


#: Activations whose NumPy ``phi`` is faster than torch's on CPU float tensors: NumPy's tanh
#: (vectorized over the whole array) against ``torch.tanh`` in float64, 567 against 1660 us on
#: 327680 numbers, within one ulp of each other.
NUMPY_FASTER = frozenset({"tanh"})


def phi_values(name: str, x: torch.Tensor) -> torch.Tensor:
    """``phi(x)`` of a tensor as plain numbers (no autograd): on the CPU through the NumPy
    implementation for the activations in :data:`NUMPY_FASTER` (sharing the tensor's memory,
    no copy), elsewhere :func:`phi`. The Mean-ODE solver (:mod:`~infdepth.numerics.mean_ode`)
    evaluates its particle system with it; it rounds apart from ``torch.tanh`` by at most one
    ulp."""
    if name in NUMPY_FASTER and x.device.type == "cpu" and not x.requires_grad:
        return torch.from_numpy(ACTIVATIONS[name].phi_numpy(x.numpy()))
    return phi(name, x)


def dphi_given(name: str, x, s):
    """``phi'(x)`` given ``s = phi(x)``: the registry's ``dphi_from_phi`` where it has one
    (tanh: ``1 - s*s``, the numbers :func:`dphi` computes from its own ``tanh(x)``), else
    :func:`dphi` of ``x``."""
    a = ACTIVATIONS[check_activation(name)]
    if a.dphi_from_phi is not None:
        return a.dphi_from_phi(s)
    return dphi(name, x)


__all__ = ["Activation", "ACTIVATIONS", "ACTIVATION_NAMES", "CLOSED_FORM_ACTIVATIONS",
           "NUMPY_FASTER", "activation", "check_activation", "phi", "dphi", "phi_dphi",
           "phi_values", "dphi_given"]
