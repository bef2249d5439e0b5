"""Multi-term error models fitted jointly over several sweeps (docs/theory.md s9, "Two error
terms, one fit").

A claim whose error is a sum, e.g. ``a/L + b sqrt(D/(LM))``, is fitted as the sum over every
point of all its sweeps at once (the L-, M- and diagonal sweeps of ``hw_rate_lm``), beside the
single-slope fits. A model is a list of :class:`Term` -- ``c * prod_v size_v^(p_v)`` with ``c >
0`` fitted and each exponent either fixed or fitted -- and the fit minimises the squared log
residuals ``sum_i (log e_i - log model(x_i))^2`` (``scipy.optimize.least_squares``). Intervals on
every constant and exponent come from resampling seeds (jointly across the points that share
them) and refitting, with the calibrated ``boot_t`` construction (bootstrap standard error, t
quantile with the seeds' degrees of freedom). Models are compared by AIC on the log scale (and
the points' leave-one-out error of prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from infdepth.lazy import lazy

optimize = lazy("scipy.optimize")  # imported on first use (infdepth.lazy)
stats = lazy("scipy.stats")

__all__ = ["Term", "Model", "JointFit", "fit_model", "compare_models"]


@dataclass(frozen=True)
class Term:
    """``c * prod_v size_v^(p_v)``: ``exponents`` maps a size name to its exponent; names in
    ``free`` have their exponent fitted (starting from the given value)."""

    name: str
    exponents: Mapping[str, float]
    free: tuple[str, ...] = ()

    def text(self, values: Mapping[str, float] | None = None) -> str:
        parts = []
        for v, p in self.exponents.items():
            q = values.get(f"{self.name}.{v}", p) if values else p
            parts.append(f"{v}^{q:+.3g}")
        return "·".join(parts) or "1"


@dataclass(frozen=True)
class Model:
    name: str
    terms: tuple[Term, ...]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        names = [f"{t.name}.c" for t in self.terms]
        names += [f"{t.name}.{v}" for t in self.terms for v in t.free]
        return tuple(names)


@dataclass(frozen=True)
class JointFit:
    """A fitted model: parameter estimates, their intervals, the residual sum of squares on the
    log scale, AIC, and the leave-one-point-out prediction error."""

    model: Model
    params: Mapping[str, float]
    ci: Mapping[str, tuple[float, float]]
    rss: float
    aic: float
    loo: float
    n_points: int
    ok: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        terms = " + ".join(f"{self.params[f'{t.name}.c']:.3g}·{t.text(self.params)}"
                           for t in self.model.terms)
        free = ", ".join(f"{k} {v:+.3f} [{self.ci[k][0]:+.3f}, {self.ci[k][1]:+.3f}]"
                         for k, v in self.params.items() if not k.endswith(".c"))
        return (f"{self.model.name}: {terms}" + (f"; {free}" if free else "")
                + f"; AIC {self.aic:.2f}, leave-one-out rms {self.loo:.3f} (log scale)")


def _design(model: Model, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
    nT = len(model.terms)
    logc = theta[:nT]
    k = nT
    n = len(next(iter(X.values())))
    out = np.zeros(n)
    for i, t in enumerate(model.terms):
        lp = np.full(n, logc[i])
        for v, p in t.exponents.items():
            if v in t.free:
                p = theta[k]
                k += 1
            lp = lp + p * np.log(X[v])
        out = out + np.exp(lp)
    return out


def _solve(model: Model, X: Mapping[str, np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares on log residuals; returns (theta, rss)."""
    nT = len(model.terms)
    start = [math.log(max(float(np.exp(np.mean(y))) / nT, 1e-300))] * nT
    start += [p for t in model.terms for v, p in t.exponents.items() if v in t.free]

    def resid(theta):
        with np.errstate(all="ignore"):
            r = y - np.log(_design(model, theta, X))
        return np.where(np.isfinite(r), r, 1e3)

    best = None
    for shift in (0.0, -2.0, 2.0):   # a few starts: sums of terms have flat directions
        th0 = np.array(start, float)
        th0[:nT] += shift * np.arange(nT)
        res = optimize.least_squares(resid, th0, method="trf")
        rss = float(np.sum(res.fun ** 2))
        if best is None or rss < best[1]:
            best = (res.x, rss)
    return best


