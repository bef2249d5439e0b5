"""Claim ``gia_restoration`` (THEORY.md s4 "decoupled" meaning 2, s8): training with the true
backward pass (W_l^T reused) and with independently drawn backward matrices Wt_l (updated with
the same Delta W_l) gives training curves that coincide as L grows under depth-muP, but not
under muP (nor SP).

Measured per parameterization (variant): the gap between the two loss curves, per seed
(both runs share U, W^0, v; only the backward matrices differ),

    gap = sqrt( mean_{k=1..K} (loss_reused_k - loss_indep_k)^2 ) / loss_0,

averaged over seeds, vs depth L, slope fitted on log-log axes. The claim is qualitative, so the
band is one-sided: depth_mup "decreasing" = slope <= -0.15 (the default tolerance); mup and sp
"not decreasing" = slope >= -0.15. Divergent runs (NaN/inf loss, likely for mup at large L)
are recorded and excluded from the fit with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from infdepth.numerics.engine import A1Config, train_a1
from infdepth.numerics.training_task import ETA, task_tensors

from . import Claimed, Derived, Measurement, Overrides

PARAMETERIZATIONS = ("depth_mup", "mup", "sp")

SUITES = {
    "smoke": {"act": "tanh", "n": 128, "depths": (2, 4, 8, 16), "seeds": 4, "K": 6},
    "standard": {"act": "tanh", "n": 512, "depths": (2, 4, 8, 16, 32), "seeds": 8, "K": 9},
    "full": {"act": "tanh", "n": 1024, "depths": (2, 4, 8, 16, 32, 64, 128), "seeds": 16,
             "K": 15},
}


@dataclass(frozen=True)
class GiaPoint:
    act: str
    parameterization: str
    n: int
    L: int
    K: int
    n_seeds: int
    eta: float = ETA
    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return PARAMETERIZATIONS


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[GiaPoint]:
    s = SUITES[suite]
    act = overrides.activation(s["act"])
    n = overrides.width(s["n"])
    return [GiaPoint(act=act, parameterization=variant, n=n, L=L, K=s["K"], n_seeds=s["seeds"],
                     device=device, dtype=dtype) for L in (overrides.depths or s["depths"])]


def compute(p: GiaPoint) -> pd.DataFrame:
    """One row per seed and step: both loss curves (mean loss over the training inputs)."""
    import torch
    X, y = task_tensors(dtype=getattr(torch, p.dtype), device=p.device)
    losses = {}
    for mode in ("reused", "independent"):
        cfg = A1Config(n=p.n, L=p.L, K=p.K, eta=p.eta, parameterization=p.parameterization,
                       act=p.act, mode=mode, n_seeds=p.n_seeds, base_seed=p.base_seed)
        with np.errstate(all="ignore"):
            losses[mode] = train_a1(cfg, X, y, X).loss.cpu().numpy()
    S, K1 = losses["reused"].shape
    return pd.DataFrame({"seed": np.repeat(np.arange(S), K1), "step": np.tile(np.arange(K1), S),
                         "loss_reused": losses["reused"].ravel(),
                         "loss_independent": losses["independent"].ravel()})


def per_seed_gap(frame: pd.DataFrame) -> np.ndarray:
    out = []
    for _, g in frame.groupby("seed"):
        g = g.sort_values("step")
        r, i = g["loss_reused"].to_numpy(), g["loss_independent"].to_numpy()
        gap = math.sqrt(np.mean((r[1:] - i[1:]) ** 2)) / r[0] if np.all(np.isfinite(r)) and \
            np.all(np.isfinite(i)) else float("nan")
        out.append(gap)
    return np.asarray(out)


def measurement(variant: str, pts: list[GiaPoint], frames: list[pd.DataFrame]) -> Measurement:
    samples = []
    for f in frames:
        gaps = per_seed_gap(f)
        # a divergent seed makes the point non-finite: the fitter excludes it with a note
        samples.append(gaps)
    p = pts[0]
    return Measurement([q.L for q in pts], samples, None, "depth L",
                       f"rel. rms gap of loss curves, reused vs independent W^T "
                       f"(n={p.n}, K={p.K})")


def claimed(variant: str) -> Claimed:
    if variant == "depth_mup":
        return Claimed(None, (-math.inf, -0.15), "decreasing in L")
    return Claimed(None, (-0.15, math.inf), "not decreasing in L")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    value, text = derived_exponent("gia_restoration", variant)
    return Derived(value, text)
