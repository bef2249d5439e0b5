"""The engine's injection point (weights=) and hooks (perturb=, differentiable=), and the draw
cache seen from the engine (a sweep draws each initial matrix once)."""

from __future__ import annotations

import pytest
import torch

from infdepth.numerics.activations import dphi, phi
from infdepth.numerics.engine import A1Config, A1Model, train_a1
from infdepth.seeding import record_draws

F64 = torch.float64


def data(N=4, E=2, d=3, seed=7):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(N, d, generator=g, dtype=F64), torch.randn(N, generator=g, dtype=F64),
            torch.randn(E, d, generator=g, dtype=F64))


def test_injected_weights_are_used_as_given():
    cfg = A1Config(n=6, L=3, K=2, act="tanh", n_seeds=2, base_seed=4)
    X, _, _ = data()
    drawn = A1Model(cfg, 3, F64, "cpu")
    w = {"U": drawn.U, "v": drawn.v, "W": drawn.blocks.stacks["W"].W0}
    same = A1Model(cfg, 3, F64, "cpu", weights=w)
    Xs = X.expand(2, *X.shape)
    assert torch.equal(same.forward(Xs)[0], drawn.forward(Xs)[0])
    g = torch.Generator().manual_seed(0)
    other = {"U": torch.randn(2, 6, 3, generator=g, dtype=F64),
             "W": torch.randn(3, 2, 6, 6, generator=g, dtype=F64)}
    m = A1Model(cfg, 3, F64, "cpu", weights=other)       # v still drawn from its stream
    assert torch.equal(m.v, drawn.v) and torch.equal(m.U, other["U"])
    h = m.mU * Xs @ other["U"].mT
    for l in range(3):
        h = h + m.blocks.mult["W"] * torch.tanh(h) @ other["W"][l].mT
    ref = m.mv * (torch.tanh(h) @ m.v[:, :, None]).squeeze(-1)
    torch.testing.assert_close(m.forward(Xs)[0], ref, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match=r"unused weights \['W1'\]; allowed: U, v, W"):
        A1Model(cfg, 3, F64, "cpu", weights={"W1": other["W"]})
    with pytest.raises(ValueError, match=r"weights\['U'\] has shape \(2, 6, 4\)"):
        A1Model(cfg, 3, F64, "cpu", weights={"U": torch.zeros(2, 6, 4, dtype=F64)})


def test_perturb_adds_to_the_raw_products():
    cfg = A1Config(n=5, L=3, K=1, act="erf", n_seeds=2)
    X, _, _ = data()
    Xs = X.expand(2, *X.shape)
    m = A1Model(cfg, 3, F64, "cpu")
    W0, mW = m.blocks.stacks["W"].W0, m.blocks.mult["W"]
    g = torch.Generator().manual_seed(1)
    tf = [torch.randn(2, 4, 5, generator=g, dtype=F64) for _ in range(3)]
    tb = [torch.randn(2, 4, 5, generator=g, dtype=F64) for _ in range(3)]
    f, tr = m.forward(Xs, keep=True, perturb=[{"W": t} for t in tf])
    gs, _, _ = m.backward_signal(tr, perturb=[{"W": t} for t in tb])
    h = m.mU * Xs @ m.U.mT
    hs = [h]
    for l in range(3):
        h = h + mW * (phi("erf", h) @ W0[l].mT + tf[l])
        hs.append(h)
    torch.testing.assert_close(tr.hs[-1], h, rtol=1e-13, atol=1e-14)
    gr = (m.n * m.mv) * m.v[:, None, :] * dphi("erf", h)
    for l in reversed(range(3)):
        gr = gr + mW * dphi("erf", hs[l]) * (gr @ W0[l] + tb[l])
    torch.testing.assert_close(gs[0], gr, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kw", [dict(act="tanh"), dict(act="relu", record_coupling=True),
                                dict(act="tanh", mode="coupling_removed"),
                                dict(act="erf", block="two_layer", record_coupling=True),
                                dict(act="tanh", mode="independent", batching="full")])
def test_differentiable_updates_train_like_the_buffers(kw):
    cfg = A1Config(n=8, L=3, K=4, eta=0.4, n_seeds=2, **kw)
    X, y, Xe = data()
    ref = train_a1(cfg, X, y, Xe)
    model = A1Model(cfg, 3, F64, "cpu", differentiable=True)
    res = train_a1(cfg, X, y, Xe, model=model)
    assert torch.equal(res.f_eval, ref.f_eval) and torch.equal(res.loss, ref.loss)
    for k, v in ref.block_stats.items():
        torch.testing.assert_close(res.block_stats[k], v, rtol=0, atol=0, equal_nan=True)


def test_differentiable_updates_carry_the_total_derivative():
    """d f(after two steps) / d(forward perturbation of step 0): autograd through the kept
    updates equals a central finite difference; the buffers cannot be differentiated."""
    cfg = A1Config(n=6, L=2, K=3, eta=0.5, act="tanh", n_seeds=1)
    X, y, _ = data()

    def final_output(leaf, differentiable):
        m = A1Model(cfg, 3, F64, "cpu", differentiable=differentiable)
        for k in range(2):
            perturb = [{"W": leaf}, None] if k == 0 else None
            f, tr = m.forward(X[None, k:k + 1], keep=True, perturb=perturb)
            m.apply(m.backward(tr, f - y[None, k:k + 1]))
        return m.forward(X[None, 2:3])[0].sum()

    leaf = torch.zeros(1, 1, 6, dtype=F64, requires_grad=True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(final_output(leaf, True), leaf)
        with pytest.raises(RuntimeError, match="inplace"):
            torch.autograd.grad(final_output(leaf, False), leaf)
    u = torch.randn(1, 1, 6, generator=torch.Generator().manual_seed(3), dtype=F64)
    eps = 1e-6
    with torch.no_grad():
        fd = (final_output(eps * u, True) - final_output(-eps * u, True)) / (2 * eps)
    assert grad.abs().max() > 0
    torch.testing.assert_close((grad * u).sum(), fd, rtol=1e-6, atol=1e-9)


def test_a_sweep_draws_each_initial_matrix_once(monkeypatch):
    """Points that share seeds and sizes (other learning rate, activation, mode) reuse the
    cached draws: every (stream, base seed, seed, shape) is generated once."""
    from infdepth.seeding import DRAW_CACHE_ENV, clear_draw_cache
    monkeypatch.delenv(DRAW_CACHE_ENV, raising=False)
    clear_draw_cache()
    with record_draws() as drawn:
        for eta in (0.1, 0.5):
            for act in ("tanh", "relu"):
                A1Model(A1Config(n=8, L=3, K=1, eta=eta, act=act, n_seeds=2), 3, F64, "cpu")
        A1Model(A1Config(n=8, L=4, K=1, mode="independent", n_seeds=2), 3, F64, "cpu")
    assert set(drawn.values()) == {1}
    # U, v and W/1..W/4 per seed, and W~bwd/1..W~bwd/4 of the independent run
    assert len(drawn) == 2 * (2 + 4 + 4)
    clear_draw_cache()
