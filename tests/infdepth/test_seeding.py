"""One seeding API for the whole project (infdepth.seeding): seeds, draws, the draw cache."""

import pytest
import torch

from infdepth import device, seeding
from infdepth.numerics.engine.rng import draw_normal, engine_stream
from infdepth.seeding import (clear_draw_cache, draw_cache_info, generator, normal,
                              normal_sequence, record_draws, seed_value)

F64 = torch.float64


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.delenv(seeding.DRAW_CACHE_ENV, raising=False)
    clear_draw_cache()
    yield
    clear_draw_cache()


def test_seed_values_are_unchanged():
    """Regression guard: values of the seed formula as of its introduction."""
    assert seed_value("engine/W/3", 0, 0) == 686764660039757914
    assert seed_value("engine/U", 5, 17) == 226475252428066468
    assert seed_value("a1_init", 0, 3) == 8869627368829475569
    assert seed_value("hw/u", 2, 1) == 3489413904477551591
    assert seed_value("coupling_levels", 123456789, 2 ** 40) == 1342743082279482068
    z = torch.randn(4, generator=generator("a1_init", 0, 3), dtype=F64)
    assert [float(x).hex() for x in z] == ['-0x1.13ab6939d401cp+0', '0x1.4d954b5173b61p-1',
                                           '0x1.281129a9a8db2p-3', '0x1.0031376531ca0p+0']


def test_engine_draws_are_unchanged():
    """The engine's draw of stream "W/3", seeds 0 and 1, std 0.37 (the former draw_normal)."""
    want = ['-0x1.6636dd45aff0cp-1', '-0x1.08de131771352p-2', '-0x1.f055a7536eec1p-3',
            '-0x1.871d53c2148fap-3', '-0x1.a2c94d4e627e3p-3', '0x1.0984e7bb96aafp-3']
    for _ in range(2):  # cold, then from the cache
        z = draw_normal((3,), base_seed=0, seed_indices=(0, 1), stream="W/3", std=0.37,
                        dtype=F64, device=torch.device("cpu"))
        assert [float(x).hex() for x in z.flatten()] == want
    assert engine_stream("W/3") == "engine/W/3"


def test_seeds_separate_streams_bases_and_indices():
    seeds = {seed_value(s, b, i) for s in ("U", "v", "W/0", "W/1") for b in (0, 1)
             for i in range(8)}
    assert len(seeds) == 4 * 2 * 8 and all(0 <= x < 2 ** 63 for x in seeds)


def test_draws_do_not_depend_on_the_seed_batch():
    both = normal("engine/U", 0, (0, 1), (3, 2), cache=False)
    one = normal("engine/U", 0, (1,), (3, 2), cache=False)
    assert torch.equal(both[1], one[0]) and not torch.equal(both[0], both[1])


