"""Explicit randomness: one ``torch.Generator`` per (stream, base seed, seed index).

A seed's draws depend only on ``(stream, base_seed, index)``, never on how many seeds run
together or how they are chunked, so experiment points are pure functions of their config
(docs/design.md, numerics rules). This module is the project's one seeding API:

* :func:`seed_value` / :func:`generator` -- the seed formula and a seeded generator;
* :func:`normal` -- a stack over seeds of ``std * N(0, 1)`` tensors of one shape, each seed's
  slice from its own generator, drawn in float64 on the CPU and then cast/moved (float32 and
  CUDA runs see the same weights as float64 CPU runs);
* :func:`normal_sequence` -- several tensors drawn one after the other from ONE generator;
* a process-wide **draw cache**: :func:`normal` draws the unit normals of a key
  ``(stream, base_seed, index, shape)`` once and keeps them (float64, CPU, never handed out:
  callers get copies or scaled results), LRU under a byte budget (default 4 GiB; the
  environment variable ``INFDEPTH_DRAW_CACHE_MB`` overrides it, ``0`` disables the cache;
  :func:`clear_draw_cache` empties it). So a sweep that builds the same initial matrix for
  several points (another activation, learning rate, backward mode, ...) generates it once;
* :func:`record_draws` -- counts the keys actually generated inside a ``with`` block (cache
  misses of :func:`normal`, every :func:`normal_sequence`), to check that a sweep never draws
  the same tensor twice.

    from infdepth.seeding import normal, record_draws
    with record_draws() as drawn:
        W = normal("engine/W/3", base_seed=0, seeds=range(8), shape=(64, 64), std=1.0)
    assert max(drawn.values()) == 1
"""

from __future__ import annotations

import contextlib
import math
import threading
import zlib
from collections import Counter, OrderedDict
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from infdepth.device import thread_map
from infdepth.draw_budget import (DEFAULT_DRAW_CACHE_BYTES, DRAW_CACHE_ENV,
                                  draw_cache_budget)

_CPU = torch.device("cpu")


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


# -------------------------------------------------------------------------------------------
# Draw cache and draw log
# -------------------------------------------------------------------------------------------

_lock = threading.RLock()
_cache: OrderedDict[tuple, torch.Tensor | tuple[torch.Tensor, ...]] = OrderedDict()
_cache_bytes = 0
_recorders: list[Counter] = []


def clear_draw_cache() -> None:
    """Forget every cached draw."""
    global _cache_bytes
    with _lock:
        _cache.clear()
        _cache_bytes = 0


def draw_cache_info() -> dict:
    """``{"entries", "bytes", "budget"}`` of the draw cache (diagnostics, tests)."""
    with _lock:
        return {"entries": len(_cache), "bytes": _cache_bytes, "budget": draw_cache_budget()}


def _nbytes(value) -> int:
    ts = value if isinstance(value, tuple) else (value,)
    return sum(t.numel() * t.element_size() for t in ts)


def _cache_get(key):
    with _lock:
        value = _cache.get(key)
        if value is not None:
            _cache.move_to_end(key)
        return value


def _cache_put(key, value) -> None:
    global _cache_bytes
    budget = draw_cache_budget()
    size = _nbytes(value)
    if size > budget:
        return
    with _lock:
        if key in _cache:
            return
        while _cache and _cache_bytes + size > budget:
            _, old = _cache.popitem(last=False)
            _cache_bytes -= _nbytes(old)
        _cache[key] = value
        _cache_bytes += size


def _log(key) -> None:
    with _lock:
        for c in _recorders:
            c[key] += 1


@contextlib.contextmanager
def record_draws() -> Iterator[Counter]:
    """Within the block, count every key actually generated: ``(stream, base_seed, index,
    shape)`` of each cache miss of :func:`normal` (or every call when the cache is off) and
    ``(stream, base_seed, index, shapes)`` of each :func:`normal_sequence`. Yields the
    ``collections.Counter``; blocks may nest."""
    counter: Counter = Counter()
    with _lock:
        _recorders.append(counter)
    try:
        yield counter
    finally:
        with _lock:
            _recorders.remove(counter)


# -------------------------------------------------------------------------------------------
# Draws
# -------------------------------------------------------------------------------------------

def _shape(shape: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(s) for s in shape)


def _unit_normal(stream: str, base_seed: int, index: int, shape: tuple[int, ...],
                 cache: bool, store: bool = True) -> torch.Tensor:
    """float64 CPU ``N(0, 1)`` of ``shape`` for one key; the cached tensor itself on a hit
    (callers must not mutate it); a miss is kept in the cache only when ``store``."""
    key = (stream, int(base_seed), int(index), shape)
    use_cache = cache and draw_cache_budget() > 0
    if use_cache:
        z = _cache_get(key)
        if z is not None:
            return z
    z = torch.randn(shape, generator=generator(stream, base_seed, index), dtype=torch.float64)
    _log(key)
    if use_cache and store:
        _cache_put(key, z)
    return z


