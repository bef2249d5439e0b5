"""The Euler bias of the [HW] 2LP ResNet after K GD steps (docs/theory.md s6, s9 "averaged
statistics").

Model (assumption): the output of one network after K steps is ``f_{L,M} = f_ref + bias_L + xi
+ r`` with the Euler bias ``bias_L = O(1/L)`` of the Mean ODE (deterministic), a centred noise
``xi = O(1/sqrt(LM))`` and second-order terms ``r = O(1/(LM))`` with a non-zero mean. Averaging
the *signed* error over seeds that share everything but the noise isolates ``E[f_{L,M}] - f_ref
= bias_L + E[r]``. Design:

* every seed shares one readout ``W_in``, ``W_out`` (:func:`shared_readout`: those of seed 0 of
  ``cfg.base_seed``, the streams of :func:`~infdepth.numerics.hidden_width.init_weights`) and
  the data, so all seeds have one reference trajectory; seeds differ only in their units
  ``u, v`` (:func:`unit_draws`: seed ``i`` draws from its own ``hw/u``, ``hw/v`` generators, so
  its units at one depth are a prefix of its stream at another, and its draws do not depend on
  which other seeds are drawn with it);
* :func:`bias_errors` with ``reference="exact"`` (linear activation): the signed error
  ``f_K(L, M) - f_ref`` to the exact linear Mean ODE (:func:`exact_final_output`);
* ``reference="cauchy"`` (any activation; no exact reference needed): the **Cauchy difference
  with coupled randomness** ``f_K(L, M) - f_K(2L, M/2)`` of two networks on the *same* L M
  units -- the depth-2L network's blocks ``2l`` and ``2l+1`` hold the two halves of the depth-L
  network's block ``l`` (the per-unit scale ``alpha/(LM)`` and the learning rate agree), as a
  coarse Brownian increment is the sum of two fine ones. Both have hidden width LM, so the noise
  cancels to first order, and so do the second-order terms to leading order where they depend on
  L and M only through LM: the mean is ``bias_L - bias_2L`` (for ``c/L``: ``c/(2L)``, the same
  exponent; a ``c2/L^2`` correction weighs 3/2 times more, relative to the ``1/L`` part, in the
  difference than in the bias itself);
* :func:`euler_scheme_error`: linear activation, the M = infinity Euler scheme at depth L (the
  moment recursion :func:`~infdepth.numerics.mean_ode_linear.train_moments_discrete` with the
  limit moments ``P = Q = I, A = 0`` in every block) minus the exact Mean ODE -- the pure Euler
  bias; :func:`euler_estimate` is what it predicts for either estimator;
* statistic: :func:`seed_mean_rms`, the rms over inputs and outputs of the seed mean of the
  signed errors; :func:`bias_statistics` its Monte-Carlo error and the second-order rest.

Every network and reference here uses the named convention of ``cfg`` (``cfg.convention``,
:mod:`infdepth.numerics.hw_conventions`); ``f_K`` below is the last recorded output (``f_{K-1}``
under ``"authors"``).

Memory: the networks of a point are trained in chunks of seeds of at most ``chunk_elements``
units (L M per seed; default :data:`CHUNK_ELEMENTS`); a seed's numbers do not depend on the
chunking (to round-off). The exact reference is cached per (config without L, M and the seed
count, data).
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

from .footprint import HW_BIAS_CHUNK
from .hidden_width import HWConfig, init_weights, train_hw
from .hw_reference import TensorKey, step_etas
from .mean_ode_linear import solve_mean_ode_linear, train_moments_discrete

__all__ = ["BIAS_REFERENCES", "CHUNK_ELEMENTS", "shared_readout", "unit_draws",
           "final_outputs", "exact_final_output", "euler_scheme_error", "euler_estimate",
           "check_bias_reference", "bias_errors", "seed_mean_rms", "bias_statistics"]

BIAS_REFERENCES = ("exact", "cauchy")

#: units (L M per seed) of one batched training run in :func:`bias_errors`: bounds its memory.
#: Not part of any config: a seed's numbers do not depend on the chunking (to round-off)
CHUNK_ELEMENTS = HW_BIAS_CHUNK


def shared_readout(cfg: HWConfig, d_in: int, d_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``W_in`` (1, D, d_in) and ``W_out`` (1, D, d_out) shared by every seed: those of seed 0
    of ``cfg.base_seed`` (the streams of :func:`~infdepth.numerics.hidden_width.init_weights`;
    only ``D``, ``base_seed``, ``dtype``, ``device`` of ``cfg`` enter)."""
    w = init_weights(replace(cfg, L=1, M=1, n_seeds=1), d_in, d_out)
    return w["W_in"], w["W_out"]


