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


def test_norm_of_mean_counts_form_is_the_gathered_statistic():
    rng = np.random.default_rng(4)
    a = 5.0 + rng.standard_normal((40, 4))                   # mean far from 0: no lost digits
    idx = rng.integers(0, 40, size=(30, 40))
    stat = NormOfMean(ref=(5.0, 5.0, 5.0, 5.0))
    gathered = stat.batch(a[idx])
    counts = np.stack([np.bincount(i, minlength=40) for i in idx]).astype(float)
    np.testing.assert_allclose(stat.counts_form(a)(counts), gathered, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("n", [1, 7, 5000, 80000])
def test_resample_rows_are_the_int64_draws(n):
    """The bootstrap's int32 row indices are the numbers ``rng.integers`` draws as int64 (a
    change of NumPy's bounded-integer stream would change every interval: this would show it)."""
    from infdepth.validation.intervals import resample_rows
    got = resample_rows(np.random.default_rng(3), n, 40)
    want = np.random.default_rng(3).integers(0, n, size=(40, n))
    assert got.dtype == np.int32 and got.shape == (40, n)
    np.testing.assert_array_equal(got, want)


def test_counts_are_the_flat_bincount():
    """One count per resample gives the numbers of one count over the flattened block, also
    written into a larger buffer."""
    from infdepth.validation.intervals import _counts
    idx = np.random.default_rng(5).integers(0, 37, size=(9, 37)).astype(np.int32)
    flat = (np.arange(9)[:, None] * 37 + idx).ravel()
    want = np.bincount(flat, minlength=9 * 37).reshape(9, 37).astype(float)
    np.testing.assert_array_equal(_counts(idx, 37), want)
    buf = np.full((12, 37), np.nan)
    got = _counts(idx, 37, buf)
    assert got.dtype == np.float64 and np.shares_memory(got, buf)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n, n_boot, step", [(7, 13, 3), (50, 64, 64), (1001, 9, 2), (1, 5, 1)])
def test_row_blocks_are_the_drawn_rows(n, n_boot, step):
    """Blocks drawn one after the other are the rows of one call, and leave the generator where
    that call leaves it (also when the draws skipped are not kept)."""
    from infdepth.validation.intervals import (resample_row_blocks, resample_rows,
                                               skip_resample_rows)
    rng = np.random.default_rng(8)
    want = resample_rows(rng, n, n_boot)
    after = rng.integers(0, 2 ** 31, size=3)
    rng = np.random.default_rng(8)
    blocks = list(resample_row_blocks(rng, n, n_boot, step))
    assert [s for s, _ in blocks] == list(range(0, n_boot, step))
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), want)
    np.testing.assert_array_equal(rng.integers(0, 2 ** 31, size=3), after)
    rng = np.random.default_rng(8)
    skip_resample_rows(rng, n, n_boot)
    np.testing.assert_array_equal(rng.integers(0, 2 ** 31, size=3), after)


class _Gathered(NormOfMean):
    """A batch statistic without a counts form (its resamples are gathered)."""

    def counts_form(self, a):
        return None


@pytest.mark.parametrize("block_values", [1 << 22, 150])
@pytest.mark.parametrize("stat", [None, NormOfMean(ref=(1.0, 2.0)), _Gathered(), geometric_mean,
                                  lambda a: float(a.max())])
def test_drawn_statistic_is_the_statistic_of_the_drawn_rows(stat, block_values, monkeypatch):
    from infdepth.validation.intervals import draw_resample_statistic, resample_rows
    monkeypatch.setattr(intervals, "_BLOCK_VALUES", block_values)
    a = np.random.default_rng(3).lognormal(size=(61, 2) if stat is not geometric_mean else 61)
    rng = np.random.default_rng(9)
    want = resample_statistic(stat, a, resample_rows(rng, 61, 70))
    after = rng.integers(0, 1000, size=3)
    rng = np.random.default_rng(9)
    got = draw_resample_statistic(stat, a, rng, 70)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(rng.integers(0, 1000, size=3), after)


@pytest.mark.parametrize("corrected", [True, False])
def test_counts_form_is_the_straightforward_product(corrected):
    """The counts form (rows centred once for every block) gives exactly the numbers of the
    products formed anew for each block of counts."""
    rng = np.random.default_rng(6)
    a = 2.0 + rng.standard_normal((45, 3))
    idx = rng.integers(0, 45, size=(8, 45))
    counts = np.stack([np.bincount(i, minlength=45) for i in idx]).astype(float)
    stat = NormOfMean(ref=(2.0, 1.5, 2.5), weight=(1.0, 2.0, 0.5), scale=0.7,
                      corrected=corrected)
    shift = a.mean(axis=0)
    d = a - shift
    md = counts @ d / 45
    sq = np.sum((stat._cols(3)[1] * (md + shift - stat._cols(3)[0])) ** 2, axis=-1)
    if corrected:
        var = (counts @ (d * d) / 45 - md ** 2) * (45 / 44)
        sq = sq - np.sum(stat._cols(3)[1] ** 2 * var, axis=-1) / 45
    want = stat._finish(sq, 3)
    form = stat.counts_form(a)
    np.testing.assert_array_equal(form(counts[:5]), want[:5])
    np.testing.assert_array_equal(form(counts[5:]), want[5:])
    np.testing.assert_array_equal(stat.counts_form(a)(counts), want)
