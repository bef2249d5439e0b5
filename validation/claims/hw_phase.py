"""Claim ``hw_phase`` (docs/theory.md s6, s7, s8): for 2LP blocks only the residual scale
``~ sqrt(D)/(LM)`` gives complete feature learning (maximal local updates). Measured regime map
beside the derived one.

Grid (choice). A phase point is a pair of exponents of the hidden width ``LM``: the residual scale
in standard-normal form ``sqrt(D) (LM)^s`` and the raw learning rate ``eta0 D (LM)^q`` on u and v
(:func:`infdepth.theory.exponents_hw.hw_parameterization`; ``hw_mlu`` is ``s = -1, q = 1``). With
Model B's code (residual scale ``alpha sqrt(D)/(LM)``, raw rate ``eta L M D/alpha^2``) this is
``alpha = (LM)^(s+1)`` and ``eta = eta0 (LM)^(q+2s+1)`` -- checked against the parameterization's
own scales in :meth:`HWPhase.compute`. ``D`` is fixed (5): the map is over the LM exponents at the
``sqrt(D)`` scale; the D-dependence is ``hw_sqrt_d``'s.

Sweep. For every grid point, networks with ``L = M = m`` (``LM = m^2``) trained for K full-batch
GD steps on the typical data (tanh, eta0 = 0.5, K = 15: ``hw_rate_lm``'s tanh settings). Per
seed: relative movement ``|Z_K - Z_0|/|Z_0|`` of u and v together (``movement``), rms over inputs
and outputs of ``f_K - f_0`` (``output_change``) and of ``f_0`` (``output_init``).

Statistic and interval (docs/theory.md s9): one positive value per seed and size, heavy-tailed
near instability, summarised by the **geometric mean** over seeds (the typical value, the median
of a log-normal; it replaces the median), whose log-slope against ``LM`` has the exact
t-interval ``log_t`` the calibration suite selected for one positive value per seed. **Paired**
across sizes (seed ``i`` has the same ``W_in``, ``W_out`` and unit streams at every m): the
interval is formed from per-seed slopes. A divergent seed (non-finite value) makes its point's
geometric mean NaN, so the point stays divergent and the cell counts unstable. No noise floor
and no reference error: these are magnitudes, not errors to a limit.

Measured regime of a cell (a :class:`~infdepth.validation.measurements.RegimeMap`, band
``TOLERANCE``): each slope is read as a sign ``+ - 0 ?`` (a quantity non-finite at some size, i.e.
divergent training, counts ``+``); then any ``+`` -> unstable; else any ``?`` -> inconclusive;
else output change ``-`` -> trivial; output change ``0`` and movement ``0`` -> maximal; output
change ``0`` and movement ``-`` -> lazy: the exponent calculus's rule applied to measured slopes.

Two horizons. The calculus counts one GD update; after K steps ``f_K - f_0`` is also bounded by
the fit (``|y - f_0|``), so a growing one-step change can read as Theta(1) until GD diverges.
``map`` -- the claim, after K steps: ``measured`` is the mean scale exponent of the cells measured
maximal, the interval the range of scale exponents of the cells that may be maximal (no slope
surely positive, movement and output change ``0`` or ``?``); confirmed when some cell is maximal
and every cell that may be maximal has ``s`` within +-TOLERANCE of -1; refuted when a cell is
maximal at another scale or no cell within the band may be maximal; inconclusive otherwise.
``map/step1`` -- the same networks after the first step (added after data were seen).
``maximal/movement``, ``maximal/output`` -- slopes in LM at ``s = -1, q = 1`` (claimed 0).

Negative control ``control/lazy_cell`` (declared with the claim, run in every suite, on the
map's own points: no extra compute): the movement slope in LM at the cell :data:`CONTROL_CELL`
``(s, q) = (-1.5, +0.5)``, present in every suite's grid, where the calculus puts the unit
movement at ``(LM)^(q+s) = (LM)^-1`` (:func:`derived_cell`; the cell's function change vanishes
too, ``(LM)^-1.5``: trivial). Read against the maximal band ``0 +- TOLERANCE``, it must be
refuted.

Conventions (docs/theory.md s6 "The authors' own setting"): under ``"authors"`` every network
uses the loss ``(1/(2 N d_out)) sum |f-y|^2``, ``W_out`` std ``sqrt(d_out)``, ``eta0 = 1``,
``K = 15``; the output change after K steps is ``f_{K-1} - f_0`` (the last output recorded
before an update); grid, sizes and rules are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from infdepth.grids import uniform_grid
from infdepth.lazy import lazy

from infdepth.numerics.hw_conventions import convention as convention_rules

from ..intervals import geometric_mean
from ..measurements import Claimed, MapCell, RateMeasurement, RegimeMap
from .base import TOLERANCE, Claim, Derived, FigureSpec, Overrides, Variant
from .hw_common import HW_CONVENTIONS, HWRunFields, network_footprint
from .hw_phase_rules import MAXIMAL, QUANTITIES, classify, derived_cell, summarize

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

#: the negative control's cell: movement (LM)^(q+s) = (LM)^-1 (in every suite's grid)
CONTROL_CELL = (-1.5, 0.5)
#: base learning rate and steps (choice: hw_rate_lm's tanh settings)
ETA0, K = 0.5, 15
_LABELS = {"movement": "geometric mean relative movement |Z_k - Z_0|/|Z_0| of u, v",
           "output_change": "geometric mean rms output change f_k - f_0",
           "output_init": "geometric mean rms initial output f_0"}


@dataclass(frozen=True)
class Sweep:
    seeds: int
    m: tuple[int, ...]
    scale: tuple[float, ...]
    lr: tuple[float, ...]


@dataclass(frozen=True)
class PhaseVariant(Variant):
    """``reading="map"`` with ``horizon`` ``"K"`` | ``"step1"``, ``reading="maximal"`` with
    ``quantity`` ``"movement"`` | ``"output"`` (the claimed cell alone), or the negative control
    ``reading="control"``, ``detail="lazy_cell"``."""

    reading: str
    detail: str

    def __post_init__(self):
        ok = {"map": ("K", "step1"), "maximal": ("movement", "output"),
              "control": ("lazy_cell",)}
        if self.detail not in ok.get(self.reading, ()):
            raise ValueError(f"unknown hw_phase variant {self.reading}/{self.detail}; allowed: "
                             "map, map/step1, maximal/movement, maximal/output, "
                             "control/lazy_cell")

    @property
    def label(self) -> str:
        return "map" if self.detail == "K" else f"{self.reading}/{self.detail}"


@dataclass(frozen=True)
class HWPhasePoint(HWRunFields):
    """One network of the sweep: phase point (s, q) at L = M = m."""

    scale_exponent: float
    lr_exponent: float
    L: int
    M: int
    n_seeds: int
    act: str = "tanh"
    D: int = 5
    K: int = K
    eta0: float = ETA0

    @property
    def LM(self) -> int:
        return self.L * self.M

    @property
    def alpha(self) -> float:
        return float(self.LM) ** (self.scale_exponent + 1.0)

    @property
    def eta(self) -> float:
        return self.eta0 * float(self.LM) ** (self.lr_exponent + 2.0 * self.scale_exponent + 1.0)


class HWPhase(Claim):
    id = "hw_phase"
    source = "HW"
    statement = "only the residual scale ~ sqrt(D)/(LM) gives complete feature learning"
    quantity = "regime map over (scale exponent, LR exponent)"
    claimed_slope = None
    claimed_text = "phase diagram"
    conventions = HW_CONVENTIONS
    suites = {
        "smoke": Sweep(8, (4, 8, 16, 32), uniform_grid(-1.5, -0.5, 0.5),
                       uniform_grid(0.0, 2.0, 0.5)),
        "standard": Sweep(16, (4, 8, 16, 32, 64), uniform_grid(-1.5, -0.5, 0.25),
                          uniform_grid(0.0, 2.0, 0.25)),
        "full": Sweep(32, (4, 8, 16, 32, 64, 128), uniform_grid(-1.75, -0.25, 0.25),
                      uniform_grid(-0.5, 2.5, 0.25)),
    }
    primary = PhaseVariant("map", "K")
    controls = (PhaseVariant("control", "lazy_cell"),)
    after_data = {"map/step1": "the one-step map was added after the standard run showed the "
                               "K-step saturation at two cells; neither is tuned to the other"}
    figures = (
        FigureSpec("phase_map", "hw_phase", "[HW] 2LP phase map over residual scale "
                   "sqrt(D) (LM)^s and raw LR D (LM)^q", select=lambda v: v.startswith("map")),
        FigureSpec("rate", "hw_phase_maximal",
                   "[HW] at sqrt(D)/(LM): movement and output change vs LM",
                   select=lambda v: v.startswith("maximal/"),
                   ylabel="geometric mean movement / output change (see legend)"),
    )

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[PhaseVariant, ...]:
        return (PhaseVariant("map", "K"), PhaseVariant("map", "step1"),
                PhaseVariant("maximal", "movement"), PhaseVariant("maximal", "output"))

    def points(self, variant: PhaseVariant, sweep: Sweep, overrides: Overrides,
               run) -> list[HWPhasePoint]:
        cells = ([(a, b) for a in sweep.scale for b in sweep.lr] if variant.reading == "map"
                 else [CONTROL_CELL] if variant.reading == "control" else [MAXIMAL])
        sizes = tuple(overrides.depths or overrides.widths or sweep.m)
        conv = overrides.convention
        rules = convention_rules(conv)          # the authors' setting names eta = 1, K = 15
        settings = {"eta0": ETA0 if rules.eta is None else rules.eta,
                    "K": K if rules.K is None else rules.K}
        return [HWPhasePoint(scale_exponent=a, lr_exponent=b, L=m, M=m, n_seeds=sweep.seeds,
                             act=overrides.activation("tanh"), convention=conv, **settings,
                             **run.run_fields())
                for a, b in cells for m in sizes]

    def compute(self, p: HWPhasePoint) -> pd.DataFrame:
        """One row per seed: movement, output change, initial output after K steps and after
        the first (:func:`~infdepth.numerics.hw_observables.training_observables`; NaN/inf
        kept: divergence)."""
        from infdepth.numerics.hw_observables import training_observables
        cfg = p.config()
        self.check_scales(p, cfg)
        obs = training_observables(cfg, *p.data(), first_step=True)
        return pd.DataFrame({"seed": np.arange(p.n_seeds),
                             **{k: obs[k] for k in ("movement", "output_change", "output_init",
                                                    "movement_1", "output_change_1", "loss_K")}})

    def footprint(self, p: HWPhasePoint):
        """The K-step training, then the one-step training on the same draws."""
        return network_footprint(p, p.L, p.M).then(network_footprint(p, p.L, p.M, K=1,
                                                                       drawn=False))

    @staticmethod
    def check_scales(p: HWPhasePoint, cfg) -> None:
        """The network's scales are the phase point's parameterization (docs/theory.md s7)."""
        from infdepth.theory.exponents_hw import hw_parameterization
        sc = hw_parameterization(Fraction(p.scale_exponent).limit_denominator(64),
                                 Fraction(p.lr_exponent).limit_denominator(64)
                                 ).evaluate(L=p.L, M=p.M, D=p.D)
        scale = sc["v"]["multiplier"] * sc["v"]["init_std"]   # standard-normal residual scale
        if not (np.isclose(scale, cfg.block_scale * p.D ** 0.5, rtol=1e-9)
                and np.isclose(sc["u"]["lr"] * p.eta0, cfg.rate_u, rtol=1e-9)):
            raise ValueError(f"phase point (s={p.scale_exponent}, q={p.lr_exponent}) does not "
                             f"map onto the Model B scales (alpha={p.alpha}, eta={p.eta})")

    @staticmethod
    def quantity_of(pts, frames, quantity: str, horizon: str) -> RateMeasurement:
        """One quantity of one cell, after K steps (``horizon="K"``) or the first step."""
        p = pts[0]
        col = f"{quantity}_1" if horizon == "step1" and quantity != "output_init" else quantity
        k = p.K if horizon == "K" else 1
        return RateMeasurement([q.LM for q in pts], [f[col].to_numpy() for f in frames],
                               geometric_mean, "hidden width LM (L = M)",
                               f"{_LABELS[quantity]} after k={k} step(s) at residual scale "
                               f"sqrt(D)(LM)^{p.scale_exponent:g}, LR D(LM)^{p.lr_exponent:g} "
                               f"({p.act})", paired=True, noise_floor_factor=0.0, column=col)

    def measure(self, variant: PhaseVariant, points, frames) -> RateMeasurement | RegimeMap:
        if variant.reading in ("maximal", "control"):
            qty = "output_change" if variant.detail == "output" else "movement"
            return self.quantity_of(points, frames, qty, "K")
        by_cell: dict[tuple[float, float], list[int]] = {}
        for i, p in enumerate(points):
            by_cell.setdefault((p.scale_exponent, p.lr_exponent), []).append(i)
        cells = []
        for (s, q), idx in by_cell.items():
            cp, cf = [points[i] for i in idx], [frames[i] for i in idx]
            cells.append(MapCell({"scale_exponent": s, "lr_exponent": q},
                                 {n: self.quantity_of(cp, cf, n, variant.detail)
                                  for n in QUANTITIES}, derived_cell(s, q)))
        horizon = "after K steps" if variant.detail == "K" else "after the first step"
        return RegimeMap(cells, TOLERANCE, classify, summarize,
                         size_label="hidden width LM (L = M)", error_label=horizon)

    def claimed(self, variant: PhaseVariant) -> Claimed:
        if variant.reading == "map":
            return Claimed.around(MAXIMAL[0], TOLERANCE,
                                  "maximal only at sqrt(D)/(LM) (scale exponent -1)")
        if variant.reading == "control":
            return Claimed.around(0.0, TOLERANCE, "Theta(1) movement in LM (the maximal band)")
        return Claimed.around(0.0, TOLERANCE, "Theta(1) in LM at sqrt(D)/(LM)")

    def derived(self, variant: PhaseVariant) -> Derived:
        if variant.reading == "control":
            s, q = CONTROL_CELL
            d = derived_cell(s, q)
            return Derived(d["derived_movement"], f"[hw_regime_map] at scale sqrt(D) (LM)^{s:g}, "
                           f"LR D (LM)^{q:g}: unit movement (LM)^(q+s) = "
                           f"(LM)^{d['derived_movement']:g}, function change "
                           f"(LM)^{d['derived_output_change']:g}, regime "
                           f"{d['derived_regime']}")
        if variant.reading == "maximal":
            d = derived_cell(*MAXIMAL)
            key = "derived_movement" if variant.detail == "movement" else "derived_output_change"
            what = "unit movement" if variant.detail == "movement" else "function change"
            return Derived(d[key], f"[hw_regime_map] at scale sqrt(D)/(LM), LR D LM: {what} "
                                   f"(LM)^{d[key]:g}, regime {d['derived_regime']}")
        grid_s = [k / 4 for k in range(-12, 1)]
        grid_q = [k / 4 for k in range(-4, 13)]
        best = [(s, q) for s in grid_s for q in grid_q
                if derived_cell(s, q)["derived_regime"] == "maximal"]
        if len(best) != 1:
            return Derived(None, f"maximal local updates at {best} on the grid (not a single "
                                 "point)")
        s, q = best[0]
        return Derived(s, f"unit movement (LM)^(q+s) and function change (LM)^(1+2s+q) are both "
                          f"Theta(1) only at residual scale sqrt(D) (LM)^{s:g} with LR D "
                          f"(LM)^{q:g}: larger scales are lazy or unstable, smaller trivial or "
                          f"unstable (grid of {len(grid_s) * len(grid_q)} points)")


CLAIM = HWPhase()
