"""Claim ``depth_hp_transfer`` (docs/theory.md s5, s7, s8): the optimal learning rate transfers
across depth under one-layer depth-muP; for two-layer blocks only with the depth-aware
correction ([NFD]).

Task (:func:`infdepth.numerics.datasets.digits_parity`): scikit-learn digits, even (+1) vs odd
(-1), standardized pixels, a fixed subset of ``n_train`` images; full-batch gradient descent on
the MSE loss for ``K`` steps (``batching="full"``), activation tanh.

Per-example SGD (variants ``<block>/<preset>/sgd``, the ``full`` suite's :class:`TransferTask`):
the same images, ``K = n_train`` steps on one image each in a fixed order (one epoch). Under
full-batch GD the optimum sits about one octave below the LR where training blows up, which may
be what fixes it; SGD's noise puts the optimum several octaves inside the stable range, where
transfer is a statement about the optimum and not about the stability edge. Every variant's
notes give the octaves from the optimum up to that edge (:func:`_interior_note`).

One point = one (variant, depth L): the whole learning-rate grid (``log2 eta`` on a uniform
grid) for ``n_seeds`` seeds. The measured training loss is the mean loss over the training set
after ``K`` steps. Divergent runs (non-finite loss) are recorded as ``inf`` with
``diverged=True``. Optimum per depth: :func:`~infdepth.validation.lr_optimum.fit_optimum` on the
seed-mean curve (parabola in ``log loss`` through the grid minimum; edge and cliff cases flagged).

Measured quantity: the drift of the optimum, the slope of ``log2 eta*(L)`` on ``log2 L`` in
**log2 units per doubling of depth**. Since ``log eta* / log L`` has the same slope, the rate
fitter's log-log fit of the positive statistic ``eta* = 2**x*`` on ``L`` (statistic =
:func:`optimal_lr` on the per-seed curves) *is* the drift fit. The measurement's notes name
flagged optima.

Statistic, interval, pairing (docs/theory.md s9; from the structure of the data and the
calibration suite, before these data were seen): the statistic is the fitted optimum of the
seed-mean curve, a function of all seeds' whole curves (not one value per seed), so the
fitter's interval is ``boot_t`` (bootstrap standard error over seeds with a ``t_{S-1}``
quantile and the factor ``sqrt(S/(S-1))``; the calibrated choice for every statistic that is
not a geometric mean of 1-D values). **Paired** across depths: seed ``s`` shares its input
layer, readout and first blocks at every depth (engine streams), so the bootstrap resamples the
same seeds at every depth. No reference, hence no reference error.

Negative control (declared with the claim): ``control/sp``, one-layer blocks under the preset
``sp`` (standard parameterization: no muP or depth scaling), whose optimal LR drifts with depth.
``derived`` applies the same rule as to the variants: ``derive_a1(preset("sp"))`` gives
one-step updates up to ``drift_accumulated ~ L^(7/2)`` at fixed n, so ``eta* ~ L^(-7/2)``, a
drift of -3.5 log2 per doubling; it must come out refuted against the transfer band
``[-0.25, 0.25]``. Its LR grid is the suite's, extended **downward** because the calculus says
the sp optimum leaves it: over the sweep's ``log2(L_max/L_min)`` doublings the derived drift
moves the optimum by ``3.5 log2(L_max/L_min)`` octaves (7 in the smoke suite), more than the
grid spans (4 to 6 octaves), so an optimum inside the grid at the shallowest depth would leave
it below. The control's grid therefore starts ``|derived| log2(L_max/L_min)`` octaves (rounded
up to a grid step) below the suite's, same step and top (:meth:`DepthHPTransfer.control_grid`);
decided from ``derived``, not from data.

Claimed (tolerance choice: a shift of less than a quarter octave per doubling of depth counts as
"transfer", :data:`TRANSFER_TOL`): band ``[-0.25, +0.25]`` for ``one_layer/depth_mup``,
``two_layer/depth_mup_corrected`` and ``two_layer/completep``; for ``two_layer/depth_mup`` the
paper says transfer fails: band ``[+0.25, inf)``, an upward drift (the direction that would
compensate the ``L^(-1/2)`` collapse of the first internal layer's update, docs/theory.md s5). A
downward drift would also break transfer but comes out "refuted" against this one-sided band:
read the measured value.

Derived (docs/theory.md s7): one-step updates are linear in eta, so the largest stable (assumed
optimal) eta scales as ``L^-e`` with ``e`` the largest L-exponent among them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from infdepth.grids import uniform_grid
from infdepth.lazy import lazy
from infdepth.run_fields import RunFields

from ..lr_optimum import (INTERIOR_GAP, Optimum, blowup_edge, fit_optimum, mean_curve,
                          optimal_lr, per_depth_optima, seed_curves)
from ..measurements import Claimed, RateMeasurement
from .base import (Claim, Derived, FigureSpec, Overrides, Variant, size_sweep,
                   ControlVariant as BaseControl)

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

__all__ = ["CLAIM", "TRANSFER_TOL", "drift_measurement", "TransferVariant", "ControlVariant", "TransferSweep",
           "TransferTask", "BATCHINGS",
           "TransferPoint",
           "Optimum", "fit_optimum", "seed_curves", "mean_curve", "optimal_lr",
           "per_depth_optima"]

#: half-width of the "transfer" band, log2 units of LR per doubling of depth (tolerance choice)
TRANSFER_TOL = 0.25
#: (block, parameterization) of the variants, in report order
PAIRS: tuple[tuple[str, str], ...] = (("one_layer", "depth_mup"), ("two_layer", "depth_mup"),
                                      ("two_layer", "depth_mup_corrected"),
                                      ("two_layer", "completep"))
_FLAGS = {"edge_low": "at the low end of the LR grid (true optimum lower)",
          "edge_high": "at the high end of the LR grid (true optimum higher)",
          "cliff": "next to a divergent LR (optimum within one grid step above)",
          "none": "undefined: every LR diverged"}
#: presets of the negative controls (one-layer blocks)
CONTROLS: tuple[str, ...] = ("sp",)
#: one-step updates linear in eta (docs/theory.md s7)
_LR_LINEAR = ("input_update", "drift_accumulated", "readout_output_update", "internal_update")


#: training schedules: full-batch GD (the suites' task) or per-example SGD over one epoch
BATCHINGS: tuple[str, ...] = ("full", "sgd")


@dataclass(frozen=True)
class TransferVariant(Variant):
    """Residual ``block`` (``one_layer`` | ``two_layer``) under ``parameterization``, trained
    by full-batch GD (``batching="full"``, label ``<block>/<preset>``) or by per-example SGD
    over one epoch (``"sgd"``, label ``<block>/<preset>/sgd``: the task whose optimum lies
    inside the stable range, :class:`TransferTask`)."""

    block: str
    parameterization: str
    batching: str = "full"

    allowed = {"batching": BATCHINGS}

    def __post_init__(self):
        if (self.block, self.parameterization) not in PAIRS:
            raise ValueError(f"unknown variant {self.label!r} of depth_hp_transfer; allowed: "
                             f"{', '.join(f'{b}/{p}' for b, p in PAIRS)}")
        super().__post_init__()

    @property
    def label(self) -> str:
        base = f"{self.block}/{self.parameterization}"
        return base if self.batching == "full" else f"{base}/{self.batching}"


@dataclass(frozen=True)
class ControlVariant(BaseControl):
    """Negative control ``control/<preset>``: one-layer blocks under the preset ``name``
    (``sp``), whose optimal LR drifts with depth (must come out refuted against the transfer
    band). ``batching="sgd"``: the same on the per-example SGD task (``control/sp/sgd``, only
    in a suite that has it)."""

    batching: str = "full"

    allowed = {"name": CONTROLS, "batching": BATCHINGS}

    @property
    def label(self) -> str:
        base = f"control/{self.name}"
        return base if self.batching == "full" else f"{base}/{self.batching}"

    @property
    def parameterization(self) -> str:
        return self.name

    @property
    def block(self) -> str:
        return "one_layer"


@dataclass(frozen=True)
class TransferTask:
    """The sizes of one training schedule's sweep: width ``n``, ``n_train`` images, ``K``
    steps, depths, seeds and the ``log2 eta`` grid. As the ``sgd`` field of a
    :class:`TransferSweep`, the per-example SGD task of the ``/sgd`` variants
    (docs/claims/depth_hp_transfer.md, "An optimum inside the stable range"): the same digits,
    ``K = n_train`` steps of SGD on one example each, in a fixed order (one epoch), MSE loss;
    measured: the mean training loss over all ``n_train`` images after the epoch."""

    n: int
    n_train: int
    K: int
    depths: tuple[int, ...]
    seeds: int
    log2_etas: tuple[float, ...]


@dataclass(frozen=True)
class TransferSweep(TransferTask):
    """A suite's sweep: the full-batch task's sizes (:class:`TransferTask`'s fields), the
    activation, and the ``/sgd`` variants' own task (``None``: the suite does not run them)."""

    act: str
    sgd: TransferTask | None = None


@dataclass(frozen=True)
class TransferPoint(RunFields):
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


def drift_measurement(sizes, frames, error_label: str, size_label: str = "depth L", *,
                      noise_floor_factor: float = 2.0) -> RateMeasurement:
    """The claim's measurement of the drift of the optimal LR: one frame per depth (``log2_eta,
    seed, loss``; a diverged run's loss ``inf``), the fitted ``eta*`` of the seed-mean curve as
    the statistic on the per-seed curves ``(S, G)`` (``boot_t``, paired across depths); notes
    name the depths whose optimum is flagged. ``noise_floor_factor``: the fitter's noise floor
    (the claim: the default 2, a depth whose ``eta*`` is below twice its bootstrap standard
    error is left out). Also serves the depth transfer check of a user's model
    (:mod:`infdepth.depth_transfer_check`)."""
    grids, samples = zip(*(seed_curves(f) for f in frames))
    if any(not np.array_equal(g, grids[0]) for g in grids):
        raise ValueError("every depth of a variant must use the same learning-rate grid")
    notes = []
    optima = [fit_optimum(grids[0], mean_curve(a)) for a in samples]
    for L, o in zip(sizes, optima):
        if o.flag != "ok":
            notes.append(f"L={L:g}: optimum {_FLAGS[o.flag]}")
    if all("loss_init" in f.columns for f in frames):
        notes.append(_interior_note(sizes, frames, grids[0], samples, optima))
    notes.append("slope = drift of log2(eta*) per doubling of L (log-log fit of eta* on L)")
    return RateMeasurement(list(sizes), list(samples), optimal_lr(grids[0]), size_label,
                           error_label, paired=True, noise_floor_factor=noise_floor_factor,
                           notes=tuple(notes))


def _interior_note(sizes, frames, grid, samples, optima) -> str:
    """Where each depth's optimum sits relative to its blow-up edge
    (:func:`~infdepth.validation.lr_optimum.blowup_edge`): the gap in octaves, and whether it is
    at least :data:`~infdepth.validation.lr_optimum.INTERIOR_GAP` at every depth."""
    parts, near = [], []
    for L, f, a, o in zip(sizes, frames, samples, optima):
        init = f.pivot(index="seed", columns="log2_eta", values="loss_init").sort_index(axis=1)
        edge = blowup_edge(grid, mean_curve(a), init.to_numpy(float).mean(axis=0), o.x)
        if edge is None:
            parts.append(f"L={L:g} >{grid[-1] - o.x:.1f}")
            continue
        parts.append(f"L={L:g} {edge - o.x:.1f}")
        if edge - o.x < INTERIOR_GAP:
            near.append(f"L={L:g}")
    where = ("inside the stable range at every depth" if not near else
             f"within {INTERIOR_GAP:g} octave of the blow-up edge at {', '.join(near)}")
    return (f"octaves from the optimum up to the blow-up edge (first LR above it whose mean "
            f"loss exceeds the initial loss): {', '.join(parts)}; optimum {where}")


class DepthHPTransfer(Claim):
    id = "depth_hp_transfer"
    source = "NFD"
    statement = ("the optimal LR transfers across depth (one-layer depth-muP; two-layer only "
                 "with correction)")
    quantity = "argmin-LR drift across L on a real task"
    claimed_slope = 0.0
    claimed_text = "~0 shift"
    tolerance = TRANSFER_TOL
    suites = {
        "smoke": TransferSweep(act="tanh", n=32, n_train=32, K=6, depths=(2, 4, 8), seeds=3,
                               log2_etas=uniform_grid(0.0, 4.0, 0.5)),
        "standard": TransferSweep(act="tanh", n=64, n_train=64, K=10, depths=(2, 4, 8, 16, 32),
                                  seeds=6, log2_etas=uniform_grid(-1.0, 5.0, 0.5)),
        "full": TransferSweep(act="tanh", n=128, n_train=128, K=10,
                              depths=(2, 4, 8, 16, 32, 64), seeds=8,
                              log2_etas=uniform_grid(-1.0, 5.0, 0.25),
                              sgd=TransferTask(n=64, n_train=64, K=64,
                                              depths=(2, 4, 8, 16, 32, 64), seeds=8,
                                              log2_etas=uniform_grid(-8.0, 4.0, 0.5))),
    }
    primary = TransferVariant("one_layer", "depth_mup")
    controls = (ControlVariant("sp"), ControlVariant("sp", "sgd"))
    figures = (FigureSpec("transfer", "depth_hp_transfer",
                          "[NFD] learning-rate transfer across depth (digits; full-batch GD, /sgd: one "
                          "epoch of per-example SGD)"),)

    def variants(self, sweep: TransferSweep, overrides: Overrides
                 ) -> tuple[TransferVariant, ...]:
        """The four full-batch variants; with the suite's :class:`TransferTask`, the same four
        under per-example SGD (``/sgd``)."""
        out = tuple(TransferVariant(b, p) for b, p in PAIRS)
        if sweep.sgd is not None:
            out += tuple(TransferVariant(b, p, "sgd") for b, p in PAIRS)
        return out

    def suite_variants(self, sweep: TransferSweep, overrides: Overrides):
        """The base rule, without the ``/sgd`` control in a suite that has no SGD task."""
        return tuple(v for v in super().suite_variants(sweep, overrides)
                     if sweep.sgd is not None or v.batching == "full")

    def points(self, variant: TransferVariant | ControlVariant, sweep: TransferSweep,
               overrides: Overrides, run: RunFields) -> list[TransferPoint]:
        sgd = variant.batching == "sgd"
        task = sweep.sgd if sgd else sweep
        if task is None:
            raise ValueError(f"suite sweep has no per-example SGD task for {variant.label!r}")
        depths = size_sweep(overrides.depths, task.depths)
        grid = (self.control_grid(variant, task.log2_etas, depths)
                if isinstance(variant, ControlVariant) else task.log2_etas)
        return [TransferPoint(block=variant.block, parameterization=variant.parameterization,
                              act=overrides.activation(sweep.act), n=overrides.width(task.n),
                              L=L, K=task.K, n_seeds=task.seeds, log2_etas=grid,
                              n_train=task.n_train, batching="sgd" if sgd else "full",
                              **run.run_fields())
                for L in depths]

    def control_grid(self, variant: ControlVariant, log2_etas: tuple[float, ...],
                     depths) -> tuple[float, ...]:
        """The suite's uniform grid extended beyond its end in the direction of the control's
        derived drift by ``|derived| log2(max L / min L)`` octaves, rounded up to a grid step
        (module docstring): where the calculus says the optimum goes over the sweep."""
        d = self.derived(variant).exponent or 0.0
        lo, hi = log2_etas[0], log2_etas[-1]
        step = log2_etas[1] - log2_etas[0]
        k = math.ceil(abs(d) * math.log2(max(depths) / min(depths)) / step - 1e-9)
        return (uniform_grid(lo - k * step, hi, step) if d < 0
                else uniform_grid(lo, hi + k * step, step))

    def compute(self, point: TransferPoint) -> pd.DataFrame:
        """One row per (learning rate, seed): ``log2_eta, eta, seed, loss_init, loss,
        diverged``; ``loss`` is the mean training loss after ``K`` full-batch steps (``inf`` if
        the run diverged: any non-finite loss along the run)."""
        from infdepth.numerics.datasets import load_task
        from infdepth.numerics.engine import A1Config, train_a1
        p = point
        task = load_task(p.task, n_train=p.n_train, subset_seed=p.subset_seed)
        X, y, _, _ = task.tensors(dtype=p.torch_dtype, device=p.device)
        rows = []
        for x in p.log2_etas:
            cfg = A1Config(n=p.n, L=p.L, K=p.K, eta=float(2.0 ** x),
                           parameterization=p.parameterization, act=p.act, block=p.block,
                           batching=p.batching, n_seeds=p.n_seeds, base_seed=p.base_seed)
            with np.errstate(all="ignore"):
                loss = train_a1(cfg, X, y, stats=False).loss.detach().cpu().double().numpy()
            div = ~np.all(np.isfinite(loss), axis=1)
            final = np.where(div, np.inf, loss[:, -1])
            for s in range(p.n_seeds):
                rows.append((float(x), float(2.0 ** x), s, float(loss[s, 0]), float(final[s]),
                             bool(div[s])))
        return pd.DataFrame(rows, columns=["log2_eta", "eta", "seed", "loss_init", "loss",
                                           "diverged"])

    def footprint(self, point: TransferPoint):
        """One full-batch engine run per learning rate (``n_train`` rows a pass and a step), the
        first drawing the weights, the others cache hits."""
        from infdepth.numerics import footprint as fp
        from infdepth.numerics.datasets import TASK_DIMS
        p = point
        sizes = dict(rows=p.n_train, batch=p.n_train if p.batching == "full" else 1,
                     d=TASK_DIMS[p.task], groups=2 if p.block == "two_layer" else 1,
                     item=fp.itemsize(p.dtype))
        first = fp.engine(p.n, p.L, p.n_seeds, p.K, **sizes)
        rest = fp.engine(p.n, p.L, p.n_seeds, p.K, new_draws=0.0, **sizes)
        return first.then(rest.repeat(len(p.log2_etas) - 1))

    def measure(self, variant: TransferVariant | ControlVariant, points, frames
                ) -> RateMeasurement:
        """Fitted ``eta*`` per depth from the per-seed curves ``(S, G)`` (``boot_t``, paired
        across depths); notes name the depths whose optimum is flagged."""
        p = points[0]
        what = "control (sp): " if isinstance(variant, ControlVariant) else ""
        return drift_measurement([q.L for q in points], frames,
                                 f"{what}fitted optimal LR eta* (slope = log2 drift per doubling "
                                 f"of L; loss after K={p.K} GD steps, n={p.n}, {p.n_train} digits)")

    def claimed(self, variant: TransferVariant | ControlVariant) -> Claimed:
        """The transfer band (the control's too); ``two_layer/depth_mup``: an upward drift."""
        if (variant.block, variant.parameterization) == ("two_layer", "depth_mup"):
            return Claimed(None, (self.tolerance, math.inf),
                           f"drifts (upward, >= +{self.tolerance:g} log2/doubling)")
        return Claimed(0.0, (-self.tolerance, self.tolerance),
                       f"~0 shift (|drift| <= {self.tolerance:g} log2/doubling)")

    def derived(self, variant: TransferVariant | ControlVariant) -> Derived:
        """``-e``: the largest stable eta keeps the fastest one-step update Theta(1)."""
        from infdepth.theory.exponents_core import fmt_exponent
        from infdepth.theory.exponents_a1 import derive_a1
        from infdepth.theory.exponents_a2 import derive_a2
        from infdepth.theory.parameterization import preset
        if variant.block == "one_layer":
            token, r = "one_layer", derive_a1(preset(variant.parameterization))
        elif variant.parameterization == "depth_mup_corrected":
            token, r = "two_layer_corrected", derive_a2(preset("depth_mup_corrected", gamma=0.5))
        else:
            token, r = "two_layer", derive_a2(preset(variant.parameterization))
        es = {k: r.exponent(k, "L") for k in _LR_LINEAR if k in r.names}
        top = max(e for e in es.values() if e is not None)
        txt = ", ".join(f"{k} L^({fmt_exponent(e)})" for k, e in es.items())
        return Derived(float(-top), (
            f"[{token}, {r.parameterization}] one-step updates are linear in eta: {txt}; the "
            f"largest stable (assumed optimal) eta scales as L^({fmt_exponent(-top)}) to keep "
            f"the fastest "
            f"one Theta(1)"))


CLAIM = DepthHPTransfer()
