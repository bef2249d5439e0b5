"""The reused-weight coupling at three levels (docs/theory.md s4, "Measure the coupling at three
levels"): (a) the full term of the conditional Gaussian decomposition, (b) its leading-order part
``(beta^2/L) sum_s Gamma^{ks}_l phi^s`` (and the forward twin ``(beta^2/L) sum_s g^s
Gammat^{ks}_l``) that the covariance NFD keeps (docs/theory.md s3), (c) the remainder (a) - (b).

**Estimator of Gamma on the finite network (Stein's lemma, exact at finite n).** Fix block
``l`` (matrix ``W := W^0_l``, iid ``N(0, sigma^2)`` entries). Every use of ``W`` in training is
a product: forward ``y^t = W p^t`` (``p^t = phi(h^t_{l-1})`` on the training row of step t,
raw, without multiplier) and backward ``w^s = W^T g^s_l``. Level (a), backward, at step k is
``m_W phi'(h^k_{l-1}) * sum_t p^t coef_a[t]`` with (``decomposition.py``, conditional
definition) ``coef_a = (P P^T)^+ [<y^t, T_b>]_t``, ``T_b = P_G^perp g^k_l`` (``P`` = rows
``p^t``, t <= k; ``G`` = rows ``g^s_l``, s < k). Gaussian integration by parts in ``W_ij``::

    E[<y^t, T_b>] = sigma^2 sum_ij E[d(p^t_j T_b,i)/dW_ij]
                  = sigma^2 sum_t' (p^t . p^t') tr(dT_b / dy^t')  +  (remainder)

(the path through ``y^t'_i = sum_j W_ij p^t'_j``, which gives two free sums over i and j; the
path through the backward products ``w^s_j`` is killed by ``P_G^perp``, and the off-diagonal /
single-sum paths are ``O(n^-1/2)`` relative). Hence the leading-order coefficient is

    coef_b[t] = sigma^2 tr(dT_b / dy^t),    Gamma^{kt}_l = tr(dT_b/dy^t) / (m_W n)
                                                          (= <d T_b / d h^t_l>_n, docs/theory.md
                                                          units)

with the projection coefficients of ``P_G^perp`` held fixed and the derivative the *total*
derivative of the finite network's training computation (node perturbation of ``y^t``, every
later step recomputed) -- the finite-width analogue of the pathwise derivative of the
covariance NFD. Level (b) is ``m_W phi'(h^k_{l-1}) * sum_t p^t coef_b[t]``
``= sigma^2 (beta^2/L) phi' sum_t Gamma^{kt}_l p^t`` under depth-muP. The forward twin, with
``T_f = P_Phi^perp p^k`` (past rows ``p^t``, t < k) and ``G`` = rows ``g^s_l``, s < k::

    level (a): m_W sum_s g^s coef_a[s],  coef_a = (G G^T)^+ [<w^s, T_f>]_s
    level (b): m_W sum_s g^s coef_b[s],  coef_b = sigma^2 tr(dT_f / dw^s),
               Gammat^{ks}_l = tr(dT_f / dw^s) / (m_W n)   (d/d of the backward increment)

(``coef_b`` is mapped through ``(Gram)^+ Gram`` so that a rank-deficient history is handled
like level (a)). Level (c) = (a) - (b): the Stein fluctuation plus the sub-leading paths,
``O(n^-1/2)`` per block coefficient (docs/theory.md s4; ``exponent_calculus``).

**Trace estimation.** ``tr(J)`` is estimated by Hutchinson's estimator ``u^T J u`` with
Rademacher probes ``u`` (``n_probes`` of them, averaged), one reverse-mode pass through the
training graph per step, batched over blocks, targets and probes
(``is_grads_batched``). Unbiased; its noise is ``(2 sum_{i != j} J_ij^2)^{1/2}``, i.e.
``O(n^-1/2)`` relative to ``tr J`` per block and independent over blocks, so it averages out of
the accumulated level (b) like ``L^-1/2`` (it is part of what level (c) absorbs).
Assumptions: ``W^0`` Gaussian (exact Stein); the leading term is the two-free-sum path (valid
for ``n`` large; the sub-leading paths are left in (c)); one-layer blocks, ``mode="reused"``,
``coupling_definition="conditional"``.

**Training graph.** The training is run again by the engine itself (same draws from the same
``A1Config``, the engine's forward, backward and SGD step) with its hooks: zero leaves added to
every raw product ``W^0 p`` and ``W^0^T g`` (``perturb``), and the low-rank updates kept as
autograd-tracked tensors (``differentiable=True``); derivatives with respect to the leaves are
the node perturbations above.

**API.** A post-pass (``train_a1`` is not touched)::

    lv = coupling_levels(cfg, X_train, y_train, steps=None, n_probes=1)
    lv.block_stats["cpl_bwd_acc:c"]        # (S, K+1, L+1), NaN where undefined
    lv.gamma_bwd, lv.gamma_fwd             # Gamma estimates, docs/theory.md units
    lv.to_frame()                          # tidy: seed, step, block, stat, value

``block_stats`` names (rms over the training batch and coordinates, conventions of
``training.py``: block 0 unused, ``*_acc`` = rms of the sum over blocks ``1..l`` (forward) or
``l..L`` (backward)): ``cpl_fwd:X``, ``cpl_bwd:X``, ``cpl_fwd_acc:X``, ``cpl_bwd_acc:X`` for
levels ``X`` in a, b, c. Level (a) equals the engine's ``cpl_fwd:W`` etc. (recomputed here).
``gamma_bwd`` (S, K+1, L, K*B, B): ``[., k, l-1, t*B+b, b']`` = Gamma^{k t}_l between source
row b of step t and target row b' (NaN for t > k); ``gamma_fwd`` likewise for Gammat (t < k).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from infdepth.seeding import generator
from infdepth.validators import positive_int

from ..activations import dphi
from .decomposition import backward_coupling, forward_coupling, span_coefficients
from .model_a1 import A1Config, A1Model
from .rng import engine_stream
from .training import _as_batched

LEVELS: tuple[str, ...] = ("a", "b", "c")
STAT_NAMES: tuple[str, ...] = tuple(
    f"cpl_{d}{acc}:{lv}" for lv in LEVELS for d in ("fwd", "bwd") for acc in ("", "_acc"))


@dataclass
class CouplingLevels:
    """Result of :func:`coupling_levels` (see the module docstring)."""

    config: A1Config
    seed_indices: tuple[int, ...]
    steps: tuple[int, ...]
    n_probes: int
    block_stats: dict[str, torch.Tensor] = field(default_factory=dict)
    gamma_bwd: torch.Tensor | None = None
    gamma_fwd: torch.Tensor | None = None
    f_train: torch.Tensor | None = None       # (S, k_max+1, B) outputs, training batch
    vectors: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table ``seed, step, block, stat, value`` (NaN entries dropped)."""
        seeds = np.asarray(self.seed_indices)
        parts = []
        for name, arr in self.block_stats.items():
            a = arr.detach().cpu().double().numpy()
            S, T, M = a.shape
            s, k, m = np.meshgrid(seeds, np.arange(T), np.arange(M), indexing="ij")
            parts.append(pd.DataFrame({"seed": s.ravel(), "step": k.ravel(), "block": m.ravel(),
                                       "stat": name, "value": a.ravel()}))
        out = pd.concat(parts, ignore_index=True)
        return out[np.isfinite(out["value"].to_numpy())].reset_index(drop=True)


