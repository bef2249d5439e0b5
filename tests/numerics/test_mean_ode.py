"""Nonlinear Neural Mean ODE of the [HW] 2LP ResNet (docs/theory.md s6): the particle solver
(numerics/mean_ode.py) on the generated code (derived and checked in
tests/theory/test_mean_ode_2lp.py).

Independent references:

* autograd on the finite network (:mod:`infdepth.numerics.hidden_width`) for the one-unit update;
* ``train_hw`` itself for the Euler scheme given the network's units (exact correspondence);
* the exact moment system ``solve_mean_ode_linear`` for linear sigma (moment-matched particles
  make the particle system equal to it, so only the depth error remains: order 2 for heun;
  tests/problems.py);
* a large finite network for tanh (Monte Carlo, tolerance calibrated below).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from infdepth.numerics.activations import dphi, phi
from infdepth.numerics.hidden_width import HWConfig, hw_data, init_weights, train_hw
from infdepth.numerics.mean_ode import (MeanODEConfig, _Terms, draw_particles, memory_bytes,
                                        solve_mean_ode)
from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
from infdepth.theory.generated import mean_ode_2lp as gen
from problems import OrderProblem, params

torch.set_num_threads(1)

ACTS = ("tanh", "relu", "erf", "linear")


def _rms(t) -> np.ndarray:
    t = torch.as_tensor(t).double()
    return torch.sqrt((t ** 2).flatten(1).mean(1)).numpy()


# -- (a) batched evaluation of the generated code (the derivation itself:
#        tests/theory/test_mean_ode_2lp.py) ----------------------------------------------

def test_batched_evaluation_equals_the_generated_vector_functions():
    """The solver's bmm contractions of the generated coefficients == the mean over particles
    (drifts) or the sum over inputs (updates) of the per-particle vector functions."""
    g = torch.Generator().manual_seed(3)
    S, N, P, D, alpha = 2, 4, 6, 3, 1.4
    cfg = MeanODEConfig(D=D, Ls=2, P=P, alpha=alpha, eta_u=0.3, eta_v=0.8, act="tanh")
    h, b = (torch.randn(S, N, D, generator=g, dtype=torch.float64) for _ in range(2))
    u, v = (torch.randn(S, P, D, generator=g, dtype=torch.float64) * 2 for _ in range(2))
    T = _Terms(cfg, P)
    uT, vT = u.mT.contiguous(), v.mT.contiguous()       # the solver's layout (S, D, P)
    hx, bx, up, vp = h[:, :, None], b[:, :, None], u[:, None], v[:, None]     # (S, N, P, D)
    dsig = lambda x: 1 - torch.tanh(x) ** 2  # noqa: E731
    ref_F = gen.forward_integrand(hx, up, vp, D, alpha, torch.tanh).mean(2)
    torch.testing.assert_close(T.forward(h, uT, vT), ref_F, rtol=1e-13, atol=1e-14)
    p = T.pre(h, uT)
    s_p, ds_p = torch.tanh(p), dsig(p)
    B, vb, field = T.backward(ds_p, b, uT, vT)
    torch.testing.assert_close(B, gen.backward_integrand(hx, bx, up, vp, D, alpha, dsig).mean(2),
                               rtol=1e-13, atol=1e-14)
    for shared in (None, field):        # the u-update's own field, or the backward one's
        du, dv = T.updates(s_p, ds_p, vb, h, b, shared)
        torch.testing.assert_close(du.mT,
                                   gen.u_update(hx, bx, up, vp, D, alpha, 0.3, dsig).sum(1),
                                   rtol=1e-13, atol=1e-14)
        torch.testing.assert_close(dv.mT,
                                   gen.v_update(hx, bx, up, D, alpha, 0.8, torch.tanh).sum(1),
                                   rtol=1e-13, atol=1e-14)


# -- (c) exact correspondence with the finite network ---------------------------------------

@pytest.mark.parametrize("act", ACTS)
def test_particle_update_is_the_finite_networks_unit_update(act):
    """One GD step of train_hw moves unit (j, l) by exactly sum_x [u_update, v_update] at
    (h_{l-1}(x), g_l(x)), with g_l from autograd on the finite network (independent adjoint)."""
    X, Y = hw_data()
    cfg = HWConfig(D=4, L=3, M=5, K=1, n_seeds=2, act=act, alpha=1.3, eta_u=0.4, eta_v=0.7)
    r = train_hw(cfg, X, Y)
    w0 = r.init
    h = torch.einsum("sdi,ni->snd", w0["W_in"], X).requires_grad_(True)
    stream = [h]
    for l in range(cfg.L):
        p = torch.bmm(stream[-1], w0["u"][:, l].transpose(1, 2)) / cfg.D
        stream.append(stream[-1] + cfg.block_scale * torch.bmm(phi(act, p), w0["v"][:, l]))
    fo = torch.bmm(stream[-1], w0["W_out"]) / cfg.D
    loss = (0.5 * ((fo - Y) ** 2).sum(dim=(1, 2)) / X.shape[0]).sum()
    gs = torch.autograd.grad(loss, stream)                   # g_l = dloss/dh_l, l = 0..L
    sig, dsig = (lambda x: phi(act, x)), (lambda x: dphi(act, x))
    for l in range(cfg.L):
        hx, gx = stream[l].detach()[:, :, None], gs[l + 1][:, :, None]           # (S, N, 1, D)
        u, v = w0["u"][:, l][:, None], w0["v"][:, l][:, None]                      # (S, 1, M, D)
        du = gen.u_update(hx, gx, u, v, cfg.D, cfg.alpha, 0.4, dsig).sum(1)
        dv = gen.v_update(hx, gx, u, cfg.D, cfg.alpha, 0.7, sig).sum(1)
        torch.testing.assert_close(r.weights["u"][:, l] - w0["u"][:, l], du, rtol=1e-9,
                                   atol=1e-12)
        torch.testing.assert_close(r.weights["v"][:, l] - w0["v"][:, l], dv, rtol=1e-9,
                                   atol=1e-12)


@pytest.mark.parametrize("act", ACTS)
def test_euler_scheme_given_the_networks_units_is_train_hw(act):
    """scheme='euler', Ls = L, P = M, units = the network's (S, L, M, D): train_hw exactly."""
    X, Y = hw_data()
    hc = HWConfig(D=5, L=6, M=7, K=4, n_seeds=3, act=act, alpha=1.3, eta=0.5, eta_v=0.3)
    r = train_hw(hc, X, Y)
    mc = MeanODEConfig(D=5, Ls=6, P=7, K=4, n_seeds=3, act=act, alpha=1.3, eta=0.5, eta_v=0.3,
                       scheme="euler", antithetic=False)
    m = solve_mean_ode(mc, X, Y, units=(r.init["u"], r.init["v"]))
    for a, b in ((m.f, r.f), (m.h_L, r.h_L), (m.loss, r.loss), (m.u, r.weights["u"]),
                 (m.v, r.weights["v"])):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) <= 1e-12 * max(1.0, float(b.abs().max()))


