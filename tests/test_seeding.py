"""One seeding formula for the whole project (infdepth.seeding); the engine's streams use it."""

import torch

from infdepth.numerics.engine.rng import draw_normal, stream_generator, stream_seed
from infdepth.seeding import generator, seed_value


def test_engine_streams_use_the_project_formula():
    assert stream_seed(3, 7, "W/2") == seed_value("engine/W/2", 3, 7)
    a = torch.randn(4, generator=stream_generator(3, 7, "W/2"), dtype=torch.float64)
    b = torch.randn(4, generator=generator("engine/W/2", 3, 7), dtype=torch.float64)
    assert torch.equal(a, b)


def test_seeds_separate_streams_bases_and_indices():
    seeds = {seed_value(s, b, i) for s in ("U", "v", "W/0", "W/1") for b in (0, 1)
             for i in range(8)}
    assert len(seeds) == 4 * 2 * 8 and all(0 <= x < 2 ** 63 for x in seeds)


def test_draws_do_not_depend_on_the_seed_batch():
    kw = dict(base_seed=0, stream="U", std=1.0, dtype=torch.float64, device=torch.device("cpu"))
    both = draw_normal((3, 2), seed_indices=(0, 1), **kw)
    one = draw_normal((3, 2), seed_indices=(1,), **kw)
    assert torch.equal(both[1], one[0]) and not torch.equal(both[0], both[1])
