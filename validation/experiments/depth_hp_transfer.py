"""Claim ``depth_hp_transfer`` (THEORY.md s5, s7, s8): the optimal learning rate transfers
across depth under one-layer depth-muP; for two-layer blocks only with the depth-aware
correction ([NFD]).

Task (:func:`infdepth.numerics.datasets.digits_parity`): scikit-learn digits, even (+1) vs odd
(-1), standardized pixels, a fixed subset of ``n_train`` images; full-batch gradient descent on
the MSE loss for ``K`` steps (``batching="full"``), activation tanh.

One point = one (variant, depth L): the whole learning-rate grid (``log2 eta`` on a uniform
grid) for ``n_seeds`` seeds. The measured training loss is the mean loss over the training set
after ``K`` steps. Divergent runs (non-finite loss) are recorded as ``inf`` with
``diverged=True``.

Optimum per depth (:func:`fit_optimum`). The seed-mean loss curve ``m(x)``, ``x = log2 eta``
(a learning rate where any seed diverged has ``m = inf``), is fitted on ``log m``: a parabola
through the grid minimum and its two neighbours, whose vertex (always within half a grid step
of the minimum on a uniform grid) is ``x*``. Flags: ``"edge_low"``/``"edge_high"`` when the
minimum sits at the end of the grid (``x*`` is clamped to the grid point: the true optimum lies
beyond, so the point is a bound), ``"cliff"`` when a neighbour diverged (``x*`` = the grid
point; the optimum lies within one step above it), ``"ok"`` otherwise.

Measured quantity: the drift of the optimum, the slope of ``log2 eta*(L)`` on ``log2 L`` in
**log2 units per doubling of depth**. Since ``log eta* / log L`` has the same slope, the rate
fitter's log-log fit of the positive statistic ``eta* = 2**x*`` on ``L``
(:func:`infdepth.validation.rate_fit.fit_rate`, statistic = :func:`optimal_lr` on the per-seed
curves, seeds resampled by bootstrap, paired across depths because seed ``s`` shares its input
layer, readout and first blocks at every depth) *is* the drift fit; the standard runner needs no
special path. The optional hook :func:`fit` returns the same fit with notes on flagged optima.

Claimed (tolerance choice: a shift of less than a quarter octave per doubling of depth counts as
"transfer"): band ``[-0.25, +0.25]`` for ``one_layer/depth_mup``,
``two_layer/depth_mup_corrected`` and ``two_layer/completep``; for ``two_layer/depth_mup`` the
paper says transfer fails: band ``[+0.25, inf)``, an upward drift (the direction that would
compensate the ``L^(-1/2)`` collapse of the first internal layer's update, THEORY.md s5). A
downward drift would also break transfer but comes out "refuted" against this one-sided band:
read the measured value.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from . import Claimed, Derived, Measurement, Overrides

VARIANTS: tuple[str, ...] = ("one_layer/depth_mup", "two_layer/depth_mup",
                             "two_layer/depth_mup_corrected", "two_layer/completep")

#: half-width of the "transfer" band, log2 units of LR per doubling of depth (tolerance choice)
TRANSFER_TOL = 0.25


def _grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    k = int(round((hi - lo) / step))
    return tuple(float(lo + i * step) for i in range(k + 1))


SUITES = {
    "smoke": {"act": "tanh", "n": 32, "n_train": 32, "K": 6, "depths": (2, 4, 8), "seeds": 3,
              "log2_etas": _grid(0.0, 4.0, 0.5)},
    "standard": {"act": "tanh", "n": 64, "n_train": 64, "K": 10, "depths": (2, 4, 8, 16, 32),
                 "seeds": 6, "log2_etas": _grid(-1.0, 5.0, 0.5)},
    "full": {"act": "tanh", "n": 128, "n_train": 128, "K": 10, "depths": (2, 4, 8, 16, 32, 64),
             "seeds": 8, "log2_etas": _grid(-1.0, 5.0, 0.25)},
}


@dataclass(frozen=True)
class TransferPoint:
    """One depth of one variant: the LR grid x seeds (a frozen, hashable config)."""

    block: str
    parameterization: str
    act: str
    n: int
    L: int
    K: int
    n_seeds: int
    log2_etas: tuple[float, ...]
    task: str = "digits_parity"
    n_train: int = 64
    subset_seed: int = 0
    batching: str = "full"
    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"


def split_variant(variant: str) -> tuple[str, str]:
    """``"two_layer/depth_mup"`` -> ``("two_layer", "depth_mup")``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; allowed: {', '.join(VARIANTS)}")
    block, par = variant.split("/")
    return block, par


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return VARIANTS


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[TransferPoint]:
    block, par = split_variant(variant)
    s = SUITES[suite]
    act = overrides.activation(s["act"])
    n = overrides.width(s["n"])
    return [TransferPoint(block=block, parameterization=par, act=act, n=n, L=L, K=s["K"],
                          n_seeds=s["seeds"], log2_etas=s["log2_etas"], n_train=s["n_train"],
                          device=device, dtype=dtype)
            for L in (overrides.depths or s["depths"])]


