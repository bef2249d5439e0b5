"""The exact Mean ODE of the linear [HW] network (:mod:`infdepth.numerics.mean_ode_linear`,
docs/theory.md s6): the finite network is the discrete moment recursion on its own moments, the
M = infinity Euler scheme converges to the ODE at order 1, the finite network converges in L and
in M. Known answers: tests/problems.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infdepth.numerics.hidden_width import HWConfig, train_hw
from helpers import linear_mean_ode_reference
from problems import ExactProblem, OrderProblem, params

torch.set_num_threads(1)


@pytest.mark.parametrize("problem", params(ExactProblem, "numerics.mean_ode_linear")
                         + params(OrderProblem, "numerics.mean_ode_linear"))
def test_exact_and_order_problems(problem):
    problem.check()


def test_finite_network_converges_in_L_and_in_M():
    """eta = 0.2, K = 5, 6 seeds: the finite network's rms output error to the exact Mean ODE
    falls with L and with M (noise alpha sqrt(D/(LM)))."""
    S, K, eta = 6, 5, 0.2
    X, Y, _, ref = linear_mean_ode_reference(S, K, eta)

    def err(L, M):
        r = train_hw(HWConfig(D=5, L=L, M=M, K=K, n_seeds=S, act="linear", eta=eta), X, Y)
        return float(np.sqrt(((r.f.numpy()[:, -1] - ref["f"][:, -1]) ** 2).mean()))
    e0, eL, eM = err(8, 8), err(128, 8), err(8, 128)
    assert eL < 0.5 * e0 and eM < 0.6 * e0
