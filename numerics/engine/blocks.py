"""Residual block types of the training engine (docs/theory.md s2 and s5).

A block type owns the parameters of all ``L`` blocks of one model for an ensemble of ``S`` seeds
(one :class:`~.lowrank.LowRankStack` per weight matrix) and implements, for block ``l``,

* ``forward(l, h)``  -> ``(h_l, cache)``           (h: rows ``(S, batch, n)``)
* ``backward(l, g, cache)`` -> ``(g_{l-1}, updates, info)`` with ``g := n df/dh`` (docs/theory.md s2)
* ``apply(l, updates, chi)`` -> append the SGD update of every matrix as low-rank columns.

``phi'`` in the backward pass is formed from the forward pass's ``phi`` of the same
pre-activation (:func:`~infdepth.numerics.activations.dphi_given`: for tanh ``1 - t*t``, the
numbers ``dphi`` computes from its own ``tanh``), not from a second evaluation of ``phi``.

``updates`` is a list of :class:`MatrixUpdate`: the gradient of the loss w.r.t. a matrix ``M`` of
the block is ``dloss/dM = grad_scale * sum_b chi_b a_b b_b^T`` (``chi_b`` = dloss/df_b), and SGD
adds the columns ``c_b = -lr_M * grad_scale * chi_b``. New block types (e.g. the [HW] 2LP block of
docs/theory.md s6) subclass :class:`BlockType` and register in ``BLOCK_TYPES``.

Coupling diagnostics (``info``/``cache`` entries, present when coupling is computed):
``cpl_fwd[group]`` = the group's multiplier times the forward coupling (its contribution to the
block's pre-activation), ``cpl_bwd[group]`` = its contribution to the backward vector passed
down, ``cpl_res_fwd``/``cpl_res_bwd`` = the contributions to the residual stream ``h_l`` and to
``g_{l-1}`` (what accumulates over depth).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch

from infdepth.validators import choice

from ..activations import dphi_given, phi
from .lowrank import LowRankStack

#: init(group, n_out, n_in, std, backward) -> (L, S, n_out, n_in) initial matrices
MatrixInit = Callable[[str, int, int, float, bool], torch.Tensor]


def _get(perturb: dict | None, group: str):
    return None if perturb is None else perturb.get(group)


@dataclass
class MatrixUpdate:
    group: str
    a: torch.Tensor          # (S, batch, out)   output-side vectors (backward signal)
    b: torch.Tensor          # (S, batch, in)    input-side vectors (forward signal)
    grad_scale: float        # dloss/dM = grad_scale * sum_b chi_b a_b b_b^T
    z0: torch.Tensor         # W^0 b (raw forward products, for the decomposition)
    zt0: torch.Tensor        # W^0^T a (raw backward products)


class BlockType(ABC):
    """The L residual blocks of one model (one block type), batched over S seeds.

    ``scales``: ``Parameterization.evaluate(n=..., L=...)``; ``eta``: base learning rate
    (group ``G`` trains with ``eta * scales[G]["lr"]``); ``init``: draws initial matrices;
    ``capacity``: number of update columns to reserve (K * batch); ``mode``: backward mode;
    ``differentiable``: updates kept for autograd, ``dense``: updates added to dense matrices
    (:class:`~.lowrank.LowRankStack`).

    Hook: ``forward``/``backward`` take ``perturb``, ``None`` or ``{group: tensor}``, added to
    the raw products ``W^0 x`` (forward) and ``W^0^T g`` (backward) of the group's matrix.
    """

    name: ClassVar[str]
    groups: ClassVar[tuple[str, ...]]     # parameterization groups of the block's matrices

    def __init__(self, *, n: int, L: int, act: str, scales: dict, eta: float, mode: str,
                 init: MatrixInit, capacity: int, track_products: bool,
                 coupling_definition: str, removed_in: str = "both",
                 differentiable: bool = False, dense: bool = False):
        self.n, self.L, self.act, self.mode = n, L, act, mode
        self.mult = {G: scales[G]["multiplier"] for G in self.groups}
        self.lr = {G: eta * scales[G]["lr"] for G in self.groups}
        self.stacks: dict[str, LowRankStack] = {}
        for G, (n_out, n_in) in self.shapes().items():
            std = scales[G]["init_std"]
            W0 = init(G, n_out, n_in, std, False)
            Wt0 = init(G, n_out, n_in, std, True) if mode == "independent" else None
            self.stacks[G] = LowRankStack(W0, Wt0, capacity, track_products=track_products,
                                          coupling_definition=coupling_definition,
                                          removed_in=removed_in, differentiable=differentiable,
                                          dense=dense)

    @abstractmethod
    def shapes(self) -> dict[str, tuple[int, int]]:
        """``{group: (n_out, n_in)}`` of the block's matrices."""

    @abstractmethod
    def forward(self, l: int, h: torch.Tensor, *, coupling: bool = False,
                perturb: dict | None = None, raw: bool = True):
        """``h_l`` from ``h_{l-1}`` (block index ``l`` is 0-based here). Returns (h_l, cache).
        ``raw=False``: the cache's raw products may be ``None`` where they cost a product."""

    @abstractmethod
    def backward(self, l: int, g: torch.Tensor, cache: dict, *, coupling: bool = False,
                 perturb: dict | None = None):
        """``g_{l-1}`` from ``g_l``. Returns ``(g_{l-1}, [MatrixUpdate...], info)``."""

    def apply(self, l: int, updates: list[MatrixUpdate], chi: torch.Tensor) -> None:
        """SGD: ``M_l <- M_l - lr_M * dloss/dM_l`` stored as low-rank columns (chi: (S, batch))."""
        for u in updates:
            c = (-self.lr[u.group] * u.grad_scale) * chi
            self.stacks[u.group].append(l, u.a, u.b, c, u.z0, u.zt0)

    def advance(self, m: int) -> None:
        for st in self.stacks.values():
            st.advance(m)

    def dense(self, group: str, which: str = "W") -> torch.Tensor:
        """Dense current matrices of a group, (L, S, out, in) (tests/diagnostics only)."""
        st = self.stacks[group]
        return torch.stack([st.dense(l, which) for l in range(self.L)])


