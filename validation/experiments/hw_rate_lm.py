"""Claim ``hw_rate_lm`` (THEORY.md s6, s8): the [HW] 2LP ResNet's output error to the Neural Mean
ODE after K GD steps is O(1/L + alpha/sqrt(LM)); slope -1/2 in L at fixed M and in M at fixed L.

Measured per seed: rms over inputs and outputs of ``f_K(finite) - f_K(reference)``, where the
finite network and its reference share ``W_in``, ``W_out`` (same seed streams) and the data.

* ``linear/L``, ``linear/M`` -- reference = the **exact** Mean ODE of the linear network (closed
  second-moment system, :mod:`infdepth.numerics.mean_ode_linear`). Linear settings (choice):
  ``eta = 0.2`` -- with this data the linear limit diverges at step ~7 for ``eta = 1`` and is at
  the edge of divergence at step 15 for ``eta = 0.3``, where the error is dominated by the
  amplification of a few seeds.
* ``tanh/L``, ``tanh/M`` -- no exact reference: the **particle Mean-ODE solver**
  (:mod:`infdepth.numerics.mean_ode`: Heun in depth, RQMC particles; sizes
  :data:`ODE_REFERENCE`, error ~5e-4 at the standard suite's sizes, well below the fitted
  errors; its particles are independent of the network's units, so the reference adds its own
  small error in quadrature). Its ``h_L`` is the limit's, so ``emb_err`` is comparable too.
  Fallback (``TANH_REFERENCE = "coupled"``, the default before the solver existed): the
  **coupled large network** (THEORY.md s9).
  The units of a reference network (``L_ref`` blocks of ``M_ref`` units, ``L_ref`` a multiple of
  every swept L) are drawn once; the depth-L network's block l takes the first M units of
  reference block ``l L_ref / L`` (the block at the start of its depth interval), so every
  network is a sub-network of the reference and the reference's own noise largely cancels in the
  difference (subset mean minus full mean has variance sigma^2 (1/LM - 1/(L_ref M_ref))).
  The fitted error is then a lower estimate of the error to the true limit at the largest sizes.

* ``linear/LM``, ``tanh/LM`` -- the diagonal L = M (hidden width LM = m^2), same references:
  along it both error terms are powers of LM (noise (LM)^-1/2, Euler bias L^-1 = (LM)^-1/2),
  so the slope in LM is -1/2 whichever dominates; beside the L- and M-sweeps it tests that the
  error depends on L and M through LM (figure ``hw_depth_as_width``).

Bootstrap (L, M and LM variants): **paired** across sizes -- seed ``i`` has the same ``W_in``,
``W_out`` (hence the same reference) and the same unit streams at every size, so its errors at
different sizes are correlated (measured 0.6-0.8); resampling seed indices jointly keeps that.
(Until the review of this module the sizes were resampled independently, which overstated the
slope's CI: e.g. ``linear/L`` [-0.571, -0.431] unpaired.)

In the L and M variants the Euler bias O(1/L) is not separated: at fixed M = 16 the noise dominates
(derived slope -1/2); at fixed L = 16 the M-independent bias flattens the slope at the largest M
(see ``derived``).

**The Euler bias: ``linear/bias``, ``tanh/bias``** (the claim's "-1 in L at large M", claimed
slope -1, band -1 +- 0.15; :func:`claimed`). The error of one network is ``f_{L,M} - f_ref =
bias_L + xi + r`` with the Euler bias ``bias_L = O(1/L)`` of the Mean ODE (deterministic), a
centred noise ``xi = O(1/sqrt(LM))`` and second-order terms ``r = O(1/(LM))`` with a non-zero mean.
Averaging the *signed* error over seeds that share everything but the noise isolates
``E[f_{L,M}] - f_ref = bias_L + E[r]`` (THEORY.md s9, "averaged statistics"). Design (choice):

* every seed shares one ``W_in``, ``W_out`` (those of seed 0 of ``base_seed``: same streams as
  the other variants) and the data, so all seeds have one reference trajectory; seeds differ only
  in their units ``u, v`` (seed ``i`` draws from its own ``hw/u``, ``hw/v`` generators, as
  :func:`~infdepth.numerics.hidden_width.init_weights` does);
* ``linear/bias``: the signed error ``f_K - f_ref`` to the **exact** linear Mean ODE. Each point
  also stores the M = infinity Euler scheme's own error (``euler_err``: the moment recursion of
  :func:`~infdepth.numerics.mean_ode_linear.train_moments_discrete` with the limit moments
  ``P = Q = I, A = 0``), the pure Euler bias; the fit notes compare the seed mean with it;
* ``tanh/bias``: no exact reference, so a **Cauchy difference with coupled randomness** (THEORY.md
  s9 fallback): the signed ``f_K(L, M) - f_K(2L, M/2)`` of two networks on the *same* L M units
  -- the depth-2L network's blocks ``2l`` and ``2l+1`` hold the two halves of the depth-L
  network's block ``l`` (the per-unit scale ``alpha/(LM)`` and learning rate agree), as a coarse
  Brownian increment is the sum of two fine ones. Both have hidden width LM, so the noise cancels
  to first order, and so do the second-order terms to leading order where they depend on L and
  M only through LM: the mean is ``bias_L - bias_2L`` (for ``c/L``: ``c/(2L)``, the same
  exponent). On the linear network
  this estimator reproduces the M = infinity Euler schemes' difference (tested). A ``c2/L^2``
  correction weighs 3/2 times more (relative to the ``1/L`` part) in the difference than in the
  bias itself, so the difference bends more at small L;
* statistic: the rms over inputs and outputs of the **seed-mean** signed error
  (:func:`seed_mean_rms`); samples are ``(S, N d_out)`` arrays (rows = seeds), so the bootstrap of
  :func:`~infdepth.validation.rate_fit.fit_rate` resamples seeds and recomputes the mean.
  Bootstrap **paired** across L: seed ``i`` draws from the same generators at every L (its
  units at one depth are a prefix of the stream at another), so its rows at different L are not
  independent, while different seeds are;
* sizes: L = 2 .. 32 at a fixed large M (:data:`BIAS_SUITES`), no ``/mean`` twin (the statistic
  is already a mean). M and the seed count come from measured noise budgets, not from the
  verdict: ``linear``: the Monte-Carlo error of the seed mean (``~ s/sqrt(S L M)``) is about 0.1
  (standard) to 0.12 (smoke) of the bias at the largest L, and the second-order rest
  ``E[f_{L,M}] - f_Euler,L`` (measured to fall like 1/M: 0.1-0.2 of the bias at M = 64, ~0.05
  at M = 256, L = 2..32) extrapolates to ~1% at M = 1024 (~2% at the smoke suite's M = 512);
  ``tanh``: the coupled difference's MC error is ~1% of it at L = 32, and its seed mean moved by
  at most ~3% between M = 64, 256 and 1024 (L = 4, 16, 32; no trend in M). :func:`fit` writes
  the budget per L into the verdict's notes. ``--depths`` overrides the L sweep; ``--widths`` is
  ignored here (M is set by the noise budget).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from . import Claimed, Derived, Measurement, Overrides
from .hw_common import HWRunFields

VARIANTS = ("linear/L", "linear/M", "linear/LM", "tanh/L", "tanh/M", "tanh/LM")

#: per-activation settings (choice): eta and K (linear: eta = 0.2, see the module docstring)
ACT_SETTINGS = {"linear": {"eta": 0.2, "K": 15}, "tanh": {"eta": 0.5, "K": 15}}

SUITES = {
    "smoke": {"variants": ("linear/L", "linear/M", "linear/LM", "tanh/L"), "seeds": 24, "D": 5,
              "L_sweep": (4, 8, 16, 32, 64, 128), "M_fixed": 16, "LM_sweep": (4, 8, 16, 32),
              "M_sweep": (4, 8, 16, 32, 64, 128), "L_fixed": 16, "L_ref": 512, "M_ref": 64},
    "standard": {"variants": VARIANTS, "seeds": 32, "D": 5,
                 "L_sweep": (4, 8, 16, 32, 64, 128, 256), "M_fixed": 16,
                 "LM_sweep": (4, 8, 16, 32, 64),
                 "M_sweep": (4, 8, 16, 32, 64, 128), "L_fixed": 16, "L_ref": 512,
                 "M_ref": 128},
    "full": {"variants": VARIANTS, "seeds": 64, "D": 5,
             "L_sweep": (4, 8, 16, 32, 64, 128, 256), "M_fixed": 16,
             "LM_sweep": (4, 8, 16, 32, 64, 128),
             "M_sweep": (4, 8, 16, 32, 64, 128, 256), "L_fixed": 16, "L_ref": 2048,
             "M_ref": 256},
}

#: Euler-bias variants (module docstring): per suite, activation -> L sweep, fixed M, seeds.
#: M and seeds from the measured noise budget (``fit``'s notes): the MC error of the seed mean
#: and, for linear, the second-order rest well below the bias at the largest L.
BIAS_SUITES = {
    "smoke": {"linear": {"L_sweep": (2, 4, 8, 16), "M": 512, "seeds": 128}},
    "standard": {"linear": {"L_sweep": (2, 4, 8, 16, 32), "M": 1024, "seeds": 256},
                 "tanh": {"L_sweep": (2, 4, 8, 16, 32), "M": 256, "seeds": 64}},
    "full": {"linear": {"L_sweep": (2, 4, 8, 16, 32, 64), "M": 2048, "seeds": 256},
             "tanh": {"L_sweep": (2, 4, 8, 16, 32, 64), "M": 512, "seeds": 128}},
}
BIAS_CLAIMED = -1.0
BIAS_TOLERANCE = 0.15


@dataclass(frozen=True)
class HWPoint(HWRunFields):
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


@dataclass(frozen=True)
class HWODEPoint(HWPoint):
    """A tanh point whose reference is the particle Mean-ODE solver (``ref_Ls`` depth steps,
    ``ref_P`` particles; :mod:`infdepth.numerics.mean_ode`) instead of the coupled network."""

    ref_Ls: int = 16
    ref_P: int = 8192
    ref_scheme: str = "heun"
    ref_sampler: str = "sobol"


#: Reference of the non-linear variants (THEORY.md s6: the Mean-ODE solver; the coupled
#: large network is the documented fallback, kept selectable for comparison).
TANH_REFERENCE = "mean_ode"
#: Solver sizes per suite. Measured (tanh, eta 0.5, K 15, 8 seeds; numerics/mean_ode.py):
#: (16, 8192): depth error 2.2e-4, particle spread 1.1e-3; (16, 32768): 2.2e-4 and 4.6e-4;
#: the network errors fitted here are 7e-3 .. 6e-2.
ODE_REFERENCE = {"smoke": {"Ls": 16, "P": 8192}, "standard": {"Ls": 16, "P": 32768},
                 "full": {"Ls": 32, "P": 65536}}


def with_mean_twins(base: tuple[str, ...]) -> tuple[str, ...]:
    """Each variant twice: median over seeds (default) and ``<variant>/mean``. The median was
    chosen after the mean gave a wide CI on heavy-tailed per-seed errors; both are reported so
    the choice hides nothing."""
    return tuple(v for b in base for v in (b, f"{b}/mean"))


def split_statistic(variant: str) -> tuple[str, str]:
    """``'tanh/L/mean'`` -> (``'tanh/L'``, ``'mean'``); no suffix -> median."""
    return (variant[:-5], "mean") if variant.endswith("/mean") else (variant, "median")


@dataclass(frozen=True)
class HWBiasPoint(HWRunFields):
    """One depth L of an Euler-bias sweep (module docstring): ``n_seeds`` networks sharing
    ``W_in``, ``W_out``; ``reference`` is ``"exact"`` (linear Mean ODE) or ``"cauchy"``
    (difference to the depth-2L network on the same units, :func:`bias_errors`)."""

    act: str
    D: int
    L: int
    M: int
    K: int
    eta: float
    n_seeds: int
    reference: str
    alpha: float = 1.0
    parameterization: str = "hw_mlu"


def is_bias(variant: str) -> bool:
    return variant.endswith("/bias")


def variants(suite: str, overrides: Overrides = Overrides()) -> tuple[str, ...]:
    bias = tuple(f"{a}/bias" for a in BIAS_SUITES[suite])
    return (with_mean_twins(overrides.filter_activations(SUITES[suite]["variants"]))
            + overrides.filter_activations(bias))


def points(variant: str, suite: str, overrides: Overrides = Overrides(), device: str = "cpu",
           dtype: str = "float64") -> list[HWPoint] | list[HWBiasPoint]:
    if is_bias(variant):
        return bias_points(variant, suite, overrides, device, dtype)
    s = SUITES[suite]
    act, axis = split_statistic(variant)[0].split("/")
    st = ACT_SETTINGS[act]
    if axis == "L":
        sizes = [(L, s["M_fixed"]) for L in (overrides.depths or s["L_sweep"])]
    elif axis == "LM":   # the diagonal L = M: both error terms are powers of LM
        sizes = [(m, m) for m in (overrides.depths or s["LM_sweep"])]
    else:
        sizes = [(s["L_fixed"], M) for M in (overrides.widths or s["M_sweep"])]
    common = dict(act=act, D=s["D"], K=st["K"], eta=st["eta"], n_seeds=s["seeds"],
                  device=device, dtype=dtype)
    if act != "linear" and TANH_REFERENCE == "mean_ode":
        o = ODE_REFERENCE[suite]
        return [HWODEPoint(L=L, M=M, ref_Ls=o["Ls"], ref_P=o["P"], **common) for L, M in sizes]
    L_ref, M_ref = (0, 0)
    if act != "linear":
        L_ref = int(np.lcm.reduce([L for L, _ in sizes] + [s["L_ref"]]))
        M_ref = max([M for _, M in sizes] + [s["M_ref"]])
    return [HWPoint(act=act, D=s["D"], L=L, M=M, K=st["K"], eta=st["eta"], n_seeds=s["seeds"],
                    L_ref=L_ref, M_ref=M_ref, device=device, dtype=dtype) for L, M in sizes]


def bias_points(variant: str, suite: str, overrides: Overrides = Overrides(),
                device: str = "cpu", dtype: str = "float64") -> list[HWBiasPoint]:
    act = variant.split("/")[0]
    if act not in BIAS_SUITES[suite]:
        raise ValueError(f"no bias sweep for {act!r} in suite {suite!r}; allowed: "
                         f"{', '.join(f'{a}/bias' for a in BIAS_SUITES[suite])}")
    b, st = BIAS_SUITES[suite][act], ACT_SETTINGS[act]
    ref = "exact" if act == "linear" else "cauchy"
    return [HWBiasPoint(act=act, D=SUITES[suite]["D"], L=L, M=b["M"], K=st["K"], eta=st["eta"],
                        n_seeds=b["seeds"], reference=ref, device=device, dtype=dtype)
            for L in (overrides.depths or b["L_sweep"])]


def _cfg(p, L, M):
    from infdepth.numerics.hidden_width import HWConfig
    return HWConfig(D=p.D, L=L, M=M, K=p.K, alpha=p.alpha, eta=p.eta, act=p.act,
                    n_seeds=p.n_seeds, base_seed=p.base_seed, dtype=p.dtype, device=p.device)


@lru_cache(maxsize=8)
def exact_linear_reference(p_key: HWPoint) -> dict[str, np.ndarray]:
    """Exact Mean-ODE trajectories (linear activation) for the seeds of a point (L, M unused)."""
    from infdepth.numerics.hidden_width import init_weights
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
    X, Y = p_key.data()
    w = init_weights(_cfg(p_key, 1, 1), p_key.d_in, p_key.d_out)
    return solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, alpha=p_key.alpha,
                                 eta_u=p_key.eta, eta_v=p_key.eta, K=p_key.K)


@lru_cache(maxsize=4)
def coupled_reference(p_key: HWPoint):
    """The reference network (``L_ref`` x ``M_ref`` units) trained: ``(initial weights, result)``."""
    from infdepth.numerics.hidden_width import train_hw
    X, Y = p_key.data()
    r = train_hw(_cfg(p_key, p_key.L_ref, p_key.M_ref), X, Y)
    return r.init, r


@lru_cache(maxsize=4)
def mean_ode_reference(p_key: HWODEPoint):
    """The particle Mean-ODE solution (:func:`~infdepth.numerics.mean_ode.solve_mean_ode`) for
    the seeds of a point (their own ``W_in``, ``W_out``, as the finite networks draw them)."""
    from infdepth.numerics.mean_ode import MeanODEConfig, solve_mean_ode
    X, Y = p_key.data()
    cfg = MeanODEConfig(D=p_key.D, Ls=p_key.ref_Ls, P=p_key.ref_P, K=p_key.K, alpha=p_key.alpha,
                        eta=p_key.eta, act=p_key.act, scheme=p_key.ref_scheme,
                        sampler=p_key.ref_sampler, n_seeds=p_key.n_seeds,
                        base_seed=p_key.base_seed, dtype=p_key.dtype, device=p_key.device)
    return solve_mean_ode(cfg, X, Y)


def reference(p: HWPoint):
    """``(f, h_L)`` of the reference at steps 0..K (numpy, (S, K+1, N, .)) and, for the coupled
    reference, the initial weights the finite network slices (else ``None``)."""
    key = dataclasses.replace(p, L=0, M=0)
    if isinstance(p, HWODEPoint):
        r = mean_ode_reference(key)
        return r.f.cpu().numpy(), r.h_L.cpu().numpy(), None
    if p.act == "linear":
        ref = exact_linear_reference(key)
        return ref["f"], ref["h_L"], None
    w, r = coupled_reference(key)
    return r.f.cpu().numpy(), r.h_L.cpu().numpy(), w


def run_point(p: HWPoint):
    """Train the finite network of ``p`` (sliced from the reference for the coupled case) and
    return ``(result, f_ref, h_ref)``."""
    from infdepth.numerics.hidden_width import train_hw
    X, Y = p.data()
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


def compute(p: HWPoint | HWBiasPoint) -> pd.DataFrame:
    """One row per seed: rms output and per-coordinate embedding errors at steps 0 and K
    (:class:`HWBiasPoint`: :func:`compute_bias`)."""
    if isinstance(p, HWBiasPoint):
        return compute_bias(p)
    r, f_ref, h_ref = run_point(p)
    f, h = r.f.cpu().numpy(), r.h_L.cpu().numpy()
    return pd.DataFrame({
        "seed": np.arange(p.n_seeds),
        "out_err": _rms(f[:, -1] - f_ref[:, -1]),
        "out_err_init": _rms(f[:, 0] - f_ref[:, 0]),
        "emb_err": _rms(h[:, -1] - h_ref[:, -1]),
        "emb_err_init": _rms(h[:, 0] - h_ref[:, 0]),
        "loss_K": r.loss[:, -1].cpu().numpy(),
        "loss_ref_K": 0.5 * ((f_ref[:, -1] - p.data()[1].cpu().numpy()[None]) ** 2
                             ).sum(axis=(1, 2)) / p.N,
    })


# -- Euler-bias variants (module docstring) --------------------------------------------------

#: units (L M per seed) of one batched training run of a bias point: bounds its memory. Not part of
#: the config: a seed's numbers do not depend on the chunking (to round-off)
_CHUNK_ELEMENTS = 1 << 17


def shared_readout(p: HWBiasPoint):
    """``W_in`` (1, D, d_in) and ``W_out`` (1, D, d_out) shared by every seed of a bias point:
    those of seed 0 of ``p.base_seed`` (the streams of :func:`init_weights`)."""
    from infdepth.numerics.hidden_width import HWConfig, init_weights
    w = init_weights(HWConfig(D=p.D, L=1, M=1, n_seeds=1, base_seed=p.base_seed, dtype=p.dtype,
                              device=p.device), p.d_in, p.d_out)
    return w["W_in"], w["W_out"]


def unit_draws(p: HWBiasPoint, L: int, M: int, seeds: range):
    """Initial units ``u, v`` (len(seeds), L, M, D) of the given seeds: those of
    :func:`~infdepth.numerics.hidden_width.init_weights` (seed ``i``'s own ``hw/u``, ``hw/v``
    generators), for any seed range."""
    from infdepth.numerics.hidden_width import HWConfig, init_weights
    w = init_weights(HWConfig(D=p.D, L=L, M=M, base_seed=p.base_seed, dtype=p.dtype,
                              device=p.device), p.d_in, p.d_out, seeds=seeds)
    return w["u"], w["v"]


def _final_output(p: HWBiasPoint, u, v, W_in, W_out, X, Y) -> np.ndarray:
    """``f_K`` (n, N, d_out) of the networks with units ``u, v`` (n, L, M, D) and the shared
    readout."""
    from infdepth.numerics.hidden_width import HWConfig, train_hw
    n, L, M, _ = u.shape
    cfg = HWConfig(D=p.D, L=L, M=M, K=p.K, alpha=p.alpha, eta=p.eta, act=p.act, n_seeds=n,
                   base_seed=p.base_seed, dtype=p.dtype, device=p.device)
    w = {"W_in": W_in.expand(n, -1, -1).contiguous(), "W_out": W_out.expand(n, -1, -1).contiguous(),
         "u": u, "v": v}
    return train_hw(cfg, X, Y, weights=w).f[:, -1].cpu().numpy()


@lru_cache(maxsize=4)
def bias_reference(p_key: HWBiasPoint) -> np.ndarray:
    """Exact linear Mean-ODE output ``f_K`` (N, d_out) for the shared readout (L, M unused)."""
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
    X, Y = p_key.data()
    W_in, W_out = shared_readout(p_key)
    ref = solve_mean_ode_linear(W_in, W_out, X, Y, alpha=p_key.alpha, eta_u=p_key.eta,
                                eta_v=p_key.eta, K=p_key.K)
    return ref["f"][0, -1]


def euler_scheme_error(p: HWBiasPoint, L: int | None = None) -> np.ndarray:
    """Linear activation: ``f_K`` of the M = infinity Euler scheme at depth ``L`` (default
    ``p.L``; limit moments P = Q = I, A = 0 in every block) minus the exact Mean ODE -- the pure
    Euler bias, (N, d_out)."""
    from infdepth.numerics.mean_ode_linear import train_moments_discrete
    L = p.L if L is None else L
    X, Y = p.data()
    W_in, W_out = shared_readout(p)
    eye = np.broadcast_to(np.eye(p.D), (1, L, p.D, p.D))
    d = train_moments_discrete(eye, eye, 0 * eye, W_in, W_out, X, Y, alpha=p.alpha, eta_u=p.eta,
                               eta_v=p.eta, K=p.K)
    return d["f"][0, -1] - bias_reference(dataclasses.replace(p, L=0, M=0))


def check_bias_point(p: HWBiasPoint) -> HWBiasPoint:
    """Raise ``ValueError`` naming the bad value and the allowed ones."""
    if p.reference not in ("exact", "cauchy"):
        raise ValueError(f"reference must be 'exact' or 'cauchy', got {p.reference!r}")
    if p.reference == "exact" and p.act != "linear":
        raise ValueError(f"the exact reference needs act='linear', got {p.act!r}")
    if p.reference == "cauchy" and (p.M < 2 or p.M % 2):
        raise ValueError(f"the Cauchy reference splits the M units of a block in two: M must be "
                         f"even and >= 2, got {p.M!r}")
    return p


def bias_errors(p: HWBiasPoint) -> np.ndarray:
    """Signed per-seed errors (S, N, d_out) of a bias point (module docstring):

    * ``reference="exact"`` (linear): ``f_K(L, M) - f_ref``, f_ref the exact Mean ODE;
    * ``"cauchy"``: ``f_K(L, M) - f_K(2L, M/2)`` on the same L M units -- the depth-2L network's
      blocks ``2l`` and ``2l+1`` hold the two halves of the depth-L network's block ``l`` (same
      per-unit scale ``alpha/(LM)`` and learning rate), so the noise cancels to first order.

    Seeds run in chunks (memory); a seed's numbers do not depend on the chunking (to round-off)."""
    check_bias_point(p)
    X, Y = p.data()
    W_in, W_out = shared_readout(p)
    chunk = max(1, min(p.n_seeds, _CHUNK_ELEMENTS // (p.L * p.M)))
    f_ref = bias_reference(dataclasses.replace(p, L=0, M=0)) if p.reference == "exact" else None
    out = []
    for s0 in range(0, p.n_seeds, chunk):
        seeds = range(s0, min(p.n_seeds, s0 + chunk))
        if p.reference == "exact":
            u, v = unit_draws(p, p.L, p.M, seeds)
            out.append(_final_output(p, u, v, W_in, W_out, X, Y) - f_ref[None])
        else:
            u, v = unit_draws(p, 2 * p.L, p.M // 2, seeds)       # the depth-2L network's units
            n = len(seeds)
            f_fine = _final_output(p, u, v, W_in, W_out, X, Y)
            f_coarse = _final_output(p, u.reshape(n, p.L, p.M, p.D), v.reshape(n, p.L, p.M, p.D),
                                     W_in, W_out, X, Y)
            out.append(f_coarse - f_fine)
    return np.concatenate(out)


def compute_bias(p: HWBiasPoint) -> pd.DataFrame:
    """Tidy rows (seed, x, o): the signed error ``err`` of :func:`bias_errors` and, for linear
    activation, what the M = infinity Euler scheme gives for it, ``euler_err``
    (:func:`euler_scheme_error` at L, minus the same at 2L for the Cauchy reference; the same for
    every seed; NaN for other activations)."""
    e = bias_errors(p)
    S, N, O = e.shape
    if p.act != "linear":
        eul = np.full((N, O), np.nan)
    elif p.reference == "exact":
        eul = euler_scheme_error(p)
    else:
        eul = euler_scheme_error(p) - euler_scheme_error(p, 2 * p.L)
    seed, x, o = np.meshgrid(np.arange(S), np.arange(N), np.arange(O), indexing="ij")
    return pd.DataFrame({"seed": seed.ravel(), "x": x.ravel(), "o": o.ravel(),
                         "err": e.ravel(), "euler_err": np.broadcast_to(eul, e.shape).ravel()})


def bias_samples(frame: pd.DataFrame, col: str = "err") -> np.ndarray:
    """``(S, N d_out)`` array of a bias point's column, one row per seed."""
    f = frame.sort_values(["seed", "x", "o"])
    return f[col].to_numpy().reshape(f["seed"].nunique(), -1)


def seed_mean_rms(a: np.ndarray) -> float:
    """The Euler-bias statistic: rms over the columns (inputs x outputs) of the mean over the
    rows (seeds) of the signed errors ``a`` (S, C). The centred noise averages out of the mean
    (its Monte-Carlo part is ~ s/sqrt(S) per column and adds in quadrature to the rms)."""
    a = np.asarray(a, dtype=float)
    return float(np.sqrt(np.mean(a.reshape(a.shape[0], -1).mean(axis=0) ** 2)))


def noise_budget(pts: list[HWBiasPoint], frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per L: the statistic ``bias`` (:func:`seed_mean_rms`), the Monte-Carlo error of the seed
    mean ``mc_se`` (rms over columns of std/sqrt(S)), the per-seed noise ``seed_noise`` (rms of
    the deviations from the seed mean) and, for the exact reference, the M = infinity Euler bias
    ``euler`` (Cauchy reference: the Euler schemes' difference at L and 2L) and the rest
    ``second`` = rms(seed mean - Euler) with the MC part taken out in quadrature -- the
    second-order terms (NaN for other activations: no M = infinity scheme to compare with)."""
    rows = []
    for p, fr in zip(pts, frames):
        a = bias_samples(fr)
        mean = a.mean(axis=0)
        mc = float(np.sqrt(np.mean(a.var(axis=0, ddof=1) / a.shape[0])))
        row = {"L": p.L, "M": p.M, "seeds": a.shape[0], "bias": seed_mean_rms(a), "mc_se": mc,
               "seed_noise": float(np.sqrt(np.mean((a - mean) ** 2))),
               "euler": np.nan, "second": np.nan}
        eul = bias_samples(fr, "euler_err")[0]
        if np.all(np.isfinite(eul)):
            row["euler"] = float(np.sqrt(np.mean(eul ** 2)))
            row["second"] = float(np.sqrt(max(0.0, np.mean((mean - eul) ** 2) - mc ** 2)))
        rows.append(row)
    return pd.DataFrame(rows)


def _budget_notes(budget: pd.DataFrame) -> list[str]:
    notes = []
    for r in budget.itertuples():
        t = (f"L={r.L}: seed-mean error {r.bias:.3g}; MC error of the mean {r.mc_se:.3g} "
             f"({r.mc_se / r.bias:.2f} of it; per-seed noise {r.seed_noise:.3g})")
        if np.isfinite(r.euler):
            t += (f"; M=inf Euler scheme {r.euler:.3g}, second-order rest E[err]-Euler "
                  f"{r.second:.3g} ({r.second / r.bias:.2f} of it, resolution ~{r.mc_se:.2g})")
        notes.append(t)
    return notes


def _median(a: np.ndarray) -> float:
    """Statistic over seeds (choice): the median. The per-seed error after K steps is
    heavy-tailed -- seeds whose limit trajectory nears the edge of stability amplify the noise --
    and a power law in the sizes holds for every quantile."""
    return float(np.median(a))


def _mean(a: np.ndarray) -> float:
    return float(np.mean(a))


STATISTICS = {"median": _median, "mean": _mean}


def measurement(variant: str, pts: list[HWPoint], frames: list[pd.DataFrame]) -> Measurement:
    if is_bias(variant):
        p = pts[0]
        what = ("f_K - f_ref vs exact Mean ODE" if p.reference == "exact"
                else "f_K(L, M) - f_K(2L, M/2) on shared units (Cauchy)")
        return Measurement([q.L for q in pts], [bias_samples(f) for f in frames], seed_mean_rms,
                           "depth L", f"rms of the seed-mean signed error {what} after K={p.K} "
                           f"steps ({p.act}, M={p.M}, {p.n_seeds} seeds sharing W_in, W_out)",
                           paired=True)
    base, stat = split_statistic(variant)
    act, axis = base.split("/")
    p = pts[0]
    ref = ("exact Mean ODE" if act == "linear" else
           f"Mean-ODE solver (Ls={p.ref_Ls}, P={p.ref_P})" if isinstance(p, HWODEPoint) else
           f"coupled reference L={p.L_ref}, M={p.M_ref}")
    fixed = {"L": f"M={p.M}", "M": f"L={p.L}", "LM": "L = M"}[axis]
    sizes = [q.L * q.M if axis == "LM" else getattr(q, axis) for q in pts]
    size_label = {"L": "depth L", "M": "hidden width M", "LM": "hidden width LM (L = M)"}[axis]
    return Measurement(sizes, [f["out_err"].to_numpy() for f in frames], STATISTICS[stat],
                       size_label,
                       f"{stat} rms output error after K={p.K} steps vs {ref} ({act}, {fixed})",
                       paired=True)


def fit(variant: str, pts: list, frames: list[pd.DataFrame]):
    """The runner's default fit (:func:`fit_rate` of :func:`measurement`); for the bias variants
    the notes also carry the noise budget per L (:func:`noise_budget`)."""
    from ..rate_fit import fit_rate
    m = measurement(variant, pts, frames)
    f = fit_rate(m.sizes, m.samples, m.statistic, paired=m.paired)
    if not is_bias(variant):
        return f
    return dataclasses.replace(f, notes=f.notes + tuple(_budget_notes(noise_budget(pts, frames))))


def claimed(variant: str) -> Claimed:
    """The bias variants: -1 in L (band -1 +- 0.15); the others: the claim row's -1/2."""
    if is_bias(variant):
        return Claimed(BIAS_CLAIMED, (BIAS_CLAIMED - BIAS_TOLERANCE, BIAS_CLAIMED + BIAS_TOLERANCE),
                       "-1 in L at large M (Euler bias)")
    from ..claims import get_claim
    c = get_claim("hw_rate_lm")
    return Claimed(c.claimed, (c.claimed - c.tolerance, c.claimed + c.tolerance), c.claimed_text)


def derived(variant: str) -> Derived:
    from infdepth.theory.exponent_calculus import derived_exponent
    value, text = derived_exponent("hw_rate_lm", split_statistic(variant)[0])
    if is_bias(variant) and not variant.startswith("linear"):
        text += " (measured as the Cauchy difference bias_L - bias_2L: same exponent)"
    return Derived(value, text)
