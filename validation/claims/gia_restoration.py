"""Claim ``gia_restoration`` (docs/theory.md s4 "decoupled" meaning 2, s8): training with the true
backward pass (``W_l^T`` reused) and with independently drawn backward matrices ``Wt_l``
(updated with the same ``Delta W_l``) gives training curves that coincide as L grows under
depth-muP, but not under muP (nor SP).

Measured per parameterization (variant ``depth_mup`` | ``mup`` | ``sp``): the gap between the two
loss curves, per seed (both runs share ``U``, ``W^0``, ``v``; only the backward matrices differ),

    gap = sqrt( mean_{k=1..K} (loss_reused_k - loss_indep_k)^2 ) / loss_0,

summarised over seeds by the geometric mean, vs depth L, slope fitted on log-log axes. The
claim is qualitative, so the band is one-sided (:meth:`GiaRestoration.claimed`): depth_mup
"decreasing" = slope <= -TOLERANCE; mup and sp "not decreasing" = slope >= -TOLERANCE. Divergent
runs (NaN/inf loss, likely for mup at large L) are recorded as a NaN gap; a divergent seed makes
its depth's geometric mean NaN, and the fitter excludes that depth with a note.

Statistic, interval, pairing (docs/theory.md s9; from the structure of the data and the
calibration suite, before these data were seen): one positive gap per seed and depth, so the
**geometric mean** over seeds and the ``log_t`` interval (exact t-interval of the log-slope).
**Paired** across depths: the engine draws each tensor of a seed from its own stream, block l's
matrices (``W^0_l`` and the independent ``Wt_l``) are the same at every depth and ``U``, ``v``
are shared (:mod:`infdepth.numerics.engine.rng`), so the interval is the t-interval of the
per-seed slopes. No reference (the two runs are compared with each other), hence no reference
error.

Negative control: none (``controls = ()``). The claim is qualitative and its own variants
already carry the contrast a control would: ``mup`` and ``sp`` are declared with the opposite
one-sided band ("not decreasing"), so every suite measures a setting the paper says fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from infdepth.lazy import lazy
from infdepth.run_fields import RunFields
from infdepth.numerics.training_task import task_tensors

from ..intervals import geometric_mean
from ..measurements import Claimed, RateMeasurement
from .base import TOLERANCE, Claim, Derived, FigureSpec, Overrides, Variant
from .engine_common import DepthSweep, TrainedPoint, engine_footprint

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

PARAMETERIZATIONS: tuple[str, ...] = ("depth_mup", "mup", "sp")


@dataclass(frozen=True)
class ParameterizationVariant(Variant):
    """The parameterization both runs are trained under."""

    allowed = {"parameterization": PARAMETERIZATIONS}

    parameterization: str


@dataclass(frozen=True, kw_only=True)
class GiaPoint(TrainedPoint):
    """One depth of the sweep: ``n_seeds`` networks trained K steps in both modes."""

    parameterization: str       # no default: the variant's


def per_seed_gap(frame: pd.DataFrame) -> np.ndarray:
    """The gap of each seed's two loss curves (NaN when either diverged)."""
    out = []
    for _, g in frame.groupby("seed"):
        g = g.sort_values("step")
        r, i = g["loss_reused"].to_numpy(), g["loss_independent"].to_numpy()
        gap = math.sqrt(np.mean((r[1:] - i[1:]) ** 2)) / r[0] if np.all(np.isfinite(r)) and \
            np.all(np.isfinite(i)) else float("nan")
        out.append(gap)
    return np.asarray(out)


