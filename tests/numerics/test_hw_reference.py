"""References of the finite [HW] network (:mod:`infdepth.numerics.hw_reference`, docs/theory.md s6,
s9): the three references against their solvers, the coupled slicing, the errors by hand, the
checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from infdepth.numerics import hw_reference as hr
from infdepth.numerics.hidden_width import HWConfig, hw_data, init_weights, train_hw

torch.set_num_threads(1)


def test_tanh_reference_is_the_mean_ode_solver():
    """The particle Mean-ODE reference: at a tiny size its f_0 is W_out^T W_in x/D exactly (zero
    drift at init: antithetic particles) and the network's error is small."""
    X, Y = hw_data()
    cfg = HWConfig(act="tanh", D=5, L=8, M=8, K=3, eta=0.5, n_seeds=2)
    spec = hr.ReferenceSpec("mean_ode", Ls=4, P=256)
    f_ref, h_ref, w = hr.reference_trajectories(spec, cfg, X, Y)
    assert w is None and f_ref.shape == (2, 4, 10, 5) and h_ref.shape == (2, 4, 10, 5)
    w0 = init_weights(HWConfig(D=5, L=1, M=1, n_seeds=2), 5, 5)
    f0 = torch.einsum("sdo,sdi,ni->sno", w0["W_out"], w0["W_in"], X).numpy() / 5
    np.testing.assert_allclose(f_ref[:, 0], f0, rtol=1e-12, atol=1e-14)
    r, f2, _ = hr.train_against_reference(spec, cfg, X, Y)
    assert np.shares_memory(f2, f_ref)                   # cached: L, M of the network do not enter
    row = hr.errors_to_reference(r, f_ref, h_ref, Y)
    assert np.all(row["out_err"] > 0) and np.all(row["out_err"] < 0.5)
    # (the claims' points reach the same reference: tests/validation/claims/test_hw_common.py)


def test_exact_reference_is_the_linear_moment_system():
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
    X, Y = hw_data()
    cfg = HWConfig(act="linear", D=5, L=4, M=4, K=4, eta=0.2, n_seeds=3)
    f, h, w = hr.reference_trajectories(hr.ReferenceSpec("exact"), cfg, X, Y)
    w0 = init_weights(cfg, 5, 5)
    ref = solve_mean_ode_linear(w0["W_in"], w0["W_out"], X, Y, eta_u=0.2, eta_v=0.2, K=4)
    assert w is None
    np.testing.assert_array_equal(f, ref["f"])
    np.testing.assert_array_equal(h, ref["h_L"])
    f2, _, _ = hr.reference_trajectories(hr.ReferenceSpec("exact"),
                                         dataclasses.replace(cfg, L=16, M=2), X, Y)
    assert f2 is f                                                    # cached across L, M
    f3, _, _ = hr.reference_trajectories(hr.ReferenceSpec("exact"), cfg, X, 2 * Y)
    assert not np.array_equal(f3, f)                                  # data are in the key


def test_coupled_reference_slices_the_finite_network():
    """The depth-L network's block l is the first M units of reference block l L_ref / L; its
    training is train_hw on those initial weights."""
    X, Y = hw_data()
    spec = hr.ReferenceSpec("coupled", L_ref=8, M_ref=6)
    cfg = HWConfig(act="tanh", D=5, L=4, M=3, K=2, eta=0.5, n_seeds=2)
    f_ref, h_ref, w_ref = hr.reference_trajectories(spec, cfg, X, Y)
    big = train_hw(dataclasses.replace(cfg, L=8, M=6), X, Y)
    np.testing.assert_array_equal(f_ref, big.f.numpy())
    np.testing.assert_array_equal(h_ref, big.h_L.numpy())
    sub = hr.slice_coupled(w_ref, 4, 3)
    assert torch.equal(sub["u"][:, 1], w_ref["u"][:, 2, :3])
    assert torch.equal(sub["v"][:, 3], w_ref["v"][:, 6, :3])
    assert torch.equal(sub["W_in"], w_ref["W_in"]) and torch.equal(sub["W_out"], w_ref["W_out"])
    r, _, _ = hr.train_against_reference(spec, cfg, X, Y)
    np.testing.assert_array_equal(r.f.numpy(), train_hw(cfg, X, Y, weights=sub).f.numpy())


def test_coupled_reference_rejects_bad_slicing():
    X, Y = hw_data()
    with pytest.raises(ValueError, match="L_ref"):
        hr.train_against_reference(hr.ReferenceSpec("coupled", L_ref=8, M_ref=2),
                                   HWConfig(act="tanh", D=3, L=3, M=2, K=1, eta=0.5), X, Y)
    w = init_weights(HWConfig(D=3, L=8, M=2), 5, 5)
    with pytest.raises(ValueError, match="M <= M_ref"):
        hr.slice_coupled(w, 4, 3)


def test_bad_references():
    X, Y = hw_data()
    with pytest.raises(ValueError, match="reference kind"):
        hr.reference_trajectories(hr.ReferenceSpec("limit"), HWConfig(D=5, L=2, M=2), X, Y)
    with pytest.raises(ValueError, match="act='linear'"):
        hr.reference_trajectories(hr.ReferenceSpec("exact"), HWConfig(D=5, L=2, M=2), X, Y)


