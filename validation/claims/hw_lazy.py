"""Claim ``hw_lazy`` (docs/theory.md s6, s8): as alpha -> infinity (preset ``hw_lazy``: residual
scale alpha/(LM), raw LR eta L M D/alpha^2) training is lazy: the relative parameter movement of u
and v is O(1/alpha) while the function change stays O(1) (valid while alpha << sqrt(LM)).

Measured per seed after K GD steps on the typical data (tanh), vs alpha at fixed L, M:
``tanh/movement`` -- ``|Z_K - Z_0| / |Z_0|`` over u and v together (claimed -1);
``tanh/output`` -- rms over inputs and outputs of ``f_K - f_0`` (claimed 0)
(:func:`~infdepth.numerics.hw_observables.training_observables`). The seeds draw the same units
at every alpha (same shapes, same streams): paired bootstrap. eta = 0.5 as ``hw_rate_lm``'s tanh
variants (choice; eta = 1 is at the edge of stability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from infdepth.theory.exponents_core import fmt_exponent

from ..measurements import Claimed, RateMeasurement
from .base import TOLERANCE, Claim, Derived, FigureSpec, Overrides, Variant
from .hw_common import ACT_SETTINGS, FixedSizeSweep, HWNetworkPoint

QUANTITIES = {"movement": ("movement", "relative movement |Z_K - Z_0|/|Z_0| of u, v", -1.0,
                           "-1 in alpha"),
              "output": ("output_change", "rms output change f_K - f_0", 0.0, "0 in alpha")}


@dataclass(frozen=True)
class Sweep(FixedSizeSweep):
    D: int
    alphas: tuple[float, ...]


@dataclass(frozen=True)
class LazyVariant(Variant):
    allowed = {"quantity": QUANTITIES, "act": ACT_SETTINGS}

    quantity: str           # movement | output
    act: str = "tanh"

    @property
    def label(self) -> str:
        """``<act>/<quantity>``: the activation first, as in the other [HW] labels."""
        return f"{self.act}/{self.quantity}"


@dataclass(frozen=True, kw_only=True)
class HWLazyPoint(HWNetworkPoint):
    alpha: float                # no default: the sweep's
    parameterization: str = "hw_lazy"


class HWLazy(Claim):
    id = "hw_lazy"
    source = "HW"
    statement = "alpha -> infinity: lazy, linearly parameterized"
    quantity = "relative parameter movement vs alpha; output change vs alpha"
    claimed_slope = -1.0
    claimed_text = "-1 and 0 in alpha"
    suites = {"smoke": Sweep(8, 32, 32, 5, (1.0, 2.0, 4.0, 8.0)),
              "standard": Sweep(16, 64, 64, 5, (1.0, 2.0, 4.0, 8.0, 16.0)),
              "full": Sweep(32, 128, 128, 5, (1.0, 2.0, 4.0, 8.0, 16.0, 32.0))}
    primary = LazyVariant("movement")
    figures = (FigureSpec("rate", "hw_lazy", "[HW] lazy regime: parameter movement and output "
                          "change vs alpha", ylabel="error (see legend per variant)"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[LazyVariant, ...]:
        return tuple(LazyVariant(q) for q in QUANTITIES) if overrides.keeps("tanh") else ()

    def points(self, variant: LazyVariant, sweep: Sweep, overrides: Overrides, run):
        st = ACT_SETTINGS[variant.act]
        return [HWLazyPoint(act=variant.act, D=sweep.D, L=overrides.depth(sweep.L),
                            M=overrides.width(sweep.M), K=st["K"], eta=st["eta"], alpha=a,
                            n_seeds=sweep.seeds, **run.run_fields()) for a in sweep.alphas]

    def compute(self, p: HWLazyPoint) -> pd.DataFrame:
        """One row per seed: relative movement (u and v together, and each), output change."""
        from infdepth.numerics.hw_observables import training_observables
        from infdepth.theory.parameterization import preset
        sc = preset(p.parameterization).evaluate(L=p.L, M=p.M, D=p.D, alpha=p.alpha)
        cfg = p.config()
        # the model's scales are the preset's (docs/theory.md s7): checked, not assumed
        if not (np.isclose(sc["v"]["multiplier"], cfg.block_scale)
                and np.isclose(sc["u"]["lr"] * p.eta, cfg.rate_u)):
            raise ValueError(f"parameterization {p.parameterization!r} is not the [HW] 2LP "
                             "scaling")
        obs = training_observables(cfg, *p.data())
        return pd.DataFrame({"seed": np.arange(p.n_seeds),
                             **{k: obs[k] for k in ("movement", "movement_u", "movement_v",
                                                    "output_change", "loss_K")}})

    def measure(self, variant: LazyVariant, points, frames) -> RateMeasurement:
        p = points[0]
        col, label, _, _ = QUANTITIES[variant.quantity]
        return RateMeasurement([q.alpha for q in points], [f[col].to_numpy() for f in frames],
                               None, "alpha",
                               f"{label} after K={p.K} steps (L={p.L}, M={p.M}, D={p.D})",
                               paired=True, column=col)

    def claimed(self, variant: LazyVariant) -> Claimed:
        _, _, slope, text = QUANTITIES[variant.quantity]
        return Claimed.around(slope, TOLERANCE, text)

    def derived(self, variant: LazyVariant) -> Derived:
        from infdepth.theory.exponents_hw import derive_hw
        from infdepth.theory.parameterization import preset
        r = derive_hw(preset("hw_lazy"))
        if variant.quantity == "output":
            q = r["output_update"]
            e = q.exponent("alpha")
            return Derived(float(e), f"[hw_lazy] {q.derivation}: slope {fmt_exponent(e)} in "
                                     "alpha")
        e = r["unit_movement"].exponent("alpha")
        return Derived(float(e), f"[hw_lazy] rho_u = {r['rho_u'].order}, rho_v = "
                       f"{r['rho_v'].order} (LR L M D/alpha^2 against residual scale alpha): "
                       f"slope {fmt_exponent(e)} in alpha; output change "
                       f"{r['output_update'].order}; regime over alpha: {r.regime('alpha')}")


CLAIM = HWLazy()
