"""Claim ``twolayer_collapse`` (docs/theory.md s5, s8): under depth-muP the first internal layer's
feature update in two-layer residual blocks vanishes like L^-1/2.

Measured: the block-mean rms change of the first internal layer after K SGD steps vs depth L
(:mod:`.twolayer_point`, shared with ``twolayer_correction``), per seed; the fitted statistic
is the seed mean at each depth, in two readings (variants):

* ``weight`` -- ``rms m_1 (W1^K - W1^0) phi(h^K)``, the layer's own update: the claim's
  quantity, ``Theta(L^-1/2)`` by the exponent calculus (docs/theory.md s5, s7);
* ``total`` -- ``rms (u^K - u^0)``, which also carries the residual stream's change seen through
  ``W1^0`` and is ``Theta(1)`` at every depth.

Figures: the rate plot of both readings and the derived regime map of two-layer blocks (theory
only, docs/theory.md s5, s7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from infdepth.run_fields import RunFields

from ..measurements import RateMeasurement
from infdepth.theory.exponents_core import exponent_value
from .base import Claim, Derived, FigureSpec, Overrides, Variant
from .engine_common import DepthSweep

if TYPE_CHECKING:
    from .twolayer_point import TwoLayerPoint

READINGS: tuple[str, ...] = ("weight", "total")
_COLUMN = {"weight": "du_weight", "total": "du_total"}
_WHAT = {"weight": "m1 (W1^K - W1^0) phi(h)", "total": "u^K - u^0"}


@dataclass(frozen=True)
class ReadingVariant(Variant):
    """Which change of the first internal layer is measured: ``weight`` or ``total``."""

    allowed = {"reading": READINGS}

    reading: str


class TwoLayerCollapse(Claim):
    id = "twolayer_collapse"
    source = "NFD"
    statement = "the first internal layer's feature update vanishes under depth-muP"
    quantity = "rms Delta u vs L"
    claimed_slope = -0.5
    claimed_text = "-1/2 in L"
    suites = {
        "smoke": DepthSweep(act="tanh", n=256, depths=(4, 8, 16, 32), seeds=4, K=3),
        "standard": DepthSweep(act="tanh", n=512, depths=(4, 8, 16, 32, 64), seeds=8, K=3),
        "full": DepthSweep(act="tanh", n=1024, depths=(4, 8, 16, 32, 64, 128), seeds=16, K=5),
    }
    primary = ReadingVariant("weight")
    figures = (
        FigureSpec("rate", "twolayer_collapse",
                   "[NFD] two-layer blocks, depth-muP: first-layer feature update vs depth "
                   "(claimed L^-1/2)", ylabel="rms change of the first internal layer"),
        FigureSpec("regime_map", "twolayer_regime_map",
                   "[NFD] two-layer blocks: derived feature-update order per layer (exponent "
                   "calculus, docs/theory.md s5, s7)"),
    )

    def variants(self, sweep: DepthSweep, overrides: Overrides) -> tuple[ReadingVariant, ...]:
        return tuple(ReadingVariant(r) for r in READINGS)

    def points(self, variant: ReadingVariant, sweep: DepthSweep, overrides: Overrides,
               run: RunFields) -> list[TwoLayerPoint]:
        from .twolayer_point import sweep_points
        return sweep_points(sweep, overrides, run, "depth_mup")

    def compute(self, point: TwoLayerPoint):
        from .twolayer_point import compute_point
        return compute_point(point)

    def measure(self, variant: ReadingVariant, points, frames) -> RateMeasurement:
        col = _COLUMN[variant.reading]
        return RateMeasurement([p.L for p in points], [f[col].to_numpy() for f in frames], None,
                               "depth L", f"rms {_WHAT[variant.reading]}, block mean "
                               f"(depth-muP, n={points[0].n})", column=col)

    def derived(self, variant: ReadingVariant) -> Derived:
        """The calculus's order of the first layer's change under depth-muP (Model A2)."""
        from infdepth.theory.exponents_a2 import derive_a2
        from infdepth.theory.parameterization import preset
        r = derive_a2(preset("depth_mup"))
        total = r["internal_update_total"]
        if variant.reading == "weight":
            q = r["internal_update"]
            return Derived(exponent_value(q.exponent("L")),
                           f"[depth_mup] {q.derivation}. (Total change of u including the "
                           f"stream's change through W1^0: {total.order})")
        return Derived(float(total.exponent("L")),
                       "total change of u = own update + stream change through W1^0: "
                       + total.derivation)


CLAIM = TwoLayerCollapse()
