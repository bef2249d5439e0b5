"""Claim ``init_coupling_width`` (THEORY.md s4, s8): at init the weight-reuse coupling is a
finite-width effect of order O(1/n), uniformly in depth.

At step 0 the backward pass reuses W_l^T after the forward pass has revealed W_l phi; the
conditional-Gaussian decomposition (s4) splits W_l^T g into a decoupled part and the
reused-weight coupling. "Coupling size" has two readings, both measured (variant
``<reading>/L<depth>``):

* ``rms``    -- rms over coordinates of the coupling's contribution to the gradient reaching
  h_0, accumulated over all blocks (engine statistic ``cpl_bwd_acc`` at block 1, step 0);
* ``moment`` -- its effect on the gradient second moment:
  |E[|g_0|^2/n]_reused - E[|g_0|^2/n]_coupling removed| / E[|g_0|^2/n]_reused, the two runs
  sharing every weight (same seeds), so the difference is the coupling's effect alone.

Depth-uniformity is read off by comparing the same reading at two depths.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from infdepth.numerics.engine import A1Config, train_a1
from infdepth.numerics.training_task import ETA, task_tensors

from . import Derived, Measurement, Overrides

READINGS = ("rms", "moment")

SUITES = {
    "smoke": {"act": "tanh", "depths": (4,), "widths": (16, 32, 64, 128), "seeds": 256},
    "standard": {"act": "tanh", "depths": (4, 16), "widths": (16, 32, 64, 128, 256, 512),
                 "seeds": 400},
    "full": {"act": "tanh", "depths": (4, 16, 64), "widths": (16, 32, 64, 128, 256, 512, 1024),
             "seeds": 800},
}


@dataclass(frozen=True)
class CouplingInitPoint:
    act: str
    n: int
    L: int
    n_seeds: int
    eta: float = ETA
    parameterization: str = "depth_mup"
    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"


def _split(variant: str) -> tuple[str, int]:
    reading, _, depth = variant.partition("/L")
    if reading not in READINGS or not depth.isdigit():
        raise ValueError(f"bad init_coupling_width variant {variant!r}; expected "
                         f"'<rms|moment>/L<depth>'")
    return reading, int(depth)


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    depths = overrides.depths or SUITES[suite]["depths"]
    return tuple(f"{r}/L{L}" for r in READINGS for L in depths)


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[CouplingInitPoint]:
    _, L = _split(variant)
    s = SUITES[suite]
    act = overrides.activation(s["act"])
    return [CouplingInitPoint(act=act, n=n, L=L, n_seeds=s["seeds"], device=device, dtype=dtype)
            for n in (overrides.widths or s["widths"])]


def compute(p: CouplingInitPoint) -> pd.DataFrame:
    """One row per seed: coupling rms and the gradient second moment in both modes (step 0)."""
    import torch
    X, y = task_tensors(dtype=getattr(torch, p.dtype), device=p.device)
    out = {}
    for mode in ("reused", "coupling_removed"):
        cfg = A1Config(n=p.n, L=p.L, K=1, eta=p.eta, parameterization=p.parameterization,
                       act=p.act, mode=mode, n_seeds=p.n_seeds, base_seed=p.base_seed,
                       record_coupling=True)
        out[mode] = train_a1(cfg, X, y, X).block_stats
    r, c = out["reused"], out["coupling_removed"]
    return pd.DataFrame({
        "seed": np.arange(p.n_seeds),
        "cpl_rms": r["cpl_bwd_acc"][:, 0, 1].cpu().numpy(),
        "g2_reused": (r["g_rms"][:, 0, 0] ** 2).cpu().numpy(),
        "g2_removed": (c["g_rms"][:, 0, 0] ** 2).cpu().numpy(),
    })


def _moment_effect(a: np.ndarray) -> float:
    return float(abs(np.mean(a[:, 0] - a[:, 1])) / np.mean(a[:, 0]))


def measurement(variant: str, pts: list[CouplingInitPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    reading, L = _split(variant)
    if reading == "rms":
        samples = [f["cpl_rms"].to_numpy() for f in frames]
        return Measurement([p.n for p in pts], samples, None, "width n",
                           f"rms of accumulated coupling in g_0 at init (L={L})")
    samples = [f[["g2_reused", "g2_removed"]].to_numpy() for f in frames]
    return Measurement([p.n for p in pts], samples, _moment_effect, "width n",
                       f"rel. effect of coupling on E|g_0|^2/n at init (L={L})")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    reading, _ = _split(variant)
    value, text = derived_exponent("init_coupling_width", reading)
    return Derived(value, text)
