"""Claim ``twolayer_collapse`` (THEORY.md s5, s8): under depth-muP the first internal layer's
feature update in two-layer residual blocks vanishes like L^-1/2.

Measured: block-mean rms of the first internal layer's change after K steps vs L, two readings
(variants, see :mod:`twolayer_common`): ``weight`` (the layer's own update, the claim's
quantity) and ``total`` (u^k - u^0, also carrying the stream's change through W1^0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import Derived, Measurement, Overrides
from .twolayer_common import TwoLayerPoint, compute  # noqa: F401  (compute is the contract)

READINGS = ("weight", "total")

SUITES = {
    "smoke": {"act": "tanh", "n": 256, "depths": (4, 8, 16, 32), "seeds": 4, "K": 3},
    "standard": {"act": "tanh", "n": 512, "depths": (4, 8, 16, 32, 64), "seeds": 8, "K": 3},
    "full": {"act": "tanh", "n": 1024, "depths": (4, 8, 16, 32, 64, 128), "seeds": 16, "K": 5},
}


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return READINGS


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[TwoLayerPoint]:
    if variant not in READINGS:
        raise ValueError(f"unknown twolayer_collapse variant {variant!r}; allowed: "
                         f"{', '.join(READINGS)}")
    s = SUITES[suite]
    act = overrides.activation(s["act"])
    n = overrides.width(s["n"])
    return [TwoLayerPoint(act=act, parameterization="depth_mup", n=n, L=L, K=s["K"],
                          n_seeds=s["seeds"], device=device, dtype=dtype)
            for L in (overrides.depths or s["depths"])]


def measurement(variant: str, pts: list[TwoLayerPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    col = "du_weight" if variant == "weight" else "du_total"
    what = ("m1 (W1^K - W1^0) phi(h)" if variant == "weight" else "u^K - u^0")
    return Measurement([p.L for p in pts], [f[col].to_numpy() for f in frames], None,
                       "depth L", f"rms {what}, block mean (depth-muP, n={pts[0].n})")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derive, derived_exponent
    if variant == "weight":
        return Derived(*derived_exponent("twolayer_collapse", "depth_mup"))
    q = derive("depth_mup", model="A2")
    return Derived(float(q.exponent("internal_update_total")),
                   "total change of u = own update + stream change through W1^0: "
                   + dict(q.quantities)["internal_update_total"].derivation)
