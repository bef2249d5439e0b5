"""Claim ``init_width`` (THEORY.md s3, s8, s9): the finite-width network at init converges to its
infinite-width limit; the bias of seed-averaged statistics is O(1/n) at fixed depth.

Measured, at fixed L, for a variant ``<activation>/<statistic>``:

    bias(n) = || mean_seeds T_s - T_inf ||_F / || T_inf ||_F

with T the output kernel ``phi(h_L)^T phi(h_L)/n`` (``output``) or the gradient moments
``|g_0|^2/n`` per input (``grad``), and T_inf the exact infinite-width depth-L recursion (same L,
so no depth error enters). The finite-width noise of one seed is O(n^-1/2) and would hide the
O(1/n) bias, so the number of seeds grows like n (noise/bias ratio constant across the sweep;
THEORY.md s9 "separate the error terms"); the bootstrap resamples seeds, and points whose bias
is within the noise floor are refused by the fitter.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from infdepth.device import resolve_dtype
from infdepth.numerics.finite_width_init import sample_init_moments
from infdepth.numerics.inputs import DEFAULT_INPUTS, input_covariance, input_matrix
from infdepth.numerics.kernel_recursion import depth_recursion
from infdepth.theory.truncation import finite_width_bias_exponent

from . import Derived, Measurement, Overrides

STATISTICS = ("output", "grad")

SUITES = {
    # seeds at width n = seeds_per_width * n  (noise ~ 1/sqrt(n S) ~ 1/n, like the bias)
    "smoke": {"variants": ("tanh/output", "relu/output"), "L": 4,
              "widths": (4, 8, 16, 32), "seeds_per_width": 2500},
    "standard": {"variants": ("tanh/output", "relu/output", "relu/grad", "tanh/grad"), "L": 4,
                 "widths": (4, 8, 16, 32, 64), "seeds_per_width": 2000},
    "full": {"variants": ("tanh/output", "relu/output", "erf/output", "relu/grad", "tanh/grad",
                          "erf/grad"), "L": 4,
             "widths": (4, 8, 16, 32, 64, 128), "seeds_per_width": 4000},
}


@dataclass(frozen=True)
class WidthPoint:
    """One width of the sweep: all seeds ``range(n_seeds)`` at width ``n``, depth ``L``."""

    activation: str
    n: int
    L: int
    n_seeds: int
    parameterization: str = "depth_mup"
    readout: str = "phi"
    base_seed: int = 0
    inputs: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS
    device: str = "cpu"
    dtype: str = "float64"


def split_variant(variant: str) -> tuple[str, str]:
    act, _, stat = variant.partition("/")
    if stat not in STATISTICS:
        raise ValueError(f"unknown init_width statistic {stat!r}; allowed: {', '.join(STATISTICS)}")
    return act, stat


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    if overrides.activations is not None:
        return tuple(f"{a}/{stat}" for a in overrides.activations for stat in STATISTICS)
    return SUITES[suite]["variants"]


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[WidthPoint]:
    """Widths of the suite (or ``--widths``); depth ``--depths``' first value if given."""
    act, _ = split_variant(variant)
    s = SUITES[suite]
    L = overrides.depths[0] if overrides.depths else s["L"]
    widths = overrides.widths or s["widths"]
    return [WidthPoint(activation=act, n=n, L=L, n_seeds=s["seeds_per_width"] * n,
                       device=device, dtype=dtype) for n in widths]


def compute(point: WidthPoint) -> pd.DataFrame:
    """One row per seed: ``out_ab`` (output kernel), ``sigma_ab``, ``grad_a`` columns."""
    from infdepth.theory.parameterization import preset

    res = sample_init_moments(point.activation, input_matrix(point.inputs), point.n, point.L,
                              range(point.n_seeds), param=preset(point.parameterization),
                              readout=point.readout, base_seed=point.base_seed,
                              device=point.device, dtype=resolve_dtype(point.dtype))
    p = res.grad.shape[1]
    cols: dict[str, np.ndarray] = {"seed": np.arange(point.n_seeds)}
    for a in range(p):
        for b in range(a, p):
            cols[f"out_{a}{b}"] = res.output[:, a, b]
            cols[f"sigma_{a}{b}"] = res.sigma[:, a, b]
        cols[f"grad_{a}"] = res.grad[:, a]
    return pd.DataFrame(cols)


def _reference_vector(point: WidthPoint, stat: str) -> tuple[list[str], np.ndarray]:
    rec = depth_recursion(point.activation, input_covariance(point.inputs), point.L,
                          readout=point.readout)
    p = rec.grad.shape[0]
    if stat == "grad":
        return [f"grad_{a}" for a in range(p)], rec.grad
    names, vals = [], []
    for a in range(p):
        for b in range(a, p):
            names.append(f"out_{a}{b}")
            vals.append(rec.output[a, b])
    return names, np.asarray(vals)


def _relative_bias(sample: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> float:
    """|| W (mean(sample) - ref) || / || W ref ||, W = sqrt(multiplicity) of matrix entries."""
    diff = (sample.mean(axis=0) - ref) * weight
    return float(np.linalg.norm(diff) / np.linalg.norm(ref * weight))


def measurement(variant: str, pts: list[WidthPoint], frames: list[pd.DataFrame]) -> Measurement:
    _, stat = split_variant(variant)
    names, ref = _reference_vector(pts[0], stat)
    # off-diagonal kernel entries appear twice in the Frobenius norm of the full matrix
    weight = np.array([1.0 if n[-1] == n[-2] or stat == "grad" else np.sqrt(2.0)
                       for n in names])
    samples = [f[names].to_numpy() for f in frames]
    label = ("rel. bias of mean output kernel" if stat == "output"
             else "rel. bias of mean gradient moment")
    return Measurement(sizes=[p.n for p in pts], samples=samples,
                       statistic=partial(_relative_bias, ref=ref, weight=weight),
                       size_label="width n", error_label=label)


def derived(variant: str) -> Derived:
    act, _ = split_variant(variant)
    res = finite_width_bias_exponent(act)
    return Derived(exponent=res.exponent, text=res.explanation)
