"""Measurement kinds and their evaluation into a verdict (docs/theory.md s9).

A claim's ``measure`` returns one of two kinds, and the runner only ever calls ``evaluate``:

* :class:`RateMeasurement` -- a statistic at increasing sizes, fitted on log-log axes by
  :func:`~infdepth.validation.rate_fit.fit_rate` and compared with the claimed band
  (:func:`~infdepth.validation.verdict.band_verdict`);
* :class:`RegimeMap` -- a grid of cells, each with several rate measurements whose slopes are read
  as signs (``+``, ``-``, ``0``, ``?`` against a band ``+-tol``), classified into regimes by a
  claim-supplied rule; the claim's own ``summarize`` turns the per-cell rows into the verdict.

Both return an :class:`Evaluation`: the fields of one verdict row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .rate_fit import RateFit, fit_rate
from .noise_budget import NormOfMean, signal_to_noise
from .verdict import decide

__all__ = ["Claimed", "DecisionFields", "Evaluation", "RateMeasurement", "MapCell", "MapSummary", "RegimeMap",
           "JointMeasurement", "slope_sign"]


@dataclass(frozen=True)
class Claimed:
    """What the paper claims for one variant: a slope (``None`` for a qualitative claim), the
    band of slopes that counts as agreement (either end may be infinite) and the table text."""

    slope: float | None
    band: tuple[float, float]
    text: str

    @classmethod
    def around(cls, slope: float, tolerance: float, text: str) -> "Claimed":
        """The band ``slope +- tolerance``."""
        return cls(slope, (slope - tolerance, slope + tolerance), text)


@dataclass(kw_only=True)
class DecisionFields:
    """What the version-2 rule (:func:`~infdepth.validation.verdict.decide`) adds to a row: the
    status against the derived band, the reasons, what would decide an undecided row, and
    whether the rate settled and a refutation was robust. Shared by :class:`Evaluation` and the
    runner's verdict record."""

    status_derived: str = "n/a"
    reason: str = ""
    reason_derived: str = ""
    advice: str = ""
    settled: bool | None = None
    robust: bool | None = None


