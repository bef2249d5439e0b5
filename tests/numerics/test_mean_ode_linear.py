"""The exact Mean ODE of the linear [HW] network (:mod:`infdepth.numerics.mean_ode_linear`,
docs/theory.md s6): the finite network is the discrete moment recursion on its own moments, the
M = infinity Euler scheme converges to the ODE at order 1, the finite network converges in L and
in M. Known answers: tests/problems.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infdepth.numerics.hidden_width import HWConfig, hw_data, init_weights, train_hw
from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
from problems import ExactProblem, OrderProblem, params

torch.set_num_threads(1)


@pytest.mark.parametrize("problem", params(ExactProblem, "numerics.mean_ode_linear"))
def test_exact_problems(problem):
    problem.check()


@pytest.mark.parametrize("problem", params(OrderProblem, "numerics.mean_ode_linear"))
def test_order_problems(problem):
    problem.check()


def test_finite_network_converges_in_L_and_in_M():
    """eta = 0.2, K = 5, 6 seeds: the finite network's rms output error to the exact Mean ODE
    falls with L and with M (noise alpha sqrt(D/(LM)))."""
    X, Y = hw_data()
    S, K, eta = 6, 5, 0.2
    w = init_weights(HWConfig(D=5, L=1, M=1, n_seeds=S), 5, 5)
    ref = solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, K=K, eta_u=eta, eta_v=eta)

    def err(L, M):
        r = train_hw(HWConfig(D=5, L=L, M=M, K=K, n_seeds=S, act="linear", eta=eta), X, Y)
        return float(np.sqrt(((r.f.numpy()[:, -1] - ref["f"][:, -1]) ** 2).mean()))
    e0, eL, eM = err(8, 8), err(128, 8), err(8, 128)
    assert eL < 0.5 * e0 and eM < 0.6 * e0
