"""Explicit randomness: one ``torch.Generator`` per (stream, base seed, seed index).

A seed's draws depend only on ``(stream, base_seed, index)``, never on how many seeds run
together or how they are chunked, so experiment points are pure functions of their config
(DESIGN.md, numerics rules).
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def seed_value(stream: str, base_seed: int, index: int) -> int:
    """A 63-bit seed mixed from a stream name, a base seed and a seed index."""
    tag = zlib.crc32(stream.encode())
    state = np.random.SeedSequence([tag, int(base_seed), int(index)]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def generator(stream: str, base_seed: int, index: int,
              device: torch.device | str = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed_value(stream, base_seed, index))
    return g
