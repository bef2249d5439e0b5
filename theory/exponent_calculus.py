"""The exponent calculus of docs/theory.md s7: power counting of every term in the recursions.

Entry points:

* :func:`derive` ``(parameterization, model) -> ExponentResult`` -- for model ``"A1"``
  (one-layer blocks, s2/s4), ``"A2"`` (two-layer blocks, s5) or ``"B"`` ([HW] 2LP, s6), the
  orders (SymPy Rational exponents of ``n, L, M, D, alpha``) of the random part and drift per
  block and accumulated, every layer's feature update, the reused-weight coupling per block and
  accumulated at levels (a)/(b)/(c), the layer regimes and the limit type, each with a one-line
  derivation. The counting rules are documented in :mod:`.exponents_a1`,
  :mod:`.exponents_a2`, :mod:`.exponents_hw` and the order algebra in :mod:`.exponents_core`.
  Any parameterization works; presets are only test cases.
* :func:`a2_regime_map` (grid over ``(a, c1, c2)``) and :func:`hw_regime_map` (grid over
  residual-scale and LR exponents): tidy rows of regimes.

The "derived" column of the verdict table is each claim's own business
(``validation/claims/<id>.py`` asks this module about a typed model and parameterization); the
theory layer knows no claim ids.

What the calculus finds for depth-muP, width first (compared with the papers' statements in
docs/theory.md s8):

* reused-weight coupling: level (b) is ``(beta^2/L) Gamma`` per block with ``Gamma = O(1)``
  after one step, coherent over blocks: O(1) accumulated, not O(L^-2). Level (c) vanishes at
  infinite width (Stein's lemma is exact for Gaussian ``W^0``) and is ``n^-1/2`` rms, flat in
  L, at finite width. No level gives L^-2 accumulated.
* reused vs independent backward weights differ by the accumulated (b) terms, Theta(1) in L
  under depth-muP (the forward twin already acts at step 1); the gap closes (L^-1) only under
  CompleteP. Against the GIA limit the network's error is Theta(1); against the covariance
  variant L^-1.
* two-layer blocks: the depth-aware correction gamma = 1/2 restores ``Delta u = O(1)``, but the
  drift through ``W2 W2^T`` makes the residual stream's change grow like ``L^gamma``.
* Model B: the output error in M falls like M^-1/2 only while the noise dominates (M below ~L);
  at fixed L it flattens once the M-independent Euler bias L^-1 dominates.
"""

from __future__ import annotations

from typing import Callable

from .exponents_a1 import derive_a1
from .exponents_a2 import a2_parameterization, a2_regime_map, derive_a2
from .exponents_core import ExponentResult, Order, Quantity, classify
from .exponents_hw import derive_hw, hw_parameterization, hw_regime_map
from .parameterization import Parameterization, preset

__all__ = ["MODELS", "derive", "derive_a1", "derive_a2", "derive_hw", "a2_regime_map",
           "a2_parameterization", "hw_regime_map", "hw_parameterization", "ExponentResult",
           "Quantity", "Order", "classify"]

MODELS: tuple[str, ...] = ("A1", "A2", "B")
_ALIASES = {"A1": "A1", "A2": "A2", "B": "B", "HW": "B"}
_DERIVE: dict[str, Callable[[Parameterization], ExponentResult]] = {
    "A1": derive_a1, "A2": derive_a2, "B": derive_hw}


def derive(parameterization: Parameterization | str, model: str = "A1") -> ExponentResult:
    """Power-count ``model`` (``"A1"``, ``"A2"``, ``"B"``; ``"hw"`` = ``"B"``) under
    ``parameterization`` (a :class:`Parameterization` or a preset name)."""
    key = _ALIASES.get(str(model).upper()) if isinstance(model, str) else None
    if key is None:
        raise ValueError(f"unknown model {model!r}; allowed: {', '.join(MODELS)} (or 'hw')")
    if isinstance(parameterization, str):
        parameterization = preset(parameterization)
    return _DERIVE[key](parameterization)
