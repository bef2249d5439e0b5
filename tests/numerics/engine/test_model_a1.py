"""Tests of the Model-A1 training engine (numerics/engine) against plain per-seed torch code.

The reference is a per-seed loop over dense weight matrices trained with torch.autograd.
``reused`` mode uses plain ``x @ W.T``; ``independent`` and ``coupling_removed`` swap in a small
custom autograd Function whose backward uses the independent matrix, resp. subtracts the coupling
with dense projection matrices (docs/theory.md s4). So the engine's low-rank storage, batching over
seeds and hand-written backward are all checked against an independent dense implementation.
"""

from __future__ import annotations

import math

import pytest
import torch

from infdepth.numerics.engine import A1Config, A1Model, train_a1

F64 = torch.float64
ACTS = ("relu", "tanh", "erf", "linear")
TORCH_PHI = {"relu": torch.relu, "tanh": torch.tanh, "erf": torch.erf, "linear": lambda x: x}


def data(N=5, E=3, d=4, dtype=F64, seed=123):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, d, generator=g, dtype=F64)
    y = torch.randn(N, generator=g, dtype=F64)
    Xe = torch.randn(E, d, generator=g, dtype=F64)
    return X.to(dtype), y.to(dtype), Xe.to(dtype)


# ------------------------------------------------------------------------------------------
# Dense per-seed reference
# ------------------------------------------------------------------------------------------

def _proj(rows: list[torch.Tensor], m: int, like: torch.Tensor) -> torch.Tensor:
    """Dense orthogonal projection (m x m) on the span of the given row vectors."""
    if not rows:
        return like.new_zeros((m, m))
    A = torch.cat(rows, dim=0)
    return A.T @ torch.linalg.pinv(A @ A.T, hermitian=True) @ A


class _Linear(torch.autograd.Function):
    """out = x W^T with a mode-dependent backward (reference for the engine's modes)."""

    @staticmethod
    def forward(ctx, x, W, ref):
        hist, mode, train = ref["hist"], ref["mode"], ref["train"]
        out = x @ W.T
        if mode == "coupling_removed" and ref["removed_in"] in ("both", "forward"):
            W0 = ref["W0"]
            n_in = W.shape[1]
            PG = _proj(hist["G"], W.shape[0], W)
            PPhi = _proj(hist["Phi"], n_in, W)
            Pperp = torch.eye(n_in, dtype=W.dtype) - PPhi
            out = out - x @ Pperp @ W0.T @ PG
        ctx.save_for_backward(x, W)
        ctx.ref = ref
        if train:
            hist["cur_x"] = x.detach()
        return out

    @staticmethod
    def backward(ctx, grad):
        x, W = ctx.saved_tensors
        ref = ctx.ref
        hist, mode = ref["hist"], ref["mode"]
        if mode == "independent":
            gx = grad @ ref["Wb"]
        else:
            gx = grad @ W
        if mode == "coupling_removed" and ref["removed_in"] in ("both", "backward"):
            W0 = ref["W0"]
            PG = _proj(hist["G"], W.shape[0], W)
            PPhi = _proj(hist["Phi"] + [hist["cur_x"]], W.shape[1], W)
            Gperp = torch.eye(W.shape[0], dtype=W.dtype) - PG
            gx = gx - grad @ Gperp @ W0 @ PPhi
        hist["cur_g"] = grad.detach()
        return gx, grad.T @ x, None


