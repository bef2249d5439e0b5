"""The optimum of a loss-vs-learning-rate curve (docs/theory.md s5, s8): used by the
``depth_hp_transfer`` claim; no claim knowledge.

A point's frame holds one row per (learning rate, seed) with columns ``log2_eta, seed, loss``
(a diverged run has ``loss = inf``). The seed-mean loss curve ``m(x)``, ``x = log2 eta`` (a
learning rate where any seed diverged has ``m = inf``), is fitted on ``log m`` by
:func:`fit_optimum`: a parabola through the grid minimum and its two neighbours, whose vertex
(always within half a grid step of the minimum on a uniform grid) is ``x*``. Flags:
``"edge_low"``/``"edge_high"`` when the minimum sits at the end of the grid (``x*`` is clamped to
the grid point: the true optimum lies beyond, so the point is a bound), ``"cliff"`` when a
neighbour diverged (``x*`` = the grid point; the optimum lies within one step above it),
``"ok"`` otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from infdepth.lazy import lazy

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

__all__ = ["Optimum", "fit_optimum", "seed_curves", "mean_curve", "optimal_lr",
           "per_depth_optima", "blowup_edge", "INTERIOR_GAP"]

#: an optimum counts as inside the stable range when it lies at least this many octaves (log2
#: units of LR) below the blow-up edge (:func:`blowup_edge`); a stated choice
INTERIOR_GAP = 1.0


@dataclass(frozen=True)
class Optimum:
    """Fitted optimum of a loss-vs-log2(LR) curve: ``x`` = log2 eta*, ``loss`` at the fitted
    vertex (parabola value, grid value when flagged), ``index`` of the grid minimum, ``flag``:
    ``"ok" | "edge_low" | "edge_high" | "cliff" | "none"`` (no finite point)."""

    x: float
    loss: float
    index: int
    flag: str


def fit_optimum(log2_etas, losses) -> Optimum:
    """Optimum of ``losses`` (one value per grid point; non-finite = diverged) over ``log2_etas``
    (strictly ascending): parabola in ``log(loss)`` through the grid minimum and its two
    neighbours (module docstring); edge and cliff cases are flagged and clamped to the grid."""
    x = np.asarray(log2_etas, dtype=float)
    m = np.asarray(losses, dtype=float)
    if x.ndim != 1 or x.shape != m.shape or x.size < 1:
        raise ValueError("log2_etas and losses must be 1-D of the same non-zero length")
    if np.any(np.diff(x) <= 0):
        raise ValueError("log2_etas must be strictly ascending")
    fin = np.isfinite(m)
    y = np.full(m.shape, np.inf)
    y[fin] = np.log(np.maximum(m[fin], 1e-300))  # a zero loss counts as the floor 1e-300
    if not fin.any():
        return Optimum(math.nan, math.nan, -1, "none")
    i = int(np.argmin(y))
    if i == 0:
        return Optimum(float(x[0]), float(m[0]), 0, "edge_low")
    if i == x.size - 1:
        return Optimum(float(x[i]), float(m[i]), i, "edge_high")
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    if not (np.isfinite(y0) and np.isfinite(y1) and np.isfinite(y2)):
        return Optimum(float(x[i]), float(m[i]), i, "cliff")
    x0, x1, x2 = x[i - 1], x[i], x[i + 1]
    # Lagrange parabola through three points: vertex from the divided differences
    d01 = (y1 - y0) / (x1 - x0)
    d12 = (y2 - y1) / (x2 - x1)
    c2 = (d12 - d01) / (x2 - x0)
    if c2 <= 0:  # flat (three equal values): keep the grid point
        return Optimum(float(x1), float(m[i]), i, "ok")
    xv = 0.5 * (x0 + x1) - d01 / (2.0 * c2)
    xv = float(min(max(xv, x0), x2))
    yv = y1 + d01 * (xv - x1) + c2 * (xv - x0) * (xv - x1)
    return Optimum(xv, float(math.exp(yv)), i, "ok")


def seed_curves(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(log2_etas (G,), losses (S, G))`` from a point's frame (diverged -> inf)."""
    t = frame.pivot(index="seed", columns="log2_eta", values="loss").sort_index(axis=1)
    a = t.to_numpy(dtype=float)
    a = np.where(np.isnan(a), np.inf, a)
    return t.columns.to_numpy(dtype=float), a


def mean_curve(losses: np.ndarray) -> np.ndarray:
    """Seed mean per learning rate; ``inf`` where any seed diverged."""
    a = np.asarray(losses, dtype=float)
    with np.errstate(all="ignore"):
        return np.where(np.all(np.isfinite(a), axis=0), a.mean(axis=0), np.inf)


def optimal_lr(log2_etas) -> Callable[[np.ndarray], float]:
    """Statistic for the rate fitter: per-seed curves ``(S, G)`` -> fitted ``eta* = 2**x*``."""
    grid = np.asarray(log2_etas, dtype=float)

    def stat(arr: np.ndarray) -> float:
        return float(2.0 ** fit_optimum(grid, mean_curve(arr)).x)

    return stat


def per_depth_optima(frames: Sequence[pd.DataFrame]) -> list[Optimum]:
    """Fitted optimum of the seed-mean curve of each point (figures, reports)."""
    out = []
    for f in frames:
        g, a = seed_curves(f)
        out.append(fit_optimum(g, mean_curve(a)))
    return out


def blowup_edge(log2_etas, losses, initial, above: float) -> float | None:
    """The blow-up edge of a loss-vs-LR curve: the smallest grid point above ``above`` (the
    fitted optimum) whose loss exceeds the initial loss or is non-finite, i.e. where training
    stops helping. ``losses``/``initial``: seed-mean final and initial loss per grid point.
    ``None`` when no grid point above the optimum blows up (the edge lies beyond the grid)."""
    x = np.asarray(log2_etas, dtype=float)
    m = np.asarray(losses, dtype=float)
    m0 = np.asarray(initial, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = (x > above) & ~(np.isfinite(m) & (m <= m0))
    return float(x[bad][0]) if bad.any() else None
