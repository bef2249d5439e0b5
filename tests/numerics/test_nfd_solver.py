"""NFD particle solver (numerics/nfd_solver.py); its SymPy terms: tests/theory/test_nfd.py.

docs/theory.md s3 (the NFD limit), s9 (coupled randomness). References:

* init (K = 0): the kernel ODE and gradient-moment ODE (``numerics/kernel_ode``) and the exact
  depth-L Euler recursion (``numerics/kernel_recursion``), linear activation ``e^{beta^2 t}``;
* training (K >= 1), linear activation: the exact, particle-free reference
  ``problems.nfd_linear_reference`` (the M -> infinity limit of the depth-L particle scheme,
  computed without particles; tests/problems.py);
* slow: the finite-width engine ``train_a1`` at n = 2048 (``mode="independent"`` vs gia,
  ``mode="reused"`` vs covariance).

Monte Carlo tolerances are stated per test in units of ``M^(-1/2)`` (M particles), calibrated on
seeds 0..5 (largest observed deviation about 2/3 of the tolerance).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infdepth.numerics.kernel_ode import kernel_ode
from infdepth.numerics.kernel_recursion import depth_recursion
from infdepth.numerics.nfd_solver import (VARIANTS, NFDConfig, coarsen_noise, draw_noise,
                                          solve_nfd, solve_nfd_depth, solve_nfd_seeds)
from problems import OrderProblem, SeedMeanProblem, nfd_linear_reference, params

pytestmark = pytest.mark.usefixtures("one_thread")   # small per-block tensors


def _data(N=3, E=2, d=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, d, dtype=torch.float64, generator=g)
    Xe = torch.randn(E, d, dtype=torch.float64, generator=g)
    y = torch.tensor([0.5, -0.3, 0.8, 0.1][:N], dtype=torch.float64)
    return X, y, Xe


# -------------------------------------------------------------------------------------------
# Validation
# -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, word", [
    (dict(variant="gla"), "variant"), (dict(act="gelu"), "act"), (dict(K=-1), "K"),
    (dict(n_particles=0), "n_particles"), (dict(eta=float("nan")), "eta"),
    (dict(beta=0.0), "beta"), (dict(seed=-2), "seed"),
])
def test_bad_config_raises(kw, word):
    args = dict(K=1)
    args.update(kw)
    with pytest.raises(ValueError, match=word) as info:
        NFDConfig(**args)
    msg = str(info.value)
    assert "\n" not in msg and repr(list(kw.values())[0]) in msg
    if word == "variant":
        assert all(v in msg for v in VARIANTS)


def test_variants_and_bad_inputs():
    assert VARIANTS == ("gia", "covariance") and NFDConfig(K=1).variant == "covariance"
    X, y, Xe = _data()
    cfg = NFDConfig(K=1, n_particles=64)
    with pytest.raises(ValueError, match="depths"):
        solve_nfd(cfg, X, y, depths=(4, 6))
    with pytest.raises(ValueError, match="y_train"):
        solve_nfd_depth(cfg, X, y[:2], L=2)
    with pytest.raises(ValueError, match="X_eval"):
        solve_nfd_depth(cfg, X, y, Xe[:, :2], L=2)
    with pytest.raises(ValueError, match="noise"):
        solve_nfd_depth(cfg, X, y, L=2, noise=draw_noise(cfg, 4, 4, 3))
    with pytest.raises(ValueError, match="L"):
        solve_nfd_depth(cfg, X, y, L=0)


# -------------------------------------------------------------------------------------------
# Init: kernel ODE, gradient moment, linear law
# -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", ["linear", "tanh", "relu", "erf"])
def test_init_matches_kernel_ode(act):
    """K = 0, M = 20000, L = 64. Tolerance: kernel 5 M^-1/2 relative to max|Sigma|, gradient
    moment G_0 10 M^-1/2 relative (heavy-tailed g^2), each plus the depth-L Euler bias
    |recursion - ODE| (exact, from kernel_recursion)."""
    X, y, _ = _data()
    S0 = (X @ X.T / X.shape[1]).numpy()
    M, L = 20000, 64
    ode, rec = kernel_ode(act, S0), depth_recursion(act, S0, L)
    r = solve_nfd_depth(NFDConfig(K=0, act=act, n_particles=M), X, y, L=L)
    sig = r.kernel[0, -1].numpy()
    bias_k = np.abs(rec.sigma - ode.sigma).max()
    assert np.abs(sig - ode.sigma).max() <= 5 / math.sqrt(M) * ode.sigma.max() + bias_k
    G0 = r.g_moment[0, 0].item()
    bias_g = abs(rec.grad[0] - ode.grad[0])
    assert abs(G0 - ode.grad[0]) <= 10 / math.sqrt(M) * ode.grad[0] + bias_g
    assert r.f_train.shape == (1, 3) and r.chi.shape == (0,)


def test_init_linear_exponential_law():
    """phi linear: E[h_l h_l'] = Sigma_0 (1 + beta^2/L)^l, -> Sigma_0 e^{beta^2 t}, at every l."""
    X, y, _ = _data()
    beta, L, M = 0.8, 32, 20000
    S0 = (X @ X.T / X.shape[1]).numpy()
    r = solve_nfd_depth(NFDConfig(K=0, act="linear", beta=beta, n_particles=M), X, y, L=L)
    for l in range(0, L + 1, 8):
        euler = S0 * (1 + beta ** 2 / L) ** l
        exact = S0 * math.exp(beta ** 2 * l / L)
        got = r.kernel[0, l].numpy()
        assert np.abs(got - euler).max() <= 5 / math.sqrt(M) * exact.max()
        assert np.abs(got - exact).max() <= 5 / math.sqrt(M) * exact.max() + np.abs(
            euler - exact).max()
    # G_l = (1 + beta^2/L)^(L-l) for the linear readout on phi = identity
    G = r.g_moment[0].numpy()
    for l in (0, L // 2):
        assert G[l] == pytest.approx((1 + beta ** 2 / L) ** (L - l), rel=10 / math.sqrt(M))


# -------------------------------------------------------------------------------------------
# Coupled noise (docs/theory.md s9)
# -------------------------------------------------------------------------------------------

def test_coupled_noise_is_exactly_the_coarsened_draw():
    X, y, Xe = _data()
    cfg = NFDConfig(K=2, eta=0.5, act="tanh", n_particles=256, variant="gia")
    sweep = solve_nfd(cfg, X, y, Xe, depths=(2, 4, 8))
    fine = draw_noise(cfg, 8, X.shape[1], 5)
    for L in (2, 4, 8):
        direct = solve_nfd_depth(cfg, X, y, Xe, L=L, noise=coarsen_noise(fine, L))
        assert torch.equal(direct.f_eval, sweep[L].f_eval)
        assert torch.equal(direct.kernel, sweep[L].kernel)
    c = coarsen_noise(fine, 2)
    assert torch.allclose(c.fwd[0], fine.fwd[:4].sum(0) / 2)
    assert torch.equal(c.u, fine.u) and torch.equal(c.v0, fine.v0)
    with pytest.raises(ValueError, match="divide"):
        coarsen_noise(fine, 3)


@pytest.mark.parametrize("problem", params(OrderProblem, "numerics.nfd_solver"))
def test_depth_error_slope_on_one_brownian_path(problem):
    """Linear activation at init: with one Brownian path, |Sigma_1(L) - Sigma_1(L_max)| is the
    Euler error Sigma_0 |(1 + beta^2/L)^L - (1 + beta^2/L_max)^L_max| up to Monte Carlo
    (tolerance 20%), so the log-log slope in L is -1 (within 0.1)."""
    problem.check()


# -------------------------------------------------------------------------------------------
# Training: linear activation vs the exact reference
# -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("problem", params(SeedMeanProblem, "numerics.nfd_solver"))
def test_training_linear_matches_exact_reference(problem):
    """K = 3, L = 8, eta = 0.4, phi linear; 4 particle seeds of M = 20000 against the exact
    particle-free reference (tests/problems.py). Tolerance on the seed mean of every f^k(x): 5
    standard errors (seed spread / 2), at least 5 * 0.004."""
    problem.check()


def test_linear_reference_variants_differ_after_one_step():
    """The Gamma terms matter: after one step the forward twin Gammat^{10} = E[d h^1 / d b^0]
    is non-zero (h^1_0 carries g^0_0, which carries the backward increments), so f^1 differs
    between the variants; at K = 0 they coincide. The particle solver agrees (K = 0 exactly)."""
    X, y, Xe = _data()
    g0 = nfd_linear_reference(X, y, Xe, 8, 0, 0.4, variant="gia")[1]
    c0 = nfd_linear_reference(X, y, Xe, 8, 0, 0.4, variant="covariance")[1]
    assert np.array_equal(g0, c0)
    g1 = nfd_linear_reference(X, y, Xe, 8, 1, 0.4, variant="gia")[1]
    c1 = nfd_linear_reference(X, y, Xe, 8, 1, 0.4, variant="covariance")[1]
    assert np.abs(g1 - c1).max() > 1e-2
    cfg = NFDConfig(K=0, act="tanh", n_particles=512)
    a = solve_nfd_depth(cfg.replace(variant="gia"), X, y, Xe, L=4)
    b = solve_nfd_depth(cfg, X, y, Xe, L=4)
    assert torch.equal(a.f_eval, b.f_eval)


def test_seeds_independent_and_reproducible():
    X, y, Xe = _data()
    cfg = NFDConfig(K=1, eta=0.5, act="tanh", n_particles=512)
    a = solve_nfd_depth(cfg, X, y, Xe, L=4)
    b = solve_nfd_depth(cfg, X, y, Xe, L=4)
    c = solve_nfd_depth(cfg.replace(seed=1), X, y, Xe, L=4)
    assert torch.equal(a.f_eval, b.f_eval) and not torch.equal(a.f_eval, c.f_eval)
    assert a.gamma is not None and a.gamma.shape == (2, 4, 2)
    assert torch.all(a.gamma[0, :, 1] == 0)


def test_float32_runs():
    X, y, Xe = _data()
    r = solve_nfd_depth(NFDConfig(K=1, n_particles=256), X.float(), y.float(), Xe.float(), L=2)
    assert r.f_eval.dtype == torch.float32 and torch.isfinite(r.f_eval).all()


# -------------------------------------------------------------------------------------------
# Slow: finite network at large width
# -------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode, variant", [("independent", "gia"), ("reused", "covariance")])
def test_engine_large_width_matches_nfd(mode, variant):
    """tanh, L = 4, K = 3, eta = 0.5: engine at n = 2048 (16 seeds) vs the depth-4 particle
    scheme (4 seeds of M = 50000). Difference of means within 4 combined standard errors plus
    an O(1/n) allowance 1/n."""
    from infdepth.numerics.engine import A1Config, train_a1

    X, y, Xe = _data(d=5)
    L, K, eta, n = 4, 3, 0.5, 2048
    eng = train_a1(A1Config(n=n, L=L, K=K, eta=eta, act="tanh", mode=mode, n_seeds=16),
                   X, y, Xe).f_eval[:, -1].numpy()
    runs = solve_nfd_seeds(NFDConfig(K=K, eta=eta, act="tanh", n_particles=50000,
                                     variant=variant), X, y, Xe, depths=(L,), seeds=range(4))[L]
    nfd = np.stack([r.f_eval[-1].numpy() for r in runs])
    se = np.sqrt(eng.var(0, ddof=1) / 16 + nfd.var(0, ddof=1) / 4)
    assert np.all(np.abs(eng.mean(0) - nfd.mean(0)) <= 4 * se + 1 / n)


def test_seeds_solved_side_by_side_equal_the_sequential_solves():
    """solve_nfd_seeds(lanes=2): the same results, bit for bit, in the same seed order."""
    X = torch.tensor([[1.0, 0.5], [-0.3, 0.8], [0.2, -1.0]], dtype=torch.float64)
    y = torch.tensor([0.5, -0.2, 0.1], dtype=torch.float64)
    cfg = NFDConfig(K=2, eta=0.5, act="tanh", n_particles=512)
    one = solve_nfd_seeds(cfg, X, y, X, depths=(2, 4), seeds=range(3))
    two = solve_nfd_seeds(cfg, X, y, X, depths=(2, 4), seeds=range(3), lanes=2)
    assert one.keys() == two.keys()
    for L in one:
        assert all(torch.equal(a.f_eval, b.f_eval) for a, b in zip(one[L], two[L]))
    assert not torch.equal(one[4][0].f_eval, one[4][1].f_eval)