def reference_run(cfg: A1Config, X, y, Xe, params0: list[dict], params_b: list[dict] | None):
    """Plain per-seed autograd SGD; returns f on [X; Xe] for k = 0..K, shape (S, K+1, N+E)."""
    sc = cfg.scales()
    N, d = X.shape
    act = TORCH_PHI[cfg.act]
    mU = sc["U"]["multiplier"] / math.sqrt(d)
    mv = sc["v"]["multiplier"]
    groups = ("W",) if cfg.block == "one_layer" else ("W1", "W2")
    lr = {G: cfg.eta * sc[G]["lr"] for G in ("U", "v") + groups}
    Xall = torch.cat([X, Xe])
    outs = []
    for s in range(cfg.n_seeds):
        P = {k: v.clone().requires_grad_(True) for k, v in params0[s].items()}
        Pb = {k: v.clone() for k, v in params_b[s].items()} if params_b else None
        refs = {G: [{"hist": {"G": [], "Phi": []}, "mode": cfg.mode, "train": False,
                     "removed_in": cfg.coupling_removed_in,
                     "W0": params0[s][G][l].clone(),
                     "Wb": None if Pb is None else Pb[G][l]}
                    for l in range(cfg.L)] for G in groups}

        def lin(x, G, l):
            if cfg.mode == "reused":
                return x @ P[G][l].T
            return _Linear.apply(x, P[G][l], refs[G][l])

        def f_of(Xb):
            h = mU * Xb @ P["U"].T
            for l in range(cfg.L):
                if cfg.block == "one_layer":
                    h = h + sc["W"]["multiplier"] * lin(act(h), "W", l)
                else:
                    u = sc["W1"]["multiplier"] * lin(act(h), "W1", l)
                    h = h + sc["W2"]["multiplier"] * lin(act(u), "W2", l)
            r = act(h) if cfg.readout == "phi" else h
            return mv * r @ P["v"]

        traj = []
        for k in range(cfg.K + 1):
            with torch.no_grad():
                traj.append(f_of(Xall))
            if k == cfg.K:
                break
            idx = list(range(N)) if cfg.batching == "full" else [k % N]
            for G in groups:
                for rf in refs[G]:
                    rf["train"] = True
            loss = 0.5 * (f_of(X[idx]) - y[idx]).square().mean()
            names = list(P)
            grads = torch.autograd.grad(loss, [P[k_] for k_ in names])
            for G in groups:
                for rf in refs[G]:
                    rf["train"] = False
                    if cfg.mode == "coupling_removed":
                        rf["hist"]["Phi"].append(rf["hist"]["cur_x"])
                        rf["hist"]["G"].append(rf["hist"]["cur_g"])
            with torch.no_grad():
                for k_, gr in zip(names, grads):
                    grp = k_
                    P[k_] -= lr[grp] * gr
                    if Pb is not None and grp in groups:
                        Pb[grp] -= lr[grp] * gr
        outs.append(torch.stack(traj))
    return torch.stack(outs)


def initial_params(cfg, d, dtype=F64, **kw):
    m = A1Model(cfg, d, dtype, "cpu", capacity=1, **kw)
    split = lambda P: [{k: (v[:, s] if v.dim() == 4 else v[s]) for k, v in P.items()}  # noqa
                       for s in range(cfg.n_seeds)]
    pw = split(m.dense_params("W"))
    pb = split(m.dense_params("Wt")) if cfg.mode == "independent" else None
    if pb is not None:
        pb = [{k: v for k, v in p.items() if k not in ("U", "v")} for p in pb]
    return pw, pb


def engine_traj(res):
    return torch.cat([res.f_train, res.f_eval], dim=-1)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


# ------------------------------------------------------------------------------------------
# Trajectories and gradients vs the reference
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("mode", ["reused", "independent", "coupling_removed"])
def test_trajectory_matches_dense_reference(mode, act, block):
    X, y, Xe = data()
    cfg = A1Config(n=16, L=3, K=5, eta=0.4, act=act, block=block, mode=mode, n_seeds=3,
                   parameterization="depth_mup")
    res = train_a1(cfg, X, y, Xe)
    pw, pb = initial_params(cfg, X.shape[1])
    ref = reference_run(cfg, X, y, Xe, pw, pb)
    tol = 1e-10 if mode != "coupling_removed" else 1e-8
    assert rel_err(engine_traj(res), ref) < tol
    # forward at step 0 is the same network in every mode
    assert torch.allclose(res.f_eval[:, 0], ref[:, 0, X.shape[0]:], rtol=1e-12, atol=0)
    # training actually moved the function
    assert (res.f_eval[:, -1] - res.f_eval[:, 0]).abs().max() > 1e-3


