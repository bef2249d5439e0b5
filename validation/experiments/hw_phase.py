"""Claim ``hw_phase`` (THEORY.md s6, s7, s8): for 2LP blocks only the residual scale
``~ sqrt(D)/(LM)`` gives complete feature learning (maximal local updates). Measured regime map
beside the derived one.

Grid (choice). A phase point is a pair of exponents of the hidden width ``LM``: the residual scale
in standard-normal form ``sqrt(D) (LM)^s`` and the raw learning rate ``eta0 D (LM)^q`` on u and v
(:func:`infdepth.theory.exponent_calculus.hw_parameterization`; ``hw_mlu`` is ``s = -1, q = 1``).
With the Model B code (residual scale ``alpha sqrt(D)/(LM)``, raw rate ``eta L M D/alpha^2``) this
is ``alpha = (LM)^(s+1)`` and ``eta = eta0 (LM)^(q+2s+1)`` -- checked against the
parameterization's own scales in :func:`compute`. ``D`` is fixed (5): the map is over the LM
exponents at the ``sqrt(D)`` scale; the D-dependence is ``hw_sqrt_d``'s.

Sweep. For every grid point, networks with ``L = M = m`` (``LM = m^2``) trained for K full-batch
GD steps on the typical data (tanh, eta0 = 0.5, K = 15: the settings of ``hw_rate_lm``'s tanh
variants). Per seed: relative movement ``|Z_K - Z_0|/|Z_0|`` of u and v together
(``movement``), rms over inputs and outputs of ``f_K - f_0`` (``output_change``) and of ``f_0``
(``output_init``). Their medians over seeds (heavy tails near instability) are fitted against
``LM`` on log-log axes with a seed bootstrap (:func:`infdepth.validation.rate_fit.fit_rate`),
**paired** across sizes (seed ``i`` has the same ``W_in``, ``W_out`` and the same unit streams at
every m, so its rows at different sizes are correlated; resampling seed indices jointly keeps
that),
without its noise floor: these are magnitudes, not errors to a limit, so "indistinguishable
from zero" does not apply (non-finite sizes are still excluded).

Measured regime of a point (tolerance ``TOL = 0.15``, THEORY.md s9's default band). A slope is
``+`` when its CI lies above ``+TOL``, ``-`` below ``-TOL``, ``0`` inside ``[-TOL, TOL]``, ``?``
otherwise; a quantity that is non-finite at some size (divergent training, any seed) counts as
``+``. Then: any ``+`` -> ``unstable``; else any ``?`` -> ``inconclusive``; else output change
``-`` -> ``trivial``; output change ``0`` and movement ``0`` -> ``maximal``; output change ``0``
and movement ``-`` -> ``lazy``. This is the rule of the exponent calculus
(:mod:`infdepth.theory.exponents_hw`) applied to measured slopes.

Two horizons. The calculus counts the order of one GD update (linear response); a quantity
after K steps also contains the fit's saturation: once the network fits the data, ``f_K - f_0``
is bounded by ``|y - f_0|`` whatever the LR, so a growing one-step change (unstable by the
calculus) can read as Theta(1) after K steps until GD itself diverges. Both are reported (the
K-step map was the first design; the one-step map was added after the standard run showed the
saturation at two cells -- neither is tuned to the other's verdict):

* ``map`` -- the claim itself, after K steps. ``measured`` is the residual-scale exponent of the
  grid points measured maximal (their mean) and the interval is the range of scale exponents of
  the points not excluded from ``maximal`` (:func:`may_be_maximal`: no slope surely positive,
  movement and output change ``0`` or ``?``). Confirmed when some point is maximal and every point that
  may be maximal has ``s`` within +-TOL of -1; refuted when a point is measured maximal at
  another scale, or no point within the band may be maximal; inconclusive otherwise. The
  per-point table (measured and derived slopes and regimes) travels in the verdict record
  (``table``) and is drawn by :mod:`infdepth.paper_figs.hw_phase`.
* ``map/step1`` -- the same grid and networks, movement and output change after the first step.
* ``maximal/movement``, ``maximal/output`` -- the slopes in LM at ``s = -1, q = 1`` (claimed 0,
  band +-TOL; same points as the map's, computed once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from infdepth.numerics.hw_observables import training_observables

from . import Claimed, Derived, Measurement, Overrides
from .hw_common import HWRunFields

TOL = 0.15
#: the point singled out by the claim: residual scale sqrt(D)/(LM), raw LR D LM
MAXIMAL = (-1.0, 1.0)
QUANTITIES = ("movement", "output_change", "output_init")
#: horizon of the map variants: after K steps (``map``) or after the first step (``map/step1``)
MAP_VARIANTS = {"map": "K", "map/step1": "1"}
VARIANTS = ("map", "map/step1", "maximal/movement", "maximal/output")
REGIMES = ("maximal", "lazy", "trivial", "unstable", "inconclusive")


def _grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    n = int(round((hi - lo) / step))
    return tuple(float(Fraction(lo).limit_denominator(64) + k * Fraction(step).limit_denominator(64))
                 for k in range(n + 1))


SUITES = {
    "smoke": {"seeds": 8, "m": (4, 8, 16, 32), "scale": _grid(-1.5, -0.5, 0.5),
              "lr": _grid(0.0, 2.0, 0.5)},
    "standard": {"seeds": 16, "m": (4, 8, 16, 32, 64), "scale": _grid(-1.5, -0.5, 0.25),
                 "lr": _grid(0.0, 2.0, 0.25)},
    "full": {"seeds": 32, "m": (4, 8, 16, 32, 64, 128), "scale": _grid(-1.75, -0.25, 0.25),
             "lr": _grid(-0.5, 2.5, 0.25)},
}
#: base learning rate and steps (choice: hw_rate_lm's tanh settings)
ETA0, K = 0.5, 15


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


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return VARIANTS


def _sizes(suite: str, overrides: Overrides) -> tuple[int, ...]:
    """L = M = m; ``--depths`` (or ``--widths``) replace the suite's m values."""
    return tuple(overrides.depths or overrides.widths or SUITES[suite]["m"])


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown hw_phase variant {variant!r}; allowed: {', '.join(VARIANTS)}")


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[HWPhasePoint]:
    _check_variant(variant)
    s = SUITES[suite]
    act = overrides.activation("tanh")
    cells = ([MAXIMAL] if variant not in MAP_VARIANTS
             else [(a, b) for a in s["scale"] for b in s["lr"]])
    return [HWPhasePoint(scale_exponent=a, lr_exponent=b, L=m, M=m, n_seeds=s["seeds"], act=act,
                         device=device, dtype=dtype)
            for a, b in cells for m in _sizes(suite, overrides)]


