"""The learning-rate optimum of a loss curve (validation/lr_optimum.py): a parabola in log
loss through the grid minimum, with edge, cliff and all-divergent cases flagged."""

import math

import numpy as np
import pytest

from infdepth.validation.lr_optimum import fit_optimum, mean_curve

GRID = np.arange(-2.0, 4.01, 0.5)


def _curve(x_star, grid=GRID, curv=0.7, base=0.05):
    """exp(parabola) in log2 LR with its minimum at x_star: the fit is exact."""
    return base * np.exp(curv * (grid - x_star) ** 2)


@pytest.mark.parametrize("x_star", [-0.8, 0.0, 0.3, 1.26, 2.9])
def test_optimum_of_exact_parabola(x_star):
    o = fit_optimum(GRID, _curve(x_star))
    assert o.flag == "ok"
    assert o.x == pytest.approx(x_star, abs=1e-10)
    assert o.loss == pytest.approx(0.05, rel=1e-10)


def test_optimum_on_non_uniform_grid():
    g = np.array([-1.0, 0.0, 0.3, 1.5, 2.0])
    o = fit_optimum(g, _curve(0.4, g))
    assert o.flag == "ok" and o.x == pytest.approx(0.4, abs=1e-10)


def test_edges_and_cliff_are_flagged_and_clamped():
    lo = fit_optimum(GRID, _curve(-5.0))
    assert lo.flag == "edge_low" and lo.x == GRID[0]
    hi = fit_optimum(GRID, _curve(9.0))
    assert hi.flag == "edge_high" and hi.x == GRID[-1]
    c = _curve(5.0)
    c[9:] = np.inf  # diverges from log2 eta = 2.5 on: minimum at 2.0, next to the cliff
    cl = fit_optimum(GRID, c)
    assert cl.flag == "cliff" and cl.x == 2.0
    nan = c.copy()
    nan[9:] = np.nan  # NaN counts as divergent too
    assert fit_optimum(GRID, nan).flag == "cliff"
    none = fit_optimum(GRID, np.full(GRID.shape, np.inf))
    assert none.flag == "none" and math.isnan(none.x)


def test_mean_curve_marks_a_learning_rate_where_any_seed_diverged():
    a = np.array([[1.0, 0.5, 0.2], [1.0, 0.4, np.inf]])
    np.testing.assert_allclose(mean_curve(a), [1.0, 0.45, np.inf])


def test_blowup_edge_is_the_first_lr_above_the_optimum_that_stops_helping():
    from infdepth.validation.lr_optimum import blowup_edge
    grid = np.arange(-3.0, 3.01, 1.0)                         # -3 .. 3
    init = np.full(grid.size, 1.0)
    loss = np.array([0.9, 0.5, 0.2, 0.4, 0.8, 1.5, np.inf])   # exceeds 1.0 first at x = 2
    assert blowup_edge(grid, loss, init, above=-1.0) == 2.0
    loss[5] = 0.9                                             # now the divergence at x = 3
    assert blowup_edge(grid, loss, init, above=-1.0) == 3.0
    assert blowup_edge(grid, loss, init, above=3.0) is None   # nothing above the optimum
    loss[-1] = 0.95
    assert blowup_edge(grid, loss, init, above=-1.0) is None  # the edge lies beyond the grid
    assert blowup_edge(grid, np.array([2.0, 0.5, 0.2, 0.4, 0.8, 0.9, 0.9]), init,
                       above=-1.0) is None                    # below the optimum: ignored