@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
@pytest.mark.parametrize("readout", ["phi", "linear"])
@pytest.mark.parametrize("batching", ["sgd", "full"])
def test_trajectory_options_match_reference(block, readout, batching):
    X, y, Xe = data()
    cfg = A1Config(n=20, L=4, K=4, eta=0.3, act="tanh", block=block, readout=readout,
                   batching=batching, n_seeds=2, parameterization="completep")
    res = train_a1(cfg, X, y, Xe)
    ref = reference_run(cfg, X, y, Xe, *initial_params(cfg, X.shape[1]))
    assert rel_err(engine_traj(res), ref) < 1e-10


@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
@pytest.mark.parametrize("act", ACTS)
def test_reused_gradients_equal_autograd(act, block):
    """After a few SGD steps (low-rank updates present), hand gradients == autograd, 1e-10."""
    X, y, Xe = data(N=6)
    cfg = A1Config(n=24, L=4, K=3, eta=0.5, act=act, block=block, n_seeds=3)
    res = train_a1(cfg, X, y, Xe, keep_model=True)
    model = res.model
    assert model.blocks.stacks[model.blocks.groups[0]].rank == 3
    Xb = X.unsqueeze(0).expand(3, *X.shape)
    yb = y.unsqueeze(0).expand(3, *y.shape)
    hand = model.gradients(Xb[:, :4], yb[:, :4])
    dense = model.dense_params()
    sc = cfg.scales()
    act_f = TORCH_PHI[act]
    for s in range(3):
        P = {k: (v[:, s] if v.dim() == 4 else v[s]).clone().requires_grad_(True)
             for k, v in dense.items()}
        h = sc["U"]["multiplier"] / math.sqrt(X.shape[1]) * X[:4] @ P["U"].T
        for l in range(cfg.L):
            if block == "one_layer":
                h = h + sc["W"]["multiplier"] * act_f(h) @ P["W"][l].T
            else:
                u = sc["W1"]["multiplier"] * act_f(h) @ P["W1"][l].T
                h = h + sc["W2"]["multiplier"] * act_f(u) @ P["W2"][l].T
        f = sc["v"]["multiplier"] * act_f(h) @ P["v"]
        loss = 0.5 * (f - y[:4]).square().mean()
        names = list(P)
        grads = torch.autograd.grad(loss, [P[k] for k in names])
        for k, gr in zip(names, grads):
            mine = hand[k][:, s] if hand[k].dim() == 4 else hand[k][s]
            assert rel_err(mine, gr) < 1e-10, (k, s)


# ------------------------------------------------------------------------------------------
# Backward modes
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
def test_independent_differs_and_tied_reduces_to_reused(block):
    X, y, Xe = data()
    kw = dict(n=32, L=3, K=6, eta=0.5, act="tanh", block=block, n_seeds=3)
    reused = train_a1(A1Config(mode="reused", **kw), X, y, Xe)
    indep_cfg = A1Config(mode="independent", **kw)
    indep = train_a1(indep_cfg, X, y, Xe)
    assert torch.equal(indep.f_eval[:, 0], reused.f_eval[:, 0])
    assert rel_err(indep.f_eval[:, -1] - indep.f_eval[:, 0],
                   reused.f_eval[:, -1] - reused.f_eval[:, 0]) > 1e-3
    tied_model = A1Model(indep_cfg, X.shape[1], F64, "cpu", capacity=indep_cfg.K,
                         tie_backward=True)
    tied = train_a1(indep_cfg, X, y, Xe, model=tied_model)
    assert rel_err(engine_traj(tied), engine_traj(reused)) < 1e-13


def test_independent_single_block_without_input_training_differs():
    """At L = 1 the backward matrix only feeds g_0 (the U gradient): differs unless tied."""
    X, y, Xe = data()
    kw = dict(n=32, L=1, K=5, eta=0.5, act="erf", n_seeds=2)
    a = train_a1(A1Config(mode="reused", **kw), X, y, Xe)
    b = train_a1(A1Config(mode="independent", **kw), X, y, Xe)
    assert rel_err(engine_traj(b), engine_traj(a)) > 1e-6


