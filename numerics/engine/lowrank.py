"""Per-block matrices stored as dense initial matrix plus low-rank training updates.

``LowRankStack`` holds, for L blocks and S seeds, the matrices (docs/design.md, numerics rules)

    W^k_l = W^0_l + sum_{j < r} c_j a_j b_j^T          (a_j: output side, b_j: input side)

``W^0`` is dense ``(L, S, out, in)``; the updates are kept as factor rows ``A`` (L,S,R,out),
``B`` (L,S,R,in) and scalars ``c`` (L,S,R), so memory grows as ``K * L * n`` (not ``K L n^2``).
An SGD step on one example appends one column per block (a full-batch step appends ``batch``
columns). ``W x`` is applied as ``W^0 x + A^T (c * (B x))`` with batched matmuls, vectors are
rows: inputs ``(S, batch, in)`` -> outputs ``(S, batch, out)``.

Backward modes (docs/theory.md s4, the three meanings of "decoupled", see ``BACKWARD_MODES``):

* ``"reused"``: the backward pass multiplies by the true ``(W^k)^T`` (exact backprop).
* ``"independent"``: the backward pass uses ``Wt^k = Wt^0 + (same low-rank updates)``, with
  ``Wt^0`` an independent draw of the same law (feedback-alignment-like training algorithm).
* ``"coupling_removed"``: the true network, but every product with ``W^0`` has the
  reused-weight coupling of the conditional Gaussian decomposition subtracted
  (``decomposition.py``): forward ``W^0 x - c_f``, backward ``W^0^T g - c_b``.
  ``removed_in`` (``"both"`` default, ``"forward"``, ``"backward"``) restricts the removal to
  one pass (diagnostic: which twin of the coupling matters).

**Dense updates** (``dense=True``; chosen by :func:`infdepth.numerics.footprint.dense_updates`
when a run's update columns reach the matrix's input width, e.g. full-batch training on as
many examples as the width): the stack keeps the current matrix ``W^k_l`` itself and adds each
step's updates ``sum_b c_b a_b b_b^T`` to it at :meth:`LowRankStack.advance`; products are
one dense matmul. The same matrices, rounded differently (exact backprop only: no coupling,
no independent backward matrices, not differentiable).

For the decomposition the stack also stores the raw products ``Y = W^0 b_j`` and
``Zt = W^0^T a_j`` of the training passes (only when coupling is removed or recorded).

Hooks (used by :mod:`.coupling_levels`, which differentiates through training):
``forward``/``backward`` take ``add``, a tensor added to the raw product ``W^0 x`` (``W^0^T g``)
before the low-rank part; ``differentiable=True`` keeps the update factors as lists of the
tensors given to :meth:`LowRankStack.append` (concatenated on use) instead of writing them
into preallocated buffers, so that autograd follows the updates through later steps. Products
with ``W^0`` of inputs that require grad go through :class:`RowTimes`, whose batched
(``is_grads_batched``) backward stays one matmul.
"""

from __future__ import annotations

import torch

from infdepth.validators import choice

from .decomposition import backward_coupling, forward_coupling

BACKWARD_MODES: tuple[str, ...] = ("reused", "independent", "coupling_removed")
REMOVED_IN: tuple[str, ...] = ("both", "forward", "backward")


class RowTimes(torch.autograd.Function):
    """``x @ M`` for rows ``x`` (S, B, i) and a constant ``M`` (S, i, o), whose backward stays
    one batched matmul when the cotangents are batched (``is_grads_batched``): the batch of
    cotangents is folded into the rows instead of broadcasting (copying) ``M``."""

    @staticmethod
    def forward(x, M):
        return x @ M

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, grad):
        (M,) = ctx.saved_tensors
        return RowTimes.apply(grad, M.mT), None

    @staticmethod
    def vmap(info, in_dims, x, M):
        xd, md = in_dims
        if md is not None:
            raise NotImplementedError("RowTimes: the matrix must not be batched")
        xb = x.movedim(xd, 1)                              # (S, J, B, i)
        S, J, B, i = xb.shape
        out = (xb.reshape(S, J * B, i) @ M).reshape(S, J, B, M.shape[-1])
        return out, 1


