"""Claim ``init_kernel_depth`` (THEORY.md s3, s8): at init, the infinite-width depth-L network is
the forward-Euler scheme of the kernel ODE, so its output kernel converges to the ODE's at O(1/L).

Measured: ``|| K_out^(L) - K_out(t=1) ||_F / || K_out(t=1) ||_F`` with K_out^(L) from the exact
depth-L recursion (:func:`infdepth.numerics.kernel_recursion.depth_recursion`) and K_out(t=1)
from the ODE (closed form or ``solve_ivp`` at rtol 1e-12). Deterministic: no seeds, so the fit's
CI is the OLS t-interval. Also stored (not fitted): the Sigma_L and gradient-moment errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from infdepth.numerics.inputs import DEFAULT_INPUTS, input_covariance
from infdepth.numerics.kernel_ode import kernel_ode
from infdepth.numerics.kernel_recursion import depth_recursion
from infdepth.theory.truncation import euler_order_for_activation

from . import Derived, Measurement, Overrides

SUITES = {
    "smoke": {"activations": ("relu", "tanh", "erf"), "depths": tuple(2 ** k for k in range(2, 9))},
    "standard": {"activations": ("relu", "tanh", "erf"),
                 "depths": tuple(2 ** k for k in range(2, 12))},
    "full": {"activations": ("relu", "tanh", "erf", "linear"),
             "depths": tuple(2 ** k for k in range(2, 14))},
}


@dataclass(frozen=True)
class KernelDepthPoint:
    """One depth of the sweep for one activation."""

    activation: str
    L: int
    beta: float = 1.0
    readout: str = "phi"
    inputs: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    if overrides.activations is not None:
        return overrides.activations
    return SUITES[suite]["activations"]


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[KernelDepthPoint]:
    depths = overrides.depths or SUITES[suite]["depths"]
    return [KernelDepthPoint(activation=variant, L=L) for L in depths]


@lru_cache(maxsize=32)
def _reference(activation: str, beta: float, readout: str,
               inputs: tuple[tuple[float, ...], ...]):
    return kernel_ode(activation, input_covariance(inputs), beta=beta, readout=readout)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def compute(point: KernelDepthPoint) -> pd.DataFrame:
    ref = _reference(point.activation, point.beta, point.readout, point.inputs)
    rec = depth_recursion(point.activation, input_covariance(point.inputs), point.L,
                          beta=point.beta, readout=point.readout)
    rows = [("output_kernel", _rel(rec.output, ref.output)),
            ("sigma", _rel(rec.sigma, ref.sigma)),
            ("grad_moment", _rel(rec.grad, ref.grad))]
    return pd.DataFrame({"L": point.L, "stat": [r[0] for r in rows],
                         "rel_error": [r[1] for r in rows]})


def measurement(variant: str, pts: list[KernelDepthPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    sizes = [p.L for p in pts]
    samples = [f.loc[f["stat"] == "output_kernel", "rel_error"].to_numpy()[:, None]
               for f in frames]
    return Measurement(sizes=sizes, samples=samples, statistic=None, size_label="depth L",
                       error_label="rel. error of output kernel vs kernel ODE")


def derived(variant: str) -> Derived:
    res = euler_order_for_activation(variant)
    return Derived(exponent=res.depth_error_exponent, text=res.explanation)
