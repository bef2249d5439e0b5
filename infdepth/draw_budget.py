"""The byte budget of the draw cache of :mod:`infdepth.seeding`, without torch: the seeding
module and the memory estimates (:mod:`infdepth.validation.memory_estimate`) read it here."""

from __future__ import annotations

import os

__all__ = ["DEFAULT_DRAW_CACHE_BYTES", "DRAW_CACHE_ENV", "draw_cache_budget"]

#: Default byte budget of the draw cache.
DEFAULT_DRAW_CACHE_BYTES = 4 * 2 ** 30
#: Environment variable overriding the budget, in MiB (0 disables the cache).
DRAW_CACHE_ENV = "INFDEPTH_DRAW_CACHE_MB"


def draw_cache_budget() -> int:
    """The cache's byte budget now: ``INFDEPTH_DRAW_CACHE_MB`` MiB if set, else 4 GiB."""
    env = os.environ.get(DRAW_CACHE_ENV)
    if env is None or env.strip() == "":
        return DEFAULT_DRAW_CACHE_BYTES
    try:
        mb = float(env)
    except ValueError:
        raise ValueError(f"{DRAW_CACHE_ENV} must be a non-negative number of MiB, "
                         f"got {env!r}") from None
    if not mb >= 0:
        raise ValueError(f"{DRAW_CACHE_ENV} must be a non-negative number of MiB, got {env!r}")
    return int(mb * 2 ** 20)