def _check_scales(p: HWPhasePoint, cfg) -> None:
    """The network's scales are the phase point's parameterization (THEORY.md s7): checked."""
    from infdepth.theory.exponent_calculus import hw_parameterization
    sc = hw_parameterization(Fraction(p.scale_exponent).limit_denominator(64),
                             Fraction(p.lr_exponent).limit_denominator(64)
                             ).evaluate(L=p.L, M=p.M, D=p.D)
    # standard-normal residual scale = multiplier of v times its init std
    scale = sc["v"]["multiplier"] * sc["v"]["init_std"]
    if not (np.isclose(scale, cfg.block_scale * p.D ** 0.5, rtol=1e-9)
            and np.isclose(sc["u"]["lr"] * p.eta0, cfg.rate_u, rtol=1e-9)):
        raise ValueError(f"phase point (s={p.scale_exponent}, q={p.lr_exponent}) does not map "
                         f"onto the Model B scales (alpha={p.alpha}, eta={p.eta})")


def compute(p: HWPhasePoint) -> pd.DataFrame:
    """One row per seed: movement, output change, initial output after K steps and after the
    first (:func:`~infdepth.numerics.hw_observables.training_observables`; NaN/inf kept:
    divergence)."""
    cfg = p.config()
    _check_scales(p, cfg)
    obs = training_observables(cfg, *p.data(), first_step=True)
    return pd.DataFrame({"seed": np.arange(p.n_seeds),
                         **{k: obs[k] for k in ("movement", "output_change", "output_init",
                                                "movement_1", "output_change_1", "loss_K")}})


def _median(a: np.ndarray) -> float:
    """Median over seeds; NaN when any seed is non-finite (a divergent size stays visible)."""
    a = np.asarray(a, dtype=float)
    return float(np.median(a)) if np.isfinite(a).all() else math.nan


_LABELS = {"movement": "median relative movement |Z_k - Z_0|/|Z_0| of u, v",
           "output_change": "median rms output change f_k - f_0",
           "output_init": "median rms initial output f_0"}


def _column(quantity: str, horizon: str) -> str:
    return f"{quantity}_1" if horizon == "1" and quantity != "output_init" else quantity


