"""Depth-coupled randomness of the NFD particle solver (docs/theory.md s3, s9): the standard
normals of one particle seed drawn on the finest depth grid, and their coarsening, so every depth
of a sweep sees the same Brownian path."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from infdepth import seeding
from infdepth.validators import positive_int

if TYPE_CHECKING:  # pragma: no cover
    from .nfd_solver import NFDConfig


@dataclass
class NFDNoise:
    """Standard normals of one particle seed on a grid of ``L`` blocks.

    ``u`` (M, d): input-layer row (``h^0_0(x) = u . x / sqrt(d)``); ``v0`` (M,); ``fwd``
    (L, M, (K+1) P): forward increments, column ``k P + x``; ``bwd`` (L, M, K+1): backward.
    """

    u: torch.Tensor
    v0: torch.Tensor
    fwd: torch.Tensor
    bwd: torch.Tensor

    @property
    def L(self) -> int:
        return self.fwd.shape[0]



def draw_noise(cfg: NFDConfig, L: int, d: int, P: int, *, dtype=torch.float64,
               device="cpu") -> NFDNoise:
    """Standard normals for ``cfg``'s particle seed on a grid of ``L`` blocks, ``P`` inputs of
    dimension ``d`` (:func:`infdepth.seeding.normal` on the streams ``nfd/<name>``: drawn in
    float64 on the CPU, then cast and moved)."""
    positive_int("L", L)
    M, K = cfg.n_particles, cfg.K

    def normal(stream, shape):
        return seeding.normal(f"nfd/{stream}", cfg.base_seed, (cfg.seed,), shape, dtype=dtype,
                              device=device)[0]

    return NFDNoise(u=normal("u", (M, d)), v0=normal("v0", (M,)),
                    fwd=normal("fwd", (L, M, (K + 1) * P)), bwd=normal("bwd", (L, M, K + 1)))


def coarsen_noise(noise: NFDNoise, L: int) -> NFDNoise:
    """The normals of grid ``L`` from those of a finer grid ``L_fine`` (``L`` divides it): sums
    of ``r = L_fine / L`` consecutive blocks divided by ``sqrt(r)`` (docs/theory.md s9)."""
    positive_int("L", L)
    Lf = noise.L
    if Lf % L:
        raise ValueError(f"depth L = {L} does not divide the noise grid's L = {Lf}")
    r = Lf // L

    def c(a):
        return a.reshape(L, r, *a.shape[1:]).sum(1) / math.sqrt(r)

    return NFDNoise(u=noise.u, v0=noise.v0, fwd=c(noise.fwd), bwd=c(noise.bwd))
