"""The computations behind claim ``nfd_depth_error`` (docs/theory.md s3, s9): the NFD solves of
every dyadic depth on shared noise and the finite network's training, each cached in-process so
the gia and covariance points share one run, and the NFD reference's own error. Not a claim
module."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from infdepth.numerics.training_task import task_tensors

from ..noise_budget import NormOfMean


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
    lanes = torch.get_num_threads() if device == "cpu" else 1   # seeds side by side
    with torch_threads(1 if device == "cpu" else torch.get_num_threads()):
        res = solve_nfd_seeds(cfg, X, y, X, depths=depths, seeds=range(n_seeds), lanes=lanes)
    return {L: np.array([r.f_eval[-1].cpu().numpy() for r in rs]) for L, rs in res.items()}


@lru_cache(maxsize=16)
def _train_network(act: str, n: int, L: int, K: int, n_seeds: int, eta: float,
                   parameterization: str, device: str, dtype: str,
                   base_seed: int = 0) -> np.ndarray:
    """f^K on the eval inputs, (seeds, E), of the reused-W^T network, the seeds in the chunks
    of :func:`~.engine_common.engine_chunks` (the same numbers, in less memory; measured on
    the standard suite's n = 1024, L = 32 point, 32 seeds, one thread, two alternating pairs:
    29.8 / 29.4 s and 8.7 GB peak in one run, 28.7 / 29.6 s and 5.4 / 7.1 GB in chunks of 3,
    the draw cache holding up to its 4 GiB of the chunks' draws).
    Cached in-process: the gia and covariance network points share the same engine run."""
    import torch

    from infdepth.numerics.engine import A1Config, train_a1

    from .engine_common import EnginePoint, engine_chunks
    X, y = task_tensors(dtype=getattr(torch, dtype), device=device)
    point = EnginePoint(act=act, n=n, L=L, n_seeds=n_seeds, eta=eta,
                        parameterization=parameterization, device=device, dtype=dtype,
                        base_seed=base_seed)
    parts = []
    for offset, count in engine_chunks(point, K):
        cfg = A1Config(n=n, L=L, K=K, eta=eta, parameterization=parameterization, act=act,
                       mode="reused", n_seeds=count, seed_offset=offset, base_seed=base_seed)
        parts.append(train_a1(cfg, X, y, X).f_eval[:, -1, :].cpu().numpy())
    return np.concatenate(parts)


def reference_error(f: dict, ref_depth: int) -> tuple[float, float]:
    """``(depth error, Monte Carlo error)`` of the seed-mean NFD output at ``ref_depth`` from one
    solve ``f`` ({L: (seeds, E)}, every dyadic depth): the noise-corrected norm of the mean
    Cauchy difference ``f_{ref/2} - f_ref`` (at first order in 1/L, the reference's own depth
    error), and the standard error of the seed mean (std over seeds / sqrt(seeds)), rms over the
    outputs."""
    top = f[ref_depth]
    depth = NormOfMean()(f[ref_depth // 2] - top)
    S = top.shape[0]
    mc = float(np.sqrt(np.mean(top.var(axis=0, ddof=1) / S))) if S > 1 else math.nan
    return depth, mc
