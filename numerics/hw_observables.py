"""Per-seed observables of a trained [HW] 2LP ResNet (Model B, docs/theory.md s6).

All functions take the trajectories of :func:`~infdepth.numerics.hidden_width.train_hw` (or the
config and data to produce them) and return numpy arrays with one entry per seed:

* :func:`per_seed_rms` -- ``sqrt(mean over every non-seed axis of a^2)`` of an (S, ...) array;
* :func:`training_observables` -- after K full-batch GD steps, the relative parameter movement
  ``|Z_K - Z_0| / |Z_0|`` (Frobenius over the group, per seed; ``uv`` for u and v together, as
  :class:`~infdepth.numerics.hidden_width.HWResult` defines it), the rms output change
  ``f_K - f_0`` and ``f_1 - f_0``, the rms initial output ``f_0`` and the final loss; optionally
  the movement after the first step alone (recorded by the same run after its first step: the
  numbers of a run with ``K = 1`` on the same seeds).

"After K steps" is the last recorded output of the network's named convention
(:mod:`infdepth.numerics.hw_conventions`): ``f_K`` under ``"default"``, ``f_{K-1}`` under
``"authors"``, whose outputs are recorded before each update (docs/theory.md s6); the movement
is always that of the weights after the K updates.

Non-finite values (divergent training) are kept, not raised: they are data for a regime map.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .hidden_width import HWConfig, train_hw

__all__ = ["per_seed_rms", "training_observables"]


def per_seed_rms(a: np.ndarray) -> np.ndarray:
    """rms over every axis but the first (seeds) of ``a`` (S, ...): shape (S,)."""
    return np.sqrt((a ** 2).reshape(a.shape[0], -1).mean(axis=1))


def training_observables(cfg: HWConfig, X: torch.Tensor, Y: torch.Tensor, *,
                         first_step: bool = False) -> dict[str, np.ndarray]:
    """Train ``cfg`` (K steps, all seeds batched) on ``(X, Y)`` and return per-seed arrays (S,)
    under the keys

    ``movement`` (u and v together), ``movement_u``, ``movement_v`` -- ``|Z_K - Z_0|/|Z_0|``;
    ``output_change`` -- rms over inputs and outputs of ``f_K - f_0``; ``output_init`` -- of
    ``f_0``; ``loss_K`` -- the loss after K steps (the last records); where ``f_1`` is
    recorded (``K >= 1``; ``K >= 2`` under ``"authors"``) ``output_change_1`` -- rms of
    ``f_1 - f_0``; and, with ``first_step=True``, ``movement_1`` -- ``|Z_1 - Z_0|/|Z_0|`` of u
    and v together (recorded after the run's first step; the numbers of a run with ``K = 1``).
    """
    first = first_step and cfg.K >= 1
    r = train_hw(cfg, X, Y, movement_at=(1,) if first else ())
    f = r.f.cpu().numpy()
    with np.errstate(all="ignore"):
        out = {"movement": r.movement["uv"].cpu().numpy(),
               "movement_u": r.movement["u"].cpu().numpy(),
               "movement_v": r.movement["v"].cpu().numpy(),
               "output_change": per_seed_rms(f[:, -1] - f[:, 0]),
               "output_init": per_seed_rms(f[:, 0]),
               "loss_K": r.loss[:, -1].cpu().numpy()}
        if f.shape[1] >= 2:
            out["output_change_1"] = per_seed_rms(f[:, 1] - f[:, 0])
    if first:       # recorded by the K-step run after its first step (same numbers)
        out["movement_1"] = r.movement_at[1]["uv"].cpu().numpy()
    elif first_step:
        out["movement_1"] = train_hw(replace(cfg, K=1), X, Y).movement["uv"].cpu().numpy()
    return out
