"""Claim ``init_kernel_depth`` (docs/theory.md s3, s8): at init the infinite-width depth-L network
is the forward-Euler scheme of the kernel ODE, so its output kernel converges to the ODE's at
O(1/L).

Measured: ``|| K_out^(L) - K_out(t=1) ||_F / || K_out(t=1) ||_F`` with ``K_out^(L)`` from the
exact depth-L recursion (:func:`infdepth.numerics.kernel_recursion.depth_recursion`) and
``K_out(t=1)`` from the ODE (closed form, or ``solve_ivp`` at rtol 1e-12; its error is below
every fitted one: reference error 0). Deterministic: no seeds, so the fit's CI is the OLS
t-interval of the residuals. Also stored (not fitted): the errors of ``Sigma_L`` and of the
gradient moment. One variant per activation.

**Negative control** ``control/short_horizon`` (declared with the claim, run in every suite; the
primary's activation): the same recursion run to depth-time ``T_L = L/(L + sqrt(L))`` instead of
1 (``beta^2`` scaled by ``T_L`` in the recursion only: each of its L steps is ``beta^2 T_L / L``),
compared with the kernel ODE at t = 1. The recursion is then the Euler scheme of the ODE at
``T_L``, and ``K(T_L) - K(1) ~ -K'(1) / (sqrt(L) + 1)``: an O(L^-1/2) error above the O(1/L)
Euler error (derived -1/2), which must be refuted against -1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from infdepth.lazy import lazy
from infdepth.numerics.inputs import DEFAULT_INPUTS
from infdepth.run_fields import RunFields

from ..measurements import RateMeasurement
from .base import (Claim, Derived, FigureSpec, Overrides, Variant, size_sweep,
                   ControlVariant as BaseControl)

pd = lazy("pandas")  # imported on first use (infdepth.lazy)


@dataclass(frozen=True)
class Sweep:
    activations: tuple[str, ...]
    depths: tuple[int, ...]


@dataclass(frozen=True)
class ActivationVariant(Variant):
    activation: str


@dataclass(frozen=True)
class ControlVariant(BaseControl):
    """The negative control ``control/short_horizon`` (module docstring) for ``activation``."""

    allowed = {"name": ("short_horizon",)}
    activation: str = "relu"


@dataclass(frozen=True)
class KernelDepthPoint(RunFields):
    """One depth of the sweep for one activation (exact recursion: no seeds)."""

    activation: str
    L: int
    beta: float = 1.0
    readout: str = "phi"
    inputs: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS

    @property
    def recursion_beta(self) -> float:
        """The ``beta`` of the depth-L recursion (the ODE's ``beta``)."""
        return self.beta


@dataclass(frozen=True)
class ShortHorizonPoint(KernelDepthPoint):
    """A point of ``control/short_horizon``: the recursion runs to depth-time ``T_L``."""

    @property
    def horizon(self) -> float:
        """``T_L = L / (L + sqrt(L))``."""
        return self.L / (self.L + math.sqrt(self.L))

    @property
    def recursion_beta(self) -> float:
        """``beta sqrt(T_L)``: ``beta^2`` scaled by ``T_L`` in the recursion only."""
        return self.beta * math.sqrt(self.horizon)


@lru_cache(maxsize=32)
def _reference(activation: str, beta: float, readout: str,
               inputs: tuple[tuple[float, ...], ...]):
    from infdepth.numerics.inputs import input_covariance
    from infdepth.numerics.kernel_ode import kernel_ode
    return kernel_ode(activation, input_covariance(inputs), beta=beta, readout=readout)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


class InitKernelDepth(Claim):
    id = "init_kernel_depth"
    source = "NFD"
    statement = ("at init, the depth-L network's infinite-width kernel converges to the "
                 "kernel ODE")
    quantity = "relative error of the output kernel vs L (exact recursion, no noise)"
    claimed_slope = -1.0
    claimed_text = "-1 in L"
    suites = {
        "smoke": Sweep(("relu", "tanh", "erf"), tuple(2 ** k for k in range(2, 9))),
        "standard": Sweep(("relu", "tanh", "erf"), tuple(2 ** k for k in range(2, 12))),
        "full": Sweep(("relu", "tanh", "erf", "linear"), tuple(2 ** k for k in range(2, 14))),
    }
    primary = ActivationVariant("relu")
    controls = (ControlVariant("short_horizon"),)
    figures = (FigureSpec("rate", "init_kernel_depth",
                          "[NFD] init: infinite-width kernel at depth L vs kernel ODE "
                          "(claimed O(1/L))"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[ActivationVariant, ...]:
        return tuple(ActivationVariant(a) for a in (overrides.activations or sweep.activations))

    def points(self, variant: ActivationVariant | ControlVariant, sweep: Sweep,
               overrides: Overrides, run: RunFields) -> list[KernelDepthPoint]:
        kind = ShortHorizonPoint if isinstance(variant, ControlVariant) else KernelDepthPoint
        return [kind(activation=variant.activation, L=L, **run.run_fields())
                for L in size_sweep(overrides.depths, sweep.depths)]

    def compute(self, point: KernelDepthPoint) -> pd.DataFrame:
        from infdepth.numerics.inputs import input_covariance
        from infdepth.numerics.kernel_recursion import depth_recursion
        ref = _reference(point.activation, point.beta, point.readout, point.inputs)
        rec = depth_recursion(point.activation, input_covariance(point.inputs), point.L,
                              beta=point.recursion_beta, readout=point.readout)
        rows = [("output_kernel", _rel(rec.output, ref.output)),
                ("sigma", _rel(rec.sigma, ref.sigma)),
                ("grad_moment", _rel(rec.grad, ref.grad))]
        return pd.DataFrame({"L": point.L, "stat": [r[0] for r in rows],
                             "rel_error": [r[1] for r in rows]})

    def footprint(self, point: KernelDepthPoint):
        """The exact recursion: a few ``P x P`` kernels at any depth, ``L`` steps."""
        from infdepth.numerics import footprint as fp
        return fp.kernel_recursion(point.L, len(point.inputs))

    def measure(self, variant, points, frames) -> RateMeasurement:
        samples = [f.loc[f["stat"] == "output_kernel", "rel_error"].to_numpy()[:, None]
                   for f in frames]
        what = ("rel. error of output kernel vs kernel ODE" if isinstance(variant,
                ActivationVariant) else "rel. error of output kernel, recursion to depth-time "
                "L/(L+sqrt(L)), vs kernel ODE at t=1")
        return RateMeasurement([p.L for p in points], samples, None, "depth L", what,
                               reference_error=[0.0] * len(points))

    def derived(self, variant: ActivationVariant | ControlVariant) -> Derived:
        if isinstance(variant, ControlVariant):
            return Derived(-0.5, "the recursion is the Euler scheme of the kernel ODE to "
                                 "depth-time T_L = L/(L+sqrt(L)) = 1 - 1/(sqrt(L)+1): its error "
                                 "to K(1) is K'(1)(T_L - 1) + O(1/L) = O(L^-1/2) (K'(1) != 0), "
                                 "slope -1/2 in L")
        from infdepth.theory.truncation import euler_order_for_activation
        res = euler_order_for_activation(variant.activation)
        return Derived(res.depth_error_exponent, res.explanation)


CLAIM = InitKernelDepth()