def test_shared_particles_euler_is_a_network_with_repeated_units():
    """Default Euler mode (particles shared across depth) == train_hw on the network whose
    every block holds the same P units; W_in, W_out as init_weights draws them per seed."""
    X, Y = hw_data()
    mc = MeanODEConfig(D=4, Ls=5, P=6, K=3, n_seeds=2, eta=0.5, scheme="euler", sampler="mc")
    u, v = draw_particles(mc)
    m = solve_mean_ode(mc, X, Y)
    hc = HWConfig(D=4, L=5, M=6, K=3, n_seeds=2, eta=0.5)
    w = init_weights(hc, 5, 5)
    w["u"], w["v"] = (t.expand(2, 5, 6, 4).clone() for t in (u, v))
    r = train_hw(hc, X, Y, weights=w)
    assert float((m.f - r.f).abs().max()) <= 1e-12


# -- properties of the particles ----------------------------------------------------------------

@pytest.mark.parametrize("sampler", ["mc", "sobol"])
def test_antithetic_particles_have_zero_drift_at_init(sampler):
    X, Y = hw_data()
    mc = MeanODEConfig(D=5, Ls=4, P=64, K=0, n_seeds=2, sampler=sampler)
    m = solve_mean_ode(mc, X, Y)
    w = init_weights(HWConfig(D=5, L=1, M=1, n_seeds=2), 5, 5)
    h0 = torch.einsum("sdi,ni->snd", w["W_in"], X)
    assert float((m.h_L[:, 0] - h0).abs().max()) <= 1e-14
    u, v = draw_particles(replace(mc, moment_match=True))
    assert torch.allclose(u.T @ u / 64, 5 * torch.eye(5, dtype=u.dtype), atol=1e-12)
    assert torch.allclose(v.T @ v / 64, 5 * torch.eye(5, dtype=u.dtype), atol=1e-12)
    assert float((v.T @ u).abs().max()) <= 1e-11
    # the draw is a pure function of the particle seed; another seed differs
    assert torch.equal(draw_particles(mc)[0], draw_particles(mc)[0])
    assert not torch.equal(draw_particles(mc)[0], draw_particles(replace(mc, particle_seed=1))[0])


