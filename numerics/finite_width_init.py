"""Batched finite-width Monte Carlo of Model A1 at initialization (THEORY.md s2, s3).

For each seed s (all seeds of a chunk in one batched matmul per layer):

    h_0 = U x / sqrt(d),
    h_l = h_{l-1} + beta L^(-a) n^(-1/2) W_l phi(h_{l-1}),          l = 1..L,
    g_L = v * phi'(h_L)        (readout on phi; g_L = v for the linear readout),
    g_{l-1} = g_l + beta L^(-a) n^(-1/2) phi'(h_{l-1}) * (W_l^T g_l),

with U, W_l, v entries iid N(0, 1). Per seed it records the empirical counterparts of the
infinite-width moments of :mod:`kernel_recursion`:

    Sigma_L = h_L^T h_L / n,   K_out = phi(h_L)^T phi(h_L) / n,   G_0 = |g_0|^2 / n (per input).

Randomness: seed ``i`` draws from its own generator (``infdepth.seeding.normal_sequence``),
so a seed's numbers do not depend on the chunking; the Python loop is over seeds only to fill
the weight tensors, all arithmetic is batched over the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from infdepth.seeding import normal_sequence
from infdepth.theory.parameterization import Parameterization, preset

from .activations import dphi, phi
from .kernel_recursion import check_depth, check_readout

#: Bytes of weight storage allowed per chunk of seeds (W_l is kept for the backward pass).
CHUNK_BYTES = 256 * 2 ** 20


@dataclass(frozen=True)
class InitSamples:
    """Per-seed statistics, numpy arrays with the seed as first axis."""

    sigma: np.ndarray   # (S, P, P)
    output: np.ndarray  # (S, P, P)
    grad: np.ndarray    # (S, P)


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def sample_init_moments(act: str, x: np.ndarray, n: int, L: int, seeds: range | list[int], *,
                        param: Parameterization | None = None, readout: str = "phi",
                        base_seed: int = 0, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float64) -> InitSamples:
    """Monte Carlo of the init moments at width ``n``, depth ``L`` for the given seed indices.

    ``param`` gives the block multiplier (group ``W``); default ``depth_mup`` with beta = 1,
    whose infinite-width limit is the recursion of :mod:`kernel_recursion`.
    """
    n = _check_positive_int("width n", n)
    L = check_depth(L)
    check_readout(readout)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("at least one seed is required")
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)
    p, d = x_t.shape
    per_seed = (L + 1) * n * n * 8
    chunk = max(1, CHUNK_BYTES // per_seed)
    param = param if param is not None else preset("depth_mup")
    mult = param.evaluate(n=n, L=L)["W"]["multiplier"]
    sig, out, grad = [], [], []
    for start in range(0, len(seeds), chunk):
        idx = seeds[start:start + chunk]
        s = len(idx)
        # draws are made in float64 and cast, so float32 and float64 runs share their weights
        f64 = torch.float64
        U = torch.empty(s, n, d, dtype=f64, device=device)
        v = torch.empty(s, n, 1, dtype=f64, device=device)
        W = torch.empty(L, s, n, n, dtype=f64, device=device)
        shapes = [(n, d)] + [(n, n)] * L + [(n, 1)]
        for j, i in enumerate(idx):
            seq = normal_sequence("a1_init", base_seed, i, shapes, device=device)
            U[j] = seq[0]
            for l in range(L):
                W[l, j] = seq[1 + l]
            v[j] = seq[-1]
            del seq
        U, v, W = U.to(dtype), v.to(dtype), W.to(dtype)
        h = torch.matmul(U, x_t.T) / d ** 0.5          # (s, n, P)
        hs = [h]
        for l in range(L):
            h = h + mult * torch.bmm(W[l], phi(act, h))
            hs.append(h)
        feat = phi(act, h) if readout == "phi" else h
        g = v * dphi(act, h) if readout == "phi" else v.expand(-1, -1, p).clone()
        for l in range(L - 1, -1, -1):
            g = g + mult * dphi(act, hs[l]) * torch.bmm(W[l].transpose(1, 2), g)
        sig.append((h.transpose(1, 2) @ h / n).cpu().numpy())
        out.append((feat.transpose(1, 2) @ feat / n).cpu().numpy())
        grad.append((g * g).mean(dim=1).cpu().numpy())
    return InitSamples(sigma=np.concatenate(sig).astype(np.float64),
                       output=np.concatenate(out).astype(np.float64),
                       grad=np.concatenate(grad).astype(np.float64))
