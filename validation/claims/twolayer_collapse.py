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

Statistic, interval, pairing (docs/theory.md s9; from the structure of the data and the
calibration suite, before these data were seen): one positive value per seed and depth, so the
statistic is the **geometric mean** over seeds and the interval ``log_t`` (exact t-interval of
the log-slope). **Paired** across depths: the engine draws each tensor of a seed from its own
stream, so block l's matrices ``W1_l``, ``W2_l`` are the same at every depth and ``U``, ``v`` are
shared (:mod:`infdepth.numerics.engine.rng`); the interval is the t-interval of the per-seed
slopes. No reference, hence no reference error.

Negative control (declared with the claim): ``control/mup``, the first layer's own update
(``du_weight``) under the preset ``mup`` (muP, no depth scaling of the branches or the learning
rates), same sweep, geometric mean, paired; new points. Under muP the first layer's update
grows with depth (``derive_a2(preset("mup"))["internal_update"]``, width first: ``L^2``), so it
must come out refuted against the claimed ``-1/2 +- 0.15``. If muP training diverges at some
depth, that depth is excluded with a note (not tuned away).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from infdepth.run_fields import RunFields

from ..measurements import RateMeasurement
from .base import Claim, ControlVariant, Derived, FigureSpec, Overrides, Variant
from .engine_common import DepthSweep, depth_rate

if TYPE_CHECKING:
    from .twolayer_point import TwoLayerPoint

READINGS: tuple[str, ...] = ("weight", "total")
CONTROLS: tuple[str, ...] = ("mup",)
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
    controls = (ControlVariant("mup"),)
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

    def points(self, variant: ReadingVariant | ControlVariant, sweep: DepthSweep,
               overrides: Overrides, run: RunFields) -> list[TwoLayerPoint]:
        from .twolayer_point import sweep_points
        preset = variant.name if isinstance(variant, ControlVariant) else "depth_mup"
        return sweep_points(sweep, overrides, run, preset)

    def compute(self, point: TwoLayerPoint):
        from .twolayer_point import compute_point
        return compute_point(point)

    def footprint(self, point: TwoLayerPoint):
        from .twolayer_point import point_footprint
        return point_footprint(point)

    def measure(self, variant: ReadingVariant | ControlVariant, points, frames
                ) -> RateMeasurement:
        """Geometric mean over seeds, paired across depths (module docstring)."""
        n = points[0].n
        if isinstance(variant, ControlVariant):
            col = "du_weight"
            what = f"control: rms {_WHAT['weight']}, block mean ({variant.name}, n={n})"
        else:
            col = _COLUMN[variant.reading]
            what = f"rms {_WHAT[variant.reading]}, block mean (depth-muP, n={n})"
        return depth_rate(points, frames, col, what)

    def derived(self, variant: ReadingVariant | ControlVariant) -> Derived:
        """The calculus's order of the first layer's change under depth-muP (Model A2); for the
        control, its own update under the control's preset, width first (the [NFD] order of
        limits, docs/theory.md s3; the sweep has L << n)."""
        from infdepth.theory.exponents_a2 import derive_a2
        from infdepth.theory.exponents_core import exponent_value, fmt_exponent
        from infdepth.theory.parameterization import preset
        if isinstance(variant, ControlVariant):
            q = derive_a2(preset(variant.name))["internal_update"]
            e = q.limit_exponent("L")
            return Derived(exponent_value(e), (
                f"[{variant.name}] control: {q.derivation}; width first: slope "
                f"{fmt_exponent(e)} (at fixed n, L >> n: {fmt_exponent(q.exponent('L'))})"))
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
