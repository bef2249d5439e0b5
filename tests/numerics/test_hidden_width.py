"""Model B of THEORY.md s6 ([HW] 2LP ResNet): hand-written backward vs autograd, purity, the
linear network vs the exact moment system, claim modules on tiny points, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infdepth.numerics.hidden_width import (HWConfig, forward, gradients, hw_data, init_weights,
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


# -- linear activation: exact moment system (THEORY.md s6) --------------------------------------

def test_moment_update_derivation_symbolic():
    from infdepth.theory.mean_ode_linear import propagator_form, verify_moment_update
    assert verify_moment_update(2, 3)
    assert propagator_form(2)


def _moments(w, M, D):
    import numpy as np
    u, v = w["u"].numpy(), w["v"].numpy()
    mom = lambda a, b: np.einsum("slmd,slme->slde", a, b) / (M * D)  # noqa: E731
    return mom(u, u), mom(v, v), mom(v, u)


def test_linear_network_is_the_discrete_moment_recursion():
    """The finite linear network equals the moment recursion on its own per-block moments
    (exact, any L and M; tolerance 1e-10)."""
    import numpy as np
    from infdepth.numerics.mean_ode_linear import train_moments_discrete
    X, Y = hw_data()
    cfg = HWConfig(D=5, L=6, M=3, K=4, n_seeds=3, act="linear", alpha=1.5, eta_u=0.2, eta_v=0.3)
    r = train_hw(cfg, X, Y)
    P, Q, A = _moments(r.init, cfg.M, cfg.D)
    d = train_moments_discrete(P, Q, A, r.init["W_in"], r.init["W_out"], X, Y, alpha=1.5,
                               eta_u=0.2, eta_v=0.3, K=4)
    assert np.abs(d["f"] - r.f.numpy()).max() < 1e-10
    assert np.abs(d["h_L"] - r.h_L.numpy()).max() < 1e-10


def test_linear_network_converges_to_mean_ode():
    """Stated tolerances (eta = 0.2, K = 5, 6 seeds): the Euler scheme with the limit moments
    (P = Q = I, A = 0) is within 1e-3 of the ODE at L = 256 and its error falls like 1/L; the
    finite network's rms output error falls with L and with M (noise alpha sqrt(D/(LM)))."""
    import numpy as np
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear, train_moments_discrete
    X, Y = hw_data()
    S, K, eta = 6, 5, 0.2
    w = init_weights(HWConfig(D=5, L=1, M=1, n_seeds=S), 5, 5)
    ref = solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, K=K, eta_u=eta, eta_v=eta)
    bias = []
    for L in (64, 256):
        eye = np.broadcast_to(np.eye(5), (S, L, 5, 5))
        d = train_moments_discrete(eye, eye, 0 * eye, w["W_in"], w["W_out"], X, Y, K=K,
                                   eta_u=eta, eta_v=eta)
        bias.append(np.abs(d["f"] - ref["f"]).max())
    assert bias[1] < 1e-3 and 3.0 < bias[0] / bias[1] < 5.0

    def err(L, M):
        r = train_hw(HWConfig(D=5, L=L, M=M, K=K, n_seeds=S, act="linear", eta=eta), X, Y)
        return float(np.sqrt(((r.f.numpy()[:, -1] - ref["f"][:, -1]) ** 2).mean()))
    e0, eL, eM = err(8, 8), err(128, 8), err(8, 128)
    assert eL < 0.5 * e0 and eM < 0.6 * e0


# -- claim modules on tiny points -------------------------------------------------------------

@pytest.mark.parametrize("name, variant", [("hw_rate_lm", "linear/L"), ("hw_rate_lm", "tanh/M"),
                                           ("hw_sqrt_d", "linear/embedding"),
                                           ("hw_lazy", "tanh/movement")])
def test_claim_modules_run_on_tiny_points(name, variant, tmp_path):
    import dataclasses
    import math
    from infdepth.validation.experiments import load
    mod = load(name)
    pts = mod.points(variant, "smoke")[:2]
    small = []
    for p in pts:
        kw = {"n_seeds": 2, "K": 2}
        if name == "hw_rate_lm":
            kw.update(L=min(p.L, 8), M=min(p.M, 8), L_ref=16 if p.L_ref else 0,
                      M_ref=8 if p.M_ref else 0)
        else:
            kw.update(L=4, M=4)
        small.append(dataclasses.replace(p, **kw))
    hash(small[0])
    frames = [mod.compute(p) for p in small]
    assert all(len(f) == 2 for f in frames)
    m = mod.measurement(variant, small, frames)
    assert len(m.sizes) == 2 and all(np.isfinite(s).all() for s in m.samples)
    d = mod.derived(variant)
    assert d.exponent is not None and math.isfinite(d.exponent)
    assert mod.compute(small[0]).equals(frames[0])       # pure
