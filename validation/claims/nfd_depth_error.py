"""Claim ``nfd_depth_error`` (docs/theory.md s3, s8, s9): the trained finite network converges to
the NFD limit with O(1/L) error (depth-muP, K SGD steps on the training task).

Two readings, each against both NFD variants (``covariance``, the default, and ``gia``); variant
``<reading>/<nfd variant>``:

* ``depth`` -- width first (the claim's order of limits): the NFD particle system at depth L
  *is* the infinite-width depth-L network (:mod:`infdepth.numerics.nfd_solver`). Error = Cauchy
  difference ``|| E[f^K_L] - E[f^K_2L] ||`` over the evaluation inputs, on one Brownian path per
  particle seed shared by all depths (increments drawn on the finest grid ``2 max(L)`` and
  summed, docs/theory.md s9). At first order the Cauchy difference is ``C/(2L)``, so its slope
  equals the error's slope without the bias a fixed "finest" reference would add. Particle
  seeds are the bootstrap units (paired across depths); the statistic averages the signed
  difference over seeds first.
* ``network`` -- the finite network itself (engine, reused ``W^T``, width n, S seeds) at depth L
  against the NFD variant at the finest depth: ``|| mean_seeds f^K_{L,n} - f^K_NFD ||``. Finite
  width adds O(n^-1/2) seed noise (bootstrapped; points under the noise floor are refused) and
  an O(1/n) bias; a variant the network does not converge to shows as an error that stops
  decreasing in L.

Two point types, :class:`NFDSweepPoint` and :class:`NetworkPoint`. NFD solves and network
trainings are cached in-process (``lru_cache``): a variant's depth points share one solve, and
the gia and covariance network points share one engine run.

Statistics, intervals, pairing (docs/theory.md s9; chosen from the structure of the data and
the calibration suite before these data were seen). Every statistic is the norm of a noisy seed
mean, biased upward by the noise (``E|mean|^2 = |mu|^2 + tr(Sigma)/S``) where the error is small
(large L), which flattens the slope: each is a
:class:`~infdepth.validation.noise_budget.NormOfMean` (noise term removed from the square). Not
1-D, so the interval is ``boot_t`` (bootstrap standard error, ``t_{S-1}`` quantile).

* ``depth/*`` -- ``NormOfMean()`` of the per-seed Cauchy differences, **paired** across depths
  (one Brownian path per particle seed). No reference error: the partner at 2L is part of the
  statistic.
* ``network/*`` -- ``NormOfMean(ref=reference)`` of the network outputs, **paired** across
  depths (block l's matrix is drawn from the same stream at every depth, ``U``, ``v`` shared:
  :mod:`infdepth.numerics.engine.rng`). **Reference error** per point (frame column ``ref_err``,
  passed as ``reference_error``): the reference's depth error, estimated by the Cauchy
  difference ``|E f_{ref/2} - E f_ref|`` of the same solve (corrected; at first order in 1/L it
  equals the reference's own error; ``ref_err_depth``), and its Monte Carlo error, the standard
  error of its seed mean, rms over outputs (the first-order change of the norm along the
  signal's direction; ``ref_err_mc``), in quadrature.

Negative control (declared with the claim): ``control/output``, ``|E f^K_L|`` of the covariance
NFD itself at depth L (``NormOfMean()`` of the outputs ``f_i`` stored by the depth points,
paired, the ``depth/covariance`` points): it tends to the depth limit's non-zero output (derived
slope 0), so it must come out refuted against ``-1 +- 0.15``.

Noise budget: every row's notes give per depth the signal (corrected statistic), its bootstrap
standard error, the reference error and the SNR ``signal / sqrt(se^2 + ref_err^2)``, and the
budget that would decide the row (:func:`noise_budget`). ``depth/covariance``, standard suite
(16384 particles x 8 seeds; seed noise only, reference error 0):

    L        2        4        8        16       32
    signal   2.07e-3  1.74e-3  7.96e-4  5.11e-4  3.74e-4
    se       4.4e-4   2.7e-4   1.4e-4   7.3e-5   9.7e-5
    SNR      4.7      6.4      5.5      7.0      3.9

slope -0.671 [-0.880, -0.462], inconclusive (noise-limited); the rule's advice: about 11 seeds
of 16384 particles, i.e. 8 seeds of about 22528 particles each (an estimate, assuming a Monte
Carlo error ~ P^-1/2). Smoke suite (4096 x 6): signal 1.71e-3, 1.54e-3, 9.91e-4 at L = 2, 4, 8,
se 3.8e-4, 3.0e-4, 5.0e-4, SNR 4.5, 5.2, 2.0: L=8 under the floor, fit refused; every depth
clears it at about 7 seeds and the fit with every depth decides at about 53 seeds of 4096
particles, or 6 seeds of about 36182 particles each (same estimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from infdepth.lazy import lazy
from infdepth.numerics.training_task import ETA
from infdepth.run_fields import RunFields

from ..budget_notes import noise_budget_notes
from ..measurements import JointMeasurement, RateMeasurement
from ..multiterm import Model, Term
from ..noise_budget import NormOfMean
from .base import (TOLERANCE, Claim, Derived, FigureSpec, Overrides, Variant, size_sweep,
                   ControlVariant as BaseControl)
from .engine_common import (TASK_DIM, TASK_ROWS, TrainedPoint, chunked_footprint,
                            engine_footprint)
from .nfd_depth_parts import _solve, _train_network, reference_error

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

READINGS: tuple[str, ...] = ("depth", "network")
NFD_VARIANTS: tuple[str, ...] = ("covariance", "gia")
CONTROLS: tuple[str, ...] = ("output",)
#: the accepted depth exponent of the joint fit: the claim's -1 +- TOLERANCE
JOINT_BAND = (-1.0 - TOLERANCE, -1.0 + TOLERANCE)
#: the frames' columns (a point field: version-1 frames are not reused): 2 adds the depth-L
#: outputs ``f_i`` to the depth points, the reference error ``ref_err*`` to the network points
FRAME_VERSION = 2


@dataclass(frozen=True)
class Sweep:
    act: str
    K: int
    depths: tuple[int, ...]
    particles: int
    particle_seeds: int
    n: int
    net_seeds: int
    ref_depth: int


@dataclass(frozen=True)
class NFDVariant(Variant):
    """A reading (``depth`` | ``network``) against an NFD variant (``covariance`` | ``gia``)."""

    allowed = {"reading": READINGS, "nfd": NFD_VARIANTS}

    reading: str
    nfd: str


@dataclass(frozen=True)
class JointVariant(Variant):
    """``network/<nfd>/joint``: the network's error fitted as ``a L^p + c`` -- the depth term and
    a floor ``c`` standing for the finite width and the reference's own error, which do not
    shrink with L at fixed n and particles -- compared with ``a L^p`` and ``c`` alone
    (:mod:`infdepth.validation.multiterm`; the same points as ``network/<nfd>``)."""

    allowed = {"nfd": NFD_VARIANTS}

    nfd: str

    @property
    def label(self) -> str:
        return f"network/{self.nfd}/joint"


@dataclass(frozen=True)
class ControlVariant(BaseControl):
    """Negative control ``control/<name>``: ``output`` = the norm of the seed-mean output of the
    covariance NFD at depth L, which converges to a non-zero limit (must come out refuted)."""

    allowed = {"name": CONTROLS}
    nfd: str = "covariance"


@dataclass(frozen=True)
class NFDSweepPoint(RunFields):
    """NFD solutions at ``depths`` = (L, 2L, finest), on one Brownian path per particle seed;
    ``frame_version``: the frame's columns (:data:`FRAME_VERSION`)."""

    act: str
    variant: str
    K: int
    depths: tuple[int, ...]
    n_particles: int
    n_seeds: int
    eta: float = ETA
    frame_version: int = FRAME_VERSION