def _params(model: Model, theta: np.ndarray) -> dict[str, float]:
    names = model.parameter_names
    nT = len(model.terms)
    out = {}
    for i, name in enumerate(names):
        out[name] = float(np.exp(theta[i])) if i < nT else float(theta[i])
    return out


def fit_model(model: Model, X: Mapping[str, Sequence[float]], samples: Sequence[np.ndarray],
              statistic: Callable[[np.ndarray], float], *, groups: Sequence[int] | None = None,
              n_boot: int = 400, level: float = 0.95, rng_seed: int = 0) -> JointFit:
    """Fit ``model`` to the statistic of each point's seed rows. ``X[v][i]`` is size ``v`` of
    point ``i``; ``groups[i]`` names the seed group of point ``i`` (points of one group share
    their seeds and are resampled with the same indices; default: all points independent)."""
    X = {v: np.asarray(x, float) for v, x in X.items()}
    n = len(samples)
    with np.errstate(all="ignore"):
        y = np.log([statistic(a) for a in samples])
    ok = np.isfinite(y)
    notes = []
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} point(s) without a positive finite statistic left out")
    Xo = {v: x[ok] for v, x in X.items()}
    k = len(model.parameter_names)
    if ok.sum() <= k:
        return JointFit(model, {}, {}, math.nan, math.nan, math.nan, int(ok.sum()), False,
                        tuple(notes) + ("too few points for the model",))
    theta, rss = _solve(model, Xo, y[ok])
    m = int(ok.sum())
    aic = m * math.log(max(rss, 1e-300) / m) + 2 * k
    loo = []
    for j in range(m):
        keep = np.arange(m) != j
        th_j, _ = _solve(model, {v: x[keep] for v, x in Xo.items()}, y[ok][keep])
        one = {v: x[j:j + 1] for v, x in Xo.items()}
        with np.errstate(all="ignore"):
            loo.append(float(y[ok][j] - np.log(_design(model, th_j, one)[0])))
    groups = list(range(n)) if groups is None else list(groups)
    rng = np.random.default_rng(rng_seed)
    reps = []
    for _ in range(n_boot):
        idx = {}
        ys = np.empty(n)
        for i, a in enumerate(samples):
            g = groups[i]
            if g not in idx:
                idx[g] = rng.integers(0, len(a), len(a))
            with np.errstate(all="ignore"):
                ys[i] = np.log(statistic(np.asarray(a)[idx[g] % len(a)]))
        good = ok & np.isfinite(ys)
        if good.sum() <= k:
            continue
        th_b, _ = _solve(model, {v: x[good] for v, x in X.items()}, ys[good])
        reps.append(th_b)
    params = _params(model, theta)
    ci = {}
    if len(reps) >= 10:
        R = np.array(reps)
        S = min(len(a) for a in samples)
        t = float(stats.t.ppf(0.5 + level / 2, max(S - 1, 1)))
        for i, name in enumerate(model.parameter_names):
            se = float(R[:, i].std(ddof=1)) * math.sqrt(S / max(S - 1, 1))
            c = theta[i]
            lo, hi = c - t * se, c + t * se
            ci[name] = (math.exp(lo), math.exp(hi)) if name.endswith(".c") else (lo, hi)
    else:
        notes.append("too few valid bootstrap refits for intervals")
        ci = {name: (math.nan, math.nan) for name in model.parameter_names}
    return JointFit(model, params, ci, rss, aic, float(np.sqrt(np.mean(np.square(loo)))), m,
                    True, tuple(notes))


def compare_models(fits: Sequence[JointFit]) -> list[str]:
    """One line per model, best AIC first, with the AIC difference to the best."""
    good = sorted((f for f in fits if f.ok), key=lambda f: f.aic)
    if not good:
        return ["no model could be fitted"]
    best = good[0].aic
    return [f"{f.describe()} (dAIC {f.aic - best:+.2f})" for f in good]
