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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import pandas as pd

from infdepth.run_fields import RunFields
from infdepth.numerics.training_task import ETA, task_tensors

from ..measurements import RateMeasurement
from infdepth.theory.exponents_core import weak_depth_error
from .base import Claim, Derived, FigureSpec, Overrides, Variant, size_sweep
from .engine_common import TrainedPoint

READINGS: tuple[str, ...] = ("depth", "network")
NFD_VARIANTS: tuple[str, ...] = ("covariance", "gia")


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
class NFDSweepPoint(RunFields):
    """NFD solutions at ``depths`` = (L, 2L, finest), on one Brownian path per particle seed."""

    act: str
    variant: str
    K: int
    depths: tuple[int, ...]
    n_particles: int
    n_seeds: int
    eta: float = ETA


@dataclass(frozen=True, kw_only=True)
class NetworkPoint(TrainedPoint):
    """The finite network at (n, L) and the NFD reference it is compared with."""

    nfd_variant: str
    ref_depth: int
    ref_particles: int
    ref_seeds: int


@lru_cache(maxsize=8)
def _solve(act: str, variant: str, K: int, top: int, n_particles: int, n_seeds: int, eta: float,
           device: str, dtype: str, base_seed: int = 0) -> dict:
    """All dyadic depths up to ``top`` on shared noise: {L: array (seeds, E)} of f^K_eval."""
    import torch

    from infdepth.device import torch_threads
    from infdepth.numerics.nfd_solver import NFDConfig, solve_nfd_seeds
    X, y = task_tensors(dtype=getattr(torch, dtype), device=device)
    depths = tuple(2 ** k for k in range(1, int(np.log2(top)) + 1))
    cfg = NFDConfig(K=K, eta=eta, act=act, variant=variant, n_particles=n_particles,
                    base_seed=base_seed)
    with torch_threads(1 if device == "cpu" else torch.get_num_threads()):
        res = solve_nfd_seeds(cfg, X, y, X, depths=depths, seeds=range(n_seeds))
    return {L: np.array([r.f_eval[-1].cpu().numpy() for r in rs]) for L, rs in res.items()}


@lru_cache(maxsize=16)
def _train_network(act: str, n: int, L: int, K: int, n_seeds: int, eta: float,
                   parameterization: str, device: str, dtype: str,
                   base_seed: int = 0) -> np.ndarray:
    """f^K on the eval inputs, (seeds, E), of the reused-W^T network. Cached in-process: the
    gia and covariance network points share the same engine run."""
    import torch

    from infdepth.numerics.engine import A1Config, train_a1
    X, y = task_tensors(dtype=getattr(torch, dtype), device=device)
    cfg = A1Config(n=n, L=L, K=K, eta=eta, parameterization=parameterization, act=act,
                   mode="reused", n_seeds=n_seeds, base_seed=base_seed)
    return train_a1(cfg, X, y, X).f_eval[:, -1, :].cpu().numpy()


def _norm_of_mean(a: np.ndarray, ref: np.ndarray | None = None) -> float:
    m = a.mean(axis=0)
    return float(np.linalg.norm(m if ref is None else m - ref))



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
    figures = (FigureSpec("rate", "nfd_depth_error",
                          "[NFD] trained network and NFD depth-L vs limit (claimed O(1/L))",
                          ylabel="output error (depth: NFD Cauchy difference; network: engine "
                                 "vs NFD)"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[NFDVariant, ...]:
        return tuple(NFDVariant(r, v) for r in READINGS for v in NFD_VARIANTS)

    def points(self, variant: NFDVariant, sweep: Sweep, overrides: Overrides,
               run: RunFields) -> list[NFDSweepPoint] | list[NetworkPoint]:
        act = overrides.activation(sweep.act)
        depths = size_sweep(overrides.depths, sweep.depths)
        if variant.reading == "depth":
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

    def compute(self, point: NFDSweepPoint | NetworkPoint) -> pd.DataFrame:
        """Depth point: one row per particle seed, ``diff_i`` = f^K_L - f^K_2L on eval input i.
        Network point: one row per network seed, ``f_i`` = f^K on eval input i and ``ref_i`` =
        the NFD reference (seed mean at ``ref_depth``), repeated."""
        p = point
        if isinstance(p, NFDSweepPoint):
            L, L2, top = p.depths
            f = _solve(p.act, p.variant, p.K, top, p.n_particles, p.n_seeds, p.eta, p.device,
                       p.dtype, p.base_seed)
            rows = {"seed": np.arange(p.n_seeds)}
            for i in range(f[L].shape[1]):
                rows[f"diff_{i}"] = f[L][:, i] - f[L2][:, i]
            return pd.DataFrame(rows)
        f = _train_network(p.act, p.n, p.L, p.K, p.n_seeds, p.eta, p.parameterization, p.device,
                           p.dtype, p.base_seed)
        ref = _solve(p.act, p.nfd_variant, p.K, p.ref_depth, p.ref_particles, p.ref_seeds, p.eta,
                     p.device, p.dtype, p.base_seed)[p.ref_depth].mean(axis=0)
        return pd.DataFrame({"seed": np.arange(p.n_seeds),
                             **{f"f_{i}": f[:, i] for i in range(f.shape[1])},
                             **{f"ref_{i}": np.full(p.n_seeds, ref[i]) for i in range(len(ref))}})

    def measure(self, variant: NFDVariant, points, frames) -> RateMeasurement:
        if variant.reading == "depth":
            cols = [c for c in frames[0].columns if c.startswith("diff_")]
            return RateMeasurement([p.depths[0] for p in points],
                                   [f[cols].to_numpy() for f in frames], _norm_of_mean,
                                   "depth L", f"|E f^K_L - E f^K_2L| (NFD {variant.nfd}, "
                                   f"infinite width)", paired=True)
        p0 = points[0]
        ref = frames[0][[c for c in frames[0].columns if c.startswith("ref_")]].to_numpy()[0]
        cols = [c for c in frames[0].columns if c.startswith("f_")]
        return RateMeasurement([p.L for p in points], [f[cols].to_numpy() for f in frames],
                               partial(_norm_of_mean, ref=ref), "depth L",
                               f"|mean f^K (n={p0.n}) - f^K_NFD {variant.nfd} "
                               f"(L={p0.ref_depth})|")

    def derived(self, variant: NFDVariant) -> Derived:
        """Power counting of model A1 under depth-muP (docs/theory.md s3, s7): the weak error of
        an Euler-Maruyama scheme, L^-1 (depth reading: each NFD variant of its own SDE); against
        the GIA limit also the (b) terms the GIA drops, Theta(1): no convergence."""
        from infdepth.theory.exponents_a1 import derive_a1
        from infdepth.theory.exponents_core import fmt_rational
        from infdepth.theory.parameterization import preset
        name = "depth_mup"
        r = derive_a1(preset(name))
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
        if variant.reading == "depth":
            text = f"Euler-Maruyama of the {variant.nfd} NFD SDE, weak order 1: {text}"
        return Derived(value, text)


CLAIM = NFDDepthError()
