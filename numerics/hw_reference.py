"""References of the finite [HW] 2LP ResNet after K GD steps (docs/theory.md s6, s9).

The finite network (:mod:`infdepth.numerics.hidden_width`, L blocks of M units, all seeds
batched) is compared with a reference trajectory that shares its ``W_in``, ``W_out`` (same seed
streams), its data and its named convention (``cfg.convention``: loss normalizer, ``W_out`` std,
recorded steps; :mod:`infdepth.numerics.hw_conventions`), so both trajectories record the same
steps and their last records are compared as the outputs "after K steps". :func:`reference_trajectories` returns the reference's ``f`` and ``h_L``
at steps ``0..K`` for one of three kinds (:class:`ReferenceSpec`):

* ``"exact"`` -- the **exact** Mean ODE of the *linear* network: the closed second-moment system
  of :func:`~infdepth.numerics.mean_ode_linear.solve_mean_ode_linear` (needs ``act="linear"``;
  error only that of the ODE integrator, rtol 1e-10).
* ``"mean_ode"`` -- the **particle Mean-ODE solver** :func:`~infdepth.numerics.mean_ode.
  solve_mean_ode` (any activation; ``Ls`` depth steps of the ``scheme``, ``P`` particles from
  ``sampler``). Its particles are independent of the network's units, so the reference adds its
  own small depth and Monte-Carlo error in quadrature. Its ``h_L`` is the limit's.
* ``"coupled"`` -- the **coupled large network** (docs/theory.md s9): a network of ``L_ref`` blocks of
  ``M_ref`` units trained by :func:`~infdepth.numerics.hidden_width.train_hw`. The depth-L
  network's block ``l`` takes the first M units of reference block ``l L_ref / L`` (the block at
  the start of its depth interval; :func:`slice_coupled`, ``u[:, ::L_ref // L, :M]``), so every
  finite network is a sub-network of the reference. Assumes ``L_ref`` a multiple of ``L`` and
  ``M <= M_ref``. The reference's own noise then largely cancels in the difference (subset mean
  minus full mean has variance ``sigma^2 (1/LM - 1/(L_ref M_ref))``), so errors to it are lower
  estimates of the errors to the true limit at the largest sizes.

:func:`train_against_reference` trains the finite network (sliced from the reference for
``"coupled"``) and returns it with the reference; :func:`errors_to_reference` reduces the pair to
per-seed rms errors.

**The reference's own error** (:func:`reference_error`, docs/theory.md s9 "Noise budget"): per
seed, an estimate of how far the reference's ``f_K`` is from the true limit's, which a claim adds
in quadrature to its seed noise. ``"exact"``: 0 (the integrator's rtol 1e-10 is below every
fitted error). ``"mean_ode"``: two extra solves, both cheap next to a sweep --

* Monte Carlo: the same solve with an independent particle draw (``particle_seed`` 1 instead of
  0); two independent draws differ by ``sqrt(2)`` times one draw's error, so
  ``mc = rms_outputs(f_K(draw 0) - f_K(draw 1)) / sqrt(2)`` (RQMC draws are i.i.d.
  randomizations, :func:`~infdepth.numerics.mean_ode.draw_particles`);
* depth: the same particles at ``2 Ls``; with the scheme's order ``q``
  (:data:`~infdepth.numerics.mean_ode.SCHEME_ORDER`) the error of the base is
  ``e(Ls) = C Ls^-q`` and ``f(Ls) - f(2Ls) = e(Ls) (1 - 2^-q)``, so (Richardson)
  ``depth = rms_outputs(f_K(Ls) - f_K(2Ls)) / (1 - 2^-q)``;

combined in quadrature, ``sqrt(mc^2 + depth^2)``. ``"coupled"``: no estimate (its noise largely
cancels in the difference, see above): ``ValueError``.

Caching: a reference does not depend on the finite network's L and M (except through the
coupled network's slicing), so each kind is computed once per (reference settings, config
without L and M, data) and kept in an ``lru_cache``; the data tensors enter the key by value
(dtype, device, shape and bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch

from .hidden_width import HWConfig, HWResult, init_weights, train_hw
from .hw_conventions import DEFAULT, convention as convention_rules
from .hw_observables import per_seed_rms
from .mean_ode import SCHEME_ORDER, MeanODEConfig, solve_mean_ode
from .mean_ode_linear import solve_mean_ode_linear

__all__ = ["REFERENCE_KINDS", "ReferenceSpec", "check_reference", "mean_ode_config",
           "reference_trajectories", "reference_error", "slice_coupled",
           "train_against_reference", "errors_to_reference"]

REFERENCE_KINDS = ("exact", "mean_ode", "coupled")


@dataclass(frozen=True)
class ReferenceSpec:
    """Which reference (module docstring) and its own sizes: ``L_ref``, ``M_ref`` for
    ``"coupled"``; ``Ls``, ``P``, ``scheme``, ``sampler``, ``max_memory_gb`` for ``"mean_ode"``
    (the fields of :class:`~infdepth.numerics.mean_ode.MeanODEConfig` of the same names: the
    solver refuses a solve estimated above ``max_memory_gb`` GiB; the validation claims set it
    to infinity, because the sweep has already checked the point's whole footprint, reference
    solves included, against the memory of the machine). Fields a kind does not use are
    ignored."""

    kind: str
    L_ref: int = 0
    M_ref: int = 0
    Ls: int = 16
    P: int = 8192
    scheme: str = "heun"
    sampler: str = "sobol"
    max_memory_gb: float = 8.0


def check_reference(spec: ReferenceSpec, cfg: HWConfig) -> ReferenceSpec:
    """Raise ``ValueError`` naming the bad value and the allowed ones: an unknown kind, the exact
    reference of a non-linear network, a coupled reference the network cannot be sliced from."""
    if spec.kind not in REFERENCE_KINDS:
        raise ValueError(f"reference kind must be one of {', '.join(REFERENCE_KINDS)}, got "
                         f"{spec.kind!r}")
    if spec.kind == "exact" and cfg.act != "linear":
        raise ValueError(f"the exact Mean-ODE reference needs act='linear', got {cfg.act!r}")
    if spec.kind == "coupled" and (spec.L_ref < 1 or spec.M_ref < 1 or spec.L_ref % cfg.L
                                   or cfg.M > spec.M_ref):
        raise ValueError(f"coupled reference needs L_ref a multiple of L and M <= M_ref, got "
                         f"L={cfg.L}, M={cfg.M}, L_ref={spec.L_ref}, M_ref={spec.M_ref}")
    return spec


def mean_ode_config(spec: ReferenceSpec, cfg: HWConfig) -> MeanODEConfig:
    """The :class:`~infdepth.numerics.mean_ode.MeanODEConfig` of the ``"mean_ode"`` reference of
    the networks of ``cfg`` (their K, alpha, learning rates, activation, seeds, dtype, device,
    convention)."""
    return MeanODEConfig(D=cfg.D, Ls=spec.Ls, P=spec.P, K=cfg.K, alpha=cfg.alpha, eta=cfg.eta,
                         eta_u=cfg.eta_u, eta_v=cfg.eta_v, act=cfg.act, scheme=spec.scheme,
                         sampler=spec.sampler, n_seeds=cfg.n_seeds, base_seed=cfg.base_seed,
                         dtype=cfg.dtype, device=cfg.device, convention=cfg.convention,
                         max_memory_gb=spec.max_memory_gb)


class TensorKey:
    """A tensor as an ``lru_cache`` key (``.tensor``): equal when dtype, device, shape and bytes
    are."""

    __slots__ = ("tensor", "_key")

    def __init__(self, t: torch.Tensor):
        self.tensor = t
        self._key = (str(t.dtype), str(t.device), tuple(t.shape),
                     t.detach().cpu().contiguous().numpy().tobytes())

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other) -> bool:
        return isinstance(other, TensorKey) and self._key == other._key


def step_etas(cfg: HWConfig) -> tuple[float, float]:
    """The base learning rates ``(eta_u, eta_v)`` of ``cfg`` (``eta`` where not set)."""
    return (cfg.eta if cfg.eta_u is None else cfg.eta_u,
            cfg.eta if cfg.eta_v is None else cfg.eta_v)


@lru_cache(maxsize=8)
def _exact(cfg: HWConfig, X: TensorKey, Y: TensorKey) -> dict[str, np.ndarray]:
    """The exact linear Mean ODE. Its NumPy products run on one BLAS thread, so the numbers do
    not depend on how many threads the process has (a serial run and a single-threaded
    cluster worker store the same bits); the matrices are small, one thread is not slower."""
    from threadpoolctl import threadpool_limits
    w = init_weights(cfg, X.tensor.shape[1], Y.tensor.shape[1])
    eta_u, eta_v = step_etas(cfg)
    with threadpool_limits(limits=1, user_api="blas"):
        return solve_mean_ode_linear(w["W_in"], w["W_out"], X.tensor, Y.tensor,
                                     alpha=cfg.alpha, eta_u=eta_u, eta_v=eta_v, K=cfg.K,
                                     convention=cfg.convention)


@lru_cache(maxsize=4)
def _mean_ode(spec: ReferenceSpec, cfg: HWConfig, X: TensorKey, Y: TensorKey):
    return solve_mean_ode(mean_ode_config(spec, cfg), X.tensor, Y.tensor)


@lru_cache(maxsize=4)
def _coupled(cfg: HWConfig, X: TensorKey, Y: TensorKey) -> HWResult:
    return train_hw(cfg, X.tensor, Y.tensor)


def reference_trajectories(spec: ReferenceSpec, cfg: HWConfig, X: torch.Tensor,
                           Y: torch.Tensor
                           ) -> tuple[np.ndarray, np.ndarray, dict[str, torch.Tensor] | None]:
    """``(f, h_L, weights)`` of the reference (module docstring) of the networks of ``cfg``
    trained on ``X`` (N, d_in), ``Y`` (N, d_out): ``f`` (S, R, N, d_out) and ``h_L``
    (S, R, N, D) at the steps the convention records (R = K+1, or K under ``"authors"``) as
    numpy arrays; ``weights`` the coupled reference network's
    initial weights (to slice the finite network from, :func:`slice_coupled`), else ``None``.
    ``cfg.L``, ``cfg.M`` do not enter (cached per everything else)."""
    check_reference(spec, cfg)
    Xk, Yk = TensorKey(X), TensorKey(Y)
    if spec.kind == "mean_ode":
        r = _mean_ode(replace(spec, L_ref=0, M_ref=0), replace(cfg, L=1, M=1), Xk, Yk)
        return r.f.cpu().numpy(), r.h_L.cpu().numpy(), None
    if spec.kind == "exact":
        ref = _exact(replace(cfg, L=1, M=1), Xk, Yk)
        return ref["f"], ref["h_L"], None
    r = _coupled(replace(cfg, L=spec.L_ref, M=spec.M_ref), Xk, Yk)
    return r.f.cpu().numpy(), r.h_L.cpu().numpy(), r.init


@lru_cache(maxsize=4)
def _mean_ode_error(spec: ReferenceSpec, cfg: HWConfig, X: TensorKey,
                    Y: TensorKey) -> dict[str, np.ndarray]:
    base = _mean_ode(spec, cfg, X, Y).f[:, -1]
    mcfg = mean_ode_config(spec, cfg)
    other = solve_mean_ode(replace(mcfg, particle_seed=mcfg.particle_seed + 1), X.tensor,
                           Y.tensor).f[:, -1]
    fine = solve_mean_ode(replace(mcfg, Ls=2 * mcfg.Ls), X.tensor, Y.tensor).f[:, -1]
    mc = per_seed_rms((base - other).cpu().double().numpy()) / np.sqrt(2.0)
    depth = (per_seed_rms((base - fine).cpu().double().numpy())
             / (1.0 - 2.0 ** -SCHEME_ORDER[spec.scheme]))
    out = {"ref_err": np.sqrt(mc ** 2 + depth ** 2), "ref_err_mc": mc, "ref_err_depth": depth}
    for a in out.values():
        a.setflags(write=False)
    return out


def reference_error(spec: ReferenceSpec, cfg: HWConfig, X: torch.Tensor,
                    Y: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-seed estimates (S,) of the reference's own error on ``f_K`` (module docstring, "The
    reference's own error"): ``ref_err`` (the total, Monte Carlo and depth parts in quadrature),
    ``ref_err_mc``, ``ref_err_depth``. ``"exact"``: zeros; ``"mean_ode"``: one solve with the
    next particle seed and one at ``2 Ls``, cached like the reference (``cfg.L``, ``cfg.M`` do
    not enter); ``"coupled"``: ``ValueError``. The arrays are read-only (shared by the cache)."""
    check_reference(spec, cfg)
    if spec.kind == "exact":
        z = np.zeros(cfg.n_seeds)
        return {"ref_err": z, "ref_err_mc": z, "ref_err_depth": z}
    if spec.kind == "coupled":
        raise ValueError("no estimate of the coupled reference's own error; allowed kinds: "
                         "exact, mean_ode")
    return _mean_ode_error(replace(spec, L_ref=0, M_ref=0), replace(cfg, L=1, M=1),
                           TensorKey(X), TensorKey(Y))


