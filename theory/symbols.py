"""Size symbols shared by every derivation (docs/theory.md section 1).

``n`` residual-stream width, ``L`` depth, ``M`` hidden units per block, ``D`` embedding
dimension, ``alpha`` the [HW] residual-scale knob. All are positive, so SymPy can simplify
powers and logarithms without branch cuts.
"""

from __future__ import annotations

import sympy as sp

n, L, M, D = sp.symbols("n L M D", positive=True)
alpha = sp.Symbol("alpha", positive=True)

#: The symbols a parameterization may scale with, in the canonical order used in tables.
SIZE_SYMBOLS: tuple[sp.Symbol, ...] = (n, L, M, D, alpha)
SIZE_NAMES: tuple[str, ...] = tuple(s.name for s in SIZE_SYMBOLS)


def symbol(name: str) -> sp.Symbol:
    """Return the size symbol called ``name``; raise ``ValueError`` naming the allowed ones."""
    for s in SIZE_SYMBOLS:
        if s.name == name:
            return s
    raise ValueError(f"unknown size symbol {name!r}; allowed: {', '.join(SIZE_NAMES)}")
