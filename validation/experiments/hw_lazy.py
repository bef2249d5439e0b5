"""Claim ``hw_lazy`` (THEORY.md s6, s8): as alpha -> infinity (preset ``hw_lazy``: residual scale
alpha/(LM), raw LR eta L M D/alpha^2) training is lazy: the relative parameter movement of u and v
is O(1/alpha) while the function change stays O(1) (valid while alpha << sqrt(LM)).

Measured per seed after K GD steps on the typical data (tanh, THEORY.md s6), vs alpha at fixed L, M:

* ``tanh/movement`` -- ``|Z_K - Z_0| / |Z_0|`` over u and v together (claimed -1),
* ``tanh/output``   -- rms over inputs and outputs of ``f_K - f_0`` (claimed 0).

The seeds draw the same units at every alpha (same shapes, same streams): paired bootstrap.
eta = 0.5 as ``hw_rate_lm``'s tanh variants (choice; eta = 1 is at the edge of stability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from infdepth.numerics.hw_observables import training_observables

from . import Claimed, Derived, Measurement, Overrides
from .hw_common import HWRunFields
from .hw_rate_lm import ACT_SETTINGS

VARIANTS = ("tanh/movement", "tanh/output")

SUITES = {
    "smoke": {"seeds": 8, "L": 32, "M": 32, "D": 5, "alphas": (1.0, 2.0, 4.0, 8.0)},
    "standard": {"seeds": 16, "L": 64, "M": 64, "D": 5, "alphas": (1.0, 2.0, 4.0, 8.0, 16.0)},
    "full": {"seeds": 32, "L": 128, "M": 128, "D": 5,
             "alphas": (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)},
}


@dataclass(frozen=True)
class HWLazyPoint(HWRunFields):
    act: str
    D: int
    L: int
    M: int
    K: int
    eta: float
    alpha: float
    n_seeds: int
    parameterization: str = "hw_lazy"


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return overrides.filter_activations(VARIANTS)


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[HWLazyPoint]:
    s = SUITES[suite]
    act = variant.split("/")[0]
    st = ACT_SETTINGS.get(act, ACT_SETTINGS["tanh"])
    L = overrides.depths[-1] if overrides.depths else s["L"]
    M = overrides.width(s["M"])
    return [HWLazyPoint(act=act, D=s["D"], L=L, M=M, K=st["K"], eta=st["eta"], alpha=a,
                        n_seeds=s["seeds"], device=device, dtype=dtype) for a in s["alphas"]]


def compute(p: HWLazyPoint) -> pd.DataFrame:
    """One row per seed: relative movement (u and v together, and each), output change
    (:func:`~infdepth.numerics.hw_observables.training_observables`)."""
    from infdepth.theory.parameterization import preset
    sc = preset(p.parameterization).evaluate(L=p.L, M=p.M, D=p.D, alpha=p.alpha)
    cfg = p.config()
    # the model's scales are the preset's (THEORY.md s7): check rather than assume
    if not (np.isclose(sc["v"]["multiplier"], cfg.block_scale)
            and np.isclose(sc["u"]["lr"] * p.eta, cfg.rate_u)):
        raise ValueError(f"parameterization {p.parameterization!r} is not the [HW] 2LP scaling")
    obs = training_observables(cfg, *p.data())
    return pd.DataFrame({"seed": np.arange(p.n_seeds),
                         **{k: obs[k] for k in ("movement", "movement_u", "movement_v",
                                                "output_change", "loss_K")}})


def measurement(variant: str, pts: list[HWLazyPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    p = pts[0]
    col = "movement" if variant.endswith("movement") else "output_change"
    label = ("relative movement |Z_K - Z_0|/|Z_0| of u, v" if col == "movement"
             else "rms output change f_K - f_0")
    return Measurement([q.alpha for q in pts], [f[col].to_numpy() for f in frames], None,
                       "alpha", f"{label} after K={p.K} steps (L={p.L}, M={p.M}, D={p.D})",
                       paired=True)


def claimed(variant: str) -> Claimed:
    if variant.endswith("output"):
        return Claimed(0.0, (-0.15, 0.15), "0 in alpha")
    return Claimed(-1.0, (-1.15, -0.85), "-1 in alpha")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    value, text = derived_exponent("hw_lazy", variant.split("/")[-1])
    return Derived(value, text)
