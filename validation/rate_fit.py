"""Log-log rate fits with bootstrap confidence intervals, and verdicts (docs/theory.md s9).

Model. At each size ``s_i`` (depth ``L`` or width ``n``, ascending) we measure a non-negative
error ``e_i`` and fit the power law

    log e_i = intercept + slope * log s_i

by ordinary least squares over the points that pass the floors below. The measured rate is
``slope`` (``-1`` for an ``O(1/L)`` error).

Confidence interval (docs/theory.md s9, "Fit"):

* Noisy data (per-seed rows): bootstrap over seeds. Each replicate resamples the seed rows of every
  size with replacement -- independently per size, or with the same seed indices at every size
  when ``paired=True`` (coupled-randomness sweeps, where seed ``s`` at one depth shares its
  Brownian path with seed ``s`` at every other depth) -- recomputes the statistic at each size and
  refits; the CI is the percentile interval of the replicate slopes.
* Deterministic data (exactly one row per size): the OLS ``t``-interval of the slope from the
  residuals, ``slope +- t_{k-2} * sqrt(SSR / (k - 2) / Sxx)``; with two points no spread can be
  estimated and the CI collapses to the slope.

Floors ("refuse to fit below a noise/round-off floor"): a point is left out of the fit when its
error is non-finite (divergent training), ``<= abs_floor`` (round-off, or not positive so the log
is undefined), or -- for noisy points -- smaller than ``noise_floor_factor`` times its bootstrap
standard error (indistinguishable from zero). Too few remaining points give a refused fit
(slope NaN), never an exception.

Pairwise slopes ``log(e_{i+1}/e_i) / log(s_{i+1}/s_i)`` between consecutive sizes show a rate that
bends (e.g. ``C1/L + C2/L^2`` steepens towards ``-2`` at small ``L``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from infdepth.lazy import lazy

from .intervals import (METHODS, draw_resample_statistic, geometric_mean, resample_rows,
                        resample_statistic, skip_resample_rows, slope_interval)

_stats = lazy("scipy.stats")  # imported on first use (infdepth.lazy)

__all__ = ["RateFit", "fit_rate"]


def _json_float(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _json_size(x: float | int) -> float | int | None:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    return _json_float(x)


@dataclass(frozen=True)
class RateFit:
    """Result of :func:`fit_rate`: the fitted power law ``log err = intercept + slope log size``.

    Per-point tuples (``sizes``, ``errors``, ``stderr``, ``used``) have one entry per size;
    ``pairwise[i]`` is the slope between ``sizes[i]`` and ``sizes[i+1]`` (NaN when either point is
    excluded from the fit). ``stderr`` is the bootstrap standard error of each point's statistic
    (0 for deterministic points, NaN where it was not computed). ``method`` is ``"bootstrap"`` or
    ``"ols-t"``; ``n_boot`` is the number of bootstrap replicates (0 for ``"ols-t"``). When
    ``refused`` is true, slope, intercept and CI are NaN and ``notes`` says why.
    """

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    pairwise: tuple[float, ...]
    sizes: tuple[float, ...]
    errors: tuple[float, ...]
    stderr: tuple[float, ...]
    used: tuple[bool, ...]
    refused: bool
    method: str
    n_boot: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    ci_level: float = 0.95

    @property
    def n_used(self) -> int:
        """Number of points that entered the fit."""
        return int(sum(self.used))

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (tuples -> lists, NaN/inf -> ``None``)."""
        return {
            "slope": _json_float(self.slope),
            "intercept": _json_float(self.intercept),
            "ci_low": _json_float(self.ci_low),
            "ci_high": _json_float(self.ci_high),
            "ci_level": _json_float(self.ci_level),
            "pairwise": [_json_float(p) for p in self.pairwise],
            "sizes": [_json_size(s) for s in self.sizes],
            "errors": [_json_float(e) for e in self.errors],
            "stderr": [_json_float(e) for e in self.stderr],
            "used": [bool(u) for u in self.used],
            "refused": bool(self.refused),
            "method": str(self.method),
            "n_boot": int(self.n_boot),
            "notes": [str(n) for n in self.notes],
        }


#: Bootstrap replicates of the interval methods that resample themselves.
_N_BOOT_CI = {"studentized": 999, "bca": 1999}
_METHOD_TEXT = {"log_t": "t-interval of the log-slope (geometric mean)",
                "boot_t": "t-interval with the bootstrap standard error",
                "studentized": "studentized bootstrap (jackknife-studentized)",
                "bca": "BCa bootstrap", "percentile": "percentile bootstrap"}