# -- (b) linear activation: the exact moment system ---------------------------------------------

@pytest.mark.parametrize("problem", params(OrderProblem, "numerics.mean_ode"))
def test_depth_error_decays_at_the_schemes_order(problem):
    """Linear sigma with moment-matched particles vs the exact moment system (heun: O(Ls^-2),
    finest error < 1e-4); tanh Cauchy differences at fixed particles (euler 1, heun 2)."""
    problem.check()


def test_linear_initial_embedding_is_exact():
    """sigma = id, moment-matched particles: h_L at step 0 equals the exact moment system's."""
    X, Y = hw_data()
    w = init_weights(HWConfig(D=5, L=1, M=1, n_seeds=2), 5, 5)
    ref = solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, eta_u=0.2, eta_v=0.2, K=6)
    for Ls in (4, 8):
        m = solve_mean_ode(MeanODEConfig(D=5, Ls=Ls, P=20, K=6, n_seeds=2, act="linear",
                                         eta=0.2, moment_match=True), X, Y)
        np.testing.assert_allclose(m.h_L.numpy()[:, 0], ref["h_L"][:, 0], atol=1e-12)


def test_linear_without_moment_matching_is_within_monte_carlo_error():
    X, Y = hw_data()
    w = init_weights(HWConfig(D=5, L=1, M=1, n_seeds=4), 5, 5)
    ref = solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, eta_u=0.2, eta_v=0.2, K=6)
    m = solve_mean_ode(MeanODEConfig(D=5, Ls=8, P=4096, K=6, n_seeds=4, act="linear",
                                     eta=0.2), X, Y)
    err = _rms(m.f[:, -1] - torch.as_tensor(ref["f"][:, -1]))
    # calibrated: per-seed rms error 1.6e-4..7e-4 over particle seeds 0..5 (Sobol, P = 4096)
    assert np.median(err) < 2e-3, err


# -- tanh against a large finite network (Monte Carlo) -----------------------------------------