def _measure(pts: list[HWPhasePoint], frames: list[pd.DataFrame], quantity: str,
             horizon: str = "K") -> Measurement:
    p = pts[0]
    col = _column(quantity, horizon)
    k = p.K if horizon == "K" else 1
    return Measurement([q.LM for q in pts], [f[col].to_numpy() for f in frames], _median,
                       "hidden width LM (L = M)",
                       f"{_LABELS[quantity]} after k={k} step(s) at residual scale "
                       f"sqrt(D)(LM)^{p.scale_exponent:g}, LR D(LM)^{p.lr_exponent:g} ({p.act})",
                       paired=True)


def measurement(variant: str, pts: list[HWPhasePoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    _check_variant(variant)
    if variant in MAP_VARIANTS:   # fitted per cell (fit hook); this is the maximal cell
        cell = [(q, f) for q, f in zip(pts, frames)
                if (q.scale_exponent, q.lr_exponent) == MAXIMAL]
        if not cell:
            raise ValueError(f"the grid has no cell at (s, q) = {MAXIMAL}, the claimed point")
        pts, frames = [c[0] for c in cell], [c[1] for c in cell]
    qty = "output_change" if variant.endswith("output") else "movement"
    return _measure(pts, frames, qty, MAP_VARIANTS.get(variant, "K"))


def _sign(fit, diverged: bool) -> str:
    if diverged:
        return "+"
    lo, hi = fit.ci_low, fit.ci_high
    if fit.refused or not (math.isfinite(lo) and math.isfinite(hi)):
        return "?"
    if lo > TOL:
        return "+"
    if hi < -TOL:
        return "-"
    if -TOL <= lo and hi <= TOL:
        return "0"
    return "?"


def classify(signs: dict[str, str]) -> str:
    """Measured regime from the slope signs of movement, output change, initial output."""
    vals = [signs[q] for q in QUANTITIES]
    if "+" in vals:
        return "unstable"
    if "?" in vals:
        return "inconclusive"
    if signs["output_change"] == "-":
        return "trivial"
    if signs["movement"] == "0":
        return "maximal"
    return "lazy"


def may_be_maximal(signs: dict[str, str]) -> bool:
    """Not excluded from ``maximal``: no slope surely positive, and movement and output change
    not surely decaying."""
    return ("+" not in signs.values() and signs["movement"] in ("0", "?")
            and signs["output_change"] in ("0", "?"))


def _derived_rows(cells) -> dict[tuple[float, float], dict]:
    import sympy as sp

    from infdepth.theory.exponent_calculus import hw_regime_map
    out = {}
    for a, b in cells:
        r = hw_regime_map([sp.nsimplify(a)], [sp.nsimplify(b)])[0]
        out[(a, b)] = r
    return out


def phase_table(pts: list[HWPhasePoint], frames: list[pd.DataFrame], horizon: str = "K"
                ) -> list[dict]:
    """One row per grid point: measured slopes in LM (with CIs), signs, measured and derived
    regime (:func:`infdepth.theory.exponent_calculus.hw_regime_map`)."""
    from infdepth.validation.rate_fit import fit_rate
    cells: dict[tuple[float, float], list[int]] = {}
    for i, p in enumerate(pts):
        cells.setdefault((p.scale_exponent, p.lr_exponent), []).append(i)
    derived = _derived_rows(cells)
    rows = []
    for (a, b), idx in cells.items():
        cp, cf = [pts[i] for i in idx], [frames[i] for i in idx]
        row = {"scale_exponent": a, "lr_exponent": b}
        signs = {}
        for qty in QUANTITIES:
            m = _measure(cp, cf, qty, horizon)
            diverged = any(not np.isfinite(np.asarray(s, dtype=float)).all() for s in m.samples)
            fit = fit_rate(m.sizes, m.samples, m.statistic, paired=m.paired,
                           noise_floor_factor=0.0)
            signs[qty] = _sign(fit, diverged)
            row[f"{qty}_slope"] = None if fit.refused else float(fit.slope)
            row[f"{qty}_ci"] = [None if fit.refused else float(fit.ci_low),
                                None if fit.refused else float(fit.ci_high)]
            row[f"{qty}_sign"] = signs[qty]
            row[f"{qty}_diverged"] = bool(diverged)
        row["regime"] = classify(signs)
        row["may_be_maximal"] = may_be_maximal(signs)
        d = derived[(a, b)]
        row["derived_movement"] = d["movement_L"]
        row["derived_output_change"] = d["output_update_L"]
        row["derived_noise"] = d["noise_L"]
        row["derived_regime"] = d["regime"]
        rows.append(row)
    return rows


@dataclass(frozen=True)
class _MapFit:
    """The ``map`` variant's record fields in the RateFit shape the runner reads."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    notes: tuple[str, ...]
    refused: bool = False
    method: str = "regime map"
    sizes: tuple = ()
    errors: tuple = ()
    stderr: tuple = ()
    used: tuple = ()
    pairwise: tuple = ()
    status: str = "inconclusive"
    table: tuple = ()


def map_summary(rows: list[dict]) -> _MapFit:
    """Fit-shaped summary, verdict and table of the measured map (module docstring, ``map``)."""
    lo_band, hi_band = MAXIMAL[0] - TOL, MAXIMAL[0] + TOL
    maximal = [r["scale_exponent"] for r in rows if r["regime"] == "maximal"]
    possible = [r["scale_exponent"] for r in rows if r["may_be_maximal"]]
    agree = sum(r["regime"] == r["derived_regime"] for r in rows)
    notes = [f"measured regime equals the derived one at {agree}/{len(rows)} grid points"]
    for r in rows:
        if r["regime"] != r["derived_regime"]:
            notes.append(
                f"(s={r['scale_exponent']:+g}, q={r['lr_exponent']:+g}): measured {r['regime']} "
                f"(movement {_fmt(r['movement_slope'])}, output change "
                f"{_fmt(r['output_change_slope'])}, init output {_fmt(r['output_init_slope'])}"
                f"), derived {r['derived_regime']} (movement {r['derived_movement']:+g}, output "
                f"change {r['derived_output_change']:+g}, noise {r['derived_noise']:+g})")
    div = [r for r in rows if r["output_change_diverged"] or r["movement_diverged"]]
    if div:
        notes.append(f"{len(div)} grid point(s) diverged (non-finite training) at some size: "
                     "counted unstable, excluded from their slope fits")
    pts = ", ".join(f"(s={r['scale_exponent']:+g}, q={r['lr_exponent']:+g})" for r in rows
                    if r["regime"] == "maximal")
    notes.append(f"measured maximal at: {pts or 'none'}")
    if maximal and all(lo_band <= s <= hi_band for s in possible):
        status = "confirmed"
    elif any(not (lo_band <= s <= hi_band) for s in maximal) or not any(
            lo_band <= s <= hi_band for s in possible):
        status = "refuted"
    else:
        status = "inconclusive"
    return _MapFit(slope=float(np.mean(maximal)) if maximal else math.nan,
                   intercept=math.nan, ci_low=min(possible) if possible else math.nan,
                   ci_high=max(possible) if possible else math.nan, notes=tuple(notes),
                   status=status, table=tuple(rows))


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


def fit(variant: str, pts: list[HWPhasePoint], frames: list[pd.DataFrame]):
    """Runner hook: the ``map`` variant summarises the per-cell table (its fit carries the
    verdict ``status`` and the ``table``); the others are plain log-log fits."""
    from infdepth.validation.rate_fit import fit_rate
    if variant in MAP_VARIANTS:
        return map_summary(phase_table(pts, frames, MAP_VARIANTS[variant]))
    m = measurement(variant, pts, frames)
    return fit_rate(m.sizes, m.samples, m.statistic, paired=m.paired, noise_floor_factor=0.0)


def claimed(variant: str) -> Claimed:
    if variant in MAP_VARIANTS:
        return Claimed(MAXIMAL[0], (MAXIMAL[0] - TOL, MAXIMAL[0] + TOL),
                       "maximal only at sqrt(D)/(LM) (scale exponent -1)")
    return Claimed(0.0, (-TOL, TOL), "Theta(1) in LM at sqrt(D)/(LM)")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    if variant in MAP_VARIANTS:
        value, text = derived_exponent("hw_phase")
        return Derived(value, text)
    import sympy as sp

    from infdepth.theory.exponent_calculus import hw_regime_map
    r = hw_regime_map([sp.Integer(-1)], [sp.Integer(1)])[0]
    key = "movement_L" if variant.endswith("movement") else "output_update_L"
    return Derived(r[key], f"[hw_regime_map] at scale sqrt(D)/(LM), LR D LM: "
                           f"{'unit movement' if key == 'movement_L' else 'function change'} "
                           f"(LM)^{r[key]:g}, regime {r['regime']}")
