"""The convergence study of the particle Mean-ODE solver: depth differences at the scheme's
order on shared particles, Monte Carlo spread over independent draws, bad input."""

import numpy as np
import pytest

from infdepth.numerics.hidden_width import hw_data
from infdepth.numerics.mean_ode import MeanODEConfig
from infdepth.numerics.mean_ode_convergence import convergence_check


def test_convergence_check_reports_depth_and_monte_carlo_error():
    X, Y = hw_data()
    cfg = MeanODEConfig(D=5, Ls=4, P=128, K=3, n_seeds=2, eta=0.5)
    rep = convergence_check(cfg, X, Y, n_draws=3, width_factor=4)
    assert rep.f_K.shape == (2, 10, 5)
    assert abs(rep.order - 2.0) < 0.3
    assert np.all(rep.depth_diff_fine < rep.depth_diff)
    np.testing.assert_allclose(rep.depth_error, rep.depth_diff / 0.75)
    assert np.all(rep.mc_spread > 0) and np.all(rep.width_diff > 0)
    assert set(rep.wall_s) == {"Ls", "2Ls", "4Ls", "draw1", "draw2", "wide"}
    df = rep.to_frame()
    assert list(df["seed"]) == [0, 1] and rep.summary()["P"] == 128



def test_convergence_check_needs_two_draws():
    X, Y = hw_data()
    with pytest.raises(ValueError, match="n_draws"):
        convergence_check(MeanODEConfig(D=3, Ls=2, P=8, K=1, n_seeds=2), X, Y, n_draws=1)