def compute(p: TransferPoint) -> pd.DataFrame:
    """One row per (learning rate, seed): ``log2_eta, eta, seed, loss_init, loss, diverged``.

    ``loss`` is the mean training loss after ``K`` full-batch steps (``inf`` if the run
    diverged: any non-finite loss along the run).
    """
    import torch

    from infdepth.numerics.datasets import load_task
    from infdepth.numerics.engine import A1Config, train_a1

    task = load_task(p.task, n_train=p.n_train, subset_seed=p.subset_seed)
    X, y, _, _ = task.tensors(dtype=getattr(torch, p.dtype), device=p.device)
    rows = []
    for x in p.log2_etas:
        cfg = A1Config(n=p.n, L=p.L, K=p.K, eta=float(2.0 ** x),
                       parameterization=p.parameterization, act=p.act, block=p.block,
                       batching=p.batching, n_seeds=p.n_seeds, base_seed=p.base_seed)
        with np.errstate(all="ignore"):
            loss = train_a1(cfg, X, y).loss.detach().cpu().double().numpy()
        div = ~np.all(np.isfinite(loss), axis=1)
        final = np.where(div, np.inf, loss[:, -1])
        for s in range(p.n_seeds):
            rows.append((float(x), float(2.0 ** x), s, float(loss[s, 0]), float(final[s]),
                         bool(div[s])))
    return pd.DataFrame(rows, columns=["log2_eta", "eta", "seed", "loss_init", "loss",
                                       "diverged"])


# --------------------------------------------------------------------------------------------
# optimum of one loss curve, and the per-seed sample layout
# --------------------------------------------------------------------------------------------
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


def measurement(variant: str, pts: list[TransferPoint], frames: list[pd.DataFrame]
                ) -> Measurement:
    grids, samples = [], []
    for f in frames:
        g, a = seed_curves(f)
        grids.append(g)
        samples.append(a)
    if any(not np.array_equal(g, grids[0]) for g in grids):
        raise ValueError("every depth of a variant must use the same learning-rate grid")
    p = pts[0]
    return Measurement([q.L for q in pts], samples, optimal_lr(grids[0]), "depth L",
                       f"fitted optimal LR eta* (slope = log2 drift per doubling of L; "
                       f"loss after K={p.K} GD steps, n={p.n}, {p.n_train} digits)",
                       paired=True)


def fit(variant: str, pts: list[TransferPoint], frames: list[pd.DataFrame], **kw):
    """Optional runner hook: the rate fit of :func:`measurement` (a ``RateFit``; slope = drift
    in log2 units per doubling of depth) with notes naming flagged optima."""
    from infdepth.validation.rate_fit import fit_rate
    m = measurement(variant, pts, frames)
    r = fit_rate(m.sizes, m.samples, m.statistic, paired=m.paired, **kw)
    notes = list(r.notes)
    grid = seed_curves(frames[0])[0]
    for L, a in zip(m.sizes, m.samples):
        o = fit_optimum(grid, mean_curve(a))
        if o.flag != "ok":
            what = {"edge_low": "at the low end of the LR grid (true optimum lower)",
                    "edge_high": "at the high end of the LR grid (true optimum higher)",
                    "cliff": "next to a divergent LR (optimum within one grid step above)",
                    "none": "undefined: every LR diverged"}[o.flag]
            notes.append(f"L={L:g}: optimum {what}")
    notes.append("slope = drift of log2(eta*) per doubling of L (log-log fit of eta* on L)")
    return dataclasses.replace(r, notes=tuple(notes))


def per_depth_optima(frames: list[pd.DataFrame]) -> list[Optimum]:
    """Fitted optimum of the seed-mean curve of each point (figures, reports)."""
    out = []
    for f in frames:
        g, a = seed_curves(f)
        out.append(fit_optimum(g, mean_curve(a)))
    return out


def claimed(variant: str) -> Claimed:
    split_variant(variant)
    if variant == "two_layer/depth_mup":
        return Claimed(None, (TRANSFER_TOL, math.inf),
                       f"drifts (upward, >= +{TRANSFER_TOL:g} log2/doubling)")
    return Claimed(0.0, (-TRANSFER_TOL, TRANSFER_TOL),
                   f"~0 shift (|drift| <= {TRANSFER_TOL:g} log2/doubling)")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    token = {"one_layer/depth_mup": "one_layer", "two_layer/depth_mup": "two_layer",
             "two_layer/depth_mup_corrected": "two_layer_corrected",
             "two_layer/completep": "two_layer/completep"}.get(variant)
    if token is None:
        split_variant(variant)
        return Derived(None, f"no depth_hp_transfer rule for {variant!r}")
    value, text = derived_exponent("depth_hp_transfer", token)
    return Derived(value, text)
