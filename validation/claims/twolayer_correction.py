"""Claim ``twolayer_correction`` (docs/theory.md s5, s8): the depth-aware learning-rate correction
(first internal layer's rate times (L/L0)^gamma) restores its feature learning, so the rms
learned change of u is flat in L -- and, for hyperparameter transfer, the residual stream's
change should stay flat too.

Measured on the two-layer points of :mod:`.twolayer_point` (the same configs as
``twolayer_collapse``'s, stored once), per seed, seed mean per depth, vs depth L:

* ``du`` -- block-mean ``rms m_1 (W1^K - W1^0) phi(h^K)``, the first layer's own update;
* ``dh`` -- ``rms (h^K_L - h^0_L)``, the residual stream's change at the last block.

Variants ``<quantity>/<setting>``: setting ``gamma=<g>`` (``depth_mup_corrected``, L0 = 4) or
``completep``. Claimed slope 0 in L for both quantities (tolerance band +-0.15). The exponent
calculus (docs/theory.md s5, s7) disagrees for ``dh``: gamma = 1/2 restores ``Delta u = O(1)``
but the drift through ``W2 W2^T`` makes the stream's change grow like ``L^gamma``.

Statistic, interval, pairing (docs/theory.md s9; from the structure of the data and the
calibration suite, before these data were seen): one positive value per seed and depth, so the
statistic is the **geometric mean** over seeds and the interval ``log_t`` (exact t-interval of
the log-slope). **Paired** across depths: the engine draws each tensor of a seed from its own
stream, so block l's matrices are the same at every depth and ``U``, ``v`` are shared
(:mod:`infdepth.numerics.engine.rng`); the interval is the t-interval of the per-seed slopes. No
reference, hence no reference error.

Negative control (declared with the claim): ``control/gamma=0``, ``du`` without the correction,
i.e. under plain depth-muP. Its points are built exactly as ``twolayer_collapse``'s depth-muP
points (:func:`.twolayer_point.sweep_points` with ``"depth_mup"``), so the results store
computes them once for both claims. The exponent calculus derives ``L^-1/2`` (the collapse), so
it must come out refuted against the claimed ``0 +- 0.15``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infdepth.run_fields import RunFields

from ..measurements import RateMeasurement
from .base import Claim, ControlVariant, Derived, FigureSpec, Overrides, Variant
from .engine_common import DepthSweep, depth_rate

if TYPE_CHECKING:
    from .twolayer_point import TwoLayerPoint

QUANTITIES: tuple[str, ...] = ("du", "dh")
_COLUMN = {"du": "du_weight", "dh": "dh_L"}
_WHAT = {"du": "m1 (W1^K - W1^0) phi(h), block mean", "dh": "h^K_L - h^0_L"}


@dataclass(frozen=True)
class Setting:
    """How the depth is corrected: ``gamma`` -> ``depth_mup_corrected`` with the first internal
    layer's LR times ``(L/L0)^gamma`` (L0 = 4); ``None`` -> ``completep``."""

    gamma: float | None

    def __post_init__(self):
        g = self.gamma
        if g is not None and (isinstance(g, bool) or not isinstance(g, (int, float))
                              or not math.isfinite(g)):
            raise ValueError(f"bad twolayer_correction setting gamma={g!r}; allowed: a finite "
                             f"number (depth_mup_corrected) or None (completep)")

    @property
    def parameterization(self) -> str:
        return "completep" if self.gamma is None else "depth_mup_corrected"

    @property
    def label(self) -> str:
        return "completep" if self.gamma is None else f"gamma={self.gamma:g}"


@dataclass(frozen=True)
class CorrectionSweep(DepthSweep):
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class CorrectionVariant(Variant):
    """``quantity`` (``du`` | ``dh``) measured under ``setting``."""

    allowed = {"quantity": QUANTITIES}

    quantity: str
    setting: Setting

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.setting, Setting):
            raise ValueError(f"bad twolayer_correction setting {self.setting!r}; allowed: "
                             f"Setting(gamma=<number>) or Setting(None) (completep)")

    @property
    def label(self) -> str:
        return f"{self.quantity}/{self.setting.label}"


_G05, _G025, _G075, _CP = Setting(0.5), Setting(0.25), Setting(0.75), Setting(None)