def normal(stream: str, base_seed: int, seeds: Iterable[int], shape: Iterable[int], *,
           std: float = 1.0, dtype: torch.dtype = torch.float64,
           device: torch.device | str = "cpu", out: torch.Tensor | None = None,
           cache: bool = True, store: bool = True,
           draw_device: torch.device | str = "cpu") -> torch.Tensor:
    """Stack over seeds of ``std * N(0, 1)`` tensors of ``shape``: result ``(S, *shape)``.

    Slice ``i`` holds the draw of :func:`generator` ``(stream, base_seed, seeds[i])``, made in
    float64 on the CPU, multiplied by ``std`` (in float64; ``std == 1`` skips the product) and
    then cast to ``dtype`` and moved to ``device``. ``out`` (shape ``(S, *shape)``): filled in
    place and returned. ``cache``: use the process-wide draw cache (module docstring);
    ``store=False`` reads it but keeps no new draw (for draws that would not fit: they would
    only push out the cache's other draws and one another, at the cost of a copy each).
    ``draw_device``: the generator's device; anything but the CPU draws there, in float64,
    without the cache (different numbers from the CPU stream; faster on CUDA).
    """
    seeds = tuple(int(s) for s in seeds)
    shape = _shape(shape)
    S = len(seeds)
    if out is None:
        out = torch.empty((S, *shape), dtype=dtype, device=device)
    elif tuple(out.shape) != (S, *shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {(S, *shape)}")
    gen_device = torch.device(draw_device)

    def fill(i: int) -> None:
        s = seeds[i]
        if gen_device.type == "cpu":
            z = _unit_normal(stream, base_seed, s, shape, cache, store)
            if std != 1.0:
                z = z * std
        else:
            z = torch.randn(shape, generator=generator(stream, base_seed, s, gen_device),
                            dtype=torch.float64, device=gen_device)
            _log((stream, int(base_seed), s, shape))
            if std != 1.0:
                z.mul_(std)
        out[i].copy_(z)

    draw_each(fill, S, math.prod(shape), gen_device)
    return out


#: numbers per seed from which :func:`draw_each` draws seeds on parallel threads
PARALLEL_DRAW_NUMEL = 1 << 14


def draw_each(fill: Callable[[int], None], count: int, numel: int,
              device: torch.device | str = "cpu") -> None:
    """Call ``fill(i)`` for ``i = 0..count-1``, each drawing one seed's ``numel`` numbers from
    that seed's own generator: on torch's intra-op thread count (one on a one-threaded cluster
    worker) when the draws are on the CPU and each is at least :data:`PARALLEL_DRAW_NUMEL`
    numbers, else in order. A CPU draw is one sequential pass of its generator, so one seed
    cannot use more than one core; seeds have their own generators (and ``torch.randn``
    releases the GIL), so drawing them side by side changes no number. ``fill`` must write
    only its own seed's slices."""
    parallel = torch.device(device).type == "cpu" and numel >= PARALLEL_DRAW_NUMEL
    thread_map(fill, range(count), torch.get_num_threads() if parallel else 1)


def normal_sequence(stream: str, base_seed: int, index: int, shapes: Sequence[Iterable[int]], *,
                    device: torch.device | str = "cpu", cache: bool = False,
                    out: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """``N(0, 1)`` float64 tensors of the given ``shapes``, drawn one after the other from ONE
    generator ``(stream, base_seed, index)`` (on ``device``; the CPU by default). Every call is
    logged by :func:`record_draws` under ``(stream, base_seed, index, shapes)``. ``cache``
    (CPU only; off by default, sequences are large): keep the draws in the draw cache. ``out``:
    float64 tensors on ``device`` (e.g. views into a preallocated batch), one per shape, filled
    in place and returned (same numbers, no copy). The returned tensors are the caller's own."""
    shapes = tuple(_shape(s) for s in shapes)
    key = (stream, int(base_seed), int(index), shapes)
    dev = torch.device(device)
    if out is not None:
        out = list(out)
        if len(out) != len(shapes) or any(tuple(o.shape) != s for o, s in zip(out, shapes)):
            raise ValueError(f"out must hold tensors of shapes {list(shapes)}, got "
                             f"{[tuple(o.shape) for o in out]}")
    use_cache = cache and dev.type == "cpu" and draw_cache_budget() > 0
    if use_cache:
        hit = _cache_get(key)
        if hit is not None:
            if out is None:
                return [t.clone() for t in hit]
            for o, t in zip(out, hit):
                o.copy_(t)
            return out
    g = generator(stream, base_seed, index, dev)
    if out is None:
        out = [torch.randn(s, generator=g, dtype=torch.float64, device=dev) for s in shapes]
    else:
        for o, s in zip(out, shapes):
            torch.randn(s, generator=g, dtype=torch.float64, device=dev, out=o)
    _log(key)
    if use_cache:
        _cache_put(key, tuple(t.clone() for t in out))
    return out


__all__ = ["seed_value", "generator", "normal", "normal_sequence", "draw_each", "record_draws",
           "clear_draw_cache", "draw_cache_budget", "draw_cache_info",
           "DEFAULT_DRAW_CACHE_BYTES", "DRAW_CACHE_ENV"]
