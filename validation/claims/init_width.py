"""Claim ``init_width`` (docs/theory.md s3, s8, s9): the finite-width network at init converges to
its infinite-width limit; the bias of seed-averaged statistics is O(1/n) at fixed depth.

Measured, at fixed L, for a variant ``<activation>/<statistic>``:

    bias(n) = || mean_seeds T_s - T_inf ||_F / || T_inf ||_F

with T the output kernel ``phi(h_L)^T phi(h_L)/n`` (``output``) or the gradient moments
``|g_0|^2/n`` per input (``grad``), and T_inf the exact infinite-width depth-L recursion (same L,
so no depth error enters: reference error 0). The finite-width noise of one seed is O(n^-1/2) and
would hide the O(1/n) bias, so the number of seeds grows like n (noise/bias ratio constant
across the sweep; docs/theory.md s9 "separate the error terms").

**Statistic and interval** (docs/theory.md s9, "Noise budget"): the statistic is the norm of a
noisy seed mean, biased upward by the noise, ``E|mean - T_inf|^2 = |bias|^2 + tr(Sigma)/S``;
it is estimated with that noise bias removed from its square
(:class:`~infdepth.validation.noise_budget.NormOfMean` with ``ref = T_inf``, the Frobenius
weights and ``scale = 1/|W T_inf|``), and its slope interval is ``boot_t`` (the calibration
suite's choice for every statistic that is not a geometric mean of one value per seed). Seeds
are independent per width (**unpaired**: every width draws its own weights); points whose
corrected bias is within twice its standard error are refused by the fitter.

**Negative control** ``control/noise`` (declared with the claim, run in every suite, on the
primary's points): one seed's relative deviation from the reference,
``|W (T_s - T_inf)| / |W T_inf|`` -- the fluctuation, O(n^-1/2) by the central limit theorem
(a seed's kernel is an average over n units), its O(1/n) bias being smaller -- one positive
value per seed, summarised by the geometric mean (``log_t``, unpaired). It must be refuted
against -1.

One point per width evaluates every activation of the suite on the same weight draws
(:func:`~infdepth.numerics.finite_width_init.sample_init_moments_by_act`): a seed's weights are
drawn once, not once per activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infdepth.lazy import lazy
from infdepth.numerics.inputs import DEFAULT_INPUTS
from infdepth.run_fields import RunFields

from ..intervals import geometric_mean
from ..measurements import RateMeasurement
from ..noise_budget import NormOfMean
from .base import (Claim, Derived, FigureSpec, Overrides, Variant, size_sweep,
                   ControlVariant as BaseControl)

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

STATISTICS = ("output", "grad")


@dataclass(frozen=True)
class Sweep:
    variants: tuple[str, ...]       # "<activation>/<statistic>"
    L: int
    widths: tuple[int, ...]
    seeds_per_width: int            # seeds at width n: seeds_per_width * n (noise ~ 1/n)


@dataclass(frozen=True)
class WidthVariant(Variant):
    allowed = {"statistic": STATISTICS}

    activation: str
    statistic: str


@dataclass(frozen=True)
class ControlVariant(BaseControl):
    """The negative control ``control/noise`` (module docstring) of ``activation``/``statistic``
    (the primary's)."""

    allowed = {"name": ("noise",), "statistic": STATISTICS}
    activation: str = "tanh"
    statistic: str = "output"


@dataclass(frozen=True)
class WidthPoint(RunFields):
    """One width: seeds ``range(n_seeds)`` at width ``n``, depth ``L``, every activation of
    ``activations`` on the same weights."""

    activations: tuple[str, ...]
    n: int
    L: int
    n_seeds: int
    parameterization: str = "depth_mup"
    readout: str = "phi"
    inputs: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS


def reference_vector(point: WidthPoint, activation: str, stat: str) -> tuple[list[str], np.ndarray]:
    """Column names and the exact infinite-width depth-L values of a statistic."""
    from infdepth.numerics.inputs import input_covariance
    from infdepth.numerics.kernel_recursion import depth_recursion
    rec = depth_recursion(activation, input_covariance(point.inputs), point.L,
                          readout=point.readout)
    p = rec.grad.shape[0]
    if stat == "grad":
        return [f"grad_{a}" for a in range(p)], rec.grad
    names = [f"out_{a}{b}" for a in range(p) for b in range(a, p)]
    return names, np.asarray([rec.output[a, b] for a in range(p) for b in range(a, p)])


def frobenius_weight(names: list[str], stat: str) -> np.ndarray:
    """``W``: sqrt(multiplicity) of the stored entries in the Frobenius norm of the full matrix
    (an off-diagonal kernel entry ``out_ab``, a < b, appears twice); 1 for the gradient moments."""
    return np.array([1.0 if stat == "grad" or n[-1] == n[-2] else np.sqrt(2.0) for n in names])


def bias_statistic(ref: np.ndarray, weight: np.ndarray) -> NormOfMean:
    """``|W (mean_seeds T_s - ref)| / |W ref|`` with the noise bias removed from its square
    (module docstring)."""
    return NormOfMean(ref=tuple(float(r) for r in ref), weight=tuple(float(w) for w in weight),
                      scale=float(1.0 / np.linalg.norm(ref * weight)))


def seed_deviations(sample: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per seed (S,): ``|W (T_s - ref)| / |W ref|`` of the rows ``T_s`` of ``sample``."""
    return np.linalg.norm((sample - ref) * weight, axis=1) / np.linalg.norm(ref * weight)


class InitWidth(Claim):
    id = "init_width"
    source = "NFD"
    statement = "the finite-width network at init converges to its infinite-width limit"
    quantity = "relative bias of seed-averaged kernel / gradient statistics vs n at fixed L"
    claimed_slope = -1.0
    claimed_text = "-1 in n"
    suites = {
        "smoke": Sweep(("tanh/output", "relu/output"), 4, (4, 8, 16, 32), 2500),
        "standard": Sweep(("tanh/output", "relu/output", "relu/grad", "tanh/grad"), 4,
                          (4, 8, 16, 32, 64), 2000),
        "full": Sweep(("tanh/output", "relu/output", "erf/output", "relu/grad", "tanh/grad",
                       "erf/grad"), 4, (4, 8, 16, 32, 64, 128), 4000),
    }
    primary = WidthVariant("tanh", "output")
    controls = (ControlVariant("noise"),)
    figures = (FigureSpec("rate", "init_width", "[NFD] init: finite-width bias vs width "
                          "(claimed O(1/n))"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[WidthVariant, ...]:
        if overrides.activations is not None:
            return tuple(WidthVariant(a, s) for a in overrides.activations for s in STATISTICS)
        return tuple(WidthVariant(*v.split("/")) for v in sweep.variants)

    def points(self, variant: WidthVariant | ControlVariant, sweep: Sweep, overrides: Overrides,
               run: RunFields) -> list[WidthPoint]:
        """Widths of the suite (or ``--widths``); depth ``--depths``' first value if given. One
        point per width holds every activation of the suite's variants (the control reads the
        same points; its activation is added only when ``--activations`` leaves it out)."""
        acts = tuple(dict.fromkeys([v.activation for v in self.variants(sweep, overrides)]
                                   + [variant.activation]))
        L = overrides.depths[0] if overrides.depths else sweep.L
        return [WidthPoint(activations=acts, n=n, L=L, n_seeds=sweep.seeds_per_width * n,
                           **run.run_fields())
                for n in size_sweep(overrides.widths, sweep.widths)]

    def compute(self, point: WidthPoint) -> pd.DataFrame:
        """One row per activation and seed: ``out_ab`` (output kernel), ``sigma_ab``,
        ``grad_a`` columns."""
        from infdepth.numerics.finite_width_init import sample_init_moments_by_act
        from infdepth.numerics.inputs import input_matrix
        from infdepth.theory.parameterization import preset
        res = sample_init_moments_by_act(point.activations, input_matrix(point.inputs), point.n,
                                         point.L, range(point.n_seeds),
                                         param=preset(point.parameterization),
                                         readout=point.readout, base_seed=point.base_seed,
                                         device=point.device, dtype=point.torch_dtype)
        parts = []
        for act, r in res.items():
            p = r.grad.shape[1]
            cols: dict[str, object] = {"activation": act, "seed": np.arange(point.n_seeds)}
            for a in range(p):
                for b in range(a, p):
                    cols[f"out_{a}{b}"] = r.output[:, a, b]
                    cols[f"sigma_{a}{b}"] = r.sigma[:, a, b]
                cols[f"grad_{a}"] = r.grad[:, a]
            parts.append(pd.DataFrame(cols))
        return pd.concat(parts, ignore_index=True)

    def footprint(self, point: WidthPoint):
        """The init Monte Carlo over ``n_seeds`` seeds in chunks, every activation on the same
        weights, and the table of one row per activation and seed."""
        from infdepth.numerics import footprint as fp
        return fp.init_monte_carlo(point.n, point.L, point.n_seeds, P=len(point.inputs),
                                   d=len(point.inputs[0]), n_acts=len(point.activations),
                                   item=fp.itemsize(point.dtype))

    def measure(self, variant: WidthVariant | ControlVariant, points, frames
                ) -> RateMeasurement:
        stat = variant.statistic
        names, ref = reference_vector(points[0], variant.activation, stat)
        weight = frobenius_weight(names, stat)
        samples = [f.loc[f["activation"] == variant.activation, names].to_numpy()
                   for f in frames]
        what = "output kernel" if stat == "output" else "gradient moment"
        zero = [0.0] * len(points)            # the exact recursion: no reference error
        if isinstance(variant, ControlVariant):
            return RateMeasurement([p.n for p in points],
                                   [seed_deviations(a, ref, weight) for a in samples],
                                   geometric_mean, "width n",
                                   f"geometric mean over seeds of one seed's rel. deviation of "
                                   f"the {what} ({variant.activation})", reference_error=zero)
        return RateMeasurement([p.n for p in points], samples, bias_statistic(ref, weight),
                               "width n", f"rel. bias of mean {what}, noise bias removed",
                               reference_error=zero)

    def derived(self, variant: WidthVariant | ControlVariant) -> Derived:
        if isinstance(variant, ControlVariant):
            return Derived(-0.5, "one seed's kernel is an average over n units: its deviation "
                                 "from the limit is the CLT fluctuation O(n^-1/2) (the O(1/n) "
                                 "bias is smaller), slope -1/2 in n")
        from infdepth.theory.width_bias import finite_width_bias_exponent
        res = finite_width_bias_exponent(variant.activation)
        return Derived(res.exponent, res.explanation)


CLAIM = InitWidth()
