"""validation.claims.engine_common: seed chunks of a point too large for one engine run."""

import pytest

from infdepth.validation.claims.engine_common import RUN_BYTES, seed_chunks


def covers(chunks, n):
    return [s for a, k in chunks for s in range(a, a + k)] == list(range(n))


@pytest.mark.parametrize("n, per_seed, fixed, budget, size", [
    (400, 10, 0, 4000, 400),        # fits: one run
    (400, 10, 0, 3999, 399),        # one seed over: two chunks
    (400, 10, 100, 1000, 90),       # fixed part counted
    (7, 10, 0, 25, 2),
    (5, 10, 0, 1, 1),               # nothing fits: one seed a chunk
])
def test_largest_chunk_within_budget(n, per_seed, fixed, budget, size):
    chunks = seed_chunks(n, lambda s: fixed + per_seed * s, budget)
    assert chunks[0] == (0, size) and covers(chunks, n)
    assert all(k == size for _, k in chunks[:-1]) and 1 <= chunks[-1][1] <= size


def test_default_budget_and_bad_count():
    assert seed_chunks(3, lambda s: RUN_BYTES * s // 2) == [(0, 2), (2, 1)]
    with pytest.raises(ValueError, match="n_seeds must be at least 1, got 0"):
        seed_chunks(0, lambda s: s)