def test_tanh_solver_agrees_with_a_large_network():
    """Solver (Ls = 8, P = 4096; depth + MC error about 1.5e-3) vs train_hw with L M = 16384
    units (noise about 0.5/sqrt(LM) = 4e-3): calibrated median (over seeds 0..3) rms difference
    3.8e-3..5.1e-3 over particle seeds 0..5 at eta = 0.5, K = 15; a network with 64 units misses
    by 0.043."""
    X, Y = hw_data()
    m = solve_mean_ode(MeanODEConfig(D=5, Ls=8, P=4096, K=15, n_seeds=4, eta=0.5), X, Y)
    big = train_hw(HWConfig(D=5, L=256, M=64, K=15, n_seeds=4, eta=0.5), X, Y)
    small = train_hw(HWConfig(D=5, L=8, M=8, K=15, n_seeds=4, eta=0.5), X, Y)
    e_big = np.median(_rms(m.f[:, -1] - big.f[:, -1]))
    e_small = np.median(_rms(m.f[:, -1] - small.f[:, -1]))
    assert e_big < 8e-3 and e_small > 3 * e_big, (e_big, e_small)


# -- the authors' convention (docs/theory.md s6 "The authors' own setting") --------------------

@pytest.mark.parametrize("act", ["tanh", "linear"])
def test_euler_scheme_is_train_hw_under_the_authors_convention(act):
    """Under "authors" too (adjoint W_out (f - y)/(N d_out D), W_out std sqrt(d_out), K records
    before the updates): the Euler scheme given the network's units is train_hw; d_out = 4."""
    X, Y = hw_data(6, 3, 4, 0)
    hc = HWConfig(D=5, L=6, M=7, K=4, n_seeds=3, act=act, eta=1.0, convention="authors")
    r = train_hw(hc, X, Y)
    mc = MeanODEConfig(D=5, Ls=6, P=7, K=4, n_seeds=3, act=act, eta=1.0, scheme="euler",
                       antithetic=False, convention="authors")
    m = solve_mean_ode(mc, X, Y, units=(r.init["u"], r.init["v"]))
    assert m.f.shape == (3, 4, 6, 4)                         # f_0 .. f_{K-1}
    for a, b in ((m.f, r.f), (m.h_L, r.h_L), (m.loss, r.loss), (m.u, r.weights["u"]),
                 (m.v, r.weights["v"])):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) <= 1e-12 * max(1.0, float(b.abs().max()))


def test_tanh_solver_agrees_with_a_large_network_under_the_authors_convention():
    """The authors' setting (eta = 1, K = 15): solver (Ls = 8, P = 4096) vs train_hw with
    L M = 16384 units; calibrated median (over seeds 0..3) rms difference of the outputs after
    training (f_14) 3.8e-3..5.7e-3 over particle seeds 0..5, 0.051 for a network with 64 units;
    a solver of the default convention misses the authors' network by O(1)."""
    X, Y = hw_data()
    kw = dict(D=5, K=15, n_seeds=4, eta=1.0, convention="authors")
    m = solve_mean_ode(MeanODEConfig(Ls=8, P=4096, **kw), X, Y)
    big = train_hw(HWConfig(L=256, M=64, **kw), X, Y)
    small = train_hw(HWConfig(L=8, M=8, **kw), X, Y)
    assert m.f.shape[1] == big.f.shape[1] == 15
    e_big = np.median(_rms(m.f[:, -1] - big.f[:, -1]))
    e_small = np.median(_rms(m.f[:, -1] - small.f[:, -1]))
    assert e_big < 8e-3 and e_small > 3 * e_big, (e_big, e_small)
    other = solve_mean_ode(MeanODEConfig(Ls=8, P=4096, **{**kw, "convention": "default"}), X, Y)
    assert np.median(_rms(other.f[:, -1] - big.f[:, -1])) > 0.1


# -- (e) bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, word", [
    ({"D": 0}, "D"), ({"Ls": 0}, "Ls"), ({"Ls": 2.5}, "Ls"), ({"P": 7}, "P"), ({"P": -2}, "P"),
    ({"K": -1}, "K"), ({"alpha": 0.0}, "alpha"), ({"alpha": float("inf")}, "alpha"),
    ({"eta": -1.0}, "eta"), ({"eta_v": float("nan")}, "eta_v"), ({"act": "gelu"}, "gelu"),
    ({"scheme": "rk4"}, "rk4"), ({"sampler": "halton"}, "halton"),
    ({"dtype": "float16"}, "float16"), ({"device": "tpu"}, "tpu"),
    ({"n_seeds": 0}, "n_seeds"), ({"moment_match": True, "P": 4}, "P"),
    ({"P": 2 ** 40}, "P <= about"), ({"max_memory_gb": 0.0}, "max_memory_gb")])
