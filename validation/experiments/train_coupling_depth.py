"""Claim ``train_coupling_depth`` (THEORY.md s4, s8): during training under depth-muP the
accumulated reused-weight coupling is O(L^-2).

Measured after K SGD steps on the training task, at fixed width n, vs depth L, at the last
training step (step K-1): the coupling of the conditional-Gaussian decomposition (s4), summed
over blocks into the residual stream (forward: blocks 1..L, into h_L; backward: blocks L..1,
into g_0), rms over coordinates and the training input, at the three levels of THEORY.md s4
(:mod:`infdepth.numerics.engine.coupling_levels`):

* ``a/forward``, ``a/backward`` -- level (a), the full reused-weight term (the engine's
  ``cpl_fwd_acc`` / ``cpl_bwd_acc``);
* ``b/forward``, ``b/backward`` -- level (b), its leading-order part ``(beta^2/L) sum_s
  Gamma^{ks}_l phi^s`` (backward) and ``(beta^2/L) sum_s g^s Gammat^{ks}_l`` (forward), the terms
  the covariance NFD keeps, with ``Gamma``/``Gammat`` estimated on the finite network itself
  (Stein's lemma for the Gaussian ``W^0_l``: Hutchinson estimates of the traces of the
  training computation's Jacobians, ``n_probes`` Rademacher probes);
* ``c/forward``, ``c/backward`` -- level (c) = (a) - (b), the remainder (vector difference per
  block, then summed and rms'd like the others).

At finite width the coupling also has an O(n^-1/2) init-like part (it is in (c), and at step 0
it is all of (a)); ``init_coupling_width`` reports it. The exponent calculus derives slope 0 for
every level (``derived_exponent("train_coupling_depth", "<level>/<direction>")``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from infdepth.numerics.engine import A1Config
from infdepth.numerics.engine.coupling_levels import coupling_levels
from infdepth.numerics.training_task import ETA, task_tensors

from . import Derived, Measurement, Overrides

LEVELS = ("a", "b", "c")
DIRECTIONS = ("forward", "backward")
VARIANTS = tuple(f"{lv}/{d}" for lv in LEVELS for d in DIRECTIONS)
_LEVEL_TEXT = {"a": "level (a), full term", "b": "level (b), leading Gamma term",
               "c": "level (c) = (a) - (b)"}

SUITES = {
    "smoke": {"act": "tanh", "n": 256, "depths": (2, 4, 8, 16, 32), "seeds": 4, "K": 3},
    "standard": {"act": "tanh", "n": 512, "depths": (2, 4, 8, 16, 32), "seeds": 8,
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
    n_probes: int = 1


def _check_variant(variant: str) -> tuple[str, str]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected '<a|b|c>/<forward|backward>'")
    lv, d = variant.split("/")
    return lv, d


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return VARIANTS


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[TrainCouplingPoint]:
    _check_variant(variant)
    s = SUITES[suite]
    act = overrides.activation(s["act"])
    n = overrides.width(s["n"])
    return [TrainCouplingPoint(act=act, n=n, L=L, K=s["K"], n_seeds=s["seeds"], device=device,
                               dtype=dtype) for L in (overrides.depths or s["depths"])]


def column(level: str, direction: str) -> str:
    """Frame column of the accumulated coupling (level (a) keeps the historical names)."""
    base = "cpl_fwd_acc" if direction == "forward" else "cpl_bwd_acc"
    return base if level == "a" else f"{base}_{level}"


def compute(p: TrainCouplingPoint) -> pd.DataFrame:
    """One row per seed at step K-1: accumulated coupling at levels (a), (b), (c), forward
    (into h_L) and backward (into g_0); ``*_block_mean``: per-block rms averaged over blocks;
    ``gamma_bwd_self``/``gamma_fwd_prev``: block-averaged ``Gamma^{k,k}`` and ``Gammat^{k,k-1}``."""
    import torch
    X, y = task_tensors(dtype=getattr(torch, p.dtype), device=p.device)
    cfg = A1Config(n=p.n, L=p.L, K=p.K, eta=p.eta, parameterization=p.parameterization,
                   act=p.act, mode="reused", n_seeds=p.n_seeds, base_seed=p.base_seed)
    k = p.K - 1
    lv = coupling_levels(cfg, X, y, steps=(k,), n_probes=p.n_probes)
    bs = {name: t.cpu().numpy() for name, t in lv.block_stats.items()}
    out = {"seed": np.arange(p.n_seeds)}
    for level in LEVELS:
        for d, tag, blk in (("forward", "fwd", p.L), ("backward", "bwd", 1)):
            out[column(level, d)] = bs[f"cpl_{tag}_acc:{level}"][:, k, blk]
            name = f"cpl_{tag}_block_mean" + ("" if level == "a" else f"_{level}")
            out[name] = np.nanmean(bs[f"cpl_{tag}:{level}"][:, k, 1:], axis=1)
    gb, gf = lv.gamma_bwd.cpu().numpy(), lv.gamma_fwd.cpu().numpy()
    out["gamma_bwd_self"] = gb[:, k, :, k, 0].mean(1)
    out["gamma_fwd_prev"] = gf[:, k, :, k - 1, 0].mean(1) if k > 0 else np.nan
    return pd.DataFrame(out)


def measurement(variant: str, pts: list[TrainCouplingPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    level, d = _check_variant(variant)
    col = column(level, d)
    p = pts[0]
    return Measurement([q.L for q in pts], [f[col].to_numpy() for f in frames], None, "depth L",
                       f"accumulated coupling, {_LEVEL_TEXT[level]}, {d} (n={p.n}, "
                       f"step {p.K - 1})")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    _check_variant(variant)
    value, text = derived_exponent("train_coupling_depth", variant)
    return Derived(value, text)
