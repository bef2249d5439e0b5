"""The sweep point shared by the two-layer claims ``twolayer_collapse`` and ``twolayer_correction``
(docs/theory.md s5). Not a claim module (not in ``CLAIM_IDS``): both claims build their points
here, so a depth-muP or corrected point is one config, stored once, whichever claim asks. The
claims import this module inside ``points``/``compute`` only: it imports the training task, hence
torch, which ``infdepth validate --list`` does not need.

One point: Model A2 (two-layer residual blocks) trained ``K`` SGD steps on the training task
(:mod:`infdepth.numerics.training_task`), ``n_seeds`` seeds; per seed the block
mean (blocks ``1..L``) of the rms change of the first internal layer's pre-activations at step
``K``, and the rms change of the residual stream at the last block, ``h^K_L - h^0_L``.

Two readings of "the learned change of the first internal layer's pre-activations":
``weight`` -- ``m_1 (W1^k - W1^0) phi(h^k)``, the layer's own update (engine ``duw_rms``; what
the collapse argument power-counts and what docs/theory.md s5's preliminary numerics scaled),
and ``total`` -- ``u^k - u^0`` (engine ``du_rms``), which also carries the residual stream's
change seen through ``W1^0`` and is Theta(1) at every depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infdepth.lazy import lazy
from infdepth.run_fields import RunFields

from infdepth.numerics.training_task import task_tensors  # imports torch
from .base import Overrides
from .engine_common import DepthSweep, TrainedPoint, engine_footprint

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

__all__ = ["TwoLayerPoint", "param_of", "sweep_points", "compute_point", "point_footprint"]


@dataclass(frozen=True, kw_only=True)
class TwoLayerPoint(TrainedPoint):
    """One depth: Model A2 under ``parameterization`` (``gamma``, ``L0``: the first internal
    layer's LR factor ``(L/L0)^gamma`` of ``depth_mup_corrected`` only), ``K`` steps of SGD at
    base rate ``eta``, ``n_seeds`` seeds."""

    parameterization: str       # no default: the setting's
    gamma: float | None = None   # depth_mup_corrected only
    L0: float = 4.0


def param_of(p: TwoLayerPoint):
    """The point's :class:`~infdepth.theory.parameterization.Parameterization`."""
    from infdepth.theory.parameterization import preset
    if p.parameterization == "depth_mup_corrected":
        return preset("depth_mup_corrected", gamma=p.gamma, L0=p.L0)
    return preset(p.parameterization)


def sweep_points(sweep: DepthSweep, overrides: Overrides, run: RunFields,
                 parameterization: str, gamma: float | None = None) -> list[TwoLayerPoint]:
    """The depth sweep of one setting (``--activations``/``--widths``/``--depths`` apply)."""
    return sweep.points(TwoLayerPoint, overrides, run, parameterization=parameterization,
                        gamma=gamma)


def compute_point(p: TwoLayerPoint) -> pd.DataFrame:
    """One row per seed: ``seed``, block-mean rms of the first layer's change (``du_weight``: own
    update, ``du_total``: ``u^K - u^0``) and rms ``dh_L`` of the stream's change, at step K."""
    from infdepth.numerics.engine import A1Config, train_a1
    X, y = task_tensors(dtype=p.torch_dtype, device=p.device)
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


def point_footprint(p: TwoLayerPoint):
    """One engine run of Model A2 (two matrices per block) for ``K`` steps."""
    return engine_footprint(p, p.K, groups=2)