@dataclass
class Evaluation(DecisionFields):
    """One verdict row's measured part: fitted slope and CI, per-size summary, status, notes,
    and (for a map) the per-cell rows."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    status: str
    method: str
    sizes: tuple[float, ...] = ()
    errors: tuple[float, ...] = ()
    stderr: tuple[float, ...] = ()
    used: tuple[bool, ...] = ()
    pairwise: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()
    table: tuple[Mapping[str, Any], ...] = ()
    size_label: str = ""
    error_label: str = ""
    kind: str = "rate"
    seed_column: str | None = None
    #: the noise budget: per size, the signal-to-noise ratio and the reference's own error
    snr: tuple[float, ...] = ()
    reference_error: tuple[float, ...] = ()
    seeds: int = 0
    #: the fit on the sweep's tail and on the first half of the seeds (NaN: not made)
    tail_slope: float = math.nan
    tail_ci: tuple[float, float] = (math.nan, math.nan)
    half_slope: float = math.nan

    @classmethod
    def of_fit(cls, fit: RateFit, status: str, *, size_label: str, error_label: str,
               notes: Sequence[str] = (), seed_column: str | None = None,
               **extra: Any) -> "Evaluation":
        return cls(slope=fit.slope, intercept=fit.intercept, ci_low=fit.ci_low,
                   ci_high=fit.ci_high, status=status, method=fit.method, sizes=fit.sizes,
                   errors=fit.errors, stderr=fit.stderr, used=fit.used, pairwise=fit.pairwise,
                   notes=tuple(fit.notes) + tuple(notes), size_label=size_label,
                   error_label=error_label, seed_column=seed_column, **extra)


@dataclass(frozen=True)
class RateMeasurement:
    """Inputs of :func:`fit_rate` plus labels: ``samples[i]`` holds the per-seed rows at
    ``sizes[i]`` and ``statistic`` maps a sample (or a bootstrap resample of its rows) to the
    error at that size (``None``: mean; :func:`~infdepth.validation.intervals.geometric_mean`
    for one positive value per seed, the calibrated choice). ``paired``: the same seed index at
    every size shares its randomness. ``noise_floor_factor``: the fitter's noise floor (0 for
    magnitudes that are not errors to a limit). ``reference_error``: per size, the reference's
    own error (particles, partner, finite width), added in quadrature to the seed noise in the
    floor and the signal-to-noise ratio. ``notes``: extra lines the claim adds to the verdict.
    ``column``: the raw-table column the (1-D) samples come from (figures scatter it)."""

    sizes: Sequence[float]
    samples: Sequence[np.ndarray]
    statistic: Callable[[np.ndarray], float] | None
    size_label: str
    error_label: str
    paired: bool = False
    noise_floor_factor: float = 2.0
    notes: tuple[str, ...] = ()
    column: str | None = None
    reference_error: Sequence[float] | None = None

    def _fit(self, sizes, samples, reference_error) -> RateFit:
        return fit_rate(sizes, samples, self.statistic, paired=self.paired,
                        noise_floor_factor=self.noise_floor_factor,
                        reference_error=reference_error)

    def fit(self) -> RateFit:
        return self._fit(self.sizes, self.samples, self.reference_error)

    @property
    def deterministic(self) -> bool:
        return all(np.ndim(a) == 0 or np.shape(a)[0] == 1 for a in self.samples)

    def tail_fit(self) -> RateFit | None:
        """The fit on the sweep's tail: the largest half of the sizes, at least 3 (the last two
        for deterministic data); ``None`` when that is the whole sweep."""
        P = len(self.sizes)
        k = 2 if self.deterministic else max(3, math.ceil(P / 2))
        if k >= P:
            return None
        ref = None if self.reference_error is None else list(self.reference_error)[-k:]
        return self._fit(list(self.sizes)[-k:], list(self.samples)[-k:], ref)

    def half_fit(self) -> RateFit | None:
        """The fit on the first half of the seeds (paired seeds stay paired); ``None`` for
        deterministic data or fewer than 4 seeds."""
        S = min(len(a) for a in self.samples) if not self.deterministic else 0
        if S < 4:
            return None
        return self._fit(self.sizes, [np.asarray(a)[: S // 2] for a in self.samples],
                         self.reference_error)

    def evaluate(self, claimed: Claimed, derived_band: tuple[float, float] | None = None
                 ) -> Evaluation:
        """Fit, then decide against the claimed band and the derived one (version 2)."""
        fit, tail, half = self.fit(), self.tail_fit(), self.half_fit()
        S = min(len(a) for a in self.samples) if not self.deterministic else 1
        d = decide(fit, claimed.band, tail=tail, half=half, seeds=S)
        dd = (decide(fit, derived_band, tail=tail, half=half, seeds=S)
              if derived_band is not None else None)
        ref = (tuple(float(r) for r in self.reference_error)
               if self.reference_error is not None else ())
        snr = tuple(signal_to_noise(e, math.hypot(s, r) if math.isfinite(s) else s)
                    for e, s, r in zip(fit.errors, fit.stderr, ref or [0.0] * len(fit.errors)))
        return Evaluation.of_fit(
            fit, d.status, size_label=self.size_label, error_label=self.error_label,
            notes=self.notes + norm_of_mean_caveat(self.statistic, S),
            seed_column=self.column,
            status_derived=dd.status if dd else "n/a", reason=d.reason,
            reason_derived=dd.reason if dd else "", advice=d.advice, settled=d.settled,
            robust=d.robust, snr=snr, reference_error=ref, seeds=S,
            tail_slope=tail.slope if tail else math.nan,
            tail_ci=(tail.ci_low, tail.ci_high) if tail else (math.nan, math.nan),
            half_slope=half.slope if half else math.nan)


#: with fewer seeds than this, the 95% interval of a norm of a noisy mean holds its level only when
#: the signal clears the noise (calibration problems ``noisy_mean_norm`` vs
#: ``noisy_mean_norm_low_snr``, docs/theory.md s9)
CALIBRATED_NORM_SEEDS = 16


def norm_of_mean_caveat(statistic, seeds: int) -> tuple[str, ...]:
    """The caveat a row carries when its statistic is a norm of a noisy mean
    (:class:`NormOfMean`) over fewer than ``CALIBRATED_NORM_SEEDS`` seeds. The calibration
    suite finds such intervals at their level when the true signal-to-noise at the largest size
    is about 2 or more, but under it (about 0.91 at 8 seeds) when it is about 1; the data of one
    row cannot tell the two apart (a noise-inflated norm looks like signal), so every such row
    says so."""
    if not isinstance(statistic, NormOfMean) or seeds >= CALIBRATED_NORM_SEEDS:
        return ()
    return (f"norm of a noisy mean over {seeds} < {CALIBRATED_NORM_SEEDS} seeds: the 95% CI "
            f"holds its level when the true signal-to-noise is about 2 or more, and is narrower "
            f"(calibration: coverage about 0.91 at 8 seeds) when it is about 1 "
            f"(noisy_mean_norm_low_snr)",)


def slope_sign(fit: RateFit, tol: float, diverged: bool = False) -> str:
    """Sign of a fitted slope against the band ``[-tol, tol]``: ``+`` (CI above ``tol``, or the
    quantity diverged at some size), ``-`` (CI below ``-tol``), ``0`` (CI inside the band), ``?``
    otherwise or when the fit was refused."""
    if diverged:
        return "+"
    lo, hi = fit.ci_low, fit.ci_high
    if fit.refused or not (math.isfinite(lo) and math.isfinite(hi)):
        return "?"
    if lo > tol:
        return "+"
    if hi < -tol:
        return "-"
    if -tol <= lo and hi <= tol:
        return "0"
    return "?"


@dataclass(frozen=True)
class MapCell:
    """One grid cell: its coordinates, one rate measurement per quantity, and what theory
    derives for it (copied into the cell's row)."""

    coords: Mapping[str, float]
    quantities: Mapping[str, RateMeasurement]
    derived: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MapSummary:
    """A claim's reading of a measured map: status, a headline value with its range (shown as
    "measured" and CI), and notes."""

    status: str
    value: float
    low: float
    high: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegimeMap:
    """A measured regime map (docs/theory.md s7, s9). Each cell's quantities are fitted
    (:meth:`RateMeasurement.fit`), read as signs against ``tol`` (:func:`slope_sign`; a quantity
    that is non-finite at some size counts as ``+``), classified by ``classify(signs) -> regime``
    and summarised over all rows by ``summarize(rows) -> MapSummary``."""

    cells: Sequence[MapCell]
    tol: float
    classify: Callable[[Mapping[str, str]], str]
    summarize: Callable[[list[dict[str, Any]]], MapSummary]
    size_label: str = ""
    error_label: str = ""

    def rows(self) -> list[dict[str, Any]]:
        """One row per cell: coordinates, per quantity slope / CI / sign / divergence, the
        measured regime and the derived entries."""
        out = []
        for cell in self.cells:
            row: dict[str, Any] = dict(cell.coords)
            signs = {}
            for name, m in cell.quantities.items():
                diverged = any(not np.isfinite(np.asarray(s, dtype=float)).all()
                               for s in m.samples)
                fit = m.fit()
                signs[name] = slope_sign(fit, self.tol, diverged)
                row[f"{name}_slope"] = None if fit.refused else float(fit.slope)
                row[f"{name}_ci"] = [None, None] if fit.refused else [float(fit.ci_low),
                                                                       float(fit.ci_high)]
                row[f"{name}_sign"] = signs[name]
                row[f"{name}_diverged"] = bool(diverged)
            row["signs"] = signs
            row["regime"] = self.classify(signs)
            row.update(cell.derived)
            out.append(row)
        return out

    def evaluate(self, claimed: Claimed, derived_band: tuple[float, float] | None = None
                 ) -> Evaluation:
        """The claim's reading of the map; against theory, the cells whose measured regime is
        the derived one (``derived_regime`` in the rows)."""
        rows = self.rows()
        s = self.summarize(rows)
        for r in rows:
            r.pop("signs")
        agree = sum(r["regime"] == r.get("derived_regime") for r in rows)
        return Evaluation(slope=s.value, intercept=math.nan, ci_low=s.low, ci_high=s.high,
                          status=s.status, method="regime map", notes=s.notes,
                          table=tuple(rows), size_label=self.size_label,
                          error_label=self.error_label, kind="map",
                          status_derived=f"agrees at {agree}/{len(rows)} cells",
                          reason=s.notes[0] if s.notes else "")


@dataclass(frozen=True)
class JointMeasurement:
    """A multi-term error model fitted over every point of several sweeps at once
    (:mod:`infdepth.validation.multiterm`): ``X[v][i]`` the size ``v`` of point ``i``,
    ``samples[i]`` its seed rows, ``groups[i]`` the seed group it shares with other points.
    ``models[0]`` is the claimed form with its exponents free; ``parameter`` names the exponent
    reported as the row's slope; ``bands`` the accepted interval of every free exponent (all
    must hold for ``confirmed``; any excluded gives ``refuted``). The other models are the
    alternatives it is compared with (AIC, leave-one-out)."""

    X: Mapping[str, Sequence[float]]
    samples: Sequence[np.ndarray]
    statistic: Callable[[np.ndarray], float]
    groups: Sequence[int]
    models: Sequence[Any]
    parameter: str
    bands: Mapping[str, tuple[float, float]]
    size_label: str = ""
    error_label: str = ""
    n_boot: int = 400

    def evaluate(self, claimed: Claimed, derived_band: tuple[float, float] | None = None
                 ) -> Evaluation:
        from .multiterm import compare_models, fit_model
        fits = [fit_model(m, self.X, self.samples, self.statistic, groups=self.groups,
                          n_boot=self.n_boot) for m in self.models]
        main = fits[0]
        if not main.ok or self.parameter not in main.params:
            return Evaluation(slope=math.nan, intercept=math.nan, ci_low=math.nan,
                              ci_high=math.nan, status="inconclusive", method="joint fit",
                              notes=main.notes, kind="joint", size_label=self.size_label,
                              error_label=self.error_label, reason="the joint fit failed")
        parts = []
        for name, (lo, hi) in self.bands.items():
            c_lo, c_hi = main.ci[name]
            parts.append("confirmed" if lo <= c_lo and c_hi <= hi else
                         "refuted" if c_hi < lo or c_lo > hi else "inconclusive")
        status = ("refuted" if "refuted" in parts else
                  "confirmed" if all(p == "confirmed" for p in parts) else
                  "inconclusive (noise-limited)")
        reason = "; ".join(f"{n} {main.params[n]:+.3f} [{main.ci[n][0]:+.3f}, {main.ci[n][1]:+.3f}]"
                           f" vs [{b[0]:+g}, {b[1]:+g}]: {p}"
                           for (n, b), p in zip(self.bands.items(), parts))
        lo, hi = main.ci[self.parameter]
        rows = [{"model": f.model.name, "aic": f.aic, "loo": f.loo, "points": f.n_points,
                 **{k: v for k, v in f.params.items()},
                 **{f"{k}_ci": list(v) for k, v in f.ci.items()}} for f in fits if f.ok]
        return Evaluation(slope=main.params[self.parameter], intercept=math.nan, ci_low=lo,
                          ci_high=hi, status=status, method="joint fit",
                          notes=tuple(compare_models(fits)) + main.notes, table=tuple(rows),
                          size_label=self.size_label, error_label=self.error_label,
                          kind="joint", reason=reason, seeds=min(len(a) for a in self.samples))
