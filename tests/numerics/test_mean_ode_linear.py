"""The exact Mean ODE of the linear [HW] network (:mod:`infdepth.numerics.mean_ode_linear`,
docs/theory.md s6): the finite network is the discrete moment recursion on its own moments, the
M = infinity Euler scheme converges to the ODE at order 1, the finite network converges in L and
in M. Known answers: tests/problems.py."""

from __future__ import annotations

from dataclasses import replace

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


def test_authors_convention_limit_and_network():
    """Under "authors" (eta = 1, K = 15, their setting): the discrete moment recursion on the
    network's own moments reproduces the finite network (K records, f_0..f_14), and the network
    approaches the exact Mean ODE in L and in M (calibrated rms errors of f_14 over 6 seeds:
    0.117 at L = M = 8, 0.043 at L = 128, 0.051 at M = 128)."""
    from infdepth.numerics.hidden_width import hw_data, init_weights
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear, train_moments_discrete
    from problems import _moments
    S, K, eta = 6, 15, 1.0
    X, Y = hw_data()
    cfg = HWConfig(D=5, L=4, M=6, K=K, n_seeds=S, act="linear", eta=eta, convention="authors")
    r = train_hw(cfg, X, Y)
    P, Q, A = _moments(r.init, cfg.M, cfg.D)
    d = train_moments_discrete(P, Q, A, r.init["W_in"], r.init["W_out"], X, Y, eta_u=eta,
                               eta_v=eta, K=K, convention="authors")
    assert d["f"].shape == r.f.shape == (S, K, 10, 5)
    np.testing.assert_allclose(d["f"], r.f.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(d["loss"], r.loss.numpy(), rtol=1e-9, atol=1e-12)

    w = init_weights(replace(cfg, L=1, M=1), 5, 5)
    ref = solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, K=K, eta_u=eta, eta_v=eta,
                                convention="authors")
    assert ref["f"].shape == (S, K, 10, 5)

    def err(L, M):
        f = train_hw(replace(cfg, L=L, M=M), X, Y).f.numpy()
        return float(np.sqrt(((f[:, -1] - ref["f"][:, -1]) ** 2).mean()))
    e0, eL, eM = err(8, 8), err(128, 8), err(8, 128)
    assert eL < 0.5 * e0 and eM < 0.6 * e0, (e0, eL, eM)
