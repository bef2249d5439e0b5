"""Claim ``twolayer_correction`` (THEORY.md s5, s8): the depth-aware learning-rate correction
(first internal layer's rate times (L/L0)^gamma) restores its feature learning, so the rms
learned change of u is flat in L -- and, for hyperparameter transfer, the residual stream's
change should stay flat too.

Variants ``<quantity>/<setting>``: quantity ``du`` (first layer's own update, block mean rms)
or ``dh`` (rms of h^K_L - h^0_L); setting ``gamma=<g>`` (depth_mup_corrected, L0 = 4) or
``completep``. Claimed slope 0 in L for both quantities (tolerance band +-0.15).
"""

from __future__ import annotations

import pandas as pd

from . import Derived, Measurement, Overrides
from .twolayer_common import TwoLayerPoint, compute  # noqa: F401

QUANTITIES = ("du", "dh")

SUITES = {
    "smoke": {"act": "tanh", "n": 256, "depths": (4, 8, 16, 32), "seeds": 4, "K": 3,
              "settings": ("gamma=0.5", "completep")},
    "standard": {"act": "tanh", "n": 512, "depths": (4, 8, 16, 32, 64), "seeds": 8, "K": 3,
                 "settings": ("gamma=0.5", "gamma=0.25", "completep")},
    "full": {"act": "tanh", "n": 1024, "depths": (4, 8, 16, 32, 64, 128), "seeds": 16, "K": 5,
             "settings": ("gamma=0.5", "gamma=0.25", "gamma=0.75", "completep")},
}


def _split(variant: str) -> tuple[str, str]:
    q, _, setting = variant.partition("/")
    if q not in QUANTITIES or not (setting == "completep" or setting.startswith("gamma=")):
        raise ValueError(f"bad twolayer_correction variant {variant!r}; expected "
                         f"'<du|dh>/<gamma=G|completep>'")
    return q, setting


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return tuple(f"{q}/{s}" for s in SUITES[suite]["settings"] for q in QUANTITIES)


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[TwoLayerPoint]:
    _, setting = _split(variant)
    s = SUITES[suite]
    act = overrides.activation(s["act"])
    n = overrides.width(s["n"])
    if setting == "completep":
        par, gamma = "completep", None
    else:
        par, gamma = "depth_mup_corrected", float(setting.split("=")[1])
    return [TwoLayerPoint(act=act, parameterization=par, gamma=gamma, n=n, L=L, K=s["K"],
                          n_seeds=s["seeds"], device=device, dtype=dtype)
            for L in (overrides.depths or s["depths"])]


def measurement(variant: str, pts: list[TwoLayerPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    q, setting = _split(variant)
    col = "du_weight" if q == "du" else "dh_L"
    what = "m1 (W1^K - W1^0) phi(h), block mean" if q == "du" else "h^K_L - h^0_L"
    return Measurement([p.L for p in pts], [f[col].to_numpy() for f in frames], None,
                       "depth L", f"rms {what} ({setting}, n={pts[0].n})")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derive, derived_exponent
    q, setting = _split(variant)
    if setting != "completep":
        return Derived(*derived_exponent("twolayer_correction", variant))
    res = derive("completep", model="A2")
    name = "internal_update" if q == "du" else "stream_update"
    return Derived(float(res.exponent(name)), dict(res.quantities)[name].derivation)