def test_record_coupling_does_not_change_training():
    X, y, Xe = data()
    kw = dict(n=24, L=3, K=5, eta=0.5, act="relu", n_seeds=2)
    a = train_a1(A1Config(**kw), X, y, Xe)
    b = train_a1(A1Config(record_coupling=True, **kw), X, y, Xe)
    assert torch.equal(engine_traj(a), engine_traj(b))
    st = b.block_stats
    assert torch.all(st["cpl_fwd:W"][:, 0, 1:] == 0)          # no backward history yet
    assert torch.all(st["cpl_bwd:W"][:, 0, 1:] > 0)           # current forward already seen
    assert torch.all(st["cpl_fwd:W"][:, 1:5, 1:] > 0)
    assert torch.all(torch.isfinite(st["cpl_fwd_acc"][:, :5, 1:]))


@pytest.mark.parametrize("removed_in", ["forward", "backward"])
@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
def test_coupling_removed_in_one_pass_matches_reference(removed_in, block):
    X, y, Xe = data()
    cfg = A1Config(n=16, L=3, K=5, eta=0.4, act="erf", block=block, mode="coupling_removed",
                   coupling_removed_in=removed_in, n_seeds=2)
    res = train_a1(cfg, X, y, Xe)
    ref = reference_run(cfg, X, y, Xe, *initial_params(cfg, X.shape[1]))
    assert rel_err(engine_traj(res), ref) < 1e-8
    both = train_a1(cfg.replace(coupling_removed_in="both"), X, y, Xe)
    assert rel_err(engine_traj(res), engine_traj(both)) > 1e-6


def test_coupling_removed_differs_from_reused_after_step_zero():
    X, y, Xe = data()
    kw = dict(n=32, L=3, K=5, eta=0.5, act="tanh", n_seeds=2)
    a = train_a1(A1Config(mode="reused", **kw), X, y, Xe)
    b = train_a1(A1Config(mode="coupling_removed", **kw), X, y, Xe)
    assert torch.equal(b.f_eval[:, 0], a.f_eval[:, 0])
    assert rel_err(b.f_eval[:, -1] - b.f_eval[:, 0], a.f_eval[:, -1] - a.f_eval[:, 0]) > 1e-4


# ------------------------------------------------------------------------------------------
# Purity, seeds, dtypes, records
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["reused", "independent"])
def test_ensemble_equals_seeds_alone_and_is_pure(mode):
    X, y, Xe = data()
    kw = dict(n=16, L=3, K=4, eta=0.5, act="tanh", mode=mode, base_seed=7)
    ens = train_a1(A1Config(n_seeds=3, **kw), X, y, Xe)
    again = train_a1(A1Config(n_seeds=3, **kw), X, y, Xe)
    assert torch.equal(engine_traj(ens), engine_traj(again))
    for s in range(3):
        alone = train_a1(A1Config(n_seeds=1, seed_offset=s, **kw), X, y, Xe)
        assert rel_err(engine_traj(alone)[0], engine_traj(ens)[s]) < 1e-12
    pair = train_a1(A1Config(n_seeds=2, seed_offset=1, **kw), X, y, Xe)
    assert rel_err(engine_traj(pair), engine_traj(ens)[1:]) < 1e-12
    other = train_a1(A1Config(n_seeds=1, **{**kw, "base_seed": 8}), X, y, Xe)
    assert rel_err(engine_traj(other)[0], engine_traj(ens)[0]) > 1e-3
    # seeds differ from each other
    assert rel_err(engine_traj(ens)[0], engine_traj(ens)[1]) > 1e-3


def test_block_matrix_does_not_depend_on_depth():
    a = A1Model(A1Config(n=8, L=2, K=1), 3, F64, "cpu")
    b = A1Model(A1Config(n=8, L=5, K=1), 3, F64, "cpu")
    assert torch.equal(a.blocks.stacks["W"].W0, b.blocks.stacks["W"].W0[:2])
    assert torch.equal(a.U, b.U)