def slice_coupled(weights: dict[str, torch.Tensor], L: int, M: int) -> dict[str, torch.Tensor]:
    """Initial weights of the depth-L, width-M sub-network of a coupled reference network
    (``u``, ``v`` of shape (S, L_ref, M_ref, D)): block ``l`` takes the first M units of
    reference block ``l L_ref / L``; ``W_in``, ``W_out`` shared."""
    L_ref, M_ref = weights["u"].shape[1:3]
    if L_ref % L or M > M_ref:
        raise ValueError(f"coupled reference needs L_ref a multiple of L and M <= M_ref, got "
                         f"L={L}, M={M}, L_ref={L_ref}, M_ref={M_ref}")
    step = L_ref // L
    return {"W_in": weights["W_in"], "W_out": weights["W_out"],
            "u": weights["u"][:, ::step, :M].contiguous(),
            "v": weights["v"][:, ::step, :M].contiguous()}


def train_against_reference(spec: ReferenceSpec, cfg: HWConfig, X: torch.Tensor,
                            Y: torch.Tensor) -> tuple[HWResult, np.ndarray, np.ndarray]:
    """Train the finite network of ``cfg`` (its own initial weights, or for ``"coupled"`` those
    sliced from the reference network) and return ``(result, f_ref, h_ref)``
    (:func:`reference_trajectories`)."""
    check_reference(spec, cfg)
    f_ref, h_ref, w_ref = reference_trajectories(spec, cfg, X, Y)
    weights = None if w_ref is None else slice_coupled(w_ref, cfg.L, cfg.M)
    return train_hw(cfg, X, Y, weights=weights), f_ref, h_ref