def unit_draws(cfg: HWConfig, seeds: Sequence[int], d_in: int = 1, d_out: int = 1
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial units ``u, v`` (len(seeds), cfg.L, cfg.M, D) of the given seed indices: those of
    :func:`~infdepth.numerics.hidden_width.init_weights` (seed ``i``'s own ``hw/u``, ``hw/v``
    generators), for any seed range. They do not depend on ``d_in``, ``d_out`` (other streams)
    nor on ``cfg.n_seeds``."""
    w = init_weights(cfg, d_in, d_out, seeds=seeds)
    return w["u"], w["v"]


def final_outputs(cfg: HWConfig, u: torch.Tensor, v: torch.Tensor, W_in: torch.Tensor,
                  W_out: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> np.ndarray:
    """``f_K`` (n, N, d_out) of the ``n`` networks with units ``u, v`` (n, L, M, D) and the
    shared readout ``W_in`` (1, D, d_in), ``W_out`` (1, D, d_out), trained with the settings of
    ``cfg`` (K, alpha, learning rates, activation; L, M, seed count from ``u``)."""
    n, L, M, _ = u.shape
    w = {"W_in": W_in.expand(n, -1, -1).contiguous(), "W_out": W_out.expand(n, -1, -1).contiguous(),
         "u": u, "v": v}
    return train_hw(replace(cfg, L=L, M=M, n_seeds=n), X, Y, weights=w).f[:, -1].cpu().numpy()


@lru_cache(maxsize=4)
def _exact_final(cfg: HWConfig, X: TensorKey, Y: TensorKey) -> np.ndarray:
    W_in, W_out = shared_readout(cfg, X.tensor.shape[1], Y.tensor.shape[1])
    eta_u, eta_v = step_etas(cfg)
    ref = solve_mean_ode_linear(W_in, W_out, X.tensor, Y.tensor, alpha=cfg.alpha, eta_u=eta_u,
                                eta_v=eta_v, K=cfg.K, convention=cfg.convention)
    return ref["f"][0, -1]


def exact_final_output(cfg: HWConfig, X: torch.Tensor, Y: torch.Tensor) -> np.ndarray:
    """Exact linear Mean-ODE output ``f_K`` (N, d_out) for the shared readout (docs/theory.md s6;
    :func:`~infdepth.numerics.mean_ode_linear.solve_mean_ode_linear`). Linear activation
    assumed (not read from ``cfg``); ``cfg.L``, ``cfg.M``, ``cfg.n_seeds`` do not enter."""
    return _exact_final(replace(cfg, L=1, M=1, n_seeds=1), TensorKey(X), TensorKey(Y))


def euler_scheme_error(cfg: HWConfig, X: torch.Tensor, Y: torch.Tensor,
                       L: int | None = None) -> np.ndarray:
    """Linear activation: ``f_K`` of the M = infinity Euler scheme at depth ``L`` (default
    ``cfg.L``; limit moments P = Q = I, A = 0 in every block) minus the exact Mean ODE, for the
    shared readout -- the pure Euler bias, (N, d_out)."""
    L = cfg.L if L is None else L
    W_in, W_out = shared_readout(cfg, X.shape[1], Y.shape[1])
    eye = np.broadcast_to(np.eye(cfg.D), (1, L, cfg.D, cfg.D))
    eta_u, eta_v = step_etas(cfg)
    d = train_moments_discrete(eye, eye, 0 * eye, W_in, W_out, X, Y, alpha=cfg.alpha,
                               eta_u=eta_u, eta_v=eta_v, K=cfg.K, convention=cfg.convention)
    return d["f"][0, -1] - exact_final_output(cfg, X, Y)


def euler_estimate(reference: str, cfg: HWConfig, X: torch.Tensor, Y: torch.Tensor
                   ) -> np.ndarray:
    """What the M = infinity Euler scheme gives for the mean of :func:`bias_errors` (N, d_out):
    ``euler_scheme_error`` at ``cfg.L`` (``"exact"``), minus the same at ``2 cfg.L``
    (``"cauchy"``); NaN for a non-linear activation (no M = infinity scheme to compare with)."""
    if cfg.act != "linear":
        return np.full((X.shape[0], Y.shape[1]), np.nan)
    if reference == "exact":
        return euler_scheme_error(cfg, X, Y)
    return euler_scheme_error(cfg, X, Y) - euler_scheme_error(cfg, X, Y, 2 * cfg.L)


def check_bias_reference(reference: str, cfg: HWConfig) -> str:
    """Raise ``ValueError`` naming the bad value and the allowed ones."""
    if reference not in BIAS_REFERENCES:
        raise ValueError(f"reference must be 'exact' or 'cauchy', got {reference!r}")
    if reference == "exact" and cfg.act != "linear":
        raise ValueError(f"the exact reference needs act='linear', got {cfg.act!r}")
    if reference == "cauchy" and (cfg.M < 2 or cfg.M % 2):
        raise ValueError(f"the Cauchy reference splits the M units of a block in two: M must be "
                         f"even and >= 2, got {cfg.M!r}")
    return reference


def bias_errors(reference: str, cfg: HWConfig, X: torch.Tensor, Y: torch.Tensor, *,
                chunk_elements: int | None = None) -> np.ndarray:
    """Signed per-seed errors (cfg.n_seeds, N, d_out) of the networks of ``cfg`` (seeds
    ``0..n_seeds-1``, shared readout; module docstring):

    * ``reference="exact"`` (linear): ``f_K(L, M) - f_ref``, f_ref the exact Mean ODE;
    * ``"cauchy"``: ``f_K(L, M) - f_K(2L, M/2)`` on the same L M units (the depth-2L network's
      blocks ``2l``, ``2l+1`` hold the two halves of the depth-L network's block ``l``).

    Seeds run in chunks of at most ``chunk_elements`` units (default :data:`CHUNK_ELEMENTS`)."""
    check_bias_reference(reference, cfg)
    S, L, M, D = cfg.n_seeds, cfg.L, cfg.M, cfg.D
    W_in, W_out = shared_readout(cfg, X.shape[1], Y.shape[1])
    chunk = max(1, min(S, (CHUNK_ELEMENTS if chunk_elements is None else chunk_elements)
                       // (L * M)))
    f_ref = exact_final_output(cfg, X, Y) if reference == "exact" else None
    out = []
    for s0 in range(0, S, chunk):
        seeds = range(s0, min(S, s0 + chunk))
        if reference == "exact":
            u, v = unit_draws(cfg, seeds, X.shape[1], Y.shape[1])
            out.append(final_outputs(cfg, u, v, W_in, W_out, X, Y) - f_ref[None])
        else:
            fine = replace(cfg, L=2 * L, M=M // 2)               # the depth-2L network's units
            u, v = unit_draws(fine, seeds, X.shape[1], Y.shape[1])
            n = len(seeds)
            f_fine = final_outputs(cfg, u, v, W_in, W_out, X, Y)
            f_coarse = final_outputs(cfg, u.reshape(n, L, M, D), v.reshape(n, L, M, D), W_in,
                                     W_out, X, Y)
            out.append(f_coarse - f_fine)
    return np.concatenate(out)


def seed_mean_rms(a: np.ndarray) -> float:
    """The Euler-bias statistic: rms over the columns (inputs x outputs) of the mean over the
    rows (seeds) of the signed errors ``a`` (S, C). The centred noise averages out of the mean
    (its Monte-Carlo part is ~ s/sqrt(S) per column and adds in quadrature to the rms)."""
    a = np.asarray(a, dtype=float)
    return float(np.sqrt(np.mean(a.reshape(a.shape[0], -1).mean(axis=0) ** 2)))


def bias_statistics(a: np.ndarray, euler: np.ndarray | None = None) -> dict[str, float]:
    """Noise budget of one size from its signed errors ``a`` (S, C) (rows = seeds, independent):
    ``bias`` (:func:`seed_mean_rms`), the Monte-Carlo error of the seed mean ``mc_se`` (rms over
    columns of std/sqrt(S)), the per-seed noise ``seed_noise`` (rms of the deviations from the
    seed mean) and, given the M = infinity scheme's prediction ``euler`` (C,) (finite), its rms
    ``euler`` and the rest ``second`` = rms(seed mean - euler) with the MC part taken out in
    quadrature -- the second-order terms (both NaN without a finite ``euler``)."""
    a = np.asarray(a, dtype=float)
    mean = a.mean(axis=0)
    mc = float(np.sqrt(np.mean(a.var(axis=0, ddof=1) / a.shape[0])))
    out = {"bias": seed_mean_rms(a), "mc_se": mc,
           "seed_noise": float(np.sqrt(np.mean((a - mean) ** 2))),
           "euler": math.nan, "second": math.nan}
    if euler is not None and np.all(np.isfinite(euler)):
        out["euler"] = float(np.sqrt(np.mean(euler ** 2)))
        out["second"] = float(np.sqrt(max(0.0, np.mean((mean - euler) ** 2) - mc ** 2)))
    return out