def test_float32_runs_and_tracks_float64():
    X, y, Xe = data()
    cfg = A1Config(n=32, L=4, K=5, eta=0.5, act="tanh", n_seeds=2, mode="coupling_removed")
    r32 = train_a1(cfg, X.float(), y.float(), Xe.float())
    r64 = train_a1(cfg, X, y, Xe)
    assert r32.f_eval.dtype == torch.float32 and r32.loss.dtype == torch.float32
    assert rel_err(engine_traj(r32).double(), engine_traj(r64)) < 1e-4
    for cfg2 in (cfg.replace(mode="reused", block="two_layer"), cfg.replace(mode="independent")):
        assert torch.isfinite(engine_traj(train_a1(cfg2, X.float(), y.float(), Xe.float()))).all()


def test_to_frame_is_tidy():
    X, y, Xe = data()
    cfg = A1Config(n=16, L=3, K=2, block="two_layer", n_seeds=2, seed_offset=4,
                   record_coupling=True)
    res = train_a1(cfg, X, y, Xe)
    df = res.to_frame()
    assert list(df.columns) == ["seed", "step", "block", "input", "stat", "value"]
    assert set(df["seed"]) == {4, 5}
    assert df["value"].notna().all()
    f = df[(df.stat == "f_eval") & (df.seed == 5) & (df.step == 2) & (df.input == 1)]
    assert f["value"].item() == pytest.approx(res.f_eval[1, 2, 1].item(), rel=1e-15)
    stats = set(df["stat"])
    for name in ("loss", "f_train", "h_rms", "g_rms", "dh_rms", "branch_rms", "u_rms", "du_rms",
                 "cpl_fwd:W1", "cpl_bwd:W2", "cpl_fwd_acc", "cpl_bwd_acc"):
        assert name in stats
    g = df[(df.stat == "g_rms")]
    assert g["step"].max() == 1 and g["block"].min() == 0 and g["block"].max() == 3
    assert (df[(df.stat == "dh_rms") & (df.step == 0)]["value"] == 0).all()
    assert set(res.to_frame(stats=["loss"])["stat"]) == {"loss"}


def test_per_seed_data():
    X, y, Xe = data()
    cfg = A1Config(n=16, L=2, K=3, n_seeds=2)
    Xs = torch.stack([X, 2 * X])
    ys = torch.stack([y, -y])
    res = train_a1(cfg, Xs, ys, Xe)
    alone = train_a1(cfg.replace(n_seeds=1, seed_offset=1), 2 * X, -y, Xe)
    assert rel_err(engine_traj(alone)[0], engine_traj(res)[1]) < 1e-12


# ------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, pattern", [
    ({"n": 0}, r"n must be a positive integer, got 0"),
    ({"L": -2}, r"L must be a positive integer, got -2"),
    ({"K": 0}, r"K must be a positive integer, got 0"),
    ({"n": 2.5}, r"n must be a positive integer, got 2.5"),
    ({"n_seeds": 0}, r"n_seeds must be a positive integer"),
    ({"act": "gelu"}, r"unknown activation 'gelu'; allowed: relu, tanh, erf, linear"),
    ({"mode": "gia"}, r"unknown backward mode 'gia'; allowed: reused, independent, "
                      r"coupling_removed"),
    ({"block": "three_layer"}, r"unknown block type 'three_layer'; allowed: one_layer, two_layer"),
    ({"readout": "softmax"}, r"unknown readout 'softmax'; allowed: phi, linear"),
    ({"batching": "mini"}, r"unknown batching 'mini'; allowed: sgd, full"),
    ({"coupling_definition": "x"}, r"unknown coupling_definition 'x'"),
    ({"coupling_removed_in": "sideways"}, r"unknown coupling_removed_in 'sideways'; allowed: "
                                           r"both, forward, backward"),
    ({"eta": -1.0}, r"eta must be a finite non-negative number"),
    ({"parameterization": "nope"}, r"unknown parameterization 'nope'"),
    ({"parameterization": "hw_mlu"}, r"family 'hw'; Model A1 needs family 'nfd'"),
])
def test_bad_config_raises(changes, pattern):
    kw = dict(n=8, L=2, K=2)
    kw.update(changes)
    with pytest.raises(ValueError, match=pattern):
        A1Config(**kw)