class GiaRestoration(Claim):
    id = "gia_restoration"
    source = "NFD"
    statement = ("reused vs independent backward weights: training curves coincide as L grows "
                 "under depth-muP, not under muP")
    quantity = "gap between the two loss curves vs L, per parameterization"
    claimed_slope = None
    claimed_text = "decreasing in L (depth-muP only)"
    suites = {
        "smoke": DepthSweep("tanh", 128, (2, 4, 8, 16), 4, 6),
        "standard": DepthSweep("tanh", 512, (2, 4, 8, 16, 32), 8, 9),
        "full": DepthSweep("tanh", 1024, (2, 4, 8, 16, 32, 64, 128), 16, 15),
    }
    primary = ParameterizationVariant("depth_mup")
    #: none: a qualitative claim whose mup/sp variants carry the contrast (module docstring)
    controls = ()
    figures = (FigureSpec("rate", "gia_restoration",
                          "[NFD] reused vs independent backward weights: loss-curve gap vs "
                          "depth"),)

    def variants(self, sweep: DepthSweep, overrides: Overrides
                 ) -> tuple[ParameterizationVariant, ...]:
        return tuple(ParameterizationVariant(p) for p in PARAMETERIZATIONS)

    def points(self, variant: ParameterizationVariant, sweep: DepthSweep, overrides: Overrides,
               run: RunFields) -> list[GiaPoint]:
        return sweep.points(GiaPoint, overrides, run, parameterization=variant.parameterization)

    def compute(self, point: GiaPoint) -> pd.DataFrame:
        """One row per seed and step: both loss curves (mean loss over the training inputs)."""
        from infdepth.numerics.engine import A1Config, train_a1_shared
        p = point
        X, y = task_tensors(dtype=p.torch_dtype, device=p.device)
        modes = ("reused", "independent")
        cfgs = [A1Config(n=p.n, L=p.L, K=p.K, eta=p.eta, parameterization=p.parameterization,
                         act=p.act, mode=mode, n_seeds=p.n_seeds, base_seed=p.base_seed)
                for mode in modes]
        with np.errstate(all="ignore"):       # both modes on one draw of the weights
            runs = train_a1_shared(cfgs, X, y, X)
        losses = {mode: r.loss.cpu().numpy() for mode, r in zip(modes, runs)}
        S, K1 = losses["reused"].shape
        return pd.DataFrame({"seed": np.repeat(np.arange(S), K1),
                             "step": np.tile(np.arange(K1), S),
                             "loss_reused": losses["reused"].ravel(),
                             "loss_independent": losses["independent"].ravel()})

    def footprint(self, point: GiaPoint):
        """Two engine runs: reused ``W^T``, then independent backward matrices (drawn anew,
        ``W^0`` a cache hit)."""
        first = engine_footprint(point, point.K)
        return first.then(engine_footprint(point, point.K, independent=True, new_draws=0.5))

    def measure(self, variant: ParameterizationVariant, points, frames) -> RateMeasurement:
        """Geometric mean of the per-seed gaps, paired across depths (module docstring); a
        divergent seed makes the point non-finite and the fitter excludes it with a note."""
        p = points[0]
        return RateMeasurement([q.L for q in points], [per_seed_gap(f) for f in frames],
                               geometric_mean, "depth L", f"rel. rms gap of loss curves, reused "
                               f"vs independent W^T (n={p.n}, K={p.K}), geometric mean",
                               paired=True)

    def claimed(self, variant: ParameterizationVariant) -> Claimed:
        """One-sided bands: depth-muP decreasing, the others not decreasing."""
        if variant.parameterization == "depth_mup":
            return Claimed(None, (-math.inf, -TOLERANCE), "decreasing in L")
        return Claimed(None, (-TOLERANCE, math.inf), "not decreasing in L")

    def derived(self, variant: ParameterizationVariant) -> Derived:
        """Power counting of model A1 under the variant's parameterization (docs/theory.md s4,
        s7): reused minus independent backward weights differ by the accumulated (b) terms,
        Theta(1) in L under depth-muP (the forward twin already acts at step 1), so the calculus
        says the gap does not close with depth (it closes, L^-1, under CompleteP)."""
        from infdepth.theory.exponents_a1 import derive_a1
        from infdepth.theory.exponents_core import fmt_rational
        from infdepth.theory.parameterization import preset
        name = variant.parameterization
        r = derive_a1(preset(name))
        gap = r["gia_gap"].order.limit_exponent("L")
        why = (f"[{name}] reused minus independent backward weights = accumulated (b) terms "
               f"(forward twin at step 1, backward from step 2): L r^2 (Gamma + Gammat) x output "
               f"sensitivity = {r['gia_gap'].order} (width first), limit {r.limit_type}")
        if gap < 0:
            return Derived(float(gap), why + f": decays, slope {fmt_rational(gap)}")
        return Derived(None, why + (": Theta(1), does not decay" if gap == 0 else
                                    f": grows like L^({fmt_rational(gap)}), does not decay"))


CLAIM = GiaRestoration()