def test_errors_to_reference_by_hand():
    X, Y = hw_data()
    r = train_hw(HWConfig(D=5, L=2, M=2, K=2, n_seeds=2), X, Y)
    f, h = r.f.numpy(), r.h_L.numpy()
    e = hr.errors_to_reference(r, f + 0.5, h - 2.0, Y)
    assert list(e) == ["out_err", "out_err_init", "emb_err", "emb_err_init", "loss_K",
                       "loss_ref_K"]
    np.testing.assert_allclose(e["out_err"], 0.5, rtol=1e-14)
    np.testing.assert_allclose(e["emb_err_init"], 2.0, rtol=1e-14)
    np.testing.assert_allclose(e["loss_K"], r.loss[:, -1].numpy(), rtol=0)
    y = Y.numpy()
    ref_loss = [0.5 * ((f[s, -1] + 0.5 - y) ** 2).sum() / 10 for s in range(2)]
    np.testing.assert_allclose(e["loss_ref_K"], ref_loss, rtol=1e-14)


def _solver_reference(L: int, M: int, P: int):
    """The Mean-ODE reference spec (Ls = 4) of a tiny tanh config, its error estimate, and a
    function giving the solver's final outputs with some fields replaced."""
    from infdepth.numerics.mean_ode import solve_mean_ode
    X, Y = hw_data()
    cfg = HWConfig(act="tanh", D=5, L=L, M=M, K=2, eta=0.5, n_seeds=2)
    spec = hr.ReferenceSpec("mean_ode", Ls=4, P=P)
    m = hr.mean_ode_config(spec, cfg)

    def final(**changes) -> np.ndarray:
        return solve_mean_ode(dataclasses.replace(m, **changes), X, Y).f[:, -1].numpy()

    return cfg, spec, hr.reference_error(spec, cfg, X, Y), final, (X, Y)


def _rms(a: np.ndarray) -> np.ndarray:
    return np.sqrt((a ** 2).reshape(a.shape[0], -1).mean(axis=1))


def test_reference_error_of_the_mean_ode_solver_by_hand():
    """Monte Carlo part: a second particle draw, rms difference / sqrt(2); depth part: the same
    particles at 2 Ls, difference / (1 - 2^-2) (Heun); in quadrature; cached across L, M."""
    cfg, spec, e, final, (X, Y) = _solver_reference(8, 8, 256)
    f0, f1, f2 = final(), final(particle_seed=1), final(Ls=8)
    np.testing.assert_allclose(e["ref_err_mc"], _rms(f0 - f1) / np.sqrt(2), rtol=1e-12)
    np.testing.assert_allclose(e["ref_err_depth"], _rms(f0 - f2) / 0.75, rtol=1e-12)
    np.testing.assert_allclose(e["ref_err"], np.hypot(e["ref_err_mc"], e["ref_err_depth"]),
                               rtol=1e-14)
    assert e["ref_err"].shape == (2,) and np.all(e["ref_err_mc"] > 0)
    assert np.all(e["ref_err_depth"] > 0)
    again = hr.reference_error(spec, dataclasses.replace(cfg, L=2, M=32), X, Y)
    assert again["ref_err"] is e["ref_err"]                           # cached across L, M


def test_reference_error_estimates_the_true_depth_error():
    """Richardson with the scheme's order: at fixed particles the estimated depth error of the
    base solve is the distance to a much finer solve (Ls = 64) within 5%."""
    _, _, e, final, _ = _solver_reference(1, 1, 128)
    np.testing.assert_allclose(e["ref_err_depth"], _rms(final() - final(Ls=64)), rtol=0.05)


def test_reference_error_of_the_exact_and_coupled_references():
    X, Y = hw_data()
    e = hr.reference_error(hr.ReferenceSpec("exact"), HWConfig(act="linear", D=5, L=2, M=2,
                                                                n_seeds=3), X, Y)
    assert all(np.array_equal(v, np.zeros(3)) for v in e.values())
    with pytest.raises(ValueError, match="allowed kinds: exact, mean_ode"):
        hr.reference_error(hr.ReferenceSpec("coupled", L_ref=4, M_ref=4),
                           HWConfig(act="tanh", D=5, L=2, M=2), X, Y)


def test_references_follow_the_networks_convention():
    """Under "authors" every reference uses the network's convention: the exact Mean ODE and the
    solver record the same K steps as the network (W_out of std sqrt(d_out)), and the
    reference's loss after training is (1/(2 N d_out)) sum |f_ref - y|^2 by hand."""
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
    X, Y = hw_data()
    cfg = HWConfig(act="linear", D=5, L=4, M=4, K=4, eta=1.0, n_seeds=3, convention="authors")
    r, f, h = hr.train_against_reference(hr.ReferenceSpec("exact"), cfg, X, Y)
    w0 = init_weights(cfg, 5, 5)
    ref = solve_mean_ode_linear(w0["W_in"], w0["W_out"], X, Y, eta_u=1.0, eta_v=1.0, K=4,
                                convention="authors")
    np.testing.assert_array_equal(f, ref["f"])
    assert f.shape == r.f.shape == (3, 4, 10, 5)
    f0 = torch.einsum("sdo,sdi,ni->sno", w0["W_out"], w0["W_in"], X).numpy() / 5
    np.testing.assert_allclose(f[:, 0], f0, rtol=1e-12, atol=1e-13)   # W_out std sqrt(5) drawn
    e = hr.errors_to_reference(r, f, h, Y, convention="authors")
    y = Y.numpy()
    np.testing.assert_allclose(e["loss_ref_K"],
                               [0.5 * ((f[s, -1] - y) ** 2).sum() / 50 for s in range(3)],
                               rtol=1e-14)
    np.testing.assert_allclose(e["loss_K"], r.loss[:, -1].numpy(), rtol=0)
    assert hr.mean_ode_config(hr.ReferenceSpec("mean_ode"), cfg).convention == "authors"
    with pytest.raises(ValueError, match="record different steps"):
        hr.errors_to_reference(r, np.concatenate([f, f[:, -1:]], 1), h, Y)
