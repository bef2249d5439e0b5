"""Batched finite-width Monte Carlo of Model A1 at initialization (docs/theory.md s2, s3).

For each seed s (all seeds of a chunk in one batched matmul per layer):

    h_0 = U x / sqrt(d),
    h_l = h_{l-1} + beta L^(-a) n^(-1/2) W_l phi(h_{l-1}),          l = 1..L,
    g_L = v * phi'(h_L)        (readout on phi; g_L = v for the linear readout),
    g_{l-1} = g_l + beta L^(-a) n^(-1/2) phi'(h_{l-1}) * (W_l^T g_l),

with U, W_l, v entries iid N(0, 1). Per seed it records the empirical counterparts of the
infinite-width moments of :mod:`kernel_recursion`:

    Sigma_L = h_L^T h_L / n,   K_out = phi(h_L)^T phi(h_L) / n,   G_0 = |g_0|^2 / n (per input).

The passes are those of the training engine (:class:`~infdepth.numerics.engine.A1Model`:
``forward`` and ``backward_signal``), built for a chunk of seeds with these weights injected
(``weights=``) and no update buffers: the network is Model A1 with ``param``'s block
multiplier, input layer ``U x / sqrt(d)`` and readout ``f = v . phi(h_L) / n``
(``g := n df/dh``).

Randomness: seed ``i`` draws ``U, W_1, ..., W_L, v`` one after the other from its own generator
(:func:`infdepth.seeding.normal_sequence`, stream ``"a1_init"``), so a seed's numbers do not
depend on the chunking; the Python loop is over seeds only to fill the weight tensors, all
arithmetic is batched over the chunk. :func:`sample_init_moments_by_act` evaluates several
activations on the same draws (one draw per seed for all of them). As in the training engine
(:mod:`~infdepth.numerics.engine.rng`), the draws are made on the CPU by default
(``rng_device="cpu"``) and moved to the run's device chunk by chunk, so a CUDA run computes
from the CPU run's weights and agrees with it to round-off; ``rng_device="native"`` draws on
the run's device instead (faster on a GPU, other numbers of the same law).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import sympy as sp
import torch

from infdepth.seeding import draw_each, normal_sequence
from infdepth.theory.parameterization import GroupScaling, Parameterization, preset
from infdepth.theory.symbols import n as n_symbol
from infdepth.validators import choice, positive_int

from .activations import check_activation
from .engine import A1Config, A1Model
from .engine.rng import RNG_DEVICES
from .footprint import INIT_CHUNK_BYTES
from .kernel_recursion import check_depth, check_readout

#: Bytes of weight storage allowed per chunk of seeds (W_l is kept for the backward pass).
CHUNK_BYTES = INIT_CHUNK_BYTES
#: Seed stream of the weights.
STREAM = "a1_init"


@dataclass(frozen=True)
class InitSamples:
    """Per-seed statistics, numpy arrays with the seed as first axis."""

    sigma: np.ndarray   # (S, P, P)
    output: np.ndarray  # (S, P, P)
    grad: np.ndarray    # (S, P)


def _init_param(param: Parameterization) -> Parameterization:
    """``param``'s block group ``W`` with the input layer ``U x / sqrt(d)`` (multiplier 1) and
    the readout ``v . phi(h_L) / n`` of the init Monte Carlo (whatever ``param`` says)."""
    return Parameterization(
        name=f"{param.name}/init", family="nfd",
        groups=(("U", GroupScaling(multiplier=sp.Integer(1))), ("W", param.group("W")),
                ("v", GroupScaling(multiplier=1 / n_symbol))))


#: weight tensors drawn into a shared buffer start at a multiple of this many numbers (64 bytes
#: in float64, the alignment of a tensor of their own)
_ALIGN = 8


def _chunk_sizes(s: int, n: int, L: int, d: int) -> tuple[int, int, int]:
    """Numbers of the weights of ``s`` seeds, W (L, s, n, n), U (s, n, d), v (s, n), each
    rounded up to a multiple of ``_ALIGN``."""
    return tuple(-(-k // _ALIGN) * _ALIGN for k in (L * s * n * n, s * n * d, s * n))


def _draw_chunk(idx: list[int], n: int, L: int, d: int, base_seed: int, device,
                store: torch.Tensor | None = None):
    """float64 weights of the seeds ``idx``: U (s, n, d), W (L, s, n, n), v (s, n), contiguous.
    ``store``: a float64 tensor of at least ``sum(_chunk_sizes(...))`` numbers on ``device``
    that the weights are drawn into (aligned views of it; the same numbers), so that one buffer
    serves every chunk of a point: a fresh 270 MB weight tensor per chunk of the n = 64, L = 4
    point spent about 90 ms on first touching its pages against 15 ms for writing a reused one
    (one thread)."""
    s = len(idx)
    sizes = _chunk_sizes(s, n, L, d)
    flat = (torch.empty(sum(sizes), dtype=torch.float64, device=device) if store is None
            else store[:sum(sizes)])
    W, U, v = (t[:math.prod(shape)].view(shape) for t, shape in
               zip(flat.split(sizes), ((L, s, n, n), (s, n, d), (s, n, 1))))
    shapes = [(n, d)] + [(n, n)] * L + [(n, 1)]
    def fill(j: int) -> None:     # drawn straight into the chunk's tensors
        normal_sequence(STREAM, base_seed, idx[j], shapes, device=device,
                        out=[U[j]] + [W[l, j] for l in range(L)] + [v[j]])

    draw_each(fill, s, n * d + L * n * n + n, device)
    return U, W, v[:, :, 0]


def sample_init_moments_by_act(acts: Iterable[str], x: np.ndarray, n: int, L: int,
                               seeds: range | list[int], *,
                               param: Parameterization | None = None, readout: str = "phi",
                               base_seed: int = 0, device: str | torch.device = "cpu",
                               dtype: torch.dtype = torch.float64,
                               rng_device: str = "cpu") -> dict[str, InitSamples]:
    """:func:`sample_init_moments` for each activation of ``acts`` on the SAME weights (each
    seed's weights are drawn once per chunk, whatever the number of activations): returns
    ``{act: InitSamples}`` in the order of ``acts``. ``rng_device``: ``"cpu"`` (draw on the
    CPU, then move to ``device``) or ``"native"`` (draw on ``device``); module docstring."""
    acts = tuple(dict.fromkeys(check_activation(a) for a in acts))
    if not acts:
        raise ValueError("at least one activation is required")
    n = positive_int("width n", n, integral=True)
    L = check_depth(L)
    check_readout(readout)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("at least one seed is required")
    choice("rng_device", rng_device, RNG_DEVICES)
    draw_device = torch.device("cpu") if rng_device == "cpu" else torch.device(device)
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)
    p, d = x_t.shape
    per_seed = (L + 1) * n * n * 8
    chunk = max(1, CHUNK_BYTES // per_seed)
    param = _init_param(param if param is not None else preset("depth_mup"))
    parts: dict[str, list] = {a: [] for a in acts}
    # one weight buffer for every chunk (nothing computed from a chunk keeps a view of it)
    store = torch.empty(sum(_chunk_sizes(min(chunk, len(seeds)), n, L, d)),
                        dtype=torch.float64, device=draw_device)
    for start in range(0, len(seeds), chunk):
        idx = seeds[start:start + chunk]
        s = len(idx)
        # draws are made in float64 and cast, so float32 and float64 runs share their weights
        U, W, v = _draw_chunk(idx, n, L, d, base_seed, draw_device, store)
        weights = {"U": U.to(device, dtype), "W": W.to(device, dtype), "v": v.to(device, dtype)}
        del U, W, v
        X = x_t.expand(s, p, d)
        for act in acts:
            cfg = A1Config(n=n, L=L, K=1, eta=0.0, parameterization=param, act=act,
                           readout=readout, n_seeds=s)
            model = A1Model(cfg, d, dtype, device, capacity=0, weights=weights)
            _, tr = model.forward(X, keep=True)
            gs, _, _ = model.backward_signal(tr)
            h, feat, g = tr.hs[-1], tr.r, gs[0]                      # (s, P, n)
            parts[act].append(((h @ h.mT / n).cpu().numpy(),
                               (feat @ feat.mT / n).cpu().numpy(),
                               (g * g).mean(dim=-1).cpu().numpy()))
            del model, tr, gs, h, feat, g
    return {a: InitSamples(sigma=np.concatenate([q[0] for q in parts[a]]).astype(np.float64),
                           output=np.concatenate([q[1] for q in parts[a]]).astype(np.float64),
                           grad=np.concatenate([q[2] for q in parts[a]]).astype(np.float64))
            for a in acts}


def sample_init_moments(act: str, x: np.ndarray, n: int, L: int, seeds: range | list[int], *,
                        param: Parameterization | None = None, readout: str = "phi",
                        base_seed: int = 0, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float64, rng_device: str = "cpu") -> InitSamples:
    """Monte Carlo of the init moments at width ``n``, depth ``L`` for the given seed indices.

    ``param`` gives the block multiplier (group ``W``); default ``depth_mup`` with beta = 1,
    whose infinite-width limit is the recursion of :mod:`kernel_recursion`. Several
    activations on the same draws: :func:`sample_init_moments_by_act`.
    """
    check_activation(act)
    return sample_init_moments_by_act((act,), x, n, L, seeds, param=param, readout=readout,
                                      base_seed=base_seed, device=device, dtype=dtype,
                                      rng_device=rng_device)[act]
