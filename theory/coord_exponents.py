"""Exponents of a depth coord check, per role and statistic (docs/theory.md s7, "coord check").

A coord check (:func:`infdepth.coord_check`) records, for every layer of a ResNet, three rms
statistics after a few training steps: ``act`` (its output), ``delta`` (the change of its output
since initialization, on the same inputs) and ``own`` (the part of that change due to the layer's
own parameter update, on its current input). This module says how each should scale, reading the
orders the calculus derives for the matching group of Model A1 (one-layer blocks) or A2
(two-layer blocks). All are absolute rms values (the calculus's relative orders times the scale
they are relative to: ``H`` the stream scale, ``A`` its growth, ``r1`` the first internal layer's
scale, ``r`` the block's random part).

Roles (the groups of docs/theory.md s7):

===============  =====  ========================================================================
role             group  statistics
===============  =====  ========================================================================
``input``        U      act ``H``; delta = own ``input_update·H``
``hidden``       W      act ``r H A`` (one block's branch output); own ``drift_accumulated·H``
                        (the own updates of all blocks summed as vectors: they are coherent);
                        delta ``drift_per_block·H + r·stream_update·H`` (one block)
``branch_in``    W1     act ``r1 H A``; own ``internal_update·r1 H`` (one block);
                        delta ``internal_update_total·r1 H``
``branch_out``   W2     act ``r H A``; own ``w2_accumulated·H A`` (summed over blocks);
                        delta ``drift_w2_per_block·H A + r2·internal_update_total·r1 H``
``stream``       --     the residual stream after a block: act ``H A``; delta ``stream_update·H``
``readout``      v      act ``f_init``; delta ``output_update``; own ``readout_output_update``
===============  =====  ========================================================================

Per-block statistics are averaged over the blocks (a block-mean rms); layers that write the
residual stream (``hidden``, ``branch_out``) report ``own`` summed over blocks, the quantity whose
order decides their regime (s5, s7: a stream writer is maximal when its accumulated contribution
is Theta(1)). The exponents hold for SGD with the parameterization's LR factors and, by
:mod:`.adam_scaling`, for Adam with the Adam factors derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exponent_calculus import derive
from .exponents_core import Order, fmt_exponent
from .parameterization import Parameterization, preset

__all__ = ["ROLES", "STATS", "CoordExponent", "coord_exponents", "role_model"]

#: roles with a derived exponent (``norm`` and ``bias`` parameters have none: the calculus has
#: no normalization gains or biases)
ROLES: tuple[str, ...] = ("input", "hidden", "branch_in", "branch_out", "stream", "readout")
STATS: tuple[str, ...] = ("act", "delta", "own")
_MODEL = {"input": "A1", "hidden": "A1", "readout": "A1", "stream": "A1",
          "branch_in": "A2", "branch_out": "A2"}


@dataclass(frozen=True)
class CoordExponent:
    role: str
    stat: str
    model: str
    order: Order
    derivation: str

    def exponent(self, symbol: str = "L"):
        return None if self.order.is_zero else self.order.exponent(symbol)


def role_model(role: str, two_layer: bool) -> str:
    """The calculus model a role is read from: ``A2`` for branch roles and, in a network of
    two-layer blocks, for the shared roles too; ``A1`` otherwise."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; allowed: {', '.join(ROLES)}")
    return "A2" if (two_layer or _MODEL[role] == "A2") else "A1"


def coord_exponents(p: Parameterization | str, role: str, *, two_layer: bool = False
                    ) -> dict[str, CoordExponent]:
    """``{stat: CoordExponent}`` for one role (``"own"`` only for layers with parameters).

    ``two_layer``: the network's blocks are two-layer (branch_in/branch_out); the stream, input
    and readout are then read from Model A2."""
    if isinstance(p, str):
        p = preset(p)
    model = role_model(role, two_layer)
    r = derive(p, model)
    q = lambda k: r[k].order  # noqa: E731
    H, A = q("h0_scale"), q("stream_growth")
    rows: dict[str, tuple[Order, str]] = {}
    if role == "input":
        rows["act"] = (H, "H")
        rows["delta"] = rows["own"] = (q("input_update") * H, "input_update·H")
    elif role == "stream":
        rows["act"] = (H * A, "H·A")
        rows["delta"] = (q("stream_update") * H, "stream_update·H")
    elif role == "readout":
        rows["act"] = (q("f_init"), "f_init")
        rows["delta"] = (q("output_update"), "output_update")
        rows["own"] = (q("readout_output_update"), "readout_output_update")
    elif role == "hidden":
        rb = q("random_per_block")
        rows["act"] = (rb * H * A, "random_per_block·H·A")
        rows["own"] = (q("drift_accumulated") * H, "drift_accumulated·H (summed over blocks)")
        rows["delta"] = (q("drift_per_block") * H + rb * q("stream_update") * H,
                         "drift_per_block·H + random_per_block·stream_update·H")
    elif role == "branch_in":
        r1 = q("internal_scale")
        rows["act"] = (r1 * H * A, "internal_scale·H·A")
        rows["own"] = (q("internal_update") * r1 * H, "internal_update·internal_scale·H")
        rows["delta"] = (q("internal_update_total") * r1 * H,
                         "internal_update_total·internal_scale·H")
    elif role == "branch_out":
        r1, r2, rb = q("internal_scale"), q("branch_scale"), q("random_per_block")
        rows["act"] = (rb * H * A, "random_per_block·H·A")
        rows["own"] = (q("w2_accumulated") * H * A, "w2_accumulated·H·A (summed over blocks)")
        rows["delta"] = (q("drift_w2_per_block") * H * A
                         + r2 * q("internal_update_total") * r1 * H,
                         "drift_w2_per_block·H·A + branch_scale·internal_update_total·"
                         "internal_scale·H")
    out = {}
    for stat, (order, text) in rows.items():
        out[stat] = CoordExponent(
            role=role, stat=stat, model=model, order=order,
            derivation=f"{role}/{stat} = {text} = {order}  [{model}, {p.name}; s7]")
    return out


def exponent_table(p: Parameterization | str, roles=ROLES, *, two_layer: bool = False
                   ) -> list[dict[str, object]]:
    """Tidy rows: role, stat, model, exponent in L and n, derivation."""
    rows = []
    for role in roles:
        for stat, e in coord_exponents(p, role, two_layer=two_layer).items():
            rows.append({"role": role, "stat": stat, "model": e.model,
                         "exponent_L": fmt_exponent(e.exponent("L")),
                         "exponent_n": fmt_exponent(e.exponent("n")),
                         "derivation": e.derivation})
    return rows
