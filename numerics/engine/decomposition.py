"""Reused-weight coupling of one matrix: the conditional Gaussian decomposition (docs/theory.md s4).

After some training steps an initial matrix ``W`` (``out x in``, one per block and seed) has been
seen by the training dynamics through

* forward products  ``Y = W Phi``   (``Phi``: past inputs ``phi^s``, the columns fed to ``W``),
* backward products ``Zt = W^T G``  (``G``: past output gradients ``g^s`` fed to ``W^T``).

Conditionally on ``(Y, Zt)`` (Bolthausen / Bayati-Montanari conditioning, docs/theory.md s4)::

    W  =d  W P_Phi + P_G W P_Phi^perp + P_G^perp Wt P_Phi^perp

with ``P_A`` the orthogonal projection on the column span of ``A`` and ``Wt`` an independent copy.
``W P_Phi`` is what the forward history reveals (it is there for independent backward weights
too); the middle term is what only the *backward* history reveals: the **reused-weight
coupling**. Applied to a new forward input ``phi`` and to a new backward vector ``g``:

    forward coupling   c_f = P_G (W P_Phi^perp phi) = P_G (W phi - Y coef_Phi(phi))
    backward coupling  c_b = P_Phi (W^T P_G^perp g) = P_Phi (W^T g - Zt coef_G(g))

with ``coef_A(x) = (A^T A)^+ A^T x`` (pseudo-inverse of the Gram matrix, so degenerate or
repeated directions are handled). These need only the stored vectors and products, never the
dense projection matrices: cost ``O(r n)`` per vector for ``r`` stored columns.

Definitions (``coupling_definition``, a modelling choice):

* ``"conditional"`` (default): the two ``Zt``/``Y``-dependent terms of the decomposition,
  ``c_f = P_G W P_Phi^perp phi`` (and the twin ``c_b``). This is the part of the signal that is
  explained by the other pass and *not* already by the same pass's own history.
* ``"projection"``: the literal term ``G (G^T G/n)^-1 (Zt^T phi/n)`` of docs/theory.md s4, i.e.
  ``c_f = P_G W phi`` and ``c_b = P_Phi W^T g`` (includes the overlap ``P_G W P_Phi phi``).

Which past vectors count: for the forward pass of step k, ``Phi`` and ``G`` are the training
vectors of steps ``s < k``; for the backward pass of step k, ``Phi`` also holds the current
step's forward inputs (the forward pass has already used ``W`` on them), ``G`` holds ``s < k``.
Evaluation/probe forward passes are observations, not part of the dynamics, and are not stored.

All tensors are batched over seeds: bases are ``(S, r, m)`` (rows are the vectors), inputs are
``(S, B, m)``.
"""

from __future__ import annotations

import torch

from infdepth.validators import choice

COUPLING_DEFINITIONS: tuple[str, ...] = ("conditional", "projection")


def check_coupling_definition(name: str) -> str:
    return choice("coupling_definition", name, COUPLING_DEFINITIONS)


def span_coefficients(basis: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``coef = (A A^T)^+ A x^T`` for rows ``A = basis`` (S, r, m), ``x`` (S, B, m): (S, r, B).

    ``coef^T @ basis`` is the orthogonal projection of ``x`` on the span of the rows.
    """
    gram = basis @ basis.mT
    return torch.linalg.pinv(gram, hermitian=True) @ (basis @ x.mT)


def project(basis: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Orthogonal projection of the rows of ``x`` (S, B, m) on the span of ``basis`` (S, r, m)."""
    if basis.shape[-2] == 0:
        return torch.zeros_like(x)
    return span_coefficients(basis, x).mT @ basis


def _coupling(v: torch.Tensor, raw: torch.Tensor, seen: torch.Tensor, seen_raw: torch.Tensor,
              other: torch.Tensor, definition: str) -> torch.Tensor:
    """The coupling of new vectors ``v`` (S,B,m) of one pass with raw products ``raw``:
    ``P_other (raw - seen_raw^T coef_seen(v))``, what only the other pass's history ``other``
    (S,r,m') reveals beyond this pass's own ``seen`` (S,r',m) with raw products ``seen_raw``
    (``"projection"``: ``P_other raw``). Returns the shape of ``raw``."""
    if other.shape[-2] == 0:
        return torch.zeros_like(raw)
    if definition == "projection":
        return project(other, raw)
    w_perp = raw
    if seen.shape[-2] > 0:
        w_perp = raw - span_coefficients(seen, v).mT @ seen_raw
    return project(other, w_perp)


def forward_coupling(x: torch.Tensor, z0: torch.Tensor, Phi: torch.Tensor, Y: torch.Tensor,
                     G: torch.Tensor, definition: str = "conditional") -> torch.Tensor:
    """Forward coupling ``c_f`` for new inputs ``x`` (S,B,in) with raw products ``z0 = W x``.

    ``Phi`` (S,r,in) past inputs, ``Y = W Phi`` (S,r,out) their raw products, ``G`` (S,r,out)
    past backward vectors. Returns (S,B,out).
    """
    return _coupling(x, z0, Phi, Y, G, definition)


def backward_coupling(g: torch.Tensor, zt0: torch.Tensor, G: torch.Tensor, Zt: torch.Tensor,
                      Phi: torch.Tensor, definition: str = "conditional") -> torch.Tensor:
    """Backward coupling ``c_b`` for new vectors ``g`` (S,B,out) with ``zt0 = W^T g``.

    ``G`` (S,r,out) past backward vectors, ``Zt = W^T G`` (S,r,in) their raw products, ``Phi``
    (S,r',in) the forward inputs seen so far (including the current step's). Returns (S,B,in).
    """
    return _coupling(g, zt0, G, Zt, Phi, definition)
