"""Resampled statistics gathered in blocks give the numbers of the unblocked computation."""

from __future__ import annotations

import numpy as np
import pytest

from infdepth.validation import intervals
from infdepth.validation.intervals import geometric_mean, resample_statistic
from infdepth.validation.noise_budget import NormOfMean


@pytest.mark.parametrize("stat", [None, NormOfMean(), geometric_mean, lambda a: float(a.max())])
def test_blocks_do_not_change_the_resampled_statistic(stat, monkeypatch):
    rng = np.random.default_rng(3)
    a = rng.lognormal(size=(50, 3)) if stat is not geometric_mean else rng.lognormal(size=50)
    idx = rng.integers(0, 50, size=(64, 50))
    whole = resample_statistic(stat, a, idx)
    monkeypatch.setattr(intervals, "_BLOCK_VALUES", 7)       # one resample per block
    blocked = resample_statistic(stat, a, idx)
    assert blocked.shape == (64,)
    np.testing.assert_allclose(blocked, whole, rtol=1e-12, atol=1e-15)
    # and each entry is the statistic of its own resample
    one = stat if stat is not None else np.mean
    ref = NormOfMean()(a[idx[5]]) if isinstance(stat, NormOfMean) else float(one(a[idx[5]]))
    assert blocked[5] == pytest.approx(ref, rel=1e-12)


def test_norm_of_mean_from_counts_is_the_gathered_statistic():
    rng = np.random.default_rng(4)
    a = 5.0 + rng.standard_normal((40, 4))                   # mean far from 0: no lost digits
    idx = rng.integers(0, 40, size=(30, 40))
    stat = NormOfMean(ref=(5.0, 5.0, 5.0, 5.0))
    gathered = stat.batch(a[idx])
    counts = np.stack([np.bincount(i, minlength=40) for i in idx]).astype(float)
    np.testing.assert_allclose(stat.from_counts(a, counts), gathered, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("n", [1, 7, 5000, 80000])
def test_resample_rows_are_the_int64_draws(n):
    """The bootstrap's int32 row indices are the numbers ``rng.integers`` draws as int64 (a
    change of NumPy's bounded-integer stream would change every interval: this would show it)."""
    from infdepth.validation.intervals import resample_rows
    got = resample_rows(np.random.default_rng(3), n, 40)
    want = np.random.default_rng(3).integers(0, n, size=(40, n))
    assert got.dtype == np.int32 and got.shape == (40, n)
    np.testing.assert_array_equal(got, want)
