"""The one uniform-grid helper (infdepth.grids) of the learning-rate and exponent grids."""

import pytest

from infdepth.grids import uniform_grid


def test_dyadic_grids_are_the_plain_sums():
    for lo, hi, step in [(-1.5, -0.5, 0.25), (-8.0, 4.0, 0.5), (-25.5, 4.0, 0.5), (0, 2, 1)]:
        n = int(round((hi - lo) / step))
        assert uniform_grid(lo, hi, step) == tuple(float(lo + i * step) for i in range(n + 1))


def test_decimal_steps_do_not_accumulate_error():
    g = uniform_grid(0.0, 1.0, 0.1)
    assert len(g) == 11 and g[3] == 0.3 and g[-1] == 1.0
    assert uniform_grid(1.0, 1.0, 0.5) == (1.0,)


@pytest.mark.parametrize("lo,hi,step", [(1.0, 0.0, 0.5), (0.0, 1.0, 0.0), (0.0, 1.0, -0.5)])
def test_bad_grids_name_their_values(lo, hi, step):
    with pytest.raises(ValueError, match=f"lo={lo}, hi={hi}, step={step}"):
        uniform_grid(lo, hi, step)
