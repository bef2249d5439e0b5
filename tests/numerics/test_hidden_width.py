"""Model B of docs/theory.md s6 ([HW] 2LP ResNet): hand-written backward vs autograd, purity, input
checks. The linear network vs its exact moment system: test_mean_ode_linear.py; the [HW] claims
on tiny points: tests/validation/claims/test_hw_*.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from infdepth.numerics.hidden_width import (HWConfig, config_from, forward, gradients, hw_data,
                                            train_hw)

torch.set_num_threads(1)


@pytest.mark.parametrize("act", ["tanh", "linear", "relu", "erf"])
def test_backward_matches_autograd(act):
    X, Y = hw_data()
    cfg = HWConfig(D=5, L=3, M=4, K=3, n_seeds=3, act=act, alpha=1.3, eta=0.5)
    # after two GD steps (u, v no longer at init) and with every group trainable
    cfg_t = HWConfig(**{**cfg.__dict__, "train_w_in": True, "train_w_out": True})
    w = train_hw(cfg_t, X, Y).weights
    wa = {k: t.clone().requires_grad_(True) for k, t in w.items()}
    f, _, _ = forward(wa, X, cfg)
    (0.5 * ((f - Y) ** 2).sum(dim=(1, 2)) / X.shape[0]).sum().backward()
    g, _, _, _ = gradients(w, X, Y, cfg)
    for k in w:
        scale = max(1.0, float(wa[k].grad.abs().max()))
        assert float((g[k] - wa[k].grad).abs().max()) <= 1e-10 * scale, k


def test_seed_purity_and_independence():
    X, Y = hw_data()
    a = train_hw(HWConfig(D=4, L=4, M=3, K=2, n_seeds=3, base_seed=7), X, Y)
    b = train_hw(HWConfig(D=4, L=4, M=3, K=2, n_seeds=1, base_seed=7), X, Y)
    c = train_hw(HWConfig(D=4, L=4, M=3, K=2, n_seeds=3, base_seed=7), X, Y)
    assert torch.equal(a.f, c.f)                       # pure
    assert torch.allclose(a.f[:1], b.f, atol=1e-13)    # seed 0 does not depend on the ensemble
    assert not torch.allclose(a.f[0], a.f[1])          # seeds differ
    assert a.f.shape == (3, 3, 10, 5) and a.h_L.shape == (3, 3, 10, 4)
    assert a.movement["W_in"].abs().max() == 0 and (a.movement["uv"] > 0).all()


@pytest.mark.parametrize("kw, word", [({"D": 0}, "D"), ({"L": -1}, "L"), ({"M": 2.5}, "M"),
                                      ({"alpha": 0.0}, "alpha"), ({"act": "gelu"}, "gelu"),
                                      ({"K": -1}, "K"), ({"eta": -1.0}, "eta"),
                                      ({"dtype": "float16"}, "float16")])
def test_bad_config_raises(kw, word):
    X, Y = hw_data()
    base = dict(D=3, L=2, M=2, K=1)
    with pytest.raises(ValueError, match=word):
        train_hw(HWConfig(**{**base, **kw}), X, Y)


def test_config_from_reads_fields_and_properties():
    class Point:
        D, L, M, K, n_seeds, act, L_ref = 5, 4, 8, 3, 2, "linear", 64

        @property
        def alpha(self):
            return 2.0

    cfg = config_from(Point(), eta=0.25)
    assert cfg == HWConfig(D=5, L=4, M=8, K=3, n_seeds=2, act="linear", alpha=2.0, eta=0.25)
    with pytest.raises(TypeError):
        config_from(Point(), L_ref=3)

    class PhaseLike:                      # eta and alpha as properties of other fields
        D, L, M, n_seeds, act, s = 5, 4, 4, 3, "tanh", -0.5

        @property
        def alpha(self):
            return float(self.L * self.M) ** (self.s + 1)

        @property
        def eta(self):
            return 0.5 * float(self.L * self.M) ** (2 * self.s + 2)

    p = PhaseLike()
    c = config_from(p)
    assert (c.alpha, c.eta, c.L, c.n_seeds, c.act) == (p.alpha, p.eta, 4, 3, "tanh")


@pytest.mark.parametrize("act", ["tanh", "linear", "relu", "erf"])
def test_movement_at_is_the_short_run_and_reused_phi_is_exact(act):
    """The movement recorded after step 1 is bit for bit that of a run with K = 1, and the
    gradients (which reuse the forward pass's sigma(p)) equal the formulas with sigma and
    sigma' recomputed from p, in the module's order of operations (scales on the small side,
    sigma through phi_values)."""
    from dataclasses import replace

    from infdepth.numerics.activations import dphi_given, phi_values
    from infdepth.numerics.hidden_width import init_weights
    X, Y = hw_data(6, 3, 2, 0)
    cfg = HWConfig(D=4, L=3, M=8, K=4, eta=0.7, act=act, n_seeds=3)
    r = train_hw(cfg, X, Y, movement_at=(1, 3))
    for k in (1, 3):
        short = train_hw(replace(cfg, K=k), X, Y)
        for name, t in short.movement.items():
            assert torch.equal(r.movement_at[k][name], t)
    w = init_weights(cfg, 3, 2)
    grads, *_ = gradients(w, X, Y, cfg)
    f, hs, ps = forward(w, X, cfg)
    c, D = cfg.block_scale, cfg.D
    g = torch.bmm((f - Y) / X.shape[0], w["W_out"].transpose(1, 2)) / D
    for l in range(cfg.L - 1, -1, -1):
        p = ps[l]
        gc = g * c
        assert torch.equal(grads["v"][:, l],
                           torch.bmm(phi_values(act, p).transpose(1, 2), gc))
        gp = torch.bmm(gc, w["v"][:, l].transpose(1, 2)) * dphi_given(act, p,
                                                                     phi_values(act, p))
        assert torch.equal(grads["u"][:, l], torch.bmm(gp.transpose(1, 2), hs[l] / D))
        g = g + torch.bmm(gp, w["u"][:, l]) / D
    with pytest.raises(ValueError, match="movement_at"):
        train_hw(cfg, X, Y, movement_at=(5,))


# -- the authors' convention (docs/theory.md s6 "The authors' own setting") ---------------------

def _reference_outputs(w, X, act, alpha, D):
    """The [HW] 2LP forward pass written out here (independent of the module): f (S, N, d_out)."""
    from infdepth.numerics.activations import phi
    L, M = w["u"].shape[1:3]
    h = torch.einsum("sdi,ni->snd", w["W_in"], X)
    for l in range(L):
        p = torch.einsum("snd,smd->snm", h, w["u"][:, l]) / D
        h = h + alpha / (L * M) * torch.einsum("snm,smd->snd", phi(act, p), w["v"][:, l])
    return torch.einsum("snd,sdo->sno", h, w["W_out"]) / D


def _per_output_loss(f, Y):
    """(1/(2 N d_out)) sum_x |f - y|^2 per seed."""
    return 0.5 * ((f - Y) ** 2).sum(dim=(1, 2)) / (Y.shape[0] * Y.shape[1])


def test_authors_w_out_has_std_sqrt_d_out():
    """W_out entries N(0, d_out) (the same draws as the default's, times sqrt(d_out)); W_in, u, v
    as in the default."""
    from infdepth.numerics.hidden_width import init_weights
    cfg = HWConfig(D=400, L=1, M=2, n_seeds=8, convention="authors")
    a, d = init_weights(cfg, 3, 4), init_weights(replace(cfg, convention="default"), 3, 4)
    assert abs(float(a["W_out"].std()) / 2.0 - 1.0) < 0.03          # 12800 draws, sd ~ 0.6%
    assert torch.equal(a["W_out"], 2.0 * d["W_out"])
    assert all(torch.equal(a[k], d[k]) for k in ("W_in", "u", "v"))


@pytest.mark.parametrize("act", ["tanh", "linear"])
def test_authors_backward_matches_autograd_of_the_per_output_loss(act):
    """Under "authors" the hand-written gradients are those of (1/(2 N d_out)) sum |f - y|^2 with
    W_out of std sqrt(d_out) (forward and loss written out here; autograd); d_out = 4 != d_in
    and != N, so a wrong normalizer cannot pass."""
    X, Y = hw_data(6, 3, 4, 0)
    cfg = HWConfig(D=5, L=3, M=4, K=2, n_seeds=3, act=act, alpha=1.3, eta=0.5,
                   convention="authors", train_w_in=True, train_w_out=True)
    w = train_hw(cfg, X, Y).weights                          # after two GD steps
    assert float(w["W_out"].std()) > 1.4                      # the sqrt(d_out) = 2 draws
    wa = {k: t.clone().requires_grad_(True) for k, t in w.items()}
    ref_loss = _per_output_loss(_reference_outputs(wa, X, act, cfg.alpha, cfg.D), Y)
    ref_loss.sum().backward()
    g, loss, _, _ = gradients(w, X, Y, cfg)
    torch.testing.assert_close(loss, ref_loss.detach(), rtol=1e-12, atol=0)
    for k in w:
        scale = max(1.0, float(wa[k].grad.abs().max()))
        assert float((g[k] - wa[k].grad).abs().max()) <= 1e-10 * scale, k
    g_default, *_ = gradients(w, X, Y, replace(cfg, convention="default"))
    assert not torch.allclose(g_default["u"], g["u"])         # the convention matters


def test_authors_records_the_output_before_each_of_the_k_updates():
    """K = 4 steps under "authors" == a GD loop written here (autograd gradients of the
    per-output loss, raw rate eta L M D / alpha^2): f_0..f_3 recorded before the updates (the
    last, f_3, is the output after training), the weights after all four updates."""
    X, Y = hw_data(6, 3, 4, 0)
    cfg = HWConfig(D=5, L=3, M=4, K=4, n_seeds=2, act="tanh", alpha=1.0, eta=1.0,
                   convention="authors")
    r = train_hw(cfg, X, Y)
    rate = cfg.eta * cfg.L * cfg.M * cfg.D / cfg.alpha ** 2
    w = {k: t.clone() for k, t in r.init.items()}
    fs, losses = [], []
    for _ in range(cfg.K):
        wa = {k: t.clone().requires_grad_(k in ("u", "v")) for k, t in w.items()}
        f = _reference_outputs(wa, X, "tanh", cfg.alpha, cfg.D)
        loss = _per_output_loss(f, Y)
        gu, gv = torch.autograd.grad(loss.sum(), (wa["u"], wa["v"]))
        fs.append(f.detach())
        losses.append(loss.detach())
        w["u"], w["v"] = w["u"] - rate * gu, w["v"] - rate * gv
    assert r.f.shape == (2, cfg.K, 6, 4) and r.loss.shape == (2, cfg.K)
    torch.testing.assert_close(r.f, torch.stack(fs, 1), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(r.loss, torch.stack(losses, 1), rtol=1e-10, atol=1e-12)
    for k in ("u", "v"):
        torch.testing.assert_close(r.weights[k], w[k], rtol=1e-10, atol=1e-10)
    # the default records one more output, after the last update
    assert train_hw(replace(cfg, convention="default"), X, Y).f.shape[1] == cfg.K + 1


def test_bad_convention_is_one_line():
    X, Y = hw_data()
    with pytest.raises(ValueError) as e:
        train_hw(HWConfig(D=3, L=2, M=2, K=1, convention="paper"), X, Y)
    assert "\n" not in str(e.value) and "'paper'" in str(e.value)
    assert "allowed: default, authors" in str(e.value)
    with pytest.raises(ValueError, match="K must be a positive integer under convention"):
        train_hw(HWConfig(D=3, L=2, M=2, K=0, convention="authors"), X, Y)
