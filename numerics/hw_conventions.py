"""The named conventions of the [HW] 2LP network and its Mean-ODE limits (docs/theory.md s6,
"The authors' own setting").

A convention fixes three things that the finite network (:mod:`infdepth.numerics.hidden_width`),
the particle Mean-ODE solver (:mod:`infdepth.numerics.mean_ode`) and the exact linear Mean ODE
(:mod:`infdepth.numerics.mean_ode_linear`) all read from here, so a network and its limit always
use the same one:

* the loss normalizer ``n``: ``loss = (1/(2n)) sum_x |f(x) - y(x)|^2``, so the output adjoint is
  ``b_L = W_out (f - y) / (n D)`` (:meth:`Convention.loss_count`);
* the std of the entries of ``W_out`` (:meth:`Convention.w_out_std`);
* which outputs are recorded (:meth:`Convention.recorded_steps`): ``f_0 .. f_K`` (``K + 1``
  entries, each before the k-th update, the last after the K-th) or ``f_0 .. f_{K-1}`` (``K``
  entries, each recorded before one of the K updates). The "output after training" is always
  the last recorded entry: ``f_K`` or ``f_{K-1}``.

=============  ============================  ================  ==============================
convention     loss normalizer n (adjoint)   W_out entry std   recorded outputs (after K steps)
=============  ============================  ================  ==============================
``default``    ``N``                         ``1``             ``f_0 .. f_K`` (``f_K``)
``authors``    ``N d_out``                   ``sqrt(d_out)``   ``f_0 .. f_{K-1}`` (``f_{K-1}``)
=============  ============================  ================  ==============================

``authors`` is the setting of the [HW] authors' published experiment code (2LP block, alpha = 1),
which also names its base rate and steps, ``eta = 1`` and ``K = 15`` (:attr:`Convention.eta`,
:attr:`Convention.K`; ``None`` for the default, whose claims choose their own). Everything else
(``W_in`` std ``1/sqrt(d_in)``, u and v std ``sqrt(D)``, the raw rate ``eta L M D / alpha^2`` on
u and v) is common to both. This module imports nothing heavy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infdepth.validators import choice

__all__ = ["DEFAULT", "AUTHORS", "CONVENTION_NAMES", "Convention", "convention",
           "check_convention"]

DEFAULT = "default"
AUTHORS = "authors"


@dataclass(frozen=True)
class Convention:
    """One named convention (module docstring). ``per_output_loss``: the loss also divides by
    ``d_out``; ``w_out_sqrt_d_out``: ``W_out`` entries have std ``sqrt(d_out)`` (else 1);
    ``record_final``: the output after the K-th update is recorded (else the trajectory ends
    with the one recorded before it); ``eta``, ``K``: the base rate and steps the setting names
    (``None``: not named)."""

    name: str
    per_output_loss: bool
    w_out_sqrt_d_out: bool
    record_final: bool
    eta: float | None = None
    K: int | None = None

    def loss_count(self, N: int, d_out: int) -> int:
        """The loss normalizer ``n`` of ``(1/(2n)) sum_x |f - y|^2`` over ``N`` inputs with
        ``d_out`` outputs: ``N d_out`` or ``N``."""
        return N * d_out if self.per_output_loss else N

    def w_out_std(self, d_out: int) -> float:
        """The std of the entries of ``W_out``: ``sqrt(d_out)`` or ``1.0``."""
        return math.sqrt(d_out) if self.w_out_sqrt_d_out else 1.0

    def recorded_steps(self, K: int) -> int:
        """How many outputs a K-step run records: ``K + 1`` (``f_0 .. f_K``) or ``K``
        (``f_0 .. f_{K-1}``); ``ValueError`` when that is none (``K = 0`` without the final
        record: there is no output before an update to record)."""
        n = K + 1 if self.record_final else K
        if n < 1:
            raise ValueError(f"K must be a positive integer under convention {self.name!r} "
                             f"(the output is recorded before each of the K updates), got {K!r}")
        return n


_CONVENTIONS = {
    DEFAULT: Convention(DEFAULT, per_output_loss=False, w_out_sqrt_d_out=False,
                        record_final=True),
    AUTHORS: Convention(AUTHORS, per_output_loss=True, w_out_sqrt_d_out=True,
                        record_final=False, eta=1.0, K=15),
}
#: the convention names, the default first
CONVENTION_NAMES: tuple[str, ...] = tuple(_CONVENTIONS)


def check_convention(name: object) -> str:
    """``name`` if it names a convention; else ``ValueError`` naming it and the allowed ones."""
    return choice("convention", name, CONVENTION_NAMES)


def convention(name: str) -> Convention:
    """The :class:`Convention` named ``name`` (:func:`check_convention`)."""
    return _CONVENTIONS[check_convention(name)]
