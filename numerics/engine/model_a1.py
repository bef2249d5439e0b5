"""Model A1 (docs/theory.md s2) as a batched ensemble of S seeds, with a hand-written backward pass.

    h_0 = m_U U x / sqrt(d)
    h_l = block_l(h_{l-1})                     (one-layer block: h_{l-1} + m_W W_l phi(h_{l-1}))
    f   = m_v v . phi(h_L)                     (readout="phi", default; "linear": m_v v . h_L)

Entries of ``U``, ``W_l``, ``v`` are ``N(0, init_std^2)``; multipliers, init stds and per-group
learning-rate factors come from ``Parameterization.evaluate(n=n, L=L)`` ([NFD] groups ``U``,
``W``, ``W1``, ``W2``, ``v``). Backward convention ``g_l := n df/dh_l`` (docs/theory.md s2), so

    g_L = n m_v v * phi'(h_L)        (readout "phi";  n m_v v for "linear")
    dloss/dv = m_v sum_b chi_b phi(h_L,b),   dloss/dU = (m_U / (n sqrt(d))) sum_b chi_b g_0,b x_b^T

with ``chi_b = dloss/df_b``. The readout vector ``v`` is reused in the backward pass in every
mode (as in the NFD limit, docs/theory.md s3); the backward modes only concern the block matrices.

Everything follows the dtype and device of the input tensors. Rows are examples: activations
are ``(S, batch, n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch

from infdepth.theory.parameterization import Parameterization, preset
from infdepth.validators import choice, nonneg_int, nonneg_number, positive_int
from ..activations import check_activation, dphi_given, phi
from ..footprint import block_matrices, dense_updates, draws_fit_cache
from .blocks import BLOCK_TYPES, check_block
from .decomposition import check_coupling_definition
from .lowrank import REMOVED_IN, check_mode
from .rng import RNG_DEVICES, draw_normal

READOUTS: tuple[str, ...] = ("phi", "linear")
BATCHINGS: tuple[str, ...] = ("sgd", "full")


@dataclass(frozen=True)
class A1Config:
    """Configuration of one ensemble training run of Model A1 (hashable, pure).

    ``n`` width, ``L`` number of blocks, ``K`` number of SGD steps, ``eta`` base learning rate.
    ``parameterization``: a preset name (``"depth_mup"``, ``"mup"``, ``"completep"``, ...) or a
    :class:`Parameterization` of family ``"nfd"``. ``act``: relu | tanh | erf | linear.
    ``readout``: ``"phi"`` (f on phi(h_L), default) | ``"linear"`` (f on h_L).
    ``block``: ``"one_layer"`` (A1, default) | ``"two_layer"`` (A2, docs/theory.md s5).
    ``mode``: backward mode ``"reused"`` | ``"independent"`` | ``"coupling_removed"``.
    ``batching``: ``"sgd"`` (default; step k trains on the single example ``k mod N``) |
    ``"full"`` (full-batch gradient descent on the mean loss).
    Seeds: indices ``seed_offset, ..., seed_offset + n_seeds - 1`` under ``base_seed``
    (see ``rng.py``: a seed's numbers do not depend on the others).
    ``record_coupling``: also measure the reused-weight coupling per block (docs/theory.md s4;
    always on in mode ``"coupling_removed"``), with ``coupling_definition`` ``"conditional"`` |
    ``"projection"`` (``decomposition.py``). ``coupling_removed_in``: ``"both"`` (default) |
    ``"forward"`` | ``"backward"``: in mode ``"coupling_removed"``, the passes whose coupling is
    subtracted (diagnostic). ``rng_device``: ``"cpu"`` | ``"native"``.
    """

    n: int
    L: int
    K: int
    eta: float = 0.1
    parameterization: str | Parameterization = "depth_mup"
    act: str = "tanh"
    readout: str = "phi"
    block: str = "one_layer"
    mode: str = "reused"
    batching: str = "sgd"
    n_seeds: int = 1
    seed_offset: int = 0
    base_seed: int = 0
    record_coupling: bool = False
    coupling_definition: str = "conditional"
    coupling_removed_in: str = "both"
    rng_device: str = "cpu"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        for name in ("n", "L", "K", "n_seeds"):
            positive_int(name, getattr(self, name))
        for name in ("seed_offset", "base_seed"):
            nonneg_int(name, getattr(self, name))
        nonneg_number("eta", self.eta, finite=True)
        check_activation(self.act)
        check_block(self.block)
        check_mode(self.mode)
        check_coupling_definition(self.coupling_definition)
        choice("readout", self.readout, READOUTS)
        choice("batching", self.batching, BATCHINGS)
        choice("rng_device", self.rng_device, RNG_DEVICES)
        choice("coupling_removed_in", self.coupling_removed_in, REMOVED_IN)
        p = self.param
        if p.family != "nfd":
            raise ValueError(f"parameterization {p.name!r} has family {p.family!r}; "
                             f"Model A1 needs family 'nfd'")

    @property
    def param(self) -> Parameterization:
        if isinstance(self.parameterization, Parameterization):
            return self.parameterization
        return preset(self.parameterization)

    @property
    def seed_indices(self) -> tuple[int, ...]:
        return tuple(range(self.seed_offset, self.seed_offset + self.n_seeds))

    def scales(self) -> dict[str, dict[str, float]]:
        return self.param.evaluate(n=self.n, L=self.L)

    def replace(self, **changes) -> "A1Config":
        from dataclasses import replace
        return replace(self, **changes)


@dataclass
class Trace:
    """What a forward pass keeps: residual stream per depth, block caches, readout input."""

    hs: list = field(default_factory=list)       # h_0..h_L, each (S, B, n)
    caches: list = field(default_factory=list)   # per block (train passes / keep=True)
    r: torch.Tensor | None = None                # phi(h_L) or h_L
    X: torch.Tensor | None = None


@dataclass
class Backward:
    """Result of the hand-written backward pass for a batch."""

    gs: list                  # g_0..g_L, each (S, B, n)
    updates: list             # per block: list of MatrixUpdate
    infos: list               # per block: coupling diagnostics (may be empty dicts)
    grad_U: torch.Tensor      # (S, n, d)
    grad_v: torch.Tensor      # (S, n)
    chi: torch.Tensor         # (S, B)


class A1Model:
    """Parameters and passes of Model A1 for the ensemble of seeds of ``config``.

    ``d``: input dimension; ``dtype``/``device``: of the run (taken from the inputs by
    :func:`~.training.train_a1`). ``capacity``: update columns to reserve (default ``K``; 0 for
    a model that is never trained); when it reaches the width ``n`` the blocks keep their
    updates as dense matrices (:func:`~infdepth.numerics.footprint.dense_updates`, exact
    backprop only). ``tie_backward`` (test hook, mode ``"independent"`` only):
    use ``Wt^0 := W^0`` so that independent training must reproduce reused training.

    Injection and hooks (for code that needs the passes on other weights or differentiates
    through training; the engine is the only implementation of the recursion):

    * ``weights``: initial parameters to use instead of drawing them from the seed streams, a
      mapping with any of ``"U"`` (S, n, d), ``"v"`` (S, n), a block group ``G`` (``"W"``,
      ``"W1"``, ``"W2"``: (L, S, n, n)) and ``G + "~bwd"`` (independent backward matrices);
      values are used as they are (cast to ``dtype``/``device``), without ``init_std``;
      missing entries are drawn as usual;
    * ``differentiable``: the SGD updates are kept as autograd-tracked tensors
      (:class:`~.lowrank.LowRankStack`), so a loss at step k can be differentiated with respect
      to anything that entered an earlier step;
    * ``perturb`` (of :meth:`forward`, :meth:`backward_signal`, :meth:`backward`): per block
      ``l`` a ``{group: tensor}`` (or ``None``) added to the raw products ``W^0 x`` (forward),
      ``W^0^T g`` (backward) of that block's matrices.
    """

    def __init__(self, config: A1Config, d: int, dtype: torch.dtype, device, *,
                 capacity: int | None = None, tie_backward: bool = False,
                 weights: Mapping[str, torch.Tensor] | None = None,
                 differentiable: bool = False):
        positive_int("d", d)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.config = c = config
        self.n, self.L, self.d = c.n, c.L, d
        self.dtype, self.device = dtype, torch.device(device)
        self.S = c.n_seeds
        self.scales = sc = c.scales()
        self.act = c.act
        self.mode = c.mode
        self.coupling = c.record_coupling or c.mode == "coupling_removed"
        given = dict(weights or {})
        draw = dict(base_seed=c.base_seed, seed_indices=c.seed_indices, dtype=dtype,
                    device=self.device, rng_device=c.rng_device)

        def take(name, shape):
            t = given.pop(name)
            if tuple(t.shape) != shape:
                raise ValueError(f"weights[{name!r}] has shape {tuple(t.shape)}, expected "
                                 f"{shape}")
            return t.to(dtype=dtype, device=self.device)

        if "U" in given:
            self.U = take("U", (self.S, c.n, d))
        else:
            self.U = draw_normal((c.n, d), stream="U", std=sc["U"]["init_std"], **draw)
        if "v" in given:
            self.v = take("v", (self.S, c.n))
        else:
            self.v = draw_normal((c.n,), stream="v", std=sc["v"]["init_std"], **draw)
        self.mU = sc["U"]["multiplier"] / math.sqrt(d)
        self.mv = sc["v"]["multiplier"]
        self.lr_U = c.eta * sc["U"]["lr"]
        self.lr_v = c.eta * sc["v"]["lr"]

        # block matrices are kept in the draw cache only if all of them fit there
        store = draws_fit_cache(8 * block_matrices(
            c.n, c.L, self.S, groups=len(BLOCK_TYPES[c.block].groups),
            independent=c.mode == "independent"))

        def init(group, n_out, n_in, std, backward):
            suffix = "~bwd" if backward else ""
            if group + suffix in given:
                out = take(group + suffix, (c.L, self.S, n_out, n_in))
            elif backward and tie_backward:
                return self.blocks_W0_for_tie[group].clone()
            else:
                out = torch.empty((c.L, self.S, n_out, n_in), dtype=dtype, device=self.device)
                for l in range(c.L):
                    draw_normal((n_out, n_in), stream=f"{group}{suffix}/{l + 1}", std=std,
                                out=out[l], store=store, **draw)
            if not backward:
                self.blocks_W0_for_tie[group] = out
            return out

        self.blocks_W0_for_tie: dict[str, torch.Tensor] = {}
        if capacity is None:
            capacity = c.K
        self.blocks = BLOCK_TYPES[c.block](
            n=c.n, L=c.L, act=c.act, scales=sc, eta=c.eta, mode=c.mode, init=init,
            capacity=capacity, track_products=self.coupling,
            coupling_definition=c.coupling_definition, removed_in=c.coupling_removed_in,
            differentiable=differentiable,
            dense=dense_updates(c.n, capacity, independent=c.mode == "independent",
                                coupling=self.coupling, differentiable=differentiable))
        del self.blocks_W0_for_tie
        if given:
            raise ValueError(f"unused weights {sorted(given)}; allowed: U, v, "
                             f"{', '.join(self.blocks.groups)} (and <group>~bwd in mode "
                             f"'independent')")

    # -- passes --------------------------------------------------------------------------
    def forward(self, X: torch.Tensor, *, keep: bool = False, coupling: bool = False,
                perturb: Sequence[dict | None] | None = None, raw: bool = True):
        """Outputs ``f`` (S, B) for inputs ``X`` (S, B, d); with ``keep`` also the Trace.
        ``perturb``: hook, see the class docstring. ``raw=False``: the trace's raw products
        with the initial matrices, which only the statistics read, may be left out (``None``
        where they would cost an extra product: dense updates)."""
        h = self.mU * (X @ self.U.mT)
        tr = Trace(hs=[h], X=X) if keep else None
        for l in range(self.L):
            h, cache = self.blocks.forward(l, h, coupling=coupling,
                                           perturb=None if perturb is None else perturb[l],
                                           raw=raw)
            if keep:
                tr.hs.append(h)
                tr.caches.append(cache)
        r = phi(self.act, h) if self.config.readout == "phi" else h
        f = self.mv * (r @ self.v[:, :, None]).squeeze(-1)
        if keep:
            tr.r = r
        return f, tr

    def backward_signal(self, tr: Trace, *, coupling: bool = False,
                        perturb: Sequence[dict | None] | None = None):
        """The backward recursion of docs/theory.md s2 alone: ``(gs, updates, infos)`` with
        ``gs = [g_0, ..., g_L]`` (``g := n df/dh``), the blocks' :class:`~.blocks.MatrixUpdate`
        lists and coupling diagnostics. Needs no ``chi`` (used at initialization)."""
        hL = tr.hs[-1]
        g = (self.n * self.mv) * self.v[:, None, :]
        if self.config.readout == "phi":
            g = g * dphi_given(self.act, hL, tr.r)          # tr.r = phi(h_L)
        else:
            g = g.expand_as(hL)
        gs = [None] * (self.L + 1)
        gs[self.L] = g
        updates, infos = [None] * self.L, [None] * self.L
        for l in reversed(range(self.L)):
            g, updates[l], infos[l] = self.blocks.backward(
                l, g, tr.caches[l], coupling=coupling,
                perturb=None if perturb is None else perturb[l])
            gs[l] = g
        return gs, updates, infos

    def backward(self, tr: Trace, chi: torch.Tensor, *, coupling: bool = False,
                 perturb: Sequence[dict | None] | None = None) -> Backward:
        """Hand-written backward pass (docs/theory.md s2) for ``chi = dloss/df`` (S, B)."""
        gs, updates, infos = self.backward_signal(tr, coupling=coupling, perturb=perturb)
        grad_v = self.mv * (chi[:, None, :] @ tr.r).squeeze(-2)
        grad_U = (self.mU / self.n) * ((gs[0] * chi[:, :, None]).mT @ tr.X)
        return Backward(gs=gs, updates=updates, infos=infos, grad_U=grad_U, grad_v=grad_v,
                        chi=chi)

    def apply(self, bw: Backward) -> None:
        """SGD step with the gradients of ``bw`` (all computed at the current parameters)."""
        for l in range(self.L):
            self.blocks.apply(l, bw.updates[l], bw.chi)
        self.blocks.advance(bw.chi.shape[-1])
        self.U = self.U - self.lr_U * bw.grad_U
        self.v = self.v - self.lr_v * bw.grad_v

    # -- test hooks / diagnostics ----------------------------------------------------------
    def gradients(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Dense gradients of the mean loss ``mean_b 1/2 (f_b - y_b)^2`` at the current
        parameters: ``{"U": (S,n,d), "v": (S,n), group: (L,S,out,in)}`` (tests only)."""
        f, tr = self.forward(X, keep=True)
        chi = (f - y) / f.shape[-1]
        bw = self.backward(tr, chi)
        out = {"U": bw.grad_U, "v": bw.grad_v}
        for G in self.blocks.groups:
            mats = []
            for l in range(self.L):
                u = next(u for u in bw.updates[l] if u.group == G)
                mats.append(u.grad_scale * ((u.a * chi[:, :, None]).mT @ u.b))
            out[G] = torch.stack(mats)
        return out

    def dense_params(self, which: str = "W") -> dict[str, torch.Tensor]:
        """Current parameters as dense tensors (``which="Wt"``: the backward matrices)."""
        out = {"U": self.U.clone(), "v": self.v.clone()}
        for G in self.blocks.groups:
            out[G] = self.blocks.dense(G, which)
        return out
