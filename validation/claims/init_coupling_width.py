"""Claim ``init_coupling_width`` (docs/theory.md s4, s8): at init the weight-reuse coupling is a
finite-width effect of order O(1/n), uniformly in depth.

At step 0 the backward pass reuses ``W_l^T`` after the forward pass has revealed ``W_l phi``;
the conditional-Gaussian decomposition (docs/theory.md s4) splits ``W_l^T g`` into a decoupled
part and the reused-weight coupling. "Coupling size" has two readings, both measured vs width n
at fixed depth L (variant ``<reading>/L<depth>``):

* ``rms``    -- rms over coordinates of the coupling's contribution to the gradient reaching
  ``h_0``, accumulated over all blocks (engine statistic ``cpl_bwd_acc`` at block 1, step 0),
  averaged over seeds;
* ``moment`` -- its effect on the gradient second moment,

      | E[|g_0|^2/n]_reused - E[|g_0|^2/n]_coupling removed | / E[|g_0|^2/n]_reused,

  the two runs sharing every weight (same seeds), so the difference is the coupling's effect
  alone (seed means inside the absolute value).

Depth-uniformity is read off by comparing the same reading at two depths (the suites' depths).

Statistics, intervals, pairing (docs/theory.md s9; chosen from the structure of the data and the
calibration suite, :mod:`infdepth.validation.calibration`):

* ``rms`` -- one positive value per seed and width: the **geometric mean** over seeds
  (:func:`~infdepth.validation.intervals.geometric_mean`), so the fitter's interval is
  ``log_t``, the exact t-interval of the log-slope (the calibrated choice for one positive value
  per seed; log-normal seed scatter).
* ``moment`` -- the absolute value of a noisy seed mean over a seed mean: its numerator is
  biased upward by the noise, ``E|mean d|^2 = |E d|^2 + Var d / S``, which flattens the slope
  exactly where the effect is small (large n). :class:`MomentEffect` removes that bias
  (:class:`~infdepth.validation.noise_budget.NormOfMean` of the per-seed differences ``d =
  g2_reused - g2_removed``, divided by the seed mean of ``g2_reused``); not 1-D, so the
  interval is ``boot_t`` (bootstrap standard error with a t quantile).
* Unpaired: widths are different shapes, so each width draws its own networks (independent seeds
  per width, Welch degrees of freedom for ``log_t``).
* No reference error: both readings compare two runs on the same weights (or nothing).

Negative control (declared with the claim, before its data): ``control/gradient_moment``, the
gradient second moment ``E|g_0|^2/n`` of the reused run itself (column ``g2_reused``, geometric
mean, unpaired) vs n at L = 4 -- an O(1) quantity with a non-zero infinite-width limit (derived
slope 0), which the measurement must refute against the claimed band ``-1 +- 0.15``. It reads
the same points as ``rms/L4`` and ``moment/L4``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infdepth.lazy import lazy
from infdepth.run_fields import RunFields
from infdepth.numerics.training_task import task_tensors

from ..intervals import BatchStatistic, geometric_mean
from ..measurements import RateMeasurement
from ..noise_budget import NormOfMean
from .base import (Claim, Derived, FigureSpec, Overrides, Variant, size_sweep,
                   ControlVariant as BaseControl)
from .engine_common import EnginePoint, chunked_footprint, engine_footprint, point_chunks

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

READINGS: tuple[str, ...] = ("rms", "moment")
CONTROLS: tuple[str, ...] = ("gradient_moment",)


@dataclass(frozen=True)
class Sweep:
    act: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: int


@dataclass(frozen=True)
class CouplingVariant(Variant):
    """A reading of the coupling size (``rms`` | ``moment``) at depth ``L``."""

    allowed = {"reading": READINGS}

    reading: str
    L: int

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.L, bool) or not isinstance(self.L, int) or self.L < 1:
            raise ValueError(f"depth L must be a positive integer, got {self.L!r}")

    @property
    def label(self) -> str:
        return f"{self.reading}/L{self.L}"


@dataclass(frozen=True)
class ControlVariant(BaseControl):
    """Negative control ``control/<name>`` at depth ``L``: ``gradient_moment`` = ``E|g_0|^2/n``
    of the reused run, which has a non-zero limit in n (must come out refuted)."""

    allowed = {"name": CONTROLS}
    L: int = 4


@dataclass(frozen=True, kw_only=True)
class CouplingInitPoint(EnginePoint):
    """One width of the sweep: ``n_seeds`` networks trained 0 steps in both modes."""


@dataclass(frozen=True)
class MomentEffect(BatchStatistic):
    """``|mean_j d_j| / mean_j r_j`` of per-seed rows ``(r, removed)`` = ``(g2_reused,
    g2_removed)``, ``d = r - removed``; the numerator is the noise-bias corrected norm of the seed
    mean of ``d`` (:class:`~infdepth.validation.noise_budget.NormOfMean`, ``corrected=True``;
    ``corrected=False`` gives the plain ``|mean d| / mean r``). Vectorized over resamples and
    leave-one-out subsets like ``NormOfMean``."""

    corrected: bool = True

    def _num(self) -> NormOfMean:
        return NormOfMean(corrected=self.corrected)

    def __call__(self, a: np.ndarray) -> float:
        return float(self.batch(np.asarray(a, dtype=float)[None])[0])

    def batch(self, a: np.ndarray) -> np.ndarray:
        """Resamples ``a`` (B, S, 2) -> (B,)."""
        return self._num().batch(a[..., :1] - a[..., 1:2]) / a[..., 0].mean(axis=1)

    def leave_one_out(self, a: np.ndarray) -> np.ndarray:
        """Every leave-one-seed-out subset of each resample ``a`` (B, S, 2) -> (B, S)."""
        r = a[..., 0]
        den = (r.sum(axis=1, keepdims=True) - r) / (a.shape[1] - 1)
        return self._num().leave_one_out(a[..., :1] - a[..., 1:2]) / den


#: the ``moment`` reading's statistic (noise-bias corrected)
MOMENT_EFFECT = MomentEffect()


class InitCouplingWidth(Claim):
    id = "init_coupling_width"
    source = "NFD"
    statement = "weight-reuse coupling at init is O(1/n), uniformly in L"
    quantity = "coupling size vs n, for several L"
    claimed_slope = -1.0
    claimed_text = "-1 in n, flat in L"
    suites = {
        "smoke": Sweep("tanh", (4,), (16, 32, 64, 128), 256),
        "standard": Sweep("tanh", (4, 16), (16, 32, 64, 128, 256, 512), 400),
        "full": Sweep("tanh", (4, 16, 64), (16, 32, 64, 128, 256, 512, 1024), 800),
    }
    primary = CouplingVariant("rms", 4)
    controls = (ControlVariant("gradient_moment"),)
    figures = (FigureSpec("rate", "init_coupling_width",
                          "[NFD] weight-reuse coupling at init vs width (claimed O(1/n), flat "
                          "in L)",
                          ylabel="coupling at init: rms, or relative effect on E|g_0|^2"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[CouplingVariant, ...]:
        return tuple(CouplingVariant(r, L) for r in READINGS
                     for L in size_sweep(overrides.depths, sweep.depths))

    def points(self, variant: CouplingVariant | ControlVariant, sweep: Sweep,
               overrides: Overrides, run: RunFields) -> list[CouplingInitPoint]:
        act = overrides.activation(sweep.act)
        return [CouplingInitPoint(act=act, n=n, L=variant.L, n_seeds=sweep.seeds,
                                  **run.run_fields())
                for n in size_sweep(overrides.widths, sweep.widths)]

    def compute(self, point: CouplingInitPoint) -> pd.DataFrame:
        """One row per seed: coupling rms and the gradient second moment in both modes
        (step 0); the seeds in chunks whose runs keep within
        :data:`~.engine_common.RUN_BYTES` (:func:`~.engine_common.point_chunks`: the same
        numbers; measured on the standard suite's n = 512, L = 16 point, 400 seeds, one
        thread: 62.5 s and 14.2 GB peak in one run, 45.3 s and 5.4 GB in chunks of 25)."""
        from infdepth.numerics.engine import A1Config, train_a1_shared
        X, y = task_tensors(dtype=point.torch_dtype, device=point.device)
        parts = []
        for offset, count in self._chunks(point):
            cfgs = [A1Config(n=point.n, L=point.L, K=1, eta=point.eta,
                             parameterization=point.parameterization, act=point.act,
                             mode=mode, n_seeds=count, seed_offset=offset,
                             base_seed=point.base_seed, record_coupling=True)
                    for mode in ("reused", "coupling_removed")]
            # both modes on one draw of the weights
            r, c = (res.block_stats for res in train_a1_shared(cfgs, X, y, X))
            parts.append(pd.DataFrame({
                "seed": np.arange(offset, offset + count),
                "cpl_rms": r["cpl_bwd_acc"][:, 0, 1].cpu().numpy(),
                "g2_reused": (r["g_rms"][:, 0, 0] ** 2).cpu().numpy(),
                "g2_removed": (c["g_rms"][:, 0, 0] ** 2).cpu().numpy(),
            }))
        return pd.concat(parts, ignore_index=True)

    @staticmethod
    def _run_footprint(chunk: CouplingInitPoint):
        """Two engine runs of one step of the seeds of ``chunk`` with the coupling recorded,
        the second (coupling removed) on the first one's draws."""
        first = engine_footprint(chunk, 1, coupling=True)
        return first.then(engine_footprint(chunk, 1, coupling=True, new_draws=0.0))

    def _chunks(self, point: CouplingInitPoint) -> list[tuple[int, int]]:
        return point_chunks(point, self._run_footprint)

    def footprint(self, point: CouplingInitPoint):
        """The runs of the seed chunks (:meth:`compute`), one after another."""
        return chunked_footprint(point, self._run_footprint)

    def measure(self, variant: CouplingVariant | ControlVariant, points, frames
                ) -> RateMeasurement:
        """Unpaired (each width draws its own networks); geometric mean of the per-seed values
        for ``rms`` and the control, :data:`MOMENT_EFFECT` for ``moment``."""
        sizes = [p.n for p in points]
        if isinstance(variant, ControlVariant):
            return RateMeasurement(sizes, [f["g2_reused"].to_numpy() for f in frames],
                                   geometric_mean, "width n", f"control: E|g_0|^2/n at init, "
                                   f"reused weights (L={variant.L}), geometric mean",
                                   column="g2_reused")
        if variant.reading == "rms":
            return RateMeasurement(sizes, [f["cpl_rms"].to_numpy() for f in frames],
                                   geometric_mean, "width n", f"rms of accumulated coupling in "
                                   f"g_0 at init (L={variant.L}), geometric mean",
                                   column="cpl_rms")
        return RateMeasurement(sizes, [f[["g2_reused", "g2_removed"]].to_numpy() for f in frames],
                               MOMENT_EFFECT, "width n",
                               f"rel. effect of coupling on E|g_0|^2/n at init (L={variant.L}), "
                               f"noise-bias corrected")

    def derived(self, variant: CouplingVariant | ControlVariant) -> Derived:
        """Power counting of model A1 under depth-muP (docs/theory.md s4, s7): the coupling is
        the projection of ``W^T g`` on the revealed direction ``phi``, rms n^-1/2 per block,
        independent over blocks; its mean square (the ``moment`` reading) is n^-1. The control's
        ``E|g_0|^2/n``: ``g_0 = n df/dh_0`` has Theta(1) coordinates, slope 0."""
        from infdepth.theory.exponents_core import fmt_exponent
        from infdepth.theory.exponents_a1 import derive_a1
        from infdepth.theory.parameterization import preset
        name = "depth_mup"
        r = derive_a1(preset(name))
        if isinstance(variant, ControlVariant):
            e = 2 * (r["grad_scale"].order.exponent("n") + 1)
            return Derived(float(e), f"[{name}] g_0 = n df/dh_0 has coordinates n x grad_scale = "
                           f"n x {r['grad_scale'].order} = Theta(1), so E|g_0|^2/n tends to a "
                           f"non-zero limit: slope {fmt_exponent(e)} in n")
        rms, ms = r["coupling_init_accumulated"], r["coupling_init_accumulated_ms"]
        base = (f"[{name}] at init the coupling is the projection of W^T g on the revealed "
                f"direction phi, coefficient <phi, W^T g/sqrt(n)>_n centred (g^0 linear in "
                f"centred v^0) of rms n^-1/2: per block {r['coupling_init_per_block'].order}, "
                f"independent over blocks, accumulated rms {rms.order}")
        if variant.reading == "rms":
            e = rms.exponent("n")
            return Derived(float(e), base + f": slope {fmt_exponent(e)} in n for the rms")
        e = ms.exponent("n")
        return Derived(float(e), base + f"; its mean square and its effect on seed-averaged "
                       f"second moments are {ms.order}: slope {fmt_exponent(e)} in n (the rms "
                       f"reading "
                       f"gives -1/2)")


CLAIM = InitCouplingWidth()
