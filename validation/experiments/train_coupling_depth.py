"""Claim ``train_coupling_depth`` (THEORY.md s4, s8): during training under depth-muP the
accumulated reused-weight coupling is O(L^-2).

Measured after K SGD steps on the training task, at fixed width n, vs depth L: the coupling of
the conditional-Gaussian decomposition (s4), level (a) (the full reused-weight term), summed
over blocks into the residual stream, rms over coordinates and inputs:

* ``a/forward``  -- forward pass at step K (engine ``cpl_fwd_acc`` at the last block),
* ``a/backward`` -- backward pass at step K (engine ``cpl_bwd_acc`` at block 1).

Levels (b) (the leading-order Gamma term the covariance NFD keeps) and (c) = (a) - (b) need the
Gamma estimate of the NFD solver and are not measured yet; they are listed as pending.
At finite width the coupling also has an O(n^-1/2) init-like part; the suites keep n large
enough that it is a small fraction of the measured value (reported by ``init_coupling_width``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from infdepth.numerics.engine import A1Config, train_a1

from . import Derived, Measurement, Overrides
from .training_task import ETA, task_tensors

VARIANTS = ("a/forward", "a/backward")

SUITES = {
    "smoke": {"act": "tanh", "n": 256, "depths": (2, 4, 8, 16, 32), "seeds": 4, "K": 3},
    "standard": {"act": "tanh", "n": 1024, "depths": (2, 4, 8, 16, 32, 64), "seeds": 8,
                 "K": 3},
    "full": {"act": "tanh", "n": 2048, "depths": (2, 4, 8, 16, 32, 64, 128), "seeds": 16,
             "K": 5},
}


@dataclass(frozen=True)
class TrainCouplingPoint:
    act: str
    n: int
    L: int
    K: int
    n_seeds: int
    eta: float = ETA
    parameterization: str = "depth_mup"
    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return VARIANTS


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[TrainCouplingPoint]:
    s = SUITES[suite]
    act = overrides.activations[0] if overrides.activations else s["act"]
    n = overrides.widths[-1] if overrides.widths else s["n"]
    return [TrainCouplingPoint(act=act, n=n, L=L, K=s["K"], n_seeds=s["seeds"], device=device,
                               dtype=dtype) for L in (overrides.depths or s["depths"])]


def compute(p: TrainCouplingPoint) -> pd.DataFrame:
    """One row per seed: accumulated coupling (forward, backward) at the last step."""
    import torch
    X, y = task_tensors(dtype=getattr(torch, p.dtype), device=p.device)
    cfg = A1Config(n=p.n, L=p.L, K=p.K, eta=p.eta, parameterization=p.parameterization,
                   act=p.act, mode="reused", n_seeds=p.n_seeds, base_seed=p.base_seed,
                   record_coupling=True)
    bs = train_a1(cfg, X, y, X).block_stats
    return pd.DataFrame({
        "seed": np.arange(p.n_seeds),
        "cpl_fwd_acc": bs["cpl_fwd_acc"][:, p.K - 1, p.L].cpu().numpy(),
        "cpl_bwd_acc": bs["cpl_bwd_acc"][:, p.K - 1, 1].cpu().numpy(),
        "cpl_fwd_block_mean": np.nanmean(bs["cpl_fwd:W"][:, p.K - 1, 1:].cpu().numpy(), axis=1),
    })


def measurement(variant: str, pts: list[TrainCouplingPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    col = "cpl_fwd_acc" if variant == "a/forward" else "cpl_bwd_acc"
    p = pts[0]
    return Measurement([q.L for q in pts], [f[col].to_numpy() for f in frames], None, "depth L",
                       f"accumulated coupling, level (a), {variant[2:]} (n={p.n}, step {p.K - 1})")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    value, text = derived_exponent("train_coupling_depth", "a")
    return Derived(value, text)