def _check(config: A1Config) -> None:
    if config.block != "one_layer":
        raise ValueError(f"coupling levels are implemented for block 'one_layer', got "
                         f"{config.block!r}")
    if config.mode != "reused":
        raise ValueError(f"coupling levels need mode 'reused' (the true network), got "
                         f"{config.mode!r}")
    if config.coupling_definition != "conditional":
        raise ValueError("coupling levels are implemented for coupling_definition "
                         f"'conditional', got {config.coupling_definition!r}")


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.square().flatten(1).mean(1).sqrt()


def _record_levels(st: dict, k: int, tag: str, blocks, terms: list) -> None:
    """Step k's levels of one pass (``tag``: ``fwd`` | ``bwd``) from ``terms[l] = (a, b)``, the
    block's level (a) and (b) vectors: the rms of (a), (b), (c) = (a) - (b) per block
    (``cpl_<tag>:<level>``) and accumulated over ``blocks`` in the pass's order
    (``cpl_<tag>_acc:<level>``)."""
    acc_a = acc_b = None
    for l in blocks:
        a, b = terms[l]
        for lv, vv in (("a", a), ("b", b), ("c", a - b)):
            st[f"cpl_{tag}:{lv}"][:, k, l + 1] = _rms(vv)
        acc_a = a if acc_a is None else acc_a + a
        acc_b = b if acc_b is None else acc_b + b
        for lv, vv in (("a", acc_a), ("b", acc_b), ("c", acc_a - acc_b)):
            st[f"cpl_{tag}_acc:{lv}"][:, k, l + 1] = _rms(vv)


def _rademacher(config: A1Config, k: int, shape, dtype, device) -> torch.Tensor:
    """Probes (J, S, n) of step k: each seed from its own stream (rng.py scheme)."""
    out = []
    for s in config.seed_indices:
        g = generator(engine_stream(f"coupling_levels/probe/{k}"), config.base_seed, s)
        out.append(torch.randint(0, 2, shape, generator=g).to(torch.float64) * 2 - 1)
    return torch.stack(out, dim=1).to(dtype=dtype, device=device)


