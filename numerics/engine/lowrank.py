"""Per-block matrices stored as dense initial matrix plus low-rank training updates.

``LowRankStack`` holds, for L blocks and S seeds, the matrices (DESIGN.md, numerics rules)

    W^k_l = W^0_l + sum_{j < r} c_j a_j b_j^T          (a_j: output side, b_j: input side)

``W^0`` is dense ``(L, S, out, in)``; the updates are kept as factor rows ``A`` (L,S,R,out),
``B`` (L,S,R,in) and scalars ``c`` (L,S,R), so memory grows as ``K * L * n`` (not ``K L n^2``).
An SGD step on one example appends one column per block (a full-batch step appends ``batch``
columns). ``W x`` is applied as ``W^0 x + A^T (c * (B x))`` with batched matmuls, vectors are
rows: inputs ``(S, batch, in)`` -> outputs ``(S, batch, out)``.

Backward modes (THEORY.md s4, the three meanings of "decoupled", see ``BACKWARD_MODES``):

* ``"reused"``: the backward pass multiplies by the true ``(W^k)^T`` (exact backprop).
* ``"independent"``: the backward pass uses ``Wt^k = Wt^0 + (same low-rank updates)``, with
  ``Wt^0`` an independent draw of the same law (feedback-alignment-like training algorithm).
* ``"coupling_removed"``: the true network, but every product with ``W^0`` has the
  reused-weight coupling of the conditional Gaussian decomposition subtracted
  (``decomposition.py``): forward ``W^0 x - c_f``, backward ``W^0^T g - c_b``.
  ``removed_in`` (``"both"`` default, ``"forward"``, ``"backward"``) restricts the removal to
  one pass (diagnostic: which twin of the coupling matters).

For the decomposition the stack also stores the raw products ``Y = W^0 b_j`` and
``Zt = W^0^T a_j`` of the training passes (only when coupling is removed or recorded).
"""

from __future__ import annotations

import torch

from .decomposition import backward_coupling, forward_coupling

BACKWARD_MODES: tuple[str, ...] = ("reused", "independent", "coupling_removed")
REMOVED_IN: tuple[str, ...] = ("both", "forward", "backward")


def check_mode(mode: str) -> str:
    if mode not in BACKWARD_MODES:
        raise ValueError(f"unknown backward mode {mode!r}; allowed: {', '.join(BACKWARD_MODES)}")
    return mode


class LowRankStack:
    """L matrices ``W^0_l + A_l^T diag(c_l) B_l`` for S seeds (see module docstring).

    ``W0``: (L, S, out, in) initial matrices. ``Wt0``: same shape, the independent backward
    matrices (``None`` unless mode ``"independent"``). ``capacity``: maximal number of update
    columns (K * batch). ``track_products``: store raw products for the decomposition.
    """

    def __init__(self, W0: torch.Tensor, Wt0: torch.Tensor | None, capacity: int, *,
                 track_products: bool = False, coupling_definition: str = "conditional",
                 removed_in: str = "both"):
        L, S, n_out, n_in = W0.shape
        self.W0 = W0
        self.Wt0 = Wt0
        self.n_out, self.n_in = n_out, n_in
        self.A = W0.new_zeros((L, S, capacity, n_out))
        self.B = W0.new_zeros((L, S, capacity, n_in))
        self.c = W0.new_zeros((L, S, capacity))
        self.track_products = track_products
        self.coupling_definition = coupling_definition
        self.remove_fwd = removed_in in ("both", "forward")
        self.remove_bwd = removed_in in ("both", "backward")
        if track_products:
            self.Y = W0.new_zeros((L, S, capacity, n_out))    # W^0 b_j
            self.Zt = W0.new_zeros((L, S, capacity, n_in))    # W^0^T a_j
        self.rank = 0

    # -- products ------------------------------------------------------------------------
    def forward(self, l: int, x: torch.Tensor, mode: str, *, coupling: bool = False):
        """``W^k_l x`` for rows ``x`` (S,B,in). Returns ``(z, z0, c_f)``.

        ``z0 = W^0_l x`` (raw), ``c_f`` the forward coupling (``None`` unless ``coupling`` or
        mode ``"coupling_removed"``, and always ``None`` in mode ``"independent"``, where the
        backward pass never sees ``W``); in mode ``"coupling_removed"`` ``z = z0 - c_f + updates``.
        """
        r = self.rank
        z0 = x @ self.W0[l].mT
        cpl = None
        if mode != "independent" and (coupling or mode == "coupling_removed"):
            cpl = forward_coupling(x, z0, self.B[l, :, :r], self.Y[l, :, :r],
                                   self.A[l, :, :r], self.coupling_definition)
        remove = mode == "coupling_removed" and self.remove_fwd
        z = z0 - cpl if remove else z0
        if r:
            z = z + ((x @ self.B[l, :, :r].mT) * self.c[l, :, None, :r]) @ self.A[l, :, :r]
        return z, z0, cpl

    def backward(self, l: int, g: torch.Tensor, mode: str, *, x_current: torch.Tensor | None = None,
                 coupling: bool = False):
        """``(W^k_l)^T g`` (or ``(Wt^k_l)^T g`` in mode ``"independent"``) for rows ``g``.

        Returns ``(zt, zt0, c_b)`` like :meth:`forward`. ``x_current``: the forward inputs of
        the current step (they count as seen for the backward coupling).
        """
        r = self.rank
        base = self.Wt0 if mode == "independent" else self.W0
        zt0 = g @ base[l]
        cpl = None
        if mode != "independent" and (coupling or mode == "coupling_removed"):
            Phi = self.B[l, :, :r]
            if x_current is not None:
                Phi = torch.cat([Phi, x_current], dim=-2)
            cpl = backward_coupling(g, zt0, self.A[l, :, :r], self.Zt[l, :, :r], Phi,
                                    self.coupling_definition)
        remove = mode == "coupling_removed" and self.remove_bwd
        zt = zt0 - cpl if remove else zt0
        if r:
            zt = zt + ((g @ self.A[l, :, :r].mT) * self.c[l, :, None, :r]) @ self.B[l, :, :r]
        return zt, zt0, cpl

    # -- updates -------------------------------------------------------------------------
    def append(self, l: int, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
               z0: torch.Tensor | None = None, zt0: torch.Tensor | None = None) -> None:
        """Store ``batch`` update columns for block l: ``W_l += sum_b c_b a_b b_b^T``.

        ``a`` (S,batch,out), ``b`` (S,batch,in), ``c`` (S,batch); ``z0 = W^0 b`` and
        ``zt0 = W^0^T a`` when products are tracked. Becomes visible after :meth:`advance`.
        """
        r, m = self.rank, a.shape[-2]
        self.A[l, :, r:r + m] = a
        self.B[l, :, r:r + m] = b
        self.c[l, :, r:r + m] = c
        if self.track_products:
            self.Y[l, :, r:r + m] = z0
            self.Zt[l, :, r:r + m] = zt0

    def advance(self, m: int) -> None:
        self.rank += m

    # -- inspection ----------------------------------------------------------------------
    def dense(self, l: int, which: str = "W") -> torch.Tensor:
        """Dense ``W^k_l`` (or ``Wt^k_l`` with ``which="Wt"``), (S, out, in). For tests/diagnostics."""
        base = self.W0 if which == "W" else self.Wt0
        r = self.rank
        return base[l] + (self.A[l, :, :r].mT * self.c[l, :, None, :r]) @ self.B[l, :, :r]