def test_bad_data_raises():
    X, y, Xe = data()
    cfg = A1Config(n=8, L=2, K=2)
    with pytest.raises(ValueError, match="room for 2 update columns, training needs 10"):
        full = cfg.replace(batching="full")
        train_a1(full, X, y, model=A1Model(full, X.shape[1], F64, "cpu", capacity=2))
    with pytest.raises(ValueError, match="different config"):
        train_a1(cfg, X, y, model=A1Model(cfg.replace(K=3), X.shape[1], F64, "cpu"))
    with pytest.raises(ValueError, match="float32 or float64"):
        train_a1(cfg, X.long(), y)
    with pytest.raises(ValueError, match="y_train has 4 entries for N = 5"):
        train_a1(cfg, X, y[:4])
    with pytest.raises(ValueError, match="X_eval has input dimension 3"):
        train_a1(cfg, X, y, Xe[:, :3])


# ------------------------------------------------------------------------------------------
# CUDA
# ------------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("mode", ["reused", "independent", "coupling_removed"])
@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
def test_cuda_matches_cpu(mode, block):
    X, y, Xe = data()
    cfg = A1Config(n=64, L=4, K=6, eta=0.5, act="tanh", mode=mode, block=block, n_seeds=3,
                   record_coupling=True)
    cpu = train_a1(cfg, X, y, Xe)
    gpu = train_a1(cfg, X.cuda(), y.cuda(), Xe.cuda())
    assert gpu.f_eval.is_cuda
    assert rel_err(engine_traj(gpu).cpu(), engine_traj(cpu)) < 1e-9
    g32 = train_a1(cfg, X.float().cuda(), y.float().cuda(), Xe.float().cuda())
    assert rel_err(engine_traj(g32).double().cpu(), engine_traj(cpu)) < 1e-3
    native = train_a1(cfg.replace(rng_device="native"), X.cuda(), y.cuda(), Xe.cuda())
    assert torch.isfinite(engine_traj(native)).all()


# ------------------------------------------------------------------------------------------
# Dense updates (footprint.dense_updates): the same training as low-rank factors
# ------------------------------------------------------------------------------------------

def test_the_dense_update_rule():
    from infdepth.numerics.footprint import dense_updates
    assert dense_updates(64, 64) and dense_updates(64, 640) and not dense_updates(64, 63)
    assert not dense_updates(64, 640, independent=True)
    assert not dense_updates(64, 640, coupling=True)
    assert not dense_updates(64, 640, differentiable=True)


@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_dense_updates_train_as_low_rank_factors(block, act, monkeypatch):
    """Full-batch training with K N >= n keeps dense matrices; trajectory, loss and every
    per-block statistic (the two-layer block's update movement duw_rms reads W1^0 x) equal
    those of the low-rank factors to round-off."""
    import infdepth.numerics.engine.model_a1 as model_a1
    X, y, Xe = data()
    cfg = A1Config(n=8, L=3, K=4, eta=0.4, act=act, block=block, batching="full", n_seeds=2,
                   parameterization="depth_mup")
    model = A1Model(cfg, X.shape[1], F64, "cpu", capacity=cfg.K * X.shape[0])
    assert all(st.dense_updates for st in model.blocks.stacks.values())
    with pytest.raises(ValueError, match="no low-rank factors"):
        model.blocks.stacks[model.blocks.groups[0]].factors(0)
    dense = train_a1(cfg, X, y, Xe)
    monkeypatch.setattr(model_a1, "dense_updates", lambda *a, **k: False)
    low = train_a1(cfg, X, y, Xe)
    assert rel_err(engine_traj(dense), engine_traj(low)) < 1e-12
    assert rel_err(dense.loss, low.loss) < 1e-12
    assert set(dense.block_stats) == set(low.block_stats)
    for name, t in low.block_stats.items():
        torch.testing.assert_close(dense.block_stats[name], t, rtol=1e-10, atol=1e-14,
                                   equal_nan=True, msg=name)
    assert (low.f_eval[:, -1] - low.f_eval[:, 0]).abs().max() > 1e-3