@pytest.mark.parametrize("std", [1.0, 0.37, 1 / 3, 2.0 ** 0.5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cached_uncached_and_the_former_scaling_agree_bitwise(std, dtype):
    seeds, shape = (0, 4, 2), (5, 7)
    # the former recipe: draw float64 on the CPU, scale in place, cast into the slice
    ref = torch.empty((3, *shape), dtype=dtype)
    for i, s in enumerate(seeds):
        z = torch.randn(shape, generator=generator("x/W", 3, s), dtype=F64)
        if std != 1.0:
            z.mul_(std)
        ref[i].copy_(z)
    uncached = normal("x/W", 3, seeds, shape, std=std, dtype=dtype, cache=False)
    cold = normal("x/W", 3, seeds, shape, std=std, dtype=dtype)
    warm = normal("x/W", 3, seeds, shape, std=std, dtype=dtype)
    out = torch.full((3, *shape), float("nan"), dtype=dtype)
    filled = normal("x/W", 3, seeds, shape, std=std, dtype=dtype, out=out)
    assert filled is out
    for t in (uncached, cold, warm, out):
        assert t.dtype == dtype and torch.equal(t, ref)


def test_cache_is_never_handed_out():
    a = normal("x/W", 0, (0,), (4,))
    a.add_(100.0)
    b = normal("x/W", 0, (0,), (4,))
    assert torch.equal(b, normal("x/W", 0, (0,), (4,), cache=False))


def test_record_draws_counts_generated_keys_only():
    with record_draws() as drawn:
        normal("x/U", 0, (0, 1), (3,), std=0.5)
        normal("x/U", 0, (1, 2), (3,), std=2.0)          # seed 1 from the cache
        normal("x/U", 0, (0,), (4,))                      # another shape: another key
        normal("x/U", 0, (0,), (3,), cache=False)         # generated again
        seq = normal_sequence("x/seq", 1, 5, [(2, 2), (3,)])
        normal_sequence("x/seq", 1, 5, [(2, 2), (3,)])
    assert drawn == {("x/U", 0, 0, (3,)): 2, ("x/U", 0, 1, (3,)): 1, ("x/U", 0, 2, (3,)): 1,
                     ("x/U", 0, 0, (4,)): 1, ("x/seq", 1, 5, ((2, 2), (3,))): 2}
    g = generator("x/seq", 1, 5)
    assert torch.equal(seq[0], torch.randn(2, 2, generator=g, dtype=F64))
    assert torch.equal(seq[1], torch.randn(3, generator=g, dtype=F64))
    buf = torch.zeros(2, 7, dtype=F64)                   # out=: drawn into views, same numbers
    got = normal_sequence("x/seq", 1, 5, [(2, 2), (3,)], out=[buf[0, :4].view(2, 2), buf[1, :3]])
    assert torch.equal(got[0], seq[0]) and torch.equal(buf[1, :3], seq[1])
    with pytest.raises(ValueError, match="out must hold tensors of shapes"):
        normal_sequence("x/seq", 1, 5, [(2, 2), (3,)], out=[buf[0, :4]])


def test_budget_eviction_and_switch_off(monkeypatch):
    one = 16 * 16 * 8                                     # bytes of one (16, 16) draw
    monkeypatch.setenv(seeding.DRAW_CACHE_ENV, str(2.5 * one / 2 ** 20))
    for s in range(3):
        normal("x/W", 0, (s,), (16, 16))
    info = draw_cache_info()
    assert info["entries"] == 2 and info["bytes"] == 2 * one
    with record_draws() as drawn:
        normal("x/W", 0, (2,), (16, 16))                  # most recent: cached
        normal("x/W", 0, (0,), (16, 16))                  # evicted (least recently used)
    assert drawn == {("x/W", 0, 0, (16, 16)): 1}
    normal("x/W", 0, (0,), (64, 64))                      # larger than the budget: not kept
    assert draw_cache_info()["bytes"] <= 2.5 * one
    monkeypatch.setenv(seeding.DRAW_CACHE_ENV, "0")
    clear_draw_cache()
    with record_draws() as drawn:
        a = normal("x/W", 0, (0,), (16, 16))
        b = normal("x/W", 0, (0,), (16, 16))
    assert drawn[("x/W", 0, 0, (16, 16))] == 2 and torch.equal(a, b)
    assert draw_cache_info()["entries"] == 0
    monkeypatch.setenv(seeding.DRAW_CACHE_ENV, "lots")
    with pytest.raises(ValueError, match="INFDEPTH_DRAW_CACHE_MB must be a non-negative"):
        normal("x/W", 0, (0,), (2,))


def test_out_shape_is_checked():
    with pytest.raises(ValueError, match=r"out has shape \(1, 3\), expected \(2, 3\)"):
        normal("x/W", 0, (0, 1), (3,), out=torch.empty(1, 3, dtype=F64))


@pytest.mark.parametrize("cache", [True, False])
def test_draws_on_parallel_threads_equal_the_sequential_draws(cache, monkeypatch):
    """Seeds large enough are drawn on torch's threads (draw_each): the same bits as one
    thread, the same keys generated once each, on a pool of torch's thread count."""
    shape = (128, 160)                       # above PARALLEL_DRAW_NUMEL numbers per seed
    assert 128 * 160 >= seeding.PARALLEL_DRAW_NUMEL
    seeds = tuple(range(7))
    pools = []

    class Pool(device.ThreadPoolExecutor):
        def __init__(self, workers):
            pools.append(workers)
            super().__init__(workers)

    monkeypatch.setattr(device, "ThreadPoolExecutor", Pool)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = normal("engine/W/0", 3, seeds, shape, std=0.5, cache=False)
        assert pools == []
        torch.set_num_threads(3)
        clear_draw_cache()
        with record_draws() as drawn:
            many = normal("engine/W/0", 3, seeds, shape, std=0.5, cache=cache)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, many)
    assert sorted(k[2] for k in drawn) == list(seeds) and set(drawn.values()) == {1}
    assert pools == [3]


def test_small_draws_stay_on_one_thread():
    calls = []
    seeding.draw_each(lambda i: calls.append(i), 5, seeding.PARALLEL_DRAW_NUMEL - 1)
    assert calls == [0, 1, 2, 3, 4]


def test_store_false_reads_the_cache_but_keeps_nothing_new():
    kept = normal("engine/W/1", 0, (0, 1), (4, 4))                       # cached
    assert draw_cache_info()["entries"] == 2
    with record_draws() as drawn:
        again = normal("engine/W/1", 0, (0, 1, 2), (4, 4), store=False)
    assert torch.equal(again[:2], kept) and list(drawn.values()) == [1]    # seed 2 drawn
    assert draw_cache_info()["entries"] == 2                               # and not kept
    assert torch.equal(again[2], normal("engine/W/1", 0, (2,), (4, 4), cache=False)[0])
