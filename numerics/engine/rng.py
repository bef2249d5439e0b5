"""Seeding scheme of the training engine (DESIGN.md, numerics rules: explicit randomness).

Every random tensor of one seed is drawn from its own ``torch.Generator``, seeded from the
tuple ``(base_seed, seed_index, stream)`` where ``stream`` names the tensor, e.g. ``"U"``,
``"v"``, ``"W/3"`` (initial W_3), ``"Wt/3"`` (independent backward matrix of block 3),
``"W1/3"``, ``"W2/3"``. Consequences:

* a run is a pure function of its config (same config -> same numbers);
* a seed's draws do not depend on how many seeds run together, nor on their order;
* block l's initial matrix does not depend on the depth L (block 3 of an L=4 and of an L=64
  network are the same matrix), nor on the mode (``Wt`` streams are only drawn when needed).

Draws are made by default on the CPU in float64 and then cast and moved to the run's
dtype/device, so float32 runs see the float32 rounding of the float64 weights and CPU and CUDA
runs start from the same weights. ``rng_device="native"`` draws on the run's device instead
(faster on CUDA, but different numbers from the CPU stream).

The Python loop over (seed, tensor) only runs at initialization and issues one ``randn`` of a
whole matrix per iteration, so its overhead is negligible next to the random-number generation.
"""

from __future__ import annotations

import torch

from infdepth.seeding import seed_value

RNG_DEVICES: tuple[str, ...] = ("cpu", "native")


def stream_seed(base_seed: int, seed_index: int, stream: str) -> int:
    """A 63-bit generator seed for (base_seed, seed_index, stream): the project's one seeding
    formula, :func:`infdepth.seeding.seed_value`, on the stream ``"engine/" + stream``."""
    return seed_value("engine/" + stream, base_seed, seed_index)


def stream_generator(base_seed: int, seed_index: int, stream: str,
                     device: torch.device | str = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(stream_seed(base_seed, seed_index, stream))
    return g


def draw_normal(shape: tuple[int, ...], *, base_seed: int, seed_indices: tuple[int, ...],
                stream: str, std: float, dtype: torch.dtype, device: torch.device,
                rng_device: str = "cpu", out: torch.Tensor | None = None) -> torch.Tensor:
    """Stack over seeds of ``std * N(0, 1)`` tensors of ``shape``: result ``(S, *shape)``.

    Seed ``seed_indices[i]`` fills slice ``i`` from its own generator (see module docstring).
    If ``out`` is given (shape ``(S, *shape)``) it is filled in place and returned.
    """
    if rng_device not in RNG_DEVICES:
        raise ValueError(f"unknown rng_device {rng_device!r}; allowed: {', '.join(RNG_DEVICES)}")
    S = len(seed_indices)
    if out is None:
        out = torch.empty((S, *shape), dtype=dtype, device=device)
    gen_device = torch.device("cpu") if rng_device == "cpu" else torch.device(device)
    for i, s in enumerate(seed_indices):
        g = stream_generator(base_seed, s, stream, gen_device)
        z = torch.randn(shape, generator=g, dtype=torch.float64, device=gen_device)
        if std != 1.0:
            z.mul_(std)
        out[i].copy_(z)
    return out