def test_dense_matrices_are_the_low_rank_matrices(monkeypatch):
    """After training, the dense stack's current matrices == W^0 + A^T diag(c) B."""
    import infdepth.numerics.engine.model_a1 as model_a1
    X, y, Xe = data()
    cfg = A1Config(n=8, L=2, K=3, eta=0.3, act="tanh", block="two_layer", batching="full",
                   n_seeds=2, parameterization="depth_mup")
    m_dense = A1Model(cfg, X.shape[1], F64, "cpu", capacity=cfg.K * X.shape[0])
    train_a1(cfg, X, y, model=m_dense)
    monkeypatch.setattr(model_a1, "dense_updates", lambda *a, **k: False)
    m_low = A1Model(cfg, X.shape[1], F64, "cpu", capacity=cfg.K * X.shape[0])
    train_a1(cfg, X, y, model=m_low)
    for G in ("W1", "W2"):
        torch.testing.assert_close(m_dense.blocks.dense(G), m_low.blocks.dense(G),
                                   rtol=1e-12, atol=1e-14)
        assert not torch.equal(m_dense.blocks.dense(G), m_dense.blocks.stacks[G].W0)


@pytest.mark.parametrize("block", ["one_layer", "two_layer"])
@pytest.mark.parametrize("batching", ["sgd", "full"])
def test_training_without_statistics_gives_the_same_numbers(block, batching):
    X, y, Xe = data()
    cfg = A1Config(n=8, L=3, K=4, eta=0.4, act="tanh", block=block, batching=batching,
                   n_seeds=2, parameterization="depth_mup")
    full, bare = train_a1(cfg, X, y, Xe), train_a1(cfg, X, y, Xe, stats=False)
    assert torch.equal(full.loss, bare.loss) and torch.equal(engine_traj(full), engine_traj(bare))
    assert full.block_stats and not bare.block_stats


def test_shared_weights_train_as_separate_runs_and_draw_once(monkeypatch):
    """train_a1_shared == train_a1 per config, bit for bit, with every key drawn once even
    with the draw cache off."""
    from infdepth import seeding
    from infdepth.numerics.engine import train_a1_shared
    X, y, Xe = data()
    cfgs = [A1Config(n=8, L=3, K=3, eta=0.4, act="tanh", mode=m, n_seeds=2,
                     parameterization="depth_mup")
            for m in ("reused", "independent", "coupling_removed")]
    alone = [train_a1(c, X, y, Xe) for c in cfgs]
    monkeypatch.setenv(seeding.DRAW_CACHE_ENV, "0")
    seeding.clear_draw_cache()
    with seeding.record_draws() as drawn:
        shared = train_a1_shared(cfgs, X, y, Xe)
    assert set(drawn.values()) == {1}
    assert any("~bwd" in k[0] for k in drawn)          # independent matrices drawn as usual
    for a, b in zip(alone, shared):
        assert torch.equal(a.loss, b.loss) and torch.equal(engine_traj(a), engine_traj(b))
    with pytest.raises(ValueError, match="must share"):
        train_a1_shared([cfgs[0], A1Config(n=8, L=4, K=3, eta=0.4, n_seeds=2)], X, y)


def test_block_draws_are_cached_only_when_they_all_fit(monkeypatch):
    """A model whose block matrices exceed the draw cache's budget draws them without keeping
    them (they would only push one another out); the numbers are the same either way."""
    from infdepth import seeding
    X, y, Xe = data()
    monkeypatch.setenv(seeding.DRAW_CACHE_ENV, "1")                      # 1 MiB
    small = A1Config(n=32, L=2, K=1, eta=0.3, n_seeds=2)                 # 2 x 32 KiB blocks x 2
    big = A1Config(n=256, L=2, K=1, eta=0.3, n_seeds=2)                  # 4 x 512 KiB: 2 MiB
    for cfg, kept in ((small, True), (big, False)):
        seeding.clear_draw_cache()
        res = train_a1(cfg, X, y, Xe)
        blocks = [k for k in seeding._cache if k[0].startswith("engine/W/")]
        assert bool(blocks) == kept
        monkeypatch.setenv(seeding.DRAW_CACHE_ENV, "0")
        assert torch.equal(train_a1(cfg, X, y, Xe).loss, res.loss)
        monkeypatch.setenv(seeding.DRAW_CACHE_ENV, "1")
