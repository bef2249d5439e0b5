"""Claim ``hw_lazy`` (docs/theory.md s6, s8): as alpha -> infinity (preset ``hw_lazy``: residual
scale alpha/(LM), raw LR eta L M D/alpha^2) training is lazy: the relative parameter movement of u
and v is O(1/alpha) while the function change stays O(1) (valid while alpha << sqrt(LM)).

Measured per seed after K GD steps on the typical data (tanh), vs alpha at fixed L, M:
``tanh/movement`` -- ``|Z_K - Z_0| / |Z_0|`` over u and v together (claimed -1);
``tanh/output`` -- rms over inputs and outputs of ``f_K - f_0`` (claimed 0)
(:func:`~infdepth.numerics.hw_observables.training_observables`). eta = 0.5 as ``hw_rate_lm``'s
tanh variants (choice; eta = 1 is at the edge of stability).

**Statistic and interval** (docs/theory.md s9): one positive value per seed and alpha, summarised
by the **geometric mean** over seeds (the typical value; the arithmetic mean before), whose
log-slope has the exact t-interval ``log_t`` the calibration suite selected for one positive
value per seed. **Paired**: the seeds draw the same units at every alpha (same shapes, same
streams), so the interval is formed from per-seed slopes. No reference (magnitudes, not errors
to a limit): no reference error.

**Negative control** ``control/hw_mlu_rate`` (declared with the claim, run in every suite): the
same movement vs alpha when the raw learning rate is **not** rescaled by ``alpha^-2``: the [HW]
2LP scaling at alpha (residual scale alpha/(LM)) with ``hw_mlu``'s LR ``eta_c L M D`` held fixed
(:func:`fixed_rate_parameterization`, ``parameterization="hw_mlu_rate"``). The exponent calculus
gives movement ``alpha^1`` (every unit's update is proportional to the residual scale) and
function change ``alpha^2``. The base rate ``eta_c = eta / alpha_max^2`` (``alpha_max`` the
sweep's largest alpha) is fixed by stability before any data: the function change per step
grows like ``eta_c alpha^2``, and at ``alpha_max`` this raw rate is the claim's own (``hw_lazy``)
rate there, which trains stably; with ``eta_c = eta`` the networks would diverge from alpha = 2
on. It must be refuted against -1.

**Conventions** (docs/theory.md s6 "The authors' own setting"): under ``"authors"`` the networks
use the loss ``(1/(2 N d_out)) sum |f-y|^2``, ``W_out`` std ``sqrt(d_out)``, ``eta = 1`` (the
control ``1/alpha_max^2``), ``K = 15``; ``output_change`` is ``f_{K-1} - f_0`` (the last output
recorded before an update); the sweep is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infdepth.lazy import lazy

from ..intervals import geometric_mean
from ..measurements import Claimed, RateMeasurement
from .base import (TOLERANCE, Claim, Derived, FigureSpec, Overrides, Variant,
                   ControlVariant as BaseControl)
from .hw_common import (ACT_SETTINGS, HW_CONVENTIONS, FixedSizeSweep, HWNetworkPoint,
                        act_settings, network_footprint)

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

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


@dataclass(frozen=True)
class ControlVariant(BaseControl):
    """The negative control ``control/hw_mlu_rate`` (module docstring)."""

    allowed = {"name": ("hw_mlu_rate",)}
    act: str = "tanh"


#: the parameterizations of the points: the claim's preset, and the control's fixed raw rate
PARAMETERIZATIONS = ("hw_lazy", "hw_mlu_rate")


@dataclass(frozen=True, kw_only=True)
class HWLazyPoint(HWNetworkPoint):
    """Networks at residual scale ``alpha/(LM)``; ``parameterization`` ``"hw_lazy"`` (raw rate
    ``eta L M D / alpha^2``) or ``"hw_mlu_rate"`` (raw rate ``eta L M D`` at every alpha)."""

    alpha: float                # no default: the sweep's
    parameterization: str = "hw_lazy"

    def config(self, **overrides):
        """The network's :class:`~infdepth.numerics.hidden_width.HWConfig`. Its raw rate is
        ``eta L M D / alpha^2``; for ``"hw_mlu_rate"`` the base rate is raised by ``alpha^2``
        so that the raw rate stays ``eta L M D`` (checked in :meth:`HWLazy.compute`)."""
        if self.parameterization == "hw_mlu_rate":
            overrides = {"eta": self.eta * self.alpha ** 2, **overrides}
        return super().config(**overrides)


def fixed_rate_parameterization():
    """``hw_lazy`` (residual scale alpha/(LM), u and v of std sqrt(D), 1/D inside and in the
    readout) with the raw LR of ``hw_mlu``, ``L M D`` on u and v, not rescaled by alpha^-2."""
    from dataclasses import replace

    from infdepth.theory.parameterization import preset
    from infdepth.theory.symbols import D, L, M
    p = preset("hw_lazy")
    groups = tuple((g, replace(s, lr=L * M * D) if g in ("u", "v") else s) for g, s in p.groups)
    return replace(p, name="hw_mlu_rate", groups=groups,
                   description="[HW] 2LP at residual scale alpha/(LM) with hw_mlu's raw LR "
                               "L M D (not rescaled by alpha^-2)")


def parameterization_of(name: str):
    """The parameterization a point names (:data:`PARAMETERIZATIONS`; others: the preset)."""
    if name == "hw_mlu_rate":
        return fixed_rate_parameterization()
    from infdepth.theory.parameterization import preset
    return preset(name)


class HWLazy(Claim):
    id = "hw_lazy"
    source = "HW"
    statement = "alpha -> infinity: lazy, linearly parameterized"
    quantity = "relative parameter movement vs alpha; output change vs alpha"
    claimed_slope = -1.0
    claimed_text = "-1 and 0 in alpha"
    conventions = HW_CONVENTIONS
    suites = {"smoke": Sweep(8, 32, 32, 5, (1.0, 2.0, 4.0, 8.0)),
              "standard": Sweep(16, 64, 64, 5, (1.0, 2.0, 4.0, 8.0, 16.0)),
              "full": Sweep(32, 128, 128, 5, (1.0, 2.0, 4.0, 8.0, 16.0, 32.0))}
    primary = LazyVariant("movement")
    controls = (ControlVariant("hw_mlu_rate"),)
    figures = (FigureSpec("rate", "hw_lazy", "[HW] lazy regime: parameter movement and output "
                          "change vs alpha", ylabel="error (see legend per variant)"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[LazyVariant, ...]:
        return tuple(LazyVariant(q) for q in QUANTITIES) if overrides.keeps("tanh") else ()

    def points(self, variant: LazyVariant | ControlVariant, sweep: Sweep, overrides: Overrides,
               run):
        """The alpha sweep at fixed L, M; the control's base rate is ``eta / alpha_max^2``
        under the fixed raw rate (module docstring)."""
        st = act_settings(variant.act, overrides.convention)
        extra = {}
        if isinstance(variant, ControlVariant):
            extra = {"parameterization": "hw_mlu_rate",
                     "eta": st["eta"] / max(sweep.alphas) ** 2}
        return [HWLazyPoint(**{"act": variant.act, "D": sweep.D, "L": overrides.depth(sweep.L),
                               "M": overrides.width(sweep.M), "K": st["K"], "eta": st["eta"],
                               "alpha": a, "n_seeds": sweep.seeds, **run.run_fields(),
                               "convention": overrides.convention, **extra})
                for a in sweep.alphas]

    def compute(self, p: HWLazyPoint) -> pd.DataFrame:
        """One row per seed: relative movement (u and v together, and each), output change."""
        from infdepth.numerics.hw_observables import training_observables
        sc = parameterization_of(p.parameterization).evaluate(L=p.L, M=p.M, D=p.D,
                                                              alpha=p.alpha)
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

    def footprint(self, p: HWLazyPoint):
        """One training of the point's networks."""
        return network_footprint(p, p.L, p.M)

    def measure(self, variant: LazyVariant | ControlVariant, points, frames
                ) -> RateMeasurement:
        p = points[0]
        quantity = "movement" if isinstance(variant, ControlVariant) else variant.quantity
        col, label, _, _ = QUANTITIES[quantity]
        rate = (f", raw LR {p.eta:.3g} L M D fixed (not rescaled by alpha^-2)"
                if p.parameterization == "hw_mlu_rate" else "")
        return RateMeasurement([q.alpha for q in points], [f[col].to_numpy() for f in frames],
                               geometric_mean, "alpha",
                               f"geometric mean {label} after K={p.K} steps (L={p.L}, M={p.M}, "
                               f"D={p.D}{rate})", paired=True, column=col)

    def claimed(self, variant: LazyVariant | ControlVariant) -> Claimed:
        _, _, slope, text = QUANTITIES[getattr(variant, "quantity", "movement")]
        return Claimed.around(slope, TOLERANCE, text)

    def derived(self, variant: LazyVariant | ControlVariant) -> Derived:
        from infdepth.theory.exponents_core import fmt_exponent
        from infdepth.theory.exponents_hw import derive_hw
        from infdepth.theory.parameterization import preset
        if isinstance(variant, ControlVariant):
            r = derive_hw(fixed_rate_parameterization())
            e = r["unit_movement"].exponent("alpha")
            return Derived(float(e), f"[hw_mlu_rate: residual scale alpha/(LM), raw LR L M D] "
                           f"rho_u = {r['rho_u'].order}, rho_v = {r['rho_v'].order} (each "
                           f"unit's update is proportional to the residual scale, the LR no "
                           f"longer compensates): slope {fmt_exponent(e)} in alpha; output "
                           f"change {r['output_update'].order}; regime over alpha: "
                           f"{r.regime('alpha')}")
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
