"""The parts of claim ``hw_rate_lm`` that are not the claim itself (docs/theory.md s6, s9): the
Euler-bias and wrong-limit point types and their computations, the bias noise budget, and the
joint two-term error model fitted over the L-, M- and diagonal sweeps. Not a claim module."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from infdepth.lazy import lazy

from ..measurements import JointMeasurement
from ..multiterm import Model, Term
from ..noise_budget import NormOfMean
from .hw_common import HWNetworkPoint, HWPoint

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

#: the statistic of the bias variants: rms over inputs x outputs of the seed mean of the signed
#: errors, the noise bias tr(Sigma)/S removed from its square
BIAS_STATISTIC = NormOfMean(rms=True)
#: residual scale of the wrong limit of ``control/wrong_limit`` (the reference only)
WRONG_ALPHA = 1.25


@dataclass(frozen=True, kw_only=True)
class HWWrongLimitPoint(HWPoint):
    """A ``linear/L`` point (the same networks) whose reference is the exact linear Mean ODE at
    residual scale ``ref_alpha`` instead of the network's ``alpha``."""

    ref_alpha: float = WRONG_ALPHA


@dataclass(frozen=True, kw_only=True)
class HWBiasPoint(HWNetworkPoint):
    """One depth L of an Euler-bias sweep: ``n_seeds`` networks sharing ``W_in``, ``W_out``;
    ``reference`` is ``"exact"`` (linear Mean ODE) or ``"cauchy"`` (the depth-2L network on the
    same units, :func:`~infdepth.numerics.hw_bias.bias_errors`)."""

    reference: str


def bias_samples(frame: pd.DataFrame, col: str = "err") -> np.ndarray:
    """``(S, N d_out)`` array of a bias point's column, one row per seed."""
    f = frame.sort_values(["seed", "x", "o"])
    return f[col].to_numpy().reshape(f["seed"].nunique(), -1)


def budget_notes(points, frames) -> tuple[str, ...]:
    """The noise budget per L (:func:`~infdepth.numerics.hw_bias.bias_statistics`) and the floor
    of the corrected estimate (:data:`BIAS_STATISTIC`): its square is the square of the
    uncorrected seed-mean rms minus the squared Monte Carlo error of the mean, so it reads 0
    where the bias is below the MC error, and it is resolved (kept by the fitter) only above
    twice its bootstrap standard error."""
    from infdepth.numerics.hw_bias import bias_statistics
    notes = []
    for p, fr in zip(points, frames):
        a = bias_samples(fr)
        r = bias_statistics(a, bias_samples(fr, "euler_err")[0])
        t = (f"L={p.L}: seed-mean error {r['bias']:.3g}; MC error of the mean {r['mc_se']:.3g} "
             f"({r['mc_se'] / r['bias']:.2f} of it; per-seed noise {r['seed_noise']:.3g}); "
             f"corrected estimate {BIAS_STATISTIC(a):.3g} (floor: 0 below the MC error "
             f"{r['mc_se']:.3g})")
        if np.isfinite(r["euler"]):
            t += (f"; M=inf Euler scheme {r['euler']:.3g}, second-order rest E[err]-Euler "
                  f"{r['second']:.3g} ({r['second'] / r['bias']:.2f} of it, resolution "
                  f"~{r['mc_se']:.2g})")
        notes.append(t)
    return tuple(notes)


def compute_bias(p: HWBiasPoint) -> pd.DataFrame:
    """Tidy rows (seed, x, o) of a bias point: the signed error ``err`` and the M = infinity
    Euler scheme's ``euler_err`` (:func:`~infdepth.numerics.hw_bias.euler_estimate`)."""
    from infdepth.numerics.hw_bias import bias_errors, euler_estimate
    X, Y = p.data()
    e = bias_errors(p.reference, p.config(), X, Y)
    eul = euler_estimate(p.reference, p.config(), X, Y)
    S, N, O = e.shape
    seed, x, o = np.meshgrid(np.arange(S), np.arange(N), np.arange(O), indexing="ij")
    return pd.DataFrame({"seed": seed.ravel(), "x": x.ravel(), "o": o.ravel(),
                         "err": e.ravel(), "euler_err": np.broadcast_to(eul, e.shape).ravel()})


def compute_wrong_limit(p: HWWrongLimitPoint) -> pd.DataFrame:
    """One row per seed: the errors of :func:`~infdepth.validation.claims.hw_common.
    compute_errors` for the networks of ``p``, the reference being the exact linear Mean ODE at
    residual scale ``p.ref_alpha`` (same ``W_in``, ``W_out``, data and base rate)."""
    from infdepth.numerics.hidden_width import train_hw
    from infdepth.numerics.hw_reference import (ReferenceSpec, errors_to_reference,
                                                reference_trajectories)
    X, Y = p.data()
    cfg = p.config()
    f_ref, h_ref, _ = reference_trajectories(ReferenceSpec("exact"),
                                             replace(cfg, alpha=p.ref_alpha), X, Y)
    r = train_hw(cfg, X, Y)
    return pd.DataFrame({"seed": np.arange(p.n_seeds),
                         **errors_to_reference(r, f_ref, h_ref, Y, cfg.convention)})


#: the claimed two-term form with free exponents (first: the test), its fixed-exponent twin,
#: and the alternatives it is compared with (docs/theory.md s9, "Two error terms, one fit")
JOINT_MODELS = (
    Model("a L^p + b (LM)^q", (Term("bias", {"L": -1.0}, ("L",)),
                               Term("noise", {"LM": -0.5}, ("LM",)))),
    Model("a/L + b/sqrt(LM)", (Term("bias", {"L": -1.0}), Term("noise", {"LM": -0.5}))),
    Model("c L^a M^b", (Term("power", {"L": -0.5, "M": -0.5}, ("L", "M")),)),
    Model("b (LM)^q", (Term("noise", {"LM": -0.5}, ("LM",)),)),
)
#: accepted exponents of the joint fit: the Euler bias -1 in L, the noise -1/2 in LM (+-0.15)
JOINT_BANDS = {"bias.L": (-1.15, -0.85), "noise.LM": (-0.65, -0.35)}


def joint_measurement(points, frames, statistic) -> JointMeasurement:
    """The two-term model over every distinct network of the L-, M- and diagonal sweeps (all
    seeds share their streams across sizes: one seed group)."""
    seen, pts, fr = set(), [], []
    for p, f in zip(points, frames):
        if (p.L, p.M) not in seen:
            seen.add((p.L, p.M))
            pts.append(p)
            fr.append(f)
    L = np.array([p.L for p in pts], float)
    M = np.array([p.M for p in pts], float)
    return JointMeasurement({"L": L, "M": M, "LM": L * M}, [f["out_err"].to_numpy() for f in fr],
                            statistic, [0] * len(pts), JOINT_MODELS, "noise.LM", JOINT_BANDS,
                            size_label="L and M (joint)",
                            error_label=f"output error after K={pts[0].K} steps, every network "
                                        f"of the L-, M- and L = M sweeps ({pts[0].act})")
