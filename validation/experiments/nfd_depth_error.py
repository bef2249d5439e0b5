"""Claim ``nfd_depth_error`` (THEORY.md s3, s8, s9): the trained finite network converges to the
NFD limit with O(1/L) error (depth-muP, K SGD steps on the training task).

Two readings, each against both NFD variants (``gia``, ``covariance``); variant
``<reading>/<nfd variant>``:

* ``depth`` -- width first (the claim's order of limits): the NFD particle system at depth L
  *is* the infinite-width depth-L network (``numerics.nfd_solver``). Error = Cauchy difference
  || E[f^K_L] - E[f^K_2L] || over the evaluation inputs, on one Brownian path per particle
  seed shared by all depths (increments drawn on the finest grid and summed, s9). At first
  order the Cauchy difference is C/(2L), so its slope equals the error's slope without the
  bias a fixed "finest" reference would add. Particle seeds are the bootstrap units
  (paired across depths); the statistic averages the signed difference over seeds first.
* ``network`` -- the finite network itself (engine, reused W^T, width n, S seeds) at depth L
  against the NFD variant at the finest depth: || mean_seeds f^K_{L,n} - f^K_NFD ||. Finite
  width adds O(n^-1/2) seed noise (bootstrapped; points under the noise floor are refused) and
  an O(1/n) bias; a variant the network does not converge to shows as an error that stops
  decreasing in L.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import pandas as pd

from infdepth.numerics.training_task import ETA, task_tensors

from . import Derived, Measurement, Overrides

READINGS = ("depth", "network")
NFD_VARIANTS = ("covariance", "gia")

SUITES = {
    "smoke": {"act": "tanh", "K": 3, "depths": (2, 4, 8), "particles": 4096,
              "particle_seeds": 6, "n": 256, "net_seeds": 16, "ref_depth": 16},
    "standard": {"act": "tanh", "K": 3, "depths": (2, 4, 8, 16, 32), "particles": 16384,
                 "particle_seeds": 8, "n": 1024, "net_seeds": 32, "ref_depth": 64},
    "full": {"act": "tanh", "K": 5, "depths": (2, 4, 8, 16, 32, 64), "particles": 65536,
             "particle_seeds": 16, "n": 2048, "net_seeds": 64, "ref_depth": 128},
}


@dataclass(frozen=True)
class NFDSweepPoint:
    """NFD solutions at ``depths`` (all on one Brownian path per particle seed)."""

    act: str
    variant: str
    K: int
    depths: tuple[int, ...]
    n_particles: int
    n_seeds: int
    eta: float = ETA
    device: str = "cpu"
    dtype: str = "float64"


@dataclass(frozen=True)
class NetworkPoint:
    """The finite network at (n, L) and the NFD reference it is compared with."""

    act: str
    n: int
    L: int
    K: int
    n_seeds: int
    nfd_variant: str
    ref_depth: int
    ref_particles: int
    ref_seeds: int
    eta: float = ETA
    parameterization: str = "depth_mup"
    device: str = "cpu"
    dtype: str = "float64"


def _split(variant: str) -> tuple[str, str]:
    reading, _, nfd = variant.partition("/")
    if reading not in READINGS or nfd not in NFD_VARIANTS:
        raise ValueError(f"bad nfd_depth_error variant {variant!r}; expected "
                         f"'<{'|'.join(READINGS)}>/<{'|'.join(NFD_VARIANTS)}>'")
    return reading, nfd


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return tuple(f"{r}/{v}" for r in READINGS for v in NFD_VARIANTS)


def _nfd_point(suite: str, nfd: str, act: str, device: str, dtype: str,
               depths: tuple[int, ...]) -> NFDSweepPoint:
    s = SUITES[suite]
    return NFDSweepPoint(act=act, variant=nfd, K=s["K"], depths=depths,
                         n_particles=s["particles"], n_seeds=s["particle_seeds"],
                         device=device, dtype=dtype)


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list:
    reading, nfd = _split(variant)
    s = SUITES[suite]
    act = overrides.activation(s["act"])
    depths = overrides.depths or s["depths"]
    if reading == "depth":
        # one point per depth L holding the pair (L, 2L); all share the finest grid 2*max(L)
        top = 2 * max(depths)
        return [_nfd_point(suite, nfd, act, device, dtype, (L, 2 * L, top)) for L in depths]
    n = overrides.width(s["n"])
    return [NetworkPoint(act=act, n=n, L=L, K=s["K"], n_seeds=s["net_seeds"], nfd_variant=nfd,
                         ref_depth=s["ref_depth"], ref_particles=s["particles"],
                         ref_seeds=s["particle_seeds"], device=device, dtype=dtype)
            for L in depths]


@lru_cache(maxsize=8)
def _solve(act: str, variant: str, K: int, top: int, n_particles: int, n_seeds: int, eta: float,
           device: str, dtype: str) -> dict:
    """All dyadic depths up to ``top`` on shared noise: {L: array (seeds, E)} of f^K_eval."""
    import torch

    from infdepth.numerics.nfd_solver import NFDConfig, solve_nfd_seeds
    X, y = task_tensors(dtype=getattr(torch, dtype), device=device)
    depths = tuple(2 ** k for k in range(1, int(np.log2(top)) + 1))
    cfg = NFDConfig(K=K, eta=eta, act=act, variant=variant, n_particles=n_particles)
    from infdepth.device import torch_threads
    with torch_threads(1 if device == "cpu" else torch.get_num_threads()):
        res = solve_nfd_seeds(cfg, X, y, X, depths=depths, seeds=range(n_seeds))
    return {L: np.array([r.f_eval[-1].cpu().numpy() for r in rs]) for L, rs in res.items()}


@lru_cache(maxsize=16)
def _train_network(act: str, n: int, L: int, K: int, n_seeds: int, eta: float,
                   parameterization: str, device: str, dtype: str) -> np.ndarray:
    """f^K on the eval inputs, (seeds, E), of the reused-W^T network. Cached in-process: the
    gia and covariance network points share the same engine run."""
    import torch

    from infdepth.numerics.engine import A1Config, train_a1
    X, y = task_tensors(dtype=getattr(torch, dtype), device=device)
    cfg = A1Config(n=n, L=L, K=K, eta=eta, parameterization=parameterization, act=act,
                   mode="reused", n_seeds=n_seeds)
    return train_a1(cfg, X, y, X).f_eval[:, -1, :].cpu().numpy()


def compute(p) -> pd.DataFrame:
    if isinstance(p, NFDSweepPoint):
        L, L2, top = p.depths
        f = _solve(p.act, p.variant, p.K, top, p.n_particles, p.n_seeds, p.eta, p.device,
                   p.dtype)
        rows = {"seed": np.arange(p.n_seeds)}
        for i in range(f[L].shape[1]):
            rows[f"diff_{i}"] = f[L][:, i] - f[L2][:, i]
        return pd.DataFrame(rows)
    f = _train_network(p.act, p.n, p.L, p.K, p.n_seeds, p.eta, p.parameterization, p.device,
                       p.dtype)
    ref = _solve(p.act, p.nfd_variant, p.K, p.ref_depth, p.ref_particles, p.ref_seeds, p.eta,
                 p.device, p.dtype)[p.ref_depth].mean(axis=0)
    return pd.DataFrame({"seed": np.arange(p.n_seeds),
                         **{f"f_{i}": f[:, i] for i in range(f.shape[1])},
                         **{f"ref_{i}": np.full(p.n_seeds, ref[i]) for i in range(len(ref))}})


def _norm_of_mean(a: np.ndarray, ref: np.ndarray | None = None) -> float:
    m = a.mean(axis=0)
    return float(np.linalg.norm(m if ref is None else m - ref))


def measurement(variant: str, pts: list, frames: list[pd.DataFrame]) -> Measurement:
    reading, nfd = _split(variant)
    if reading == "depth":
        cols = [c for c in frames[0].columns if c.startswith("diff_")]
        return Measurement([p.depths[0] for p in pts], [f[cols].to_numpy() for f in frames],
                           _norm_of_mean, "depth L",
                           f"|E f^K_L - E f^K_2L| (NFD {nfd}, infinite width)", paired=True)
    p0 = pts[0]
    ref = frames[0][[c for c in frames[0].columns if c.startswith("ref_")]].to_numpy()[0]
    cols = [c for c in frames[0].columns if c.startswith("f_")]
    return Measurement([p.L for p in pts], [f[cols].to_numpy() for f in frames],
                       partial(_norm_of_mean, ref=ref), "depth L",
                       f"|mean f^K (n={p0.n}) - f^K_NFD {nfd} (L={p0.ref_depth})|")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    reading, nfd = _split(variant)
    if reading == "depth":
        # both NFD variants are Euler-Maruyama schemes of their own SDE: weak order 1
        value, text = derived_exponent("nfd_depth_error", "covariance")
        return Derived(value, f"Euler-Maruyama of the {nfd} NFD SDE, weak order 1: {text}")
    value, text = derived_exponent("nfd_depth_error", nfd)
    return Derived(value, text)
