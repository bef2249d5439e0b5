"""K-step SGD training of a Model-A1 ensemble with per-step records (docs/theory.md s2, s4, s5).

``train_a1(config, X_train, y_train, X_eval)`` runs ``config.K`` steps for all seeds at once and
returns an :class:`A1Result`: tensors of outputs, losses and per-block statistics (on the run's
device; nothing leaves it during training) plus :meth:`A1Result.to_frame` for a tidy table.

Step k (k = 0..K-1) trains on example ``k mod N`` (``batching="sgd"``, loss ``1/2 (f - y)^2``)
or on all N examples (``batching="full"``, loss ``mean_b 1/2 (f_b - y_b)^2``). Records at
``k = 0..K`` are taken with the parameters *before* step k (k = K: after the last step).

Per-block statistics (``block_stats[name]``: ``(S, K+1, L+1)``, block 0 = the input layer's
``h_0``/``g_0``, NaN where undefined), "rms" is the root mean square over batch and coordinates:

* ``h_rms``, ``g_rms``: rms of ``h_l`` and ``g_l = n df/dh_l`` on the training batch of step k
  (k < K);
* ``branch_rms``: rms of ``h_l - h_{l-1}`` on the training batch (blocks >= 1);
* ``dh_rms``: rms of ``h^k_l(x) - h^0_l(x)`` on the probe inputs (the evaluation inputs, or the
  training inputs if there are none), k = 0..K: the feature change; at k = 1 the first step's;
* two-layer blocks: ``u_rms`` (training batch) and ``du_rms`` (probe, vs step 0) of the hidden
  pre-activation ``u_l`` (blocks >= 1), and ``duw_rms``: rms of the part of ``u^k_l`` due to the
  first layer's own learned update, ``m_1 (W1^k_l - W1^0_l) phi(h^k_{l-1})`` on the probe
  inputs (docs/theory.md s5's "learned change"; in mode ``coupling_removed`` it also carries the
  removed coupling);
* with coupling recorded (``record_coupling`` or mode ``coupling_removed``), per matrix group G:
  ``cpl_fwd:G``, ``cpl_bwd:G`` (rms of the coupling's contribution per block, see ``blocks.py``)
  and ``cpl_fwd_acc``, ``cpl_bwd_acc``: rms of the coupling contributions to the residual stream
  summed over blocks ``1..l`` (forward) and ``l..L`` (backward) -- the accumulated coupling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .model_a1 import A1Config, A1Model, Trace


def _rms(x: torch.Tensor) -> torch.Tensor:
    """Root mean square over all but the seed axis: (S, ...) -> (S,)."""
    return x.square().flatten(1).mean(1).sqrt()


@dataclass
class A1Result:
    """Records of one ensemble run. Tensors live on the run's device.

    ``f_train`` (S, K+1, N), ``f_eval`` (S, K+1, E): outputs before step k (k = K: final);
    ``loss`` (S, K+1): training loss ``mean_i 1/2 (f(x_i) - y_i)^2`` over all N inputs;
    ``block_stats``: ``{name: (S, K+1, L+1)}`` (see module docstring);
    ``model``: the final :class:`A1Model` if ``keep_model=True`` was asked for, else None.
    """

    config: A1Config
    seed_indices: tuple[int, ...]
    f_train: torch.Tensor
    f_eval: torch.Tensor
    y_train: torch.Tensor
    loss: torch.Tensor
    block_stats: dict[str, torch.Tensor] = field(default_factory=dict)
    model: A1Model | None = None

    def to_frame(self, stats: list[str] | None = None) -> pd.DataFrame:
        """Tidy table: columns ``seed, step, block, input, stat, value``.

        Outputs: stat ``f_train``/``f_eval`` with ``input`` = input index, ``block`` = -1;
        ``loss`` with ``block = input = -1``; per-block statistics with ``input = -1``.
        ``stats`` restricts to the named statistics. Undefined (NaN) entries are dropped.
        """
        seeds = np.asarray(self.seed_indices)
        parts = []

        def add(name, arr, axis_name):
            if stats is not None and name not in stats:
                return
            a = arr.detach().cpu().double().numpy()
            S, T, M = a.shape
            s, k, m = np.meshgrid(seeds, np.arange(T), np.arange(M), indexing="ij")
            df = pd.DataFrame({"seed": s.ravel(), "step": k.ravel(),
                               "block": m.ravel() if axis_name == "block" else -1,
                               "input": m.ravel() if axis_name == "input" else -1,
                               "stat": name, "value": a.ravel()})
            parts.append(df)

        add("f_train", self.f_train, "input")
        add("f_eval", self.f_eval, "input")
        add("loss", self.loss[:, :, None], "none")
        for name, arr in self.block_stats.items():
            add(name, arr, "block")
        if not parts:
            return pd.DataFrame(columns=["seed", "step", "block", "input", "stat", "value"])
        out = pd.concat(parts, ignore_index=True)
        return out[np.isfinite(out["value"].to_numpy())].reset_index(drop=True)


def _rms_stack(ts: list[torch.Tensor]) -> torch.Tensor:
    """rms over batch and coordinates of each of a list of (S, B, n) tensors: (S, len)."""
    return torch.stack(ts).square().mean((2, 3)).sqrt().T


def _record_coupling(st: dict, k: int, tag: str, blocks, diagnostics: list) -> None:
    """Step k's coupling statistics of one pass (``tag``: ``fwd`` | ``bwd``) from the per-block
    ``diagnostics`` (forward: the trace's caches, backward: the backward infos): the rms of each
    coupling term ``cpl_<tag>:<G>`` and of the residual-stream coupling accumulated over
    ``blocks`` in the pass's order, ``cpl_<tag>_acc``."""
    acc = None
    for l in blocks:
        d = diagnostics[l]
        for G, v in d.get(f"cpl_{tag}", {}).items():
            st[f"cpl_{tag}:{G}"][:, k, l + 1] = _rms(v)
        if f"cpl_res_{tag}" in d:
            acc = d[f"cpl_res_{tag}"] if acc is None else acc + d[f"cpl_res_{tag}"]
            st[f"cpl_{tag}_acc"][:, k, l + 1] = _rms(acc)


def _rows(tr: Trace, rows: slice, X: torch.Tensor) -> Trace:
    """The trace restricted to the given input rows (a training batch inside the records)."""
    def cut(v):
        if isinstance(v, dict):
            return {k: cut(w) for k, w in v.items()}
        return v[:, rows] if isinstance(v, torch.Tensor) else v

    return Trace(hs=[cut(h) for h in tr.hs],
                 caches=[{k: cut(v) for k, v in c.items()} for c in tr.caches],
                 r=cut(tr.r), X=X[:, rows])


def _as_batched(name: str, t, S: int, ndim: int) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() == ndim:
        return t.unsqueeze(0).expand(S, *t.shape)
    if t.dim() == ndim + 1 and t.shape[0] == S:
        return t
    raise ValueError(f"{name} must have shape {'(N, d)' if ndim == 2 else '(N,)'} or with a "
                     f"leading seed axis of size {S}, got {tuple(t.shape)}")


def update_columns(config: A1Config, N: int) -> int:
    """Update columns a run appends to each block matrix: ``K`` steps of ``N`` examples
    (``batching="full"``) or of one."""
    return config.K * (N if config.batching == "full" else 1)


def train_a1(config: A1Config, X_train: torch.Tensor, y_train: torch.Tensor,
             X_eval: torch.Tensor | None = None, *, keep_model: bool = False,
             model: A1Model | None = None, stats: bool = True) -> A1Result:
    """Train the ensemble of ``config`` for ``config.K`` steps and record (module docstring).

    ``X_train`` (N, d) or (S, N, d) [per-seed data], ``y_train`` (N,) or (S, N), ``X_eval``
    (E, d) or (S, E, d). dtype (float32/float64) and device are those of ``X_train``.
    ``model``: a pre-built fresh :class:`A1Model` (test hooks); by default one is built.
    ``stats=False``: skip the per-block statistics (``block_stats`` empty; outputs and losses
    are the same numbers -- the statistics only read the passes).
    """
    c = config
    S, L, K = c.n_seeds, c.L, c.K
    if not isinstance(X_train, torch.Tensor) or X_train.dtype not in (torch.float32,
                                                                      torch.float64):
        raise ValueError("X_train must be a float32 or float64 torch.Tensor, got "
                         f"{getattr(X_train, 'dtype', type(X_train).__name__)}")
    dtype, device = X_train.dtype, X_train.device
    X = _as_batched("X_train", X_train, S, 2)
    N, d = X.shape[1], X.shape[2]
    if N == 0:
        raise ValueError("X_train must hold at least one example, got N = 0")
    y = _as_batched("y_train", y_train, S, 1).to(dtype=dtype, device=device)
    if y.shape[1] != N:
        raise ValueError(f"y_train has {y.shape[1]} entries for N = {N} training inputs")
    if X_eval is None:
        Xe = X.new_zeros((S, 0, d))
    else:
        Xe = _as_batched("X_eval", X_eval, S, 2).to(dtype=dtype, device=device)
        if Xe.shape[2] != d:
            raise ValueError(f"X_eval has input dimension {Xe.shape[2]}, X_train has {d}")
    E = Xe.shape[1]
    columns = update_columns(c, N)
    if model is None:
        model = A1Model(c, d, dtype, device, capacity=columns)
    else:
        if model.config != c or model.d != d or model.dtype != dtype:
            raise ValueError("model was built for a different config, input dimension or dtype")
        st0 = next(iter(model.blocks.stacks.values()))
        cap = st0.capacity
        if cap is not None and cap - st0.rank < columns:
            raise ValueError(f"model has room for {cap} update columns, training needs "
                             f"{columns}; build it with capacity=K*batch")
    X_all = torch.cat([X, Xe], dim=1)
    probe = slice(N, N + E) if E > 0 else slice(0, N)
    coupling = model.coupling
    two_layer = c.block == "two_layer"

    nan = float("nan")
    f_all = X.new_full((S, K + 1, N + E), nan)
    loss = X.new_full((S, K + 1), nan)
    names = ["h_rms", "g_rms", "branch_rms", "dh_rms"]
    if two_layer:
        names += ["u_rms", "du_rms", "duw_rms"]
        m1 = model.blocks.mult["W1"]
    if coupling:
        for G in model.blocks.groups:
            names += [f"cpl_fwd:{G}", f"cpl_bwd:{G}"]
        names += ["cpl_fwd_acc", "cpl_bwd_acc"]
    st = {name: X.new_full((S, K + 1, L + 1), nan) for name in names} if stats else {}

    start: dict = {}              # probe values at step 0
    for k in range(K + 1):
        # -- records on all inputs at the current parameters --------------------------------
        # (with coupling on, the records pass computes it too: rows are independent and the
        # training step below reuses this pass)
        f, tr_all = model.forward(X_all, keep=True, coupling=coupling, raw=stats)
        tr = tr_all
        f_all[:, k] = f
        loss[:, k] = 0.5 * (f[:, :N] - y).square().mean(1)
        if stats:
            _record_probe(st, k, tr, probe, m1 if two_layer else None, start)
        if k == K:
            break
        # -- one training step ---------------------------------------------------------------
        rows = slice(0, N) if c.batching == "full" else slice(k % N, k % N + 1)
        xb, yb = X[:, rows], y[:, rows]
        # the records pass already holds the training batch at these parameters
        fb, tr = f[:, rows], _rows(tr_all, rows, X)
        del tr_all
        chi = (fb - yb) / xb.shape[1]
        bw = model.backward(tr, chi, coupling=coupling)
        if stats:
            _record_batch(st, k, tr, bw, coupling)
        model.apply(bw)
        del tr, bw

    return A1Result(config=c, seed_indices=c.seed_indices, f_train=f_all[:, :, :N],
                    f_eval=f_all[:, :, N:], y_train=y, loss=loss, block_stats=st,
                    model=model if keep_model else None)


def train_a1_shared(configs: Sequence[A1Config], X_train: torch.Tensor, y_train: torch.Tensor,
                    X_eval: torch.Tensor | None = None, *, stats: bool = True
                    ) -> list[A1Result]:
    """:func:`train_a1` of each config on the same initial weights, drawn once: the first
    model draws them and every later model is built on the first one's initial ``U``, ``v``
    and block matrices (:class:`A1Model` ``weights``). The draw cache would give the same
    numbers, but only while it holds a whole run's matrices; a larger run (e.g. 400 seeds of
    16 blocks of 512 x 512) would draw them once per config. The configs must share what the
    draws depend on: ``n``, ``L``, ``block``, the seeds, the parameterization and the
    generator's device (``ValueError`` otherwise); they may differ in backward mode, learning
    rate, K, coupling records. Independent backward matrices are drawn per model as usual."""
    configs = list(configs)
    if not configs:
        raise ValueError("at least one config is required")
    key = lambda c: (c.n, c.L, c.block, c.n_seeds, c.base_seed, c.seed_indices,  # noqa: E731
                     c.parameterization, c.rng_device)
    if any(key(c) != key(configs[0]) for c in configs):
        raise ValueError("train_a1_shared: the configs must share n, L, block, seeds, "
                         "parameterization and rng_device")
    X = _as_batched("X_train", X_train, configs[0].n_seeds, 2)
    N, d = X.shape[1], X.shape[2]
    results, weights = [], None
    for c in configs:
        model = A1Model(c, d, X.dtype, X.device, capacity=update_columns(c, N),
                        weights=weights)
        if weights is None:
            weights = {"U": model.U, "v": model.v,
                       **{G: st.W0 for G, st in model.blocks.stacks.items()}}
        results.append(train_a1(c, X_train, y_train, X_eval, model=model, stats=stats))
    return results


def _record_probe(st: dict, k: int, tr: Trace, probe: slice, m1: float | None,
                  start: dict) -> None:
    """The records pass's statistics at step k on the probe inputs: ``dh_rms`` and, for
    two-layer blocks (``m1`` the first layer's multiplier), ``du_rms`` and ``duw_rms``, against
    the probe values of step 0 (kept in ``start``)."""
    hp = [h[:, probe] for h in tr.hs]
    if k == 0:
        start["h"] = hp
    st["dh_rms"][:, k] = _rms_stack([a - b for a, b in zip(hp, start["h"])])
    if m1 is None:
        return
    up = [cch["u"][:, probe] for cch in tr.caches]
    if k == 0:
        start["u"] = up
    for l, cch in enumerate(tr.caches):
        st["du_rms"][:, k, l + 1] = _rms(up[l] - start["u"][l])
        # the first layer's own learned update: m_1 (W1^k - W1^0) phi(h^k_{l-1})
        st["duw_rms"][:, k, l + 1] = _rms(cch["u"][:, probe] - m1 * cch["u0"][:, probe])


def _record_batch(st: dict, k: int, tr: Trace, bw, coupling: bool) -> None:
    """The training batch's statistics at step k: ``h_rms``, ``g_rms``, ``branch_rms``,
    two-layer ``u_rms`` and, with coupling, the coupling's."""
    st["h_rms"][:, k] = _rms_stack(tr.hs)
    st["g_rms"][:, k] = _rms_stack(bw.gs)
    st["branch_rms"][:, k, 1:] = _rms_stack([b - a for a, b in zip(tr.hs, tr.hs[1:])])
    if "u_rms" in st:
        for l, cch in enumerate(tr.caches):
            st["u_rms"][:, k, l + 1] = _rms(cch["u"])
    if coupling:
        L = len(tr.caches)
        _record_coupling(st, k, "fwd", range(L), tr.caches)
        _record_coupling(st, k, "bwd", reversed(range(L)), bw.infos)