def choose_interval(statistic: Callable | None, samples: Sequence[np.ndarray]) -> str:
    """The interval method the calibration suite selected (docs/theory.md s9,
    :mod:`infdepth.validation.calibration`): ``log_t`` for one positive value per seed summarised
    by the geometric mean; the t-interval with the bootstrap standard error (``boot_t``) for
    every other statistic."""
    one_d = all(np.asarray(a).ndim == 1 for a in samples)
    return "log_t" if statistic is geometric_mean and one_d else "boot_t"


def _default_statistic(arr: np.ndarray) -> float:
    """Mean over seeds (and over any trailing axes) of the per-seed measurements."""
    return float(np.mean(arr))


def _fmt_size(s: float) -> str:
    return f"{s:g}"


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least squares ``y = a + b x``; returns ``(b, a, SSR)``."""
    xm = x.mean()
    dx = x - xm
    sxx = float(dx @ dx)
    b = float(dx @ (y - y.mean())) / sxx
    a = float(y.mean() - b * xm)
    r = y - (a + b * x)
    return b, a, float(r @ r)


def fit_rate(
    sizes: Sequence[float],
    samples: Sequence[np.ndarray],
    statistic: Callable[[np.ndarray], float] | None = None,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    paired: bool = False,
    noise_floor_factor: float = 2.0,
    abs_floor: float = 0.0,
    rng_seed: int = 0,
    interval: str = "auto",
    reference_error: Sequence[float] | None = None,
) -> RateFit:
    """Fit ``log err = intercept + slope * log size`` with a CI on the slope (docs/theory.md s9).

    Parameters
    ----------
    sizes
        ``P`` positive, strictly ascending sizes.
    samples
        ``P`` arrays; ``samples[i]`` has shape ``(S_i, ...)``, first axis = seeds (per-seed raw
        measurements at ``sizes[i]``). A 0-d value counts as one row.
    statistic
        ``statistic(arr) -> float`` maps a sample (or a bootstrap resample of its seed rows) to the
        non-negative error at that size. Default: mean over seeds (and any trailing axes), run
        fully vectorized. For a bias ``|E[X] - ref|`` pass the per-seed ``X`` and
        ``lambda a: abs(a.mean() - ref)`` so the bootstrap resamples seeds *before* comparing.
    n_boot, ci
        Bootstrap replicates and CI level (percentile interval).
    paired
        Resample the same seed indices at every size (coupled randomness); needs equal ``S_i``.
    noise_floor_factor, abs_floor
        Floors: a noisy point with ``error < noise_floor_factor * stderr`` or any point with
        ``error <= abs_floor`` is excluded, as are non-finite (divergent) points.
    rng_seed
        Seed of ``numpy.random.default_rng``; results are reproducible.
    reference_error
        Per size, the reference's own error (absolute, >= 0): it adds in quadrature to the seed
        noise in the noise floor (a point is resolved when its error exceeds
        ``noise_floor_factor * sqrt(stderr^2 + reference_error^2)``).
    interval
        How the slope's CI is formed for noisy data (:mod:`infdepth.validation.intervals`):
        ``"auto"`` (the calibrated choice, :func:`choose_interval`), ``"log_t"``,
        ``"studentized"``, ``"bca"`` or ``"percentile"``.

    Returns a :class:`RateFit`. With every ``S_i == 1`` the data are deterministic: CI from the
    OLS ``t``-interval (``method="ols-t"``), and 2 points suffice; otherwise at least 3 used points
    are required. Too few points give ``refused=True`` (slope NaN) rather than an exception.
    Invalid input (mismatched lengths, non-positive or unsorted sizes, bad ``ci``) raises
    ``ValueError``.
    """
    size_arr = np.asarray(sizes, dtype=float)
    if size_arr.ndim != 1 or size_arr.size == 0:
        raise ValueError(f"sizes must be a non-empty 1-D sequence, got shape {size_arr.shape}")
    if not np.all(np.isfinite(size_arr)) or np.any(size_arr <= 0):
        raise ValueError(f"sizes must be finite and positive, got {list(size_arr)}")
    if np.any(np.diff(size_arr) <= 0):
        raise ValueError(f"sizes must be strictly ascending, got {list(size_arr)}")
    if len(samples) != size_arr.size:
        raise ValueError(f"got {len(samples)} samples for {size_arr.size} sizes")
    ref_err = (np.zeros(size_arr.size) if reference_error is None
               else np.asarray(reference_error, dtype=float))
    if ref_err.shape != size_arr.shape or np.any(~np.isfinite(ref_err)) or np.any(ref_err < 0):
        raise ValueError(f"reference_error must be one finite non-negative value per size, "
                         f"got {reference_error!r}")
    if not (0.0 < ci < 1.0):
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    if interval != "auto" and (interval not in METHODS or interval == "ols_t"):
        raise ValueError(f"unknown interval {interval!r}; allowed: auto, "
                         f"{', '.join(m for m in METHODS if m != 'ols_t')}")
    n_boot = int(n_boot)
    if noise_floor_factor < 0 or abs_floor < 0:
        raise ValueError("noise_floor_factor and abs_floor must be non-negative")

    P = size_arr.size
    size_out = tuple(
        int(s) if isinstance(s, (int, np.integer)) and not isinstance(s, bool) else float(s)
        for s in sizes
    )
    arrs = []
    for i, s in enumerate(samples):
        a = np.asarray(s)
        if a.ndim == 0:
            a = a.reshape(1)
        arrs.append(a)
    n_rows = np.array([a.shape[0] for a in arrs])
    stat = statistic if statistic is not None else _default_statistic
    notes: list[str] = []

    # --- point estimates and the non-noise floors -------------------------------------------
    errors = np.full(P, np.nan)
    candidate = np.zeros(P, dtype=bool)
    for i, a in enumerate(arrs):
        label = f"size {_fmt_size(size_arr[i])}"
        if a.shape[0] == 0:
            notes.append(f"{label}: excluded, no samples")
            continue
        with np.errstate(all="ignore"):
            e = float(stat(a))
        errors[i] = e
        if not math.isfinite(e):
            notes.append(f"{label}: excluded, divergent (error is {e})")
        elif e <= abs_floor:
            notes.append(
                f"{label}: excluded, error {e:.3g} <= floor {abs_floor:.3g} "
                "(round-off floor or non-positive error)"
            )
        else:
            candidate[i] = True

    present = n_rows > 0
    deterministic = bool(np.all(n_rows[present] == 1)) if present.any() else True
    stderr = np.full(P, np.nan)
    used = candidate.copy()
    level_pct = f"{100 * ci:g}%"

    def _refuse(reason: str, method: str, nb: int) -> RateFit:
        notes.append(f"refused: {reason}")
        return RateFit(
            slope=math.nan, intercept=math.nan, ci_low=math.nan, ci_high=math.nan,
            pairwise=_pairwise(size_arr, errors, used), sizes=size_out,
            errors=tuple(float(e) for e in errors), stderr=tuple(float(s) for s in stderr),
            used=tuple(bool(u) for u in used), refused=True, method=method, n_boot=nb,
            notes=tuple(notes), ci_level=float(ci),
        )

    if deterministic:
        stderr[present] = 0.0
        k = int(used.sum())
        if k < 2:
            return _refuse(f"only {k} usable point(s); a deterministic fit needs at least 2",
                           "ols-t", 0)
        x = np.log(size_arr[used])
        y = np.log(errors[used])
        slope, intercept, ssr = _ols(x, y)
        if k == 2:
            lo = hi = slope
            notes.append("only 2 points: slope is exact through them, no spread can be "
                         "estimated (CI collapses to the slope)")
        else:
            dx = x - x.mean()
            se = math.sqrt(ssr / (k - 2) / float(dx @ dx))
            t = float(_stats.t.ppf(0.5 + ci / 2.0, k - 2))
            lo, hi = slope - t * se, slope + t * se
            notes.append(f"deterministic data (one row per size): {level_pct} OLS t-interval "
                         f"of the slope from residuals, {k - 2} dof")
        return RateFit(
            slope=slope, intercept=intercept, ci_low=lo, ci_high=hi,
            pairwise=_pairwise(size_arr, errors, used), sizes=size_out,
            errors=tuple(float(e) for e in errors), stderr=tuple(float(s) for s in stderr),
            used=tuple(bool(u) for u in used), refused=False, method="ols-t", n_boot=0,
            notes=tuple(notes), ci_level=float(ci),
        )

    # --- bootstrap over seeds ------------------------------------------------------------------
    rng = np.random.default_rng(rng_seed)
    if paired:
        if not np.all(n_rows == n_rows[0]):
            raise ValueError(
                f"paired bootstrap needs the same number of seeds at every size, got "
                f"{list(map(int, n_rows))}"
            )
        shared_idx = resample_rows(rng, int(n_rows[0]), n_boot)
    boot = np.full((n_boot, P), np.nan)
    for i, a in enumerate(arrs):
        # Draw indices for every present size (even excluded ones) so a point's resamples do not
        # depend on whether its neighbours were excluded; unpaired indices are drawn block by
        # block as the statistic reads them (the same numbers).
        if a.shape[0] == 0:
            continue
        if not candidate[i]:
            if not paired:
                skip_resample_rows(rng, a.shape[0], n_boot)
            continue
        with np.errstate(all="ignore"):
            boot[:, i] = (resample_statistic(statistic, a, shared_idx) if paired else
                          draw_resample_statistic(statistic, a, rng, n_boot))
        finite = np.isfinite(boot[:, i])
        stderr[i] = float(np.std(boot[finite, i], ddof=1)) if finite.sum() > 1 else math.nan
        noise = math.hypot(stderr[i], ref_err[i]) if math.isfinite(stderr[i]) else math.nan
        if n_rows[i] > 1 and math.isfinite(noise) and errors[i] < noise_floor_factor * noise:
            used[i] = False
            what = (f"bootstrap stderr {stderr[i]:.3g}" if ref_err[i] == 0 else
                    f"noise {noise:.3g} = seeds {stderr[i]:.3g} (+) reference {ref_err[i]:.3g}")
            notes.append(
                f"size {_fmt_size(size_arr[i])}: excluded, below the noise floor (error "
                f"{errors[i]:.3g} < {noise_floor_factor:g} x {what})"
            )
    for i in range(P):
        if n_rows[i] == 1 and candidate[i]:
            stderr[i] = 0.0

    k = int(used.sum())
    if k < 3:
        return _refuse(f"only {k} usable point(s); a fit over seeds needs at least 3",
                       interval, n_boot)
    x = np.log(size_arr[used])
    slope, intercept, _ = _ols(x, np.log(errors[used]))

    method = choose_interval(statistic, arrs) if interval == "auto" else interval
    used_idx = np.flatnonzero(used)
    if method in ("percentile", "boot_t"):   # both read the per-size replicates above
        with np.errstate(all="ignore"):
            yb = np.log(boot[:, used])
        ok = np.all(np.isfinite(yb), axis=1)
        n_bad = int((~ok).sum())
        if n_bad:
            notes.append(
                f"{n_bad} of {n_boot} bootstrap replicates had a non-positive or non-finite "
                "error at a used size and were dropped (CI may be too narrow)"
            )
        if ok.sum() < 2:
            return _refuse("fewer than 2 valid bootstrap replicates", method, n_boot)
        yb = yb[ok]
        dx = x - x.mean()
        slopes = (yb - yb.mean(axis=1, keepdims=True)) @ dx / float(dx @ dx)
        if method == "percentile":
            lo, hi = (float(v) for v in np.quantile(slopes, [0.5 - ci / 2.0, 0.5 + ci / 2.0]))
        else:
            S = int(n_rows[used].min())
            se = float(slopes.std(ddof=1)) * math.sqrt(S / (S - 1))
            t = float(_stats.t.ppf(0.5 + ci / 2.0, S - 1))
            lo, hi = slope - t * se, slope + t * se
    else:
        iv = slope_interval(method, size_arr[used_idx], [arrs[i] for i in used_idx], stat,
                            paired=paired, level=ci, n_boot=_N_BOOT_CI.get(method, n_boot),
                            rng_seed=rng_seed)
        lo, hi = iv.low, iv.high
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return _refuse(f"the {method} interval could not be formed", method, n_boot)
    notes.append(f"{level_pct} {_METHOD_TEXT[method]} over seeds "
                 f"({'paired across sizes' if paired else 'independent per size'})")
    return RateFit(
        slope=slope, intercept=intercept, ci_low=float(lo), ci_high=float(hi),
        pairwise=_pairwise(size_arr, errors, used), sizes=size_out,
        errors=tuple(float(e) for e in errors), stderr=tuple(float(s) for s in stderr),
        used=tuple(bool(u) for u in used), refused=False, method=method, n_boot=n_boot,
        notes=tuple(notes), ci_level=float(ci),
    )


def _pairwise(sizes: np.ndarray, errors: np.ndarray, used: np.ndarray) -> tuple[float, ...]:
    """Slopes between consecutive sizes; NaN where either endpoint is excluded."""
    out = []
    for i in range(sizes.size - 1):
        if used[i] and used[i + 1]:
            out.append(float(np.log(errors[i + 1] / errors[i]) / np.log(sizes[i + 1] / sizes[i])))
        else:
            out.append(math.nan)
    return tuple(out)