def errors_to_reference(result: HWResult, f_ref: np.ndarray, h_ref: np.ndarray,
                        Y: torch.Tensor, convention: str = DEFAULT) -> dict[str, np.ndarray]:
    """Per-seed arrays (S,): rms over inputs and outputs of the output error ``f - f_ref`` after
    K steps (``out_err``; the last records of both trajectories) and at step 0
    (``out_err_init``), rms over inputs and coordinates of the embedding error ``h_L - h_ref``
    (``emb_err``, ``emb_err_init``), the network's loss after K steps (``loss_K``) and the
    reference's, ``(1/(2n)) sum_x |f_ref - y|^2`` (``loss_ref_K``; ``n`` the loss normalizer of
    the trajectories' ``convention``)."""
    f, h = result.f.cpu().numpy(), result.h_L.cpu().numpy()
    y = Y.cpu().numpy()
    if f.shape[1] != f_ref.shape[1]:
        raise ValueError(f"the network and its reference record different steps: {f.shape[1]} "
                         f"and {f_ref.shape[1]} (same convention needed)")
    n = convention_rules(convention).loss_count(y.shape[0], y.shape[1])
    return {"out_err": per_seed_rms(f[:, -1] - f_ref[:, -1]),
            "out_err_init": per_seed_rms(f[:, 0] - f_ref[:, 0]),
            "emb_err": per_seed_rms(h[:, -1] - h_ref[:, -1]),
            "emb_err_init": per_seed_rms(h[:, 0] - h_ref[:, 0]),
            "loss_K": result.loss[:, -1].cpu().numpy(),
            "loss_ref_K": 0.5 * ((f_ref[:, -1] - y[None]) ** 2).sum(axis=(1, 2)) / n}