def test_bad_config_raises(kw, word):
    X, Y = hw_data()
    cfg = MeanODEConfig(**{**dict(D=3, Ls=2, P=8, K=1), **kw})
    with pytest.raises(ValueError, match=word):
        solve_mean_ode(cfg, X, Y)


def test_bad_arrays_raise():
    X, Y = hw_data()
    cfg = MeanODEConfig(D=3, Ls=2, P=8, K=1, n_seeds=2)
    with pytest.raises(ValueError, match="X, Y"):
        solve_mean_ode(cfg, X[:5], Y)
    with pytest.raises(ValueError, match="units u"):
        solve_mean_ode(cfg, X, Y, units=(torch.zeros(8, 4), torch.zeros(8, 3)))
    with pytest.raises(ValueError, match="units v"):
        solve_mean_ode(cfg, X, Y, units=(torch.zeros(2, 3, 8, 3), torch.zeros(2, 2, 8, 3)))
    with pytest.raises(ValueError, match="W_in"):
        solve_mean_ode(cfg, X, Y, weights={"W_in": torch.zeros(1, 3, 5),
                                           "W_out": torch.zeros(2, 3, 5)})
    with pytest.raises(ValueError, match="cfg must be a MeanODEConfig"):
        solve_mean_ode(HWConfig(D=3, L=2, M=2), X, Y)


def test_memory_estimate_grows_with_particles_and_depth():
    a = memory_bytes(MeanODEConfig(D=5, Ls=16, P=1024, n_seeds=8), 10, 5)
    assert memory_bytes(MeanODEConfig(D=5, Ls=16, P=2048, n_seeds=8), 10, 5) > 1.9 * a
    assert memory_bytes(MeanODEConfig(D=5, Ls=32, P=1024, n_seeds=8), 10, 5) > 1.5 * a
    # u and v alone: 2 S nodes P D float64 numbers
    assert a > 2 * 8 * 17 * 1024 * 5 * 8


# -- (f) CUDA -------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("scheme", ["euler", "heun"])
def test_cuda_matches_cpu(scheme):
    X, Y = hw_data()
    cfg = MeanODEConfig(D=5, Ls=8, P=512, K=5, n_seeds=3, eta=0.5, scheme=scheme)
    a = solve_mean_ode(cfg, X, Y)
    b = solve_mean_ode(replace(cfg, device="cuda"), X, Y)
    assert b.f.device.type == "cuda"
    torch.testing.assert_close(b.f.cpu(), a.f, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(b.h_L.cpu(), a.h_L, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scheme, act", [("heun", "tanh"), ("euler", "relu"), ("heun", "linear")])
def test_seed_chunks_do_not_change_the_numbers(monkeypatch, scheme, act):
    """A seed's trajectory and parameter map are bit for bit the same whether it is solved
    alone, two at a time or with every seed at once (the chunks of the CPU solver)."""
    import infdepth.numerics.mean_ode as mo
    X, Y = hw_data(6, 5, 5, 0)
    cfg = MeanODEConfig(D=5, Ls=4, P=64, K=3, eta=0.5, act=act, scheme=scheme, n_seeds=5)
    runs = []
    for elements in (1, 2 * 6 * 64, 1 << 30):
        monkeypatch.setattr(mo, "CHUNK_ELEMENTS", elements)
        runs.append(solve_mean_ode(cfg, X, Y))
    for r in runs[1:]:
        for name in ("f", "h_L", "loss", "u", "v"):
            assert torch.equal(getattr(r, name), getattr(runs[0], name))