class OneLayerBlock(BlockType):
    """One-layer pre-activation block (docs/theory.md s2, group ``W``)::

        h_l     = h_{l-1} + m_W W_l phi(h_{l-1}),          m_W = beta L^-a n^-1/2
        g_{l-1} = g_l + m_W phi'(h_{l-1}) * (W_l^T g_l)
        dloss/dW_l = (m_W / n) sum_b chi_b g_l phi(h_{l-1})^T
    """

    name = "one_layer"
    groups = ("W",)

    def shapes(self):
        return {"W": (self.n, self.n)}

    def forward(self, l, h, *, coupling=False, perturb=None, raw=True):
        m = self.mult["W"]
        p = phi(self.act, h)
        z, z0, cf = self.stacks["W"].forward(l, p, self.mode, coupling=coupling,
                                             add=_get(perturb, "W"), raw=False)
        cache = {"h": h, "p": p, "z0": z0}
        if cf is not None:
            cache["cpl_fwd"] = {"W": m * cf}
            cache["cpl_res_fwd"] = cache["cpl_fwd"]["W"]
        return h + m * z, cache

    def backward(self, l, g, cache, *, coupling=False, perturb=None):
        m = self.mult["W"]
        zt, zt0, cb = self.stacks["W"].backward(l, g, self.mode, x_current=cache["p"],
                                                coupling=coupling, add=_get(perturb, "W"))
        dp = dphi_given(self.act, cache["h"], cache["p"])
        g_prev = g + m * dp * zt
        upd = [MatrixUpdate("W", g, cache["p"], m / self.n, cache["z0"], zt0)]
        info = {}
        if cb is not None:
            info["cpl_bwd"] = {"W": m * dp * cb}
            info["cpl_res_bwd"] = info["cpl_bwd"]["W"]
        return g_prev, upd, info


class TwoLayerBlock(BlockType):
    """Two-layer residual block (docs/theory.md s5, groups ``W1``, ``W2``; hidden width n)::

        u_l     = m_1 W1_l phi(h_{l-1}),                    m_1 = n^-1/2
        h_l     = h_{l-1} + m_2 W2_l phi(u_l),              m_2 = beta L^-a n^-1/2
        q_l     = m_2 phi'(u_l) * (W2_l^T g_l)              (q := n df/du)
        g_{l-1} = g_l + m_1 phi'(h_{l-1}) * (W1_l^T q_l)
        dloss/dW2_l = (m_2/n) sum_b chi_b g_l phi(u_l)^T,   dloss/dW1_l = (m_1/n) sum_b chi_b q_l phi(h_{l-1})^T
    """

    name = "two_layer"
    groups = ("W1", "W2")

    def shapes(self):
        return {"W1": (self.n, self.n), "W2": (self.n, self.n)}

    def forward(self, l, h, *, coupling=False, perturb=None, raw=True):
        m1, m2 = self.mult["W1"], self.mult["W2"]
        p = phi(self.act, h)
        zu, u0, cf1 = self.stacks["W1"].forward(l, p, self.mode, coupling=coupling,
                                                add=_get(perturb, "W1"), raw=raw)
        u = m1 * zu
        q = phi(self.act, u)
        z, z0, cf2 = self.stacks["W2"].forward(l, q, self.mode, coupling=coupling,
                                               add=_get(perturb, "W2"), raw=False)
        cache = {"h": h, "p": p, "u": u, "q": q, "u0": u0, "z0": z0}
        if cf1 is not None:
            cache["cpl_fwd"] = {"W1": m1 * cf1, "W2": m2 * cf2}
            cache["cpl_res_fwd"] = cache["cpl_fwd"]["W2"]
        return h + m2 * z, cache

    def backward(self, l, g, cache, *, coupling=False, perturb=None):
        m1, m2 = self.mult["W1"], self.mult["W2"]
        zt2, zt2_0, cb2 = self.stacks["W2"].backward(l, g, self.mode, x_current=cache["q"],
                                                     coupling=coupling, add=_get(perturb, "W2"))
        du = dphi_given(self.act, cache["u"], cache["q"])
        qg = m2 * du * zt2
        zt1, zt1_0, cb1 = self.stacks["W1"].backward(l, qg, self.mode, x_current=cache["p"],
                                                     coupling=coupling, add=_get(perturb, "W1"))
        dp = dphi_given(self.act, cache["h"], cache["p"])
        g_prev = g + m1 * dp * zt1
        upd = [MatrixUpdate("W2", g, cache["q"], m2 / self.n, cache["z0"], zt2_0),
               MatrixUpdate("W1", qg, cache["p"], m1 / self.n, cache["u0"], zt1_0)]
        info = {}
        if cb1 is not None:
            info["cpl_bwd"] = {"W2": m2 * du * cb2, "W1": m1 * dp * cb1}
            info["cpl_res_bwd"] = info["cpl_bwd"]["W1"]
        return g_prev, upd, info


BLOCK_TYPES: dict[str, type[BlockType]] = {
    OneLayerBlock.name: OneLayerBlock,
    TwoLayerBlock.name: TwoLayerBlock,
}
BLOCK_NAMES: tuple[str, ...] = tuple(BLOCK_TYPES)


def check_block(name: str) -> str:
    return choice("block type", name, BLOCK_NAMES)
