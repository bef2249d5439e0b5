"""Levels (a), (b), (c) of the reused-weight coupling (docs/theory.md s4; engine/coupling_levels.py).
The claim that reads them: tests/validation/claims/test_train_coupling_depth.py."""

from __future__ import annotations

import pytest
import torch

from infdepth.numerics.engine import A1Config, train_a1
from infdepth.numerics.engine.coupling_levels import STAT_NAMES, coupling_levels
from infdepth.numerics.training_task import task_tensors

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")


def _rms(x):
    return x.square().flatten(1).mean(1).sqrt()


def test_gamma_known_answer_linear_top_block():
    """Linear activation and readout: ``g^1_L = n m_v v^1`` with ``v^1 = v^0 - lr_v m_v chi_0
    h^0_L``, so ``dg^1_L/dh^0_L = -n m_v^2 lr_v (chi_0 I + m_v h^0_L v^0^T)`` and
    ``Gamma^{10}_L = -m_v^2 lr_v (n chi_0 + f_0)`` (= -eta (chi_0 + f_0/n) under depth-muP),
    ``Gamma^{11}_L = 0``. The Hutchinson estimate is exact on the ``chi_0 I`` part."""
    X, y = task_tensors()
    n, L = 256, 3
    cfg = A1Config(n=n, L=L, K=2, eta=0.5, act="linear", readout="linear", n_seeds=3)
    lv = coupling_levels(cfg, X, y, n_probes=2)
    f0 = lv.f_train[:, 0, 0]
    chi0 = f0 - y[0]
    sc = cfg.scales()
    mv, lrv = sc["v"]["multiplier"], cfg.eta * sc["v"]["lr"]
    exact = -mv ** 2 * lrv * (n * chi0 + f0)
    est = lv.gamma_bwd[:, 1, L - 1, 0, 0]
    assert torch.allclose(est, exact, rtol=0, atol=10 * cfg.eta / n)
    assert torch.all(exact.abs() > 20 * cfg.eta / n)            # the check is not vacuous
    assert torch.all(lv.gamma_bwd[:, 1, L - 1, 1, 0] == 0)


def test_level_a_is_the_engine_coupling_and_training_is_unchanged():
    X, y = task_tensors()
    cfg = A1Config(n=48, L=4, K=3, eta=0.5, act="tanh", n_seeds=2)
    res = train_a1(cfg.replace(record_coupling=True), X, y, X)
    plain = train_a1(cfg, X, y, X)
    assert torch.equal(res.f_train, plain.f_train)              # recording is passive
    lv = coupling_levels(cfg, X, y)
    K = cfg.K
    idx = torch.arange(K) % X.shape[0]
    torch.testing.assert_close(lv.f_train[:, :, 0], res.f_train[:, :K][:, torch.arange(K), idx],
                               rtol=0, atol=1e-13)
    for eng, ours in (("cpl_fwd:W", "cpl_fwd:a"), ("cpl_bwd:W", "cpl_bwd:a"),
                      ("cpl_fwd_acc", "cpl_fwd_acc:a"), ("cpl_bwd_acc", "cpl_bwd_acc:a")):
        torch.testing.assert_close(lv.block_stats[ours][:, :K], res.block_stats[eng][:, :K],
                                   rtol=1e-10, atol=1e-14, equal_nan=True)
    assert set(lv.block_stats) == set(STAT_NAMES)


def test_levels_add_up_per_block_and_accumulate_like_the_engine():
    X, y = task_tensors()
    cfg = A1Config(n=32, L=3, K=3, eta=0.5, act="tanh", n_seeds=2)
    lv = coupling_levels(cfg, X, y, keep_vectors=True)
    for k in range(cfg.K):
        for d in ("fwd", "bwd"):
            a, b, c = (lv.vectors[(k, d, x)] for x in "abc")
            assert torch.equal(a, b + c) or torch.allclose(a, b + c, rtol=0, atol=1e-15)
            for x, vec in zip("abc", (a, b, c)):
                for l in range(cfg.L):
                    torch.testing.assert_close(lv.block_stats[f"cpl_{d}:{x}"][:, k, l + 1],
                                               _rms(vec[l]), rtol=1e-12, atol=0)
                acc = vec.cumsum(0) if d == "fwd" else vec.flip(0).cumsum(0).flip(0)
                for l in range(cfg.L):
                    torch.testing.assert_close(lv.block_stats[f"cpl_{d}_acc:{x}"][:, k, l + 1],
                                               _rms(acc[l]), rtol=1e-12, atol=0)
    assert torch.isnan(lv.block_stats["cpl_fwd:a"][:, :, 0]).all()          # block 0 unused


def test_step0_gamma_vanishes_and_training_makes_it_order_one():
    """docs/theory.md s3: at init Gamma = 0 in expectation (g^0 is odd in the centred v^0): the
    per-seed estimates are finite-width noise of either sign (O(n^-1/2)) with a seed mean
    consistent with 0; after one step Gamma^{10} is O(1) and coherent across seeds."""
    X, y = task_tensors()
    S = 12
    cfg = A1Config(n=128, L=3, K=2, eta=0.5, act="tanh", n_seeds=S)
    lv = coupling_levels(cfg, X, y)
    g0 = lv.gamma_bwd[:, 0, :, 0, 0].mean(1)              # Gamma^{00}, block-averaged
    g1 = lv.gamma_bwd[:, 1, :, 0, 0].mean(1)              # Gamma^{10}
    se0 = g0.std() / S ** 0.5
    assert g0.mean().abs() < 3 * se0
    assert g1.mean().abs() > 5 * g1.std() / S ** 0.5


def test_level_b_carries_the_trained_coupling():
    """At step 0 nothing is revealed forward (all forward levels 0); after training level (b)
    carries most of the accumulated forward (a). (At step 0 the backward (b) is not small at
    finite n: the realized Gamma^{00} is O(n^-1/2) and coherent over blocks, so its accumulated
    (b) is O(n^-1/2) like (a); only its expectation vanishes -- see the test above.)"""
    X, y = task_tensors()
    cfg = A1Config(n=512, L=6, K=3, eta=0.5, act="tanh", n_seeds=3)  # aggregate c/a ~ 0.55
    bs = coupling_levels(cfg, X, y).block_stats
    for x in "abc":
        assert torch.all(bs[f"cpl_fwd_acc:{x}"][:, 0, 1:] == 0)
    tot = {x: sum(bs[f"cpl_{d}_acc:{x}"][:, 1:3, b].sum() for d, b in (("fwd", -1), ("bwd", 1)))
           for x in "abc"}
    # (b) ~ (a) and (c) a minority (at n = 512; (c) is O(n^-1/2), (b) O(1) x |chi|)
    assert 0.6 < tot["b"] / tot["a"] < 1.4
    assert tot["c"] < 0.75 * tot["a"]


def test_rejects_unsupported_settings():
    X, y = task_tensors()
    for bad in (dict(block="two_layer"), dict(mode="independent"),
                dict(coupling_definition="projection")):
        with pytest.raises(ValueError):
            coupling_levels(A1Config(n=8, L=2, K=2, **bad), X, y)
    with pytest.raises(ValueError, match="steps"):
        coupling_levels(A1Config(n=8, L=2, K=2), X, y, steps=(2,))
