"""Claim ``hw_rate_lm`` (THEORY.md s6, s8): the [HW] 2LP ResNet's output error to the Neural Mean
ODE after K GD steps is O(1/L + alpha/sqrt(LM)); slope -1/2 in L at fixed M and in M at fixed L.

Measured per seed: rms over inputs and outputs of ``f_K(finite) - f_K(reference)``, where the
finite network and its reference share ``W_in``, ``W_out`` (same seed streams) and the data.

* ``linear/L``, ``linear/M`` -- reference = the **exact** Mean ODE of the linear network (closed
  second-moment system, :mod:`infdepth.numerics.mean_ode_linear`). Linear settings (choice):
  ``eta = 0.2`` -- with this data the linear limit diverges at step ~7 for ``eta = 1`` and is at
  the edge of divergence at step 15 for ``eta = 0.3``, where the error is dominated by the
  amplification of a few seeds.
* ``tanh/L``, ``tanh/M`` -- no exact reference: **coupled large-network fallback** (THEORY.md s9).
  The units of a reference network (``L_ref`` blocks of ``M_ref`` units, ``L_ref`` a multiple of
  every swept L) are drawn once; the depth-L network's block l takes the first M units of
  reference block ``l L_ref / L`` (the block at the start of its depth interval), so every
  network is a sub-network of the reference and the reference's own noise largely cancels in the
  difference (subset mean minus full mean has variance sigma^2 (1/LM - 1/(L_ref M_ref))).
  The fitted error is then a lower estimate of the error to the true limit at the largest sizes.

The Euler bias O(1/L) is not separated: at fixed M = 16 the noise dominates (derived slope -1/2);
at fixed L = 16 the M-independent bias flattens the slope at the largest M (see ``derived``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from . import Derived, Measurement, Overrides

VARIANTS = ("linear/L", "linear/M", "tanh/L", "tanh/M")

#: per-activation settings (choice): eta and K (linear: eta = 0.2, see the module docstring)
ACT_SETTINGS = {"linear": {"eta": 0.2, "K": 15}, "tanh": {"eta": 0.5, "K": 15}}

SUITES = {
    "smoke": {"variants": ("linear/L", "linear/M", "tanh/L"), "seeds": 24, "D": 5,
              "L_sweep": (4, 8, 16, 32, 64, 128), "M_fixed": 16,
              "M_sweep": (4, 8, 16, 32, 64, 128), "L_fixed": 16, "L_ref": 512, "M_ref": 64},
    "standard": {"variants": VARIANTS, "seeds": 32, "D": 5,
                 "L_sweep": (4, 8, 16, 32, 64, 128, 256), "M_fixed": 16,
                 "M_sweep": (4, 8, 16, 32, 64, 128), "L_fixed": 16, "L_ref": 512,
                 "M_ref": 128},
    "full": {"variants": VARIANTS, "seeds": 64, "D": 5,
             "L_sweep": (4, 8, 16, 32, 64, 128, 256), "M_fixed": 16,
             "M_sweep": (4, 8, 16, 32, 64, 128, 256), "L_fixed": 16, "L_ref": 2048,
             "M_ref": 256},
}


@dataclass(frozen=True)
class HWPoint:
    """One finite network size; ``L_ref``/``M_ref`` only for the coupled (tanh) reference."""

    act: str
    D: int
    L: int
    M: int
    K: int
    eta: float
    n_seeds: int
    alpha: float = 1.0
    L_ref: int = 0
    M_ref: int = 0
    parameterization: str = "hw_mlu"
    N: int = 10
    d_in: int = 5
    d_out: int = 5
    data_seed: int = 0
    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"


def with_mean_twins(base: tuple[str, ...]) -> tuple[str, ...]:
    """Each variant twice: median over seeds (default) and ``<variant>/mean``. The median was
    chosen after the mean gave a wide CI on heavy-tailed per-seed errors; both are reported so
    the choice hides nothing."""
    return tuple(v for b in base for v in (b, f"{b}/mean"))


def split_statistic(variant: str) -> tuple[str, str]:
    """``'tanh/L/mean'`` -> (``'tanh/L'``, ``'mean'``); no suffix -> median."""
    return (variant[:-5], "mean") if variant.endswith("/mean") else (variant, "median")


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    return with_mean_twins(overrides.filter_activations(SUITES[suite]["variants"]))


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[HWPoint]:
    s = SUITES[suite]
    act, axis = split_statistic(variant)[0].split("/")
    st = ACT_SETTINGS[act]
    if axis == "L":
        sizes = [(L, s["M_fixed"]) for L in (overrides.depths or s["L_sweep"])]
    else:
        sizes = [(s["L_fixed"], M) for M in (overrides.widths or s["M_sweep"])]
    L_ref, M_ref = (0, 0)
    if act != "linear":
        L_ref = int(np.lcm.reduce([L for L, _ in sizes] + [s["L_ref"]]))
        M_ref = max([M for _, M in sizes] + [s["M_ref"]])
    return [HWPoint(act=act, D=s["D"], L=L, M=M, K=st["K"], eta=st["eta"], n_seeds=s["seeds"],
                    L_ref=L_ref, M_ref=M_ref, device=device, dtype=dtype) for L, M in sizes]


def _data(p):
    import torch
    from infdepth.numerics.hidden_width import hw_data
    return hw_data(p.N, p.d_in, p.d_out, p.data_seed, dtype=getattr(torch, p.dtype),
                   device=p.device)


def _cfg(p, L, M):
    from infdepth.numerics.hidden_width import HWConfig
    return HWConfig(D=p.D, L=L, M=M, K=p.K, alpha=p.alpha, eta=p.eta, act=p.act,
                    n_seeds=p.n_seeds, base_seed=p.base_seed, dtype=p.dtype, device=p.device)


@lru_cache(maxsize=8)
def exact_linear_reference(p_key: HWPoint) -> dict[str, np.ndarray]:
    """Exact Mean-ODE trajectories (linear activation) for the seeds of a point (L, M unused)."""
    from infdepth.numerics.hidden_width import init_weights
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
    X, Y = _data(p_key)
    w = init_weights(_cfg(p_key, 1, 1), p_key.d_in, p_key.d_out)
    return solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, alpha=p_key.alpha,
                                 eta_u=p_key.eta, eta_v=p_key.eta, K=p_key.K)


@lru_cache(maxsize=4)
def coupled_reference(p_key: HWPoint):
    """The reference network (``L_ref`` x ``M_ref`` units) trained: ``(initial weights, result)``."""
    from infdepth.numerics.hidden_width import train_hw
    X, Y = _data(p_key)
    r = train_hw(_cfg(p_key, p_key.L_ref, p_key.M_ref), X, Y)
    return r.init, r


def reference(p: HWPoint):
    """``(f, h_L)`` of the reference at steps 0..K (numpy, (S, K+1, N, .)) and, for the coupled
    reference, the initial weights the finite network slices (else ``None``)."""
    key = HWPoint(**{**p.__dict__, "L": 0, "M": 0})
    if p.act == "linear":
        ref = exact_linear_reference(key)
        return ref["f"], ref["h_L"], None
    w, r = coupled_reference(key)
    return r.f.cpu().numpy(), r.h_L.cpu().numpy(), w


def run_point(p: HWPoint):
    """Train the finite network of ``p`` (sliced from the reference for the coupled case) and
    return ``(result, f_ref, h_ref)``."""
    from infdepth.numerics.hidden_width import train_hw
    X, Y = _data(p)
    f_ref, h_ref, w_ref = reference(p)
    weights = None
    if w_ref is not None:
        if p.L_ref % p.L or p.M > p.M_ref:
            raise ValueError(f"coupled reference needs L_ref a multiple of L and M <= M_ref, got "
                             f"L={p.L}, M={p.M}, L_ref={p.L_ref}, M_ref={p.M_ref}")
        step = p.L_ref // p.L
        weights = {"W_in": w_ref["W_in"], "W_out": w_ref["W_out"],
                   "u": w_ref["u"][:, ::step, :p.M].contiguous(),
                   "v": w_ref["v"][:, ::step, :p.M].contiguous()}
    r = train_hw(_cfg(p, p.L, p.M), X, Y, weights=weights)
    return r, f_ref, h_ref


def _rms(a: np.ndarray) -> np.ndarray:
    return np.sqrt((a ** 2).reshape(a.shape[0], -1).mean(axis=1))


def compute(p: HWPoint) -> pd.DataFrame:
    """One row per seed: rms output and per-coordinate embedding errors at steps 0 and K."""
    r, f_ref, h_ref = run_point(p)
    f, h = r.f.cpu().numpy(), r.h_L.cpu().numpy()
    return pd.DataFrame({
        "seed": np.arange(p.n_seeds),
        "out_err": _rms(f[:, -1] - f_ref[:, -1]),
        "out_err_init": _rms(f[:, 0] - f_ref[:, 0]),
        "emb_err": _rms(h[:, -1] - h_ref[:, -1]),
        "emb_err_init": _rms(h[:, 0] - h_ref[:, 0]),
        "loss_K": r.loss[:, -1].cpu().numpy(),
        "loss_ref_K": 0.5 * ((f_ref[:, -1] - _data(p)[1].cpu().numpy()[None]) ** 2
                             ).sum(axis=(1, 2)) / p.N,
    })


def _median(a: np.ndarray) -> float:
    """Statistic over seeds (choice): the median. The per-seed error after K steps is
    heavy-tailed -- seeds whose limit trajectory nears the edge of stability amplify the noise --
    and a power law in the sizes holds for every quantile."""
    return float(np.median(a))


def _mean(a: np.ndarray) -> float:
    return float(np.mean(a))


STATISTICS = {"median": _median, "mean": _mean}


def measurement(variant: str, pts: list[HWPoint], frames: list[pd.DataFrame]) -> Measurement:
    base, stat = split_statistic(variant)
    act, axis = base.split("/")
    p = pts[0]
    ref = "exact Mean ODE" if act == "linear" else f"coupled reference L={p.L_ref}, M={p.M_ref}"
    fixed = f"M={p.M}" if axis == "L" else f"L={p.L}"
    return Measurement([getattr(q, axis) for q in pts], [f["out_err"].to_numpy() for f in frames],
                       STATISTICS[stat], "depth L" if axis == "L" else "hidden width M",
                       f"{stat} rms output error after K={p.K} steps vs {ref} ({act}, {fixed})")


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    value, text = derived_exponent("hw_rate_lm", split_statistic(variant)[0])
    return Derived(value, text)
