"""Seeding scheme of the training engine (docs/design.md, numerics rules: explicit randomness).

Every random tensor of one seed is drawn through :func:`infdepth.seeding.normal` on the stream
``"engine/" + name`` (:func:`engine_stream`), where ``name`` names the tensor, e.g. ``"U"``, ``"v"``,
``"W/3"`` (initial W_3), ``"W~bwd/3"`` (independent backward matrix of block 3), ``"W1/3"``,
``"W2/3"``. Consequences:

* a run is a pure function of its config (same config -> same numbers);
* a seed's draws do not depend on how many seeds run together, nor on their order;
* block l's initial matrix does not depend on the depth L (block 3 of an L=4 and of an L=64
  network are the same matrix), nor on the mode (``~bwd`` streams are only drawn when needed);
* the draw cache of :mod:`infdepth.seeding` generates each such matrix once per process, however
  many runs (learning rates, modes, activations, ...) start from it.

Draws are made by default on the CPU in float64 and then cast and moved to the run's
dtype/device, so float32 runs see the float32 rounding of the float64 weights and CPU and CUDA
runs start from the same weights. ``rng_device="native"`` draws on the run's device instead
(faster on CUDA, but different numbers from the CPU stream; never cached).
"""

from __future__ import annotations

import torch

from infdepth.seeding import normal
from infdepth.validators import choice

RNG_DEVICES: tuple[str, ...] = ("cpu", "native")
#: Prefix of the engine's streams in :mod:`infdepth.seeding`.
STREAM_PREFIX = "engine/"


def engine_stream(name: str) -> str:
    """The :mod:`infdepth.seeding` stream of the engine tensor ``name`` (``"engine/" + name``)."""
    return STREAM_PREFIX + name


def draw_normal(shape: tuple[int, ...], *, base_seed: int, seed_indices: tuple[int, ...],
                stream: str, std: float, dtype: torch.dtype, device: torch.device,
                rng_device: str = "cpu", out: torch.Tensor | None = None,
                store: bool = True) -> torch.Tensor:
    """Stack over seeds of ``std * N(0, 1)`` tensors of ``shape`` for the engine tensor
    ``stream`` (a name such as ``"W/3"``): :func:`infdepth.seeding.normal` on
    ``"engine/" + stream``, drawn on the CPU (``rng_device="cpu"``) or on ``device``
    (``"native"``). Result ``(S, *shape)``; ``out`` is filled in place if given; ``store``:
    keep new draws in the draw cache."""
    choice("rng_device", rng_device, RNG_DEVICES)
    draw_device = "cpu" if rng_device == "cpu" else device
    return normal(STREAM_PREFIX + stream, base_seed, seed_indices, shape, std=std, dtype=dtype,
                  device=device, out=out, draw_device=draw_device, store=store)
