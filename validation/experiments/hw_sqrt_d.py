"""Claim ``hw_sqrt_d`` (THEORY.md s6, s8): for 2LP blocks the error is O(sqrt(D)/sqrt(LM)); the
per-coordinate embedding error grows like sqrt(D) at fixed LM (needs D = O(LM)).

Measured per seed: rms over inputs and embedding coordinates of ``h_L`` after K GD steps minus the
**exact** linear-activation Mean ODE (:mod:`infdepth.numerics.mean_ode_linear`), at fixed L and M
(variant ``linear/embedding``), and the same at step 0 (``linear/embedding_init``: the init noise
alone, before training can amplify it differently at each D). Settings as ``hw_rate_lm``'s linear variants (eta = 0.2, K = 15;
median over seeds). W_in and W_out are redrawn for every D (different shapes), so the sizes are
not paired.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import Derived, Measurement, Overrides
from .hw_rate_lm import ACT_SETTINGS, STATISTICS, HWPoint, split_statistic, with_mean_twins
from .hw_rate_lm import compute as _compute

VARIANTS = ("linear/embedding", "linear/embedding_init")

SUITES = {
    "smoke": {"seeds": 8, "L": 16, "M": 16, "D_sweep": (4, 8, 16, 32)},
    "standard": {"seeds": 24, "L": 32, "M": 32, "D_sweep": (4, 8, 16, 32)},
    "full": {"seeds": 64, "L": 64, "M": 64, "D_sweep": (4, 8, 16, 32, 64, 128)},
}


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return with_mean_twins(overrides.filter_activations(VARIANTS))


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[HWPoint]:
    s = SUITES[suite]
    st = ACT_SETTINGS["linear"]
    L = overrides.depths[-1] if overrides.depths else s["L"]
    M = s["M"]
    return [HWPoint(act="linear", D=D, L=L, M=M, K=st["K"], eta=st["eta"], n_seeds=s["seeds"],
                    device=device, dtype=dtype) for D in (overrides.widths or s["D_sweep"])]


def compute(p: HWPoint) -> pd.DataFrame:
    """One row per seed (same columns as ``hw_rate_lm``: ``emb_err``, ``out_err``, ...)."""
    return _compute(p)


def measurement(variant: str, pts: list[HWPoint], frames: list[pd.DataFrame]) -> Measurement:
    p = pts[0]
    variant, stat = split_statistic(variant)
    init = variant.endswith("_init")
    return Measurement([q.D for q in pts],
                       [f["emb_err_init" if init else "emb_err"].to_numpy() for f in frames],
                       STATISTICS[stat], "embedding dimension D",
                       f"{stat} rms per-coordinate embedding error {'at init' if init else f'after K={p.K} steps'}"
                       f" vs exact Mean ODE (linear, L={p.L}, M={p.M})")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    value, text = derived_exponent("hw_sqrt_d", split_statistic(variant)[0].replace("_init", ""))
    return Derived(value, text)
