"""Model B of docs/theory.md s6 ([HW] 2LP ResNet): hand-written backward vs autograd, purity, input
checks. The linear network vs its exact moment system: test_mean_ode_linear.py; the [HW] claims
on tiny points: tests/validation/claims/test_hw_*.py."""

from __future__ import annotations

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
    sigma' recomputed from p."""
    from dataclasses import replace

    from infdepth.numerics.activations import dphi, phi
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
        assert torch.equal(grads["v"][:, l], c * torch.bmm(phi(act, p).transpose(1, 2), g))
        gp = c * dphi(act, p) * torch.bmm(g, w["v"][:, l].transpose(1, 2))
        assert torch.equal(grads["u"][:, l], torch.bmm(gp.transpose(1, 2), hs[l]) / D)
        g = g + torch.bmm(gp, w["u"][:, l]) / D
    with pytest.raises(ValueError, match="movement_at"):
        train_hw(cfg, X, Y, movement_at=(5,))