class TwoLayerCorrection(Claim):
    id = "twolayer_correction"
    source = "NFD"
    statement = "the depth-aware LR correction restores the first layer's feature learning"
    quantity = "rms Delta u and rms Delta h_L vs L with correction"
    claimed_slope = 0.0
    claimed_text = "0 in L (both)"
    suites = {
        "smoke": CorrectionSweep(act="tanh", n=256, depths=(4, 8, 16, 32), seeds=4, K=3,
                                 settings=(_G05, _CP)),
        "standard": CorrectionSweep(act="tanh", n=512, depths=(4, 8, 16, 32, 64), seeds=8, K=3,
                                    settings=(_G05, _G025, _CP)),
        "full": CorrectionSweep(act="tanh", n=1024, depths=(4, 8, 16, 32, 64, 128), seeds=16,
                                K=5, settings=(_G05, _G025, _G075, _CP)),
    }
    primary = CorrectionVariant("du", _G05)
    controls = (ControlVariant("gamma=0"),)
    figures = (FigureSpec("rate", "twolayer_correction",
                          "[NFD] two-layer blocks with depth-aware LR correction: updates vs "
                          "depth (claimed flat)",
                          ylabel="rms change after K steps: du = first layer's own update, "
                                 "dh = residual stream at L"),)

    def variants(self, sweep: CorrectionSweep, overrides: Overrides
                 ) -> tuple[CorrectionVariant, ...]:
        return tuple(CorrectionVariant(q, s) for s in sweep.settings for q in QUANTITIES)

    def points(self, variant: CorrectionVariant | ControlVariant, sweep: CorrectionSweep,
               overrides: Overrides, run: RunFields) -> list[TwoLayerPoint]:
        from .twolayer_point import sweep_points
        if isinstance(variant, ControlVariant):      # = twolayer_collapse's depth-muP points
            return sweep_points(sweep, overrides, run, "depth_mup")
        s = variant.setting
        return sweep_points(sweep, overrides, run, s.parameterization, s.gamma)

    def compute(self, point: TwoLayerPoint):
        from .twolayer_point import compute_point
        return compute_point(point)

    def footprint(self, point: TwoLayerPoint):
        from .twolayer_point import point_footprint
        return point_footprint(point)

    def measure(self, variant: CorrectionVariant | ControlVariant, points, frames
                ) -> RateMeasurement:
        """Geometric mean over seeds, paired across depths (module docstring)."""
        n = points[0].n
        if isinstance(variant, ControlVariant):
            col, what = _COLUMN["du"], f"control: rms {_WHAT['du']} (depth_mup, n={n})"
        else:
            col = _COLUMN[variant.quantity]
            what = f"rms {_WHAT[variant.quantity]} ({variant.setting.label}, n={n})"
        return depth_rate(points, frames, col, what)

    def derived(self, variant: CorrectionVariant | ControlVariant) -> Derived:
        """The calculus's order of ``du`` / ``dh`` under the setting (Model A2); the control's
        ``du`` under plain depth-muP."""
        from infdepth.theory.exponents_core import exponent_value, fmt_exponent
        from infdepth.theory.exponents_a2 import derive_a2
        from infdepth.theory.parameterization import preset
        if isinstance(variant, ControlVariant):
            q = derive_a2(preset("depth_mup"))["internal_update"]
            return Derived(exponent_value(q.exponent("L")),
                           f"[depth_mup] control, no correction: {q.derivation}")
        name = "internal_update" if variant.quantity == "du" else "stream_update"
        if variant.setting.gamma is None:
            r = derive_a2(preset("completep"))
            return Derived(float(r.exponent(name)), r[name].derivation)
        p = preset("depth_mup_corrected", gamma=variant.setting.gamma)
        r = derive_a2(p)
        g, q = p.option("gamma"), r[name]
        if variant.quantity == "du":
            return Derived(exponent_value(q.exponent("L")), f"[gamma={g:g}] {q.derivation}")
        return Derived(exponent_value(q.exponent("L")), (
            f"[gamma={g:g}] rms Delta h_L ~ input update + L (drift through W2 + drift through "
            f"W1: r2 Delta u = {r['drift_w1_per_block'].order} per block, coherent via W2 W2^T) = "
            f"{q.order}: slope {fmt_exponent(q.exponent('L'))}"))


CLAIM = TwoLayerCorrection()