def _times(x: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """``x @ M`` (M constant); through :class:`RowTimes` when autograd tracks ``x``."""
    if x.requires_grad and torch.is_grad_enabled():
        return RowTimes.apply(x, M)
    return x @ M


def check_mode(mode: str) -> str:
    return choice("backward mode", mode, BACKWARD_MODES)


class LowRankStack:
    """L matrices ``W^0_l + A_l^T diag(c_l) B_l`` for S seeds (see module docstring).

    ``W0``: (L, S, out, in) initial matrices. ``Wt0``: same shape, the independent backward
    matrices (``None`` unless mode ``"independent"``). ``capacity``: maximal number of update
    columns (K * batch; unused when ``differentiable``). ``track_products``: store raw products
    for the decomposition. ``differentiable``: keep the appended factors as given (module
    docstring) so that autograd follows them.
    """

    def __init__(self, W0: torch.Tensor, Wt0: torch.Tensor | None, capacity: int, *,
                 track_products: bool = False, coupling_definition: str = "conditional",
                 removed_in: str = "both", differentiable: bool = False,
                 dense: bool = False):
        L, S, n_out, n_in = W0.shape
        if dense and (Wt0 is not None or track_products or differentiable):
            raise ValueError("dense updates need exact backprop without products tracked or "
                             "differentiable updates")
        self.dense_updates = dense
        self.W0 = W0
        self.Wt0 = Wt0
        self.n_out, self.n_in = n_out, n_in
        self.track_products = track_products
        self.coupling_definition = coupling_definition
        self.remove_fwd = removed_in in ("both", "forward")
        self.remove_bwd = removed_in in ("both", "backward")
        self.differentiable = differentiable
        #: update columns that fit (None: unbounded, ``differentiable``)
        self.capacity = None if differentiable else capacity
        if dense:
            self.W = W0.clone()                  # W^k, updated at advance()
            self._pending: list[tuple[int, torch.Tensor]] = []
        elif differentiable:
            # per block: lists of the appended (S, m, .) factors; cat cache keyed by rank
            self._rows = {k: [[] for _ in range(L)] for k in ("A", "B", "c", "Y", "Zt")}
            self._cat: list[tuple[int, tuple] | None] = [None] * L
        else:
            self.A = W0.new_zeros((L, S, capacity, n_out))
            self.B = W0.new_zeros((L, S, capacity, n_in))
            self.c = W0.new_zeros((L, S, capacity))
            if track_products:
                self.Y = W0.new_zeros((L, S, capacity, n_out))    # W^0 b_j
                self.Zt = W0.new_zeros((L, S, capacity, n_in))    # W^0^T a_j
        self.rank = 0

    def factors(self, l: int):
        """``(A, B, c)`` of block l at the current rank r: (S, r, out), (S, r, in), (S, r)."""
        self._need_factors()
        r = self.rank
        if not self.differentiable:
            return self.A[l, :, :r], self.B[l, :, :r], self.c[l, :, :r]
        hit = self._cat[l]
        if hit is None or hit[0] != r:
            hit = (r, tuple(self._joined(k, l, r) for k in ("A", "B", "c")))
            self._cat[l] = hit
        return hit[1]

    def products(self, l: int):
        """``(Y, Zt)`` raw products of block l at the current rank (``track_products``)."""
        self._need_factors()
        r = self.rank
        if not self.differentiable:
            return self.Y[l, :, :r], self.Zt[l, :, :r]
        return self._joined("Y", l, r), self._joined("Zt", l, r)

    def _need_factors(self) -> None:
        if self.dense_updates:
            raise ValueError("a stack with dense updates keeps no low-rank factors")

    def _joined(self, key: str, l: int, r: int) -> torch.Tensor:
        rows = self._rows[key][l]
        if not rows:
            S = self.W0.shape[1]
            width = {"A": (self.n_out,), "Y": (self.n_out,), "B": (self.n_in,),
                     "Zt": (self.n_in,), "c": ()}[key]
            return self.W0.new_zeros((S, 0, *width))
        t = rows[0] if len(rows) == 1 else torch.cat(rows, dim=1)
        return t if t.shape[1] == r else t[:, :r]

    # -- products ------------------------------------------------------------------------
    def forward(self, l: int, x: torch.Tensor, mode: str, *, coupling: bool = False,
                add: torch.Tensor | None = None, raw: bool = True):
        """``W^k_l x`` for rows ``x`` (S,B,in). Returns ``(z, z0, c_f)``.

        ``z0 = W^0_l x`` (raw), ``c_f`` the forward coupling (``None`` unless ``coupling`` or
        mode ``"coupling_removed"``, and always ``None`` in mode ``"independent"``, where the
        backward pass never sees ``W``); in mode ``"coupling_removed"`` ``z = z0 - c_f + updates``.
        ``add`` (S,B,out): added to the raw product before the updates (hook). With dense
        updates ``z0`` is an extra product, made only when ``raw`` (else ``None``).
        """
        if self.dense_updates:
            z = _times(x, self.W[l].mT)
            return (z if add is None else z + add), (_times(x, self.W0[l].mT) if raw
                                                     else None), None
        r = self.rank
        z0 = _times(x, self.W0[l].mT)
        cpl = None
        if mode != "independent" and (coupling or mode == "coupling_removed"):
            A, B, _ = self.factors(l)
            Y, _ = self.products(l)
            cpl = forward_coupling(x, z0, B, Y, A, self.coupling_definition)
        remove = mode == "coupling_removed" and self.remove_fwd
        z = z0 - cpl if remove else z0
        if add is not None:
            z = z + add
        if r:
            A, B, c = self.factors(l)
            z = z + ((x @ B.mT) * c[:, None, :]) @ A
        return z, z0, cpl

    def backward(self, l: int, g: torch.Tensor, mode: str, *, x_current: torch.Tensor | None = None,
                 coupling: bool = False, add: torch.Tensor | None = None):
        """``(W^k_l)^T g`` (or ``(Wt^k_l)^T g`` in mode ``"independent"``) for rows ``g``.

        Returns ``(zt, zt0, c_b)`` like :meth:`forward`. ``x_current``: the forward inputs of
        the current step (they count as seen for the backward coupling). ``add`` (S,B,in):
        added to the raw product ``W^0^T g`` before the updates (hook).
        """
        if self.dense_updates:      # the raw product W^0^T g is not needed (no coupling)
            zt = _times(g, self.W[l])
            return (zt if add is None else zt + add), None, None
        r = self.rank
        base = self.Wt0 if mode == "independent" else self.W0
        zt0 = _times(g, base[l])
        cpl = None
        if mode != "independent" and (coupling or mode == "coupling_removed"):
            A, Phi, _ = self.factors(l)
            _, Zt = self.products(l)
            if x_current is not None:
                Phi = torch.cat([Phi, x_current], dim=-2)
            cpl = backward_coupling(g, zt0, A, Zt, Phi, self.coupling_definition)
        remove = mode == "coupling_removed" and self.remove_bwd
        zt = zt0 - cpl if remove else zt0
        if add is not None:
            zt = zt + add
        if r:
            A, B, c = self.factors(l)
            zt = zt + ((g @ A.mT) * c[:, None, :]) @ B
        return zt, zt0, cpl

    # -- updates -------------------------------------------------------------------------
    def append(self, l: int, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
               z0: torch.Tensor | None = None, zt0: torch.Tensor | None = None) -> None:
        """Store ``batch`` update columns for block l: ``W_l += sum_b c_b a_b b_b^T``.

        ``a`` (S,batch,out), ``b`` (S,batch,in), ``c`` (S,batch); ``z0 = W^0 b`` and
        ``zt0 = W^0^T a`` when products are tracked. Becomes visible after :meth:`advance`.
        """
        if self.dense_updates:
            self._pending.append((l, (a.mT * c[:, None, :]) @ b))
            return
        if self.differentiable:
            for key, t in (("A", a), ("B", b), ("c", c)):
                self._rows[key][l].append(t)
            if self.track_products:
                self._rows["Y"][l].append(z0)
                self._rows["Zt"][l].append(zt0)
            return
        r, m = self.rank, a.shape[-2]
        self.A[l, :, r:r + m] = a
        self.B[l, :, r:r + m] = b
        self.c[l, :, r:r + m] = c
        if self.track_products:
            self.Y[l, :, r:r + m] = z0
            self.Zt[l, :, r:r + m] = zt0

    def advance(self, m: int) -> None:
        if self.dense_updates:
            for l, delta in self._pending:
                self.W[l] += delta
            self._pending = []
        self.rank += m

    # -- inspection ----------------------------------------------------------------------
    def dense(self, l: int, which: str = "W") -> torch.Tensor:
        """Dense ``W^k_l`` (or ``Wt^k_l`` with ``which="Wt"``), (S, out, in). For tests/diagnostics."""
        if self.dense_updates and which == "W":
            return self.W[l].clone()
        base = self.W0 if which == "W" else self.Wt0
        A, B, c = self.factors(l)
        return base[l] + (A.mT * c[:, None, :]) @ B