@dataclass(frozen=True, kw_only=True)
class NetworkPoint(TrainedPoint):
    """The finite network at (n, L) and the NFD reference it is compared with;
    ``frame_version``: the frame's columns (:data:`FRAME_VERSION`)."""

    nfd_variant: str
    ref_depth: int
    ref_particles: int
    ref_seeds: int
    frame_version: int = FRAME_VERSION


class NFDDepthError(Claim):
    id = "nfd_depth_error"
    source = "NFD"
    statement = "the trained finite network converges to the NFD limit with O(1/L) error"
    quantity = "output / kernel error after K steps vs L, against both NFD variants"
    claimed_slope = -1.0
    claimed_text = "-1 in L"
    suites = {
        "smoke": Sweep("tanh", 3, (2, 4, 8), 4096, 6, 256, 16, 16),
        "standard": Sweep("tanh", 3, (2, 4, 8, 16, 32), 16384, 8, 1024, 32, 64),
        "full": Sweep("tanh", 5, (2, 4, 8, 16, 32, 64), 65536, 16, 2048, 64, 128),
    }
    primary = NFDVariant("depth", "covariance")
    controls = (ControlVariant("output"),)
    figures = (FigureSpec("rate", "nfd_depth_error",
                          "[NFD] trained network and NFD depth-L vs limit (claimed O(1/L))",
                          ylabel="output error (depth: NFD Cauchy difference; network: engine "
                                 "vs NFD)"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[Variant, ...]:
        return (tuple(NFDVariant(r, v) for r in READINGS for v in NFD_VARIANTS)
                + tuple(JointVariant(v) for v in NFD_VARIANTS))

    def points(self, variant: Variant, sweep: Sweep, overrides: Overrides,
               run: RunFields) -> list[NFDSweepPoint] | list[NetworkPoint]:
        if isinstance(variant, JointVariant):
            return self.points(NFDVariant("network", variant.nfd), sweep, overrides, run)
        act = overrides.activation(sweep.act)
        depths = size_sweep(overrides.depths, sweep.depths)
        if isinstance(variant, ControlVariant) or variant.reading == "depth":
            # one point per depth L holding the pair (L, 2L); all share the finest grid 2*max(L)
            top = 2 * max(depths)
            return [NFDSweepPoint(act=act, variant=variant.nfd, K=sweep.K, depths=(L, 2 * L, top),
                                  n_particles=sweep.particles, n_seeds=sweep.particle_seeds,
                                  **run.run_fields()) for L in depths]
        n = overrides.width(sweep.n)
        return [NetworkPoint(act=act, n=n, L=L, K=sweep.K, n_seeds=sweep.net_seeds,
                             nfd_variant=variant.nfd, ref_depth=sweep.ref_depth,
                             ref_particles=sweep.particles, ref_seeds=sweep.particle_seeds,
                             **run.run_fields()) for L in depths]

    def affinity(self, point: NFDSweepPoint | NetworkPoint):
        """One group for the claim's points of one activation, K, learning rate, seeds and
        run: a variant's depth points share one NFD solve (the finest grid), which is also its
        network points' reference, and the network points of both variants share one engine
        run per depth (both ``lru_cache`` in-process, :mod:`.nfd_depth_parts`), so a cluster
        computes them on one worker instead of once per worker that draws a point (standard
        suite on two workers: 303 point-seconds against 197 when they happened to meet)."""
        p = point
        return ("nfd", p.act, p.K, p.eta, p.base_seed, p.dtype, p.device)

    def compute(self, point: NFDSweepPoint | NetworkPoint) -> pd.DataFrame:
        """Depth point: one row per particle seed, ``diff_i`` = f^K_L - f^K_2L and ``f_i`` =
        f^K_L on eval input i. Network point: one row per network seed, ``f_i`` = f^K on eval
        input i, ``ref_i`` = the NFD reference (seed mean at ``ref_depth``) and its error
        ``ref_err_depth``, ``ref_err_mc``, ``ref_err`` (:func:`reference_error`, in quadrature),
        repeated."""
        p = point
        if isinstance(p, NFDSweepPoint):
            L, L2, top = p.depths
            f = _solve(p.act, p.variant, p.K, top, p.n_particles, p.n_seeds, p.eta, p.device,
                       p.dtype, p.base_seed)
            rows = {"seed": np.arange(p.n_seeds)}
            for i in range(f[L].shape[1]):
                rows[f"diff_{i}"] = f[L][:, i] - f[L2][:, i]
            for i in range(f[L].shape[1]):
                rows[f"f_{i}"] = f[L][:, i]
            return pd.DataFrame(rows)
        f = _train_network(p.act, p.n, p.L, p.K, p.n_seeds, p.eta, p.parameterization, p.device,
                           p.dtype, p.base_seed)
        sol = _solve(p.act, p.nfd_variant, p.K, p.ref_depth, p.ref_particles, p.ref_seeds, p.eta,
                     p.device, p.dtype, p.base_seed)
        ref = sol[p.ref_depth].mean(axis=0)
        depth_err, mc_err = reference_error(sol, p.ref_depth)
        S = p.n_seeds
        return pd.DataFrame({"seed": np.arange(S),
                             **{f"f_{i}": f[:, i] for i in range(f.shape[1])},
                             **{f"ref_{i}": np.full(S, ref[i]) for i in range(len(ref))},
                             "ref_err_depth": np.full(S, depth_err),
                             "ref_err_mc": np.full(S, mc_err),
                             "ref_err": np.full(S, math.hypot(depth_err, mc_err))})

    def footprint(self, point: NFDSweepPoint | NetworkPoint):
        """Depth point: the NFD solves of every dyadic depth up to the finest, per particle
        seed. Network point: the engine's training, then the reference's NFD solves."""
        from infdepth.numerics import footprint as fp
        p = point
        if isinstance(p, NFDSweepPoint):
            return fp.nfd_solves(p.n_particles, p.K, TASK_ROWS, TASK_DIM, max(p.depths),
                                 p.n_seeds, item=fp.itemsize(p.dtype))
        return chunked_footprint(p, lambda q: engine_footprint(q, p.K)).then(
            fp.nfd_solves(p.ref_particles, p.K, TASK_ROWS, TASK_DIM, p.ref_depth, p.ref_seeds,
                          item=fp.itemsize(p.dtype)))

    @staticmethod
    def joint(points, frames) -> JointMeasurement:
        """``a L^p + c`` (free p) against ``a L^p`` and ``c`` alone, on the network points."""
        ref = frames[0][[c for c in frames[0].columns if c.startswith("ref_")
                         and c[4:].isdigit()]].to_numpy()[0]
        cols = [c for c in frames[0].columns if c.startswith("f_")]
        depth = Term("depth", {"L": -1.0}, ("L",))
        models = (Model("a L^p + c", (depth, Term("floor", {}))), Model("a L^p", (depth,)),
                  Model("c", (Term("floor", {}),)))
        p0 = points[0]
        return JointMeasurement({"L": [p.L for p in points]}, [f[cols].to_numpy() for f in frames],
                                NormOfMean(ref=tuple(float(r) for r in ref)), [0] * len(points),
                                models, "depth.L", {"depth.L": JOINT_BAND}, size_label="depth L",
                                error_label=f"|mean f^K (n={p0.n}) - f^K_NFD {p0.nfd_variant}| as "
                                            "a L^p + floor")

    def measure(self, variant: Variant, points, frames):
        """``NormOfMean`` (noise-bias corrected), paired across depths; the network reading
        carries the reference's error; every variant's notes carry its noise budget (module
        docstring)."""
        if isinstance(variant, JointVariant):
            return self.joint(points, frames)
        if isinstance(variant, ControlVariant) or variant.reading == "depth":
            control = isinstance(variant, ControlVariant)
            prefix = "f_" if control else "diff_"
            cols = [c for c in frames[0].columns if c.startswith(prefix)]
            what = (f"control: |E f^K_L| (NFD {variant.nfd}, infinite width)" if control else
                    f"|E f^K_L - E f^K_2L| (NFD {variant.nfd}, infinite width)")
            m = RateMeasurement([p.depths[0] for p in points],
                                [f[cols].to_numpy() for f in frames], NormOfMean(), "depth L",
                                what + ", noise-bias corrected", paired=True)
            particles = points[0].n_particles
        else:
            p0 = points[0]
            ref = frames[0][[c for c in frames[0].columns if c.startswith("ref_")
                             and c[4:].isdigit()]].to_numpy()[0]
            cols = [c for c in frames[0].columns if c.startswith("f_")]
            m = RateMeasurement([p.L for p in points], [f[cols].to_numpy() for f in frames],
                                NormOfMean(ref=tuple(float(r) for r in ref)), "depth L",
                                f"|mean f^K (n={p0.n}) - f^K_NFD {variant.nfd} "
                                f"(L={p0.ref_depth})|, noise-bias corrected", paired=True,
                                reference_error=[float(f["ref_err"].iloc[0]) for f in frames])
            particles = None
        return replace(m, notes=noise_budget_notes(m, self.claimed(variant).band, particles))

    def derived(self, variant: Variant) -> Derived:
        """Power counting of model A1 under depth-muP (docs/theory.md s3, s7): the weak error of
        an Euler-Maruyama scheme, L^-1 (depth reading: each NFD variant of its own SDE); against
        the GIA limit also the (b) terms the GIA drops, Theta(1): no convergence."""
        from infdepth.theory.exponents_core import exponent_value, weak_depth_error
        from infdepth.theory.exponents_a1 import derive_a1
        from infdepth.theory.exponents_core import fmt_rational
        from infdepth.theory.parameterization import preset
        if isinstance(variant, JointVariant):
            return self.derived(NFDVariant("network", variant.nfd))
        name = "depth_mup"
        r = derive_a1(preset(name))
        if isinstance(variant, ControlVariant):
            q = r["output_update"].order
            e = q.limit_exponent("L")
            return Derived(exponent_value(e), (
                f"[{name}] control: E f^K_L = f^0 + Delta f, Delta f = output_update = {q} "
                f"(f_init = {r['f_init'].order} -> 0 width first): tends to the depth limit's "
                f"non-zero output, slope {fmt_rational(e)}"))
        e, why = weak_depth_error(r)
        nfd = "covariance" if variant.reading == "depth" else variant.nfd
        if e is None:
            value, text = None, f"[{name}] {why}"
        elif nfd == "gia":
            gap = r["gia_gap"].order.limit_exponent("L")
            tot = max(e, gap)
            value, text = float(tot), (f"[{name}] vs the GIA limit: {why}, plus the reused-weight "
                                       f"(b) terms the GIA drops, L^({fmt_rational(gap)}) on the "
                                       f"function: slope {fmt_rational(tot)}"
                                       + (" (does not converge)" if tot >= 0 else ""))
        else:
            value, text = float(e), (f"[{name}] vs the covariance NFD (keeps the Gamma terms): "
                                     f"{why}. Assumes smooth activation (relu's kink may lower "
                                     f"the order)")
        if variant.reading == "depth":     # each NFD variant against its own SDE
            text = f"Euler-Maruyama of the {variant.nfd} NFD SDE, weak order 1: [{name}] {why}"
        return Derived(value, text)


CLAIM = NFDDepthError()