def _rows_of(batches: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Concatenate a list of (S, B, n) row blocks into (S, r, n) (empty -> r = 0)."""
    if not batches:
        return like.new_zeros((like.shape[0], 0, like.shape[-1]))
    return torch.cat(batches, dim=1)


def _through_gram(basis: torch.Tensor, tr: torch.Tensor) -> torch.Tensor:
    """``(A A^T)^+ (A A^T) tr``: the coefficient vector mapped like level (a)'s."""
    gram = basis @ basis.mT
    return torch.linalg.pinv(gram, hermitian=True) @ (gram @ tr)


def coupling_levels(config: A1Config, X_train: torch.Tensor, y_train: torch.Tensor, *,
                    steps=None, n_probes: int = 1, max_batch: int = 64,
                    keep_vectors: bool = False) -> CouplingLevels:
    """Levels (a), (b), (c) of the coupling at the training steps ``steps`` (default
    ``0..K-1``) of the run ``train_a1(config, X_train, y_train)`` (module docstring).

    ``n_probes``: Rademacher probes per trace (averaged); ``max_batch``: cotangents per
    reverse pass (memory: ``max_batch * L * S * B * n`` numbers); ``keep_vectors``: also
    return the per-block vectors, ``vectors[(k, "fwd"|"bwd", level)]`` (L, S, B, n).
    """
    c = config
    _check(c)
    positive_int("n_probes", n_probes)
    S, L, K, n = c.n_seeds, c.L, c.K, c.n
    steps = tuple(range(K)) if steps is None else tuple(sorted(set(int(k) for k in steps)))
    if any(k < 0 or k >= K for k in steps):
        raise ValueError(f"steps must lie in 0..{K - 1} (training steps), got {steps}")
    X = _as_batched("X_train", X_train, S, 2)
    dtype, device = X.dtype, X.device
    N, d = X.shape[1], X.shape[2]
    y = _as_batched("y_train", y_train, S, 1).to(dtype=dtype, device=device)
    B = N if c.batching == "full" else 1
    # the engine's passes and SGD step, with zero leaves added to the raw products W0 p and
    # W0^T g and the updates kept for autograd: training is differentiable in the product nodes
    model = A1Model(c.replace(record_coupling=False), d, dtype, device, differentiable=True)
    stack = model.blocks.stacks["W"]
    m = model.blocks.mult["W"]
    sigma2 = float(c.scales()["W"]["init_std"]) ** 2
    act = c.act
    kmax = max(steps) if steps else -1

    Yc = [[] for _ in range(L)]     # raw forward products W0 p^s (values)
    Zc = [[] for _ in range(L)]     # raw backward products W0^T g^s (values)
    leaves_y, leaves_w = [], []     # [k][l] zero leaves added to the products
    per_step = []                   # per k: what the level computation needs
    f_rec = []
    with torch.enable_grad():
        for k in range(kmax + 1):
            rows = slice(0, N) if c.batching == "full" else slice(k % N, k % N + 1)
            xb, yb = X[:, rows], y[:, rows]
            ly = [torch.zeros((S, B, n), dtype=dtype, device=device, requires_grad=True)
                  for _ in range(L)]
            lw = [torch.zeros((S, B, n), dtype=dtype, device=device, requires_grad=True)
                  for _ in range(L)]
            leaves_y.append(ly)
            leaves_w.append(lw)
            f, tr = model.forward(xb, keep=True, perturb=[{"W": t} for t in ly])
            f_rec.append(f.detach())
            chi = (f - yb) / B
            bw = model.backward(tr, chi, perturb=[{"W": t} for t in lw])
            gs = bw.gs
            ps = [cch["p"] for cch in tr.caches]              # phi(h^k_{l-1}), inputs of W_l
            ys = [cch["z0"] for cch in tr.caches]             # W0_l p
            ws = [u[0].zt0 for u in bw.updates]               # W0_l^T g_l
            if k in steps:
                # targets with frozen projection coefficients, and the detached history
                Tb, Tf, hist = [], [], []
                for l in range(L):
                    G, Ph, _ = stack.factors(l)                         # rows s < k
                    gk, pk = gs[l + 1], ps[l]
                    tb = gk
                    if G.shape[1]:
                        a = span_coefficients(G.detach(), gk.detach())  # (S, r, B)
                        tb = gk - a.mT @ G
                    tf = pk
                    if Ph.shape[1]:
                        b = span_coefficients(Ph.detach(), pk.detach())
                        tf = pk - b.mT @ Ph
                    Tb.append(tb)
                    Tf.append(tf)
                    hist.append({"G": G.detach(), "Phi": Ph.detach(), "g": gk.detach(),
                                 "p": pk.detach(), "y0": ys[l].detach(), "w0": ws[l].detach(),
                                 "dp": dphi(act, tr.hs[l]).detach(),
                                 "Y": _rows_of(Yc[l], ys[l]).detach(),
                                 "Zt": _rows_of(Zc[l], ws[l]).detach()})
                per_step.append((k, torch.stack(Tb), torch.stack(Tf), hist))
            for l in range(L):
                Yc[l].append(ys[l].detach())
                Zc[l].append(ws[l].detach())
            model.apply(bw)                   # SGD step (blocks, then U and v), differentiable
            del tr, bw

        # ---- levels at each requested step ------------------------------------------------
        nan = float("nan")
        st = {name: X.new_full((S, K + 1, L + 1), nan) for name in STAT_NAMES}
        gam_b = X.new_full((S, K + 1, L, K * B, B), nan)
        gam_f = X.new_full((S, K + 1, L, K * B, B), nan)
        P_ = n_probes
        vectors = {}
        for k, Tb, Tf, hist in per_step:
            trb = X.new_zeros((S, L, (k + 1) * B, B))
            trf = X.new_zeros((S, L, k * B, B))
            kinds = ("b", "f") if k else ("b",)
            jobs = [(kind, l, bb) for kind in kinds for l in range(L) for bb in range(B)
                    for _ in range(P_)]
            u_all = _rademacher(c, k, (2 * L * B * P_, n), dtype, device)    # (J, S, n)
            for lo in range(0, len(jobs), max_batch):
                chunk = jobs[lo:lo + max_batch]
                for kind in kinds:
                    sel = [(j, l, bb) for j, (kd, l, bb) in enumerate(chunk, lo) if kd == kind]
                    if not sel:
                        continue
                    out = Tb if kind == "b" else Tf
                    V = X.new_zeros((len(sel), L, S, B, n))
                    for i, (j, l, bb) in enumerate(sel):
                        V[i, l, :, bb] = u_all[j]
                    srcs = range(k + 1) if kind == "b" else range(k)
                    leaves = leaves_y if kind == "b" else leaves_w
                    ins = [leaves[t][l] for t in srcs for l in range(L)]
                    grads = torch.autograd.grad(out, ins, grad_outputs=V, retain_graph=True,
                                                allow_unused=True, is_grads_batched=True)
                    tr = trb if kind == "b" else trf
                    for i, (j, l, bb) in enumerate(sel):
                        for t in srcs:
                            gr = grads[t * L + l]
                            if gr is not None:
                                tr[:, l, t * B:(t + 1) * B, bb] += (
                                    (gr[i] * u_all[j][:, None, :]).sum(-1) / P_)
                    del grads, V
            gam_b[:, k, :, :(k + 1) * B] = trb / (m * n)
            if k:
                gam_f[:, k, :, :k * B] = trf / (m * n)
            vecs = []
            for l in range(L):
                H = hist[l]
                # forward, level (a) and (b)
                fa = m * forward_coupling(H["p"], H["y0"], H["Phi"], H["Y"], H["G"])
                if H["G"].shape[1]:
                    coef = sigma2 * _through_gram(H["G"], trf[:, l])
                    fb = m * (coef.mT @ H["G"])
                else:
                    fb = torch.zeros_like(fa)
                Phi_all = torch.cat([H["Phi"], H["p"]], dim=1)
                ba = m * H["dp"] * backward_coupling(H["g"], H["w0"], H["G"], H["Zt"], Phi_all)
                coef = sigma2 * _through_gram(Phi_all, trb[:, l])
                bb_ = m * H["dp"] * (coef.mT @ Phi_all)
                vecs.append((fa, fb, ba, bb_))
            if keep_vectors:
                for i, (dname, lvl) in enumerate((("fwd", "a"), ("fwd", "b"), ("bwd", "a"),
                                                  ("bwd", "b"))):
                    vectors[(k, dname, lvl)] = torch.stack([vv[i] for vv in vecs])
                for dname in ("fwd", "bwd"):
                    vectors[(k, dname, "c")] = (vectors[(k, dname, "a")]
                                                - vectors[(k, dname, "b")])
            _record_levels(st, k, "fwd", range(L), [(fa, fb) for fa, fb, _, _ in vecs])
            _record_levels(st, k, "bwd", reversed(range(L)), [(ba, bb) for _, _, ba, bb in vecs])

    f_train = torch.stack(f_rec, dim=1) if f_rec else X.new_zeros((S, 0, B))
    return CouplingLevels(config=c, seed_indices=c.seed_indices, steps=steps, n_probes=n_probes,
                          block_stats=st, gamma_bwd=gam_b, gamma_fwd=gam_f, f_train=f_train,
                          vectors=vectors)


__all__ = ["CouplingLevels", "coupling_levels", "LEVELS", "STAT_NAMES"]
