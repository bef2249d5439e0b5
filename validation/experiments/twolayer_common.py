"""Shared sweep point of the two-layer claims (THEORY.md s5): Model A2 trained K SGD steps on
the training task, per-block rms of the first internal layer's change and of the residual
stream's change at the last step.

Two readings of "the learned change of the first internal layer's pre-activations":
``weight`` -- ``m_1 (W1^k - W1^0) phi(h^k)``, the layer's own update (engine ``duw_rms``; what
the collapse argument power-counts and what THEORY s5's preliminary numerics scaled), and
``total`` -- ``u^k - u^0`` (engine ``du_rms``), which also carries the residual stream's change
seen through W1^0 and is Theta(1) at every depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from infdepth.numerics.training_task import ETA, task_tensors


@dataclass(frozen=True)
class TwoLayerPoint:
    act: str
    parameterization: str
    n: int
    L: int
    K: int
    n_seeds: int
    gamma: float | None = None   # depth_mup_corrected only
    L0: float = 4.0
    eta: float = ETA
    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"


def param_of(p: TwoLayerPoint):
    from infdepth.theory.parameterization import preset
    if p.parameterization == "depth_mup_corrected":
        return preset("depth_mup_corrected", gamma=p.gamma, L0=p.L0)
    return preset(p.parameterization)


def compute(p: TwoLayerPoint) -> pd.DataFrame:
    """One row per seed: block-mean rms of du (weight, total) and rms dh_L, at step K."""
    import torch

    from infdepth.numerics.engine import A1Config, train_a1
    X, y = task_tensors(dtype=getattr(torch, p.dtype), device=p.device)
    cfg = A1Config(n=p.n, L=p.L, K=p.K, eta=p.eta, parameterization=param_of(p), act=p.act,
                   block="two_layer", n_seeds=p.n_seeds, base_seed=p.base_seed)
    bs = train_a1(cfg, X, y, X).block_stats
    k = p.K
    return pd.DataFrame({
        "seed": np.arange(p.n_seeds),
        "du_weight": np.nanmean(bs["duw_rms"][:, k, 1:].cpu().numpy(), axis=1),
        "du_total": np.nanmean(bs["du_rms"][:, k, 1:].cpu().numpy(), axis=1),
        "dh_L": bs["dh_rms"][:, k, p.L].cpu().numpy(),
    })
