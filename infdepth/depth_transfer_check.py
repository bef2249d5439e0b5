"""Depth transfer check of the learning rate for any PyTorch ResNet or transformer
(docs/user_models.md "Depth transfer check").

The learning-rate sweep of the claim ``depth_hp_transfer`` (docs/theory.md s5, s8) applied to a
user's model factory and data. :func:`transfer_check` builds ``make_model(depth, width)`` for
every depth, learning rate and seed, installs a parameterization (:mod:`infdepth.param`),
trains ``steps`` steps (SGD or Adam with the per-parameter LR groups; ``lr`` is the base LR) and
records the training loss (on the whole training set) before every step and after the last one,
in one tidy DataFrame.

A run **diverges** when its loss is non-finite (NaN or inf) at some step (the claim's rule): its
rows carry ``diverged = True`` and ``diverged_step``; the loss at that step is the value seen
and the steps after it are not run (``NaN``). Seed ``s`` draws its weights from one generator
for every depth and learning rate (the same initial weights along a seed's LR curve, and the
input layer and first blocks shared across depths), so the fit pairs seeds across depths as the
claim does.

:func:`lr_optima` gives the optimum per depth with
:func:`~infdepth.validation.lr_optimum.fit_optimum` on the seed-mean curve of the final loss: a
learning rate at which **any** seed diverged counts as diverged and is excluded (its mean is
``inf``); each row's ``note`` names those learning rates, and the optimum's flag (edge of the
grid, next to a divergent LR). :func:`transfer_drift` fits the drift of ``log2 eta*`` per
doubling of depth with the claim's own measurement
(:func:`~infdepth.validation.claims.depth_hp_transfer.drift_measurement`: ``boot_t`` interval,
paired seeds) and decides it against the claim's transfer band ``|drift| <= 0.25`` and against
the drift the calculus derives for the block type and preset (the claim's ``derived``). Plotting
only reads the frames (:func:`plot_transfer_check`, the figure kind ``transfer``).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .depth_coord_check import _batch, band_reading, mse_loss
from .grids import uniform_grid
from .param.install import Parameterized
from .seeding import generator

__all__ = ["transfer_check", "lr_optima", "transfer_drift", "format_drift", "log2_grid",
           "plot_transfer_check", "COLUMNS"]

COLUMNS = ("parameterization", "optimizer", "depth", "width", "lr", "log2_lr", "seed", "step",
           "loss", "diverged", "diverged_step")


#: separates the notes of a verdict row in its ``notes`` column
NOTE_SEP = " | "


def log2_grid(lo: float, hi: float, step: float = 0.5) -> list[float]:
    """Learning rates ``2**x`` for ``x`` from ``lo`` to ``hi`` (inclusive) in steps of ``step``
    (a uniform grid in ``log2 lr``, the claim's grid). ``ValueError`` for a bad grid
    (:func:`~infdepth.grids.uniform_grid`) or exponents outside ``[-1074, 1023]`` (``2**x``
    not a positive finite float64)."""
    xs = uniform_grid(lo, hi, step)
    if xs[0] < -1074 or xs[-1] > 1023:
        raise ValueError(f"2**x is a positive finite number for x in [-1074, 1023] only, got "
                         f"x from {xs[0]} to {xs[-1]}")
    return [float(2.0 ** x) for x in xs]


def train_losses(pm: Parameterized, X: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float,
                 optimizer: str = "sgd", batching: str = "full",
                 loss_fn: Callable = mse_loss) -> tuple[list[float], int]:
    """Training-set loss before each of ``steps`` steps and after the last (``steps + 1``
    values) and the first step with a non-finite loss (``-1``: none); the run stops there (the
    later values are NaN)."""
    model = pm.model
    opt = pm.optimizer(lr, optimizer)
    losses = [math.nan] * (steps + 1)
    for k in range(steps + 1):
        if batching == "full" and k < steps:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X), y)
            losses[k] = float(loss.detach())
        else:
            with torch.no_grad():
                losses[k] = float(loss_fn(model(X), y))
        if not math.isfinite(losses[k]):
            return losses, k
        if k == steps:
            break
        if batching != "full":
            xb, yb = _batch(X, y, k, batching)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    return losses, -1


def transfer_check(make_model: Callable[[int, int], nn.Module], depths: Sequence[int],
                   data: tuple[torch.Tensor, torch.Tensor], *, width: int,
                   lrs: Sequence[float], steps: int = 10, seeds: int = 3,
                   preset="completep", optimizer: str = "sgd", base_width: float = 1,
                   base_depth: float = 1, batching: str = "full", roles=None,
                   loss_fn: Callable = mse_loss, dtype: torch.dtype = torch.float64,
                   base_seed: int = 0) -> pd.DataFrame:
    """Learning-rate sweep of ``make_model(depth, width)`` at every depth (module docstring):
    one tidy DataFrame with columns :data:`COLUMNS` (one row per depth, lr, seed and step;
    ``step = steps`` holds the final loss); ``df.attrs`` holds the sweep's settings. Seed ``s``
    draws its weights from :func:`infdepth.seeding.generator` on stream
    ``transfer_check/n<width>``, index ``s`` (``base_seed``: the base seed): the same draws at
    every learning rate and, parameter by parameter, at every depth."""
    lrs = [float(v) for v in lrs]
    if any(not (v > 0) for v in lrs) or any(b <= a for a, b in zip(lrs, lrs[1:])):
        raise ValueError("lrs must be positive and strictly ascending")
    X, y = (t.to(dtype) for t in data)
    name = preset if isinstance(preset, str) else preset.name
    two_layer = None
    rows = []
    for depth in depths:
        for lr in lrs:
            for s in range(seeds):
                model = make_model(int(depth), int(width)).to(dtype)
                pm = Parameterized(model, preset, base_width=base_width, base_depth=base_depth,
                                   roles=roles,
                                   generator=generator(f"transfer_check/n{width}", base_seed, s))
                two_layer = pm.two_layer if two_layer is None else two_layer
                with np.errstate(all="ignore"):
                    losses, bad = train_losses(pm, X, y, steps=steps, lr=lr,
                                               optimizer=optimizer, batching=batching,
                                               loss_fn=loss_fn)
                for k, v in enumerate(losses):
                    rows.append((name, optimizer, int(depth), int(width), lr, math.log2(lr), s,
                                 k, v, bad >= 0, bad))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out.attrs.update({"parameterization": name, "optimizer": optimizer, "steps": int(steps),
                      "two_layer": bool(two_layer), "batching": batching,
                      "base_width": float(base_width), "base_depth": float(base_depth)})
    return out


def _final(df: pd.DataFrame) -> pd.DataFrame:
    """Final-step rows with the claim's columns: ``log2_eta, seed, loss`` (diverged -> inf)."""
    d = df[df["step"] == df["step"].max()].copy()
    d["loss"] = np.where(d["diverged"], np.inf, d["loss"])
    return d.rename(columns={"log2_lr": "log2_eta"})


def _configs(df: pd.DataFrame):
    return df.groupby(["parameterization", "optimizer"], sort=False)


def lr_optima(df: pd.DataFrame) -> pd.DataFrame:
    """Optimum per depth (per parameterization and optimizer): ``log2_lr_opt, lr_opt,
    loss_opt, flag`` (``ok | edge_low | edge_high | cliff | none``, see
    :mod:`~infdepth.validation.lr_optimum`), the diverged runs and the learning rates excluded
    for divergence, and a ``note`` in words."""
    from .validation.claims.depth_hp_transfer import _FLAGS
    from .validation.lr_optimum import fit_optimum, mean_curve, seed_curves

    rows = []
    for (name, opt), g in _configs(_final(df)):
        for depth, d in g.groupby("depth"):
            grid, a = seed_curves(d[["log2_eta", "seed", "loss"]])
            o = fit_optimum(grid, mean_curve(a))
            bad = ~np.all(np.isfinite(a), axis=0)
            excl = [f"2^{x:g}" for x in grid[bad]]
            div = (f"{int(d['diverged'].sum())} of {len(d)} runs diverged, learning rates "
                   f"excluded (a seed diverged): {', '.join(excl)}" if excl else "")
            flag = f"optimum {_FLAGS[o.flag]}" if o.flag != "ok" else ""
            rows.append({"parameterization": name, "optimizer": opt, "depth": int(depth),
                         "log2_lr_opt": o.x, "lr_opt": 2.0 ** o.x if math.isfinite(o.x)
                         else math.nan, "loss_opt": o.loss, "flag": o.flag,
                         "diverged_runs": int(d["diverged"].sum()), "runs": len(d),
                         "excluded_lrs": len(excl), "diverged_note": div,
                         "note": "; ".join(filter(None, (div, flag)))})
    return pd.DataFrame(rows)


def _reading(lo: float, hi: float, tol: float) -> str:
    return band_reading(lo, hi, tol, ("transfers", "drifts down", "drifts up"))


def _derived(preset: str, two_layer: bool):
    """The claim's derived drift for the block type under ``preset`` (None when the calculus
    has no result for it)."""
    from .validation.claims.depth_hp_transfer import CLAIM
    try:
        return CLAIM.derived(SimpleNamespace(block="two_layer" if two_layer else "one_layer",
                                             parameterization=preset))
    except Exception:  # a preset the claim's derivation does not cover
        return None


def transfer_drift(df: pd.DataFrame, tolerance: float | None = None, *,
                   two_layer: bool | None = None, noise_floor_factor: float = 2.0,
                   optima: pd.DataFrame | None = None) -> pd.DataFrame:
    """Verdict table, one row per (parameterization, optimizer): the drift of ``log2 eta*`` per
    doubling of depth with its 95% CI (the claim's measurement), the status of the version-2
    rule against the transfer band ``[-tolerance, tolerance]`` (default: the claim's 0.25) and
    against the derived drift ``+- tolerance``; ``reading`` names what the CI says; ``eta_opt``
    the fitted optimum per depth; ``notes`` the flagged optima and excluded learning rates.
    ``two_layer`` (the block type of the derived drift): default ``df.attrs``.
    ``noise_floor_factor``: the fitter's noise floor, the claim's 2 by default (a depth whose
    ``eta*`` is below twice its bootstrap standard error is left out of the fit and named in the
    notes; with noisy curves this can leave fewer than 3 depths and refuse the fit); 0 fits
    every depth, the interval still from the bootstrap over seeds. ``optima``: the
    :func:`lr_optima` table of ``df`` if already computed."""
    from .validation.claims.depth_hp_transfer import TRANSFER_TOL, drift_measurement
    from .validation.measurements import Claimed

    tol = TRANSFER_TOL if tolerance is None else float(tolerance)
    fin = _final(df)
    opt_notes = lr_optima(df) if optima is None else optima
    steps = int(df["step"].max())
    two_layer = bool(df.attrs.get("two_layer", False) if two_layer is None else two_layer)
    rows = []
    for (name, opt), g in _configs(fin):
        depths = sorted(g["depth"].unique())
        frames = [g[g["depth"] == L][["log2_eta", "seed", "loss"]] for L in depths]
        width = int(g["width"].iloc[0])
        m = drift_measurement([float(L) for L in depths], frames,
                              f"fitted optimal base LR eta* ({name}, {opt}, loss after "
                              f"{steps} steps, width {width})",
                              noise_floor_factor=noise_floor_factor)
        der = _derived(name, two_layer)
        e = None if der is None else der.exponent
        band = None if e is None else (e - tol, e + tol)
        ev = m.evaluate(Claimed(0.0, (-tol, tol), f"~0 shift (|drift| <= {tol:g})"), band)
        n = opt_notes[(opt_notes["parameterization"] == name)
                      & (opt_notes["optimizer"] == opt)]
        excl = [f"L={r.depth}: {r.diverged_note}" for r in n.itertuples() if r.excluded_lrs]
        rows.append({"parameterization": name, "optimizer": opt, "width": width,
                     "steps": steps, "depths": tuple(int(L) for L in depths),
                     "drift": ev.slope, "ci_low": ev.ci_low, "ci_high": ev.ci_high,
                     "status": ev.status, "reading": _reading(ev.ci_low, ev.ci_high, tol),
                     "derived": e, "status_derived": ev.status_derived,
                     "tail_slope": ev.tail_slope, "method": ev.method, "seeds": ev.seeds,
                     "eta_opt": tuple(float(v) for v in ev.errors),
                     "used": tuple(bool(u) for u in ev.used),
                     "reason": ev.reason, "advice": ev.advice,
                     "notes": NOTE_SEP.join(tuple(ev.notes) + tuple(excl)),
                     "derivation": "" if der is None else der.text})
    return pd.DataFrame(rows)


def format_drift(table: pd.DataFrame) -> str:
    """The verdict table as text: one line per configuration, then its notes."""
    lines = [f"{'parameterization':22s} {'opt':4s} {'drift/doubling [95% CI]':26s} "
             f"{'derived':>7s}  {'reading':11s} {'vs ~0 band':12s} {'vs derived':12s} "
             f"eta* per depth"]
    for r in table.itertuples():
        d = "n/a" if r.derived is None or not math.isfinite(r.derived) else f"{r.derived:+.2f}"
        eta = ", ".join(f"L={L}: {v:.3g}" + ("" if u else " (not fitted)")
                        for L, v, u in zip(r.depths, r.eta_opt, r.used))
        fit = (f"{r.drift:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if math.isfinite(r.drift)
               else f"{'n/a (fit refused)':23s}")
        lines.append(f"{r.parameterization:22s} {r.optimizer:4s} {fit}    {d:>7s}  "
                     f"{r.reading:11s} "
                     f"{r.status:12s} {r.status_derived:12s} {eta}")
        if r.advice:
            lines.append(f"    to decide: {r.advice}")
        for note in filter(None, r.notes.split(NOTE_SEP)):
            lines.append(f"    note: {note}")
    return "\n".join(lines)


def plot_transfer_check(df: pd.DataFrame, drift: pd.DataFrame | None = None,
                        title: str | None = None, optima: pd.DataFrame | None = None):
    """The figure kind ``transfer`` (:mod:`infdepth.paper_figs.transfer`), one panel per
    (parameterization, optimizer): seed-mean final loss vs ``log2`` base LR per depth, fitted
    optima starred, diverged learning rates as crosses; the title carries the drift with its CI
    and status from ``drift`` (a :func:`transfer_drift` table); ``optima``: the
    :func:`lr_optima` table of ``df`` if already computed. Reads the frames only."""
    from .paper_figs.common import VariantView
    from .paper_figs.transfer import plot_transfer

    fin = _final(df).rename(columns={"depth": "L"})
    opt = lr_optima(df) if optima is None else optima
    views = []
    for (name, o), g in _configs(fin):
        rec = {"variant": f"{name}/{o}", "status": "not fitted", "measured": None}
        if drift is not None:
            r = drift[(drift["parameterization"] == name) & (drift["optimizer"] == o)]
            if len(r):
                r = r.iloc[0]
                rec.update(status=r["status"], measured=float(r["drift"]),
                           ci_low=float(r["ci_low"]), ci_high=float(r["ci_high"]))
        s = opt[(opt["parameterization"] == name) & (opt["optimizer"] == o)]
        summary = pd.DataFrame({"size": s["depth"].astype(float), "error": s["lr_opt"]})
        views.append(VariantView(rec, summary, g[["L", "log2_eta", "seed", "loss"]]))
    steps = int(df["step"].max())
    return plot_transfer(views, title or f"learning-rate transfer across depth "
                                         f"(loss after {steps} steps)")
