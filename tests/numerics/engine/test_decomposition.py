"""Unit tests of the engine's low-rank matrices and reused-weight coupling (docs/theory.md s4)."""

from __future__ import annotations

import pytest
import torch

from infdepth.numerics.engine.decomposition import (backward_coupling, forward_coupling,
                                                    project)
from infdepth.numerics.engine.lowrank import LowRankStack

F64 = torch.float64


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def dense_proj(A):
    """(S, r, m) rows -> (S, m, m) projection on their span."""
    return A.mT @ torch.linalg.pinv(A @ A.mT) @ A


def setup(S=2, n_out=12, n_in=10, r_phi=3, r_g=4, B=2, seed=0):
    g = _g(seed)
    W = torch.randn(S, n_out, n_in, generator=g, dtype=F64)
    Phi = torch.randn(S, r_phi, n_in, generator=g, dtype=F64)
    G = torch.randn(S, r_g, n_out, generator=g, dtype=F64)
    x = torch.randn(S, B, n_in, generator=g, dtype=F64)
    gv = torch.randn(S, B, n_out, generator=g, dtype=F64)
    return W, Phi, G, x, gv


def test_forward_coupling_equals_dense_formula():
    W, Phi, G, x, _ = setup()
    Y, z0 = Phi @ W.mT, x @ W.mT
    c = forward_coupling(x, z0, Phi, Y, G)
    I = torch.eye(W.shape[-1], dtype=F64)
    dense = (dense_proj(G) @ W @ (I - dense_proj(Phi)) @ x.mT).mT
    assert torch.allclose(c, dense, atol=1e-12, rtol=0)
    lit = forward_coupling(x, z0, Phi, Y, G, "projection")
    assert torch.allclose(lit, (dense_proj(G) @ W @ x.mT).mT, atol=1e-12, rtol=0)


def test_backward_coupling_equals_dense_formula():
    W, Phi, G, _, gv = setup(seed=1)
    Zt, zt0 = G @ W, gv @ W
    c = backward_coupling(gv, zt0, G, Zt, Phi)
    I = torch.eye(W.shape[-2], dtype=F64)
    dense = (dense_proj(Phi) @ W.mT @ (I - dense_proj(G)) @ gv.mT).mT
    assert torch.allclose(c, dense, atol=1e-12, rtol=0)
    lit = backward_coupling(gv, zt0, G, Zt, Phi, "projection")
    assert torch.allclose(lit, (dense_proj(Phi) @ W.mT @ gv.mT).mT, atol=1e-12, rtol=0)


def test_decomposition_identity_and_fresh_part():
    """W x = W P_Phi x + c_f + P_G^perp W P_Phi^perp x (the decomposition with Wt := W)."""
    W, Phi, G, x, _ = setup(seed=2)
    Y, z0 = Phi @ W.mT, x @ W.mT
    c = forward_coupling(x, z0, Phi, Y, G)
    known = (W @ dense_proj(Phi) @ x.mT).mT
    I_out, I_in = torch.eye(W.shape[-2], dtype=F64), torch.eye(W.shape[-1], dtype=F64)
    fresh = ((I_out - dense_proj(G)) @ W @ (I_in - dense_proj(Phi)) @ x.mT).mT
    assert torch.allclose(known + c + fresh, z0, atol=1e-12, rtol=0)
    # the coupling lies in span(G); the fresh part is orthogonal to it
    assert torch.allclose(project(G, c), c, atol=1e-12, rtol=0)
    assert (G @ fresh.mT).abs().max() < 1e-10


def test_empty_histories_give_zero_and_duplicates_are_harmless():
    W, Phi, G, x, gv = setup(seed=3)
    z0 = x @ W.mT
    empty_in, empty_out = Phi[:, :0], G[:, :0]
    assert torch.equal(forward_coupling(x, z0, Phi, Phi @ W.mT, empty_out), torch.zeros_like(z0))
    zt0 = gv @ W
    assert torch.equal(backward_coupling(gv, zt0, G, G @ W, empty_in), torch.zeros_like(zt0))
    # no forward history: conditional coupling = plain projection of W x on span(G)
    c = forward_coupling(x, z0, empty_in, (empty_in @ W.mT), G)
    assert torch.allclose(c, project(G, z0), atol=1e-12, rtol=0)
    # repeated history vectors (same example seen twice) give the same projection
    Phi2 = torch.cat([Phi, Phi[:, :1]], dim=1)
    G2 = torch.cat([G, 2 * G[:, :1]], dim=1)
    a = forward_coupling(x, z0, Phi, Phi @ W.mT, G)
    b = forward_coupling(x, z0, Phi2, Phi2 @ W.mT, G2)
    assert torch.allclose(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_lowrank_stack_products_equal_dense(dtype):
    g = _g(4)
    L, S, n_out, n_in, R = 2, 3, 7, 5, 4
    W0 = torch.randn(L, S, n_out, n_in, generator=g, dtype=F64).to(dtype)
    Wt0 = torch.randn(L, S, n_out, n_in, generator=g, dtype=F64).to(dtype)
    st = LowRankStack(W0, Wt0, R)
    for step in range(2):
        for l in range(L):
            a = torch.randn(S, 2, n_out, generator=g, dtype=F64).to(dtype)
            b = torch.randn(S, 2, n_in, generator=g, dtype=F64).to(dtype)
            c = torch.randn(S, 2, generator=g, dtype=F64).to(dtype)
            st.append(l, a, b, c)
        st.advance(2)
    assert st.rank == 4
    x = torch.randn(S, 3, n_in, generator=g, dtype=F64).to(dtype)
    gv = torch.randn(S, 3, n_out, generator=g, dtype=F64).to(dtype)
    tol = 1e-12 if dtype == F64 else 1e-4
    for l in range(L):
        Wd, Wtd = st.dense(l), st.dense(l, "Wt")
        z, z0, cf = st.forward(l, x, "reused")
        assert cf is None and torch.allclose(z0, x @ W0[l].mT)
        assert torch.allclose(z, x @ Wd.mT, atol=tol, rtol=0)
        zt, _, _ = st.backward(l, gv, "reused")
        assert torch.allclose(zt, gv @ Wd, atol=tol, rtol=0)
        zt_ind, _, cb = st.backward(l, gv, "independent")
        assert cb is None and torch.allclose(zt_ind, gv @ Wtd, atol=tol, rtol=0)
        # the two matrices differ exactly by W0 - Wt0
        assert torch.allclose(Wd - Wtd, W0[l] - Wt0[l], atol=tol, rtol=0)
