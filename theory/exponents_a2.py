"""Exponent calculus of Model A2, two-layer residual blocks of [NFD] v1 (docs/theory.md s5, s7).

The model (groups ``U``, ``W1``, ``W2``, ``v``; orders ``m_G``, ``s_G``, ``lr_G`` as in
:mod:`.exponents_a1`)::

    u_l = m_W1 W1_l phi(h_{l-1}),   h_l = h_{l-1} + m_W2 W2_l phi(u_l)

Counting rules, on top of the stream/readout rules of :mod:`.exponents_a1`:

* ``r1 = m_W1 s_W1 sqrt(n)`` (order of ``u`` relative to ``H``), ``r2 = m_W2 s_W2 sqrt(n)``
  (branch); random part per block ``r1 r2`` relative to the stream, ``sqrt(L) r1 r2``
  accumulated.
* gradient reaching the first internal layer: ``df/du = m_W2 phi'(u) (W2^T df/dh)``, a CLT sum:
  ``r2 gamma A`` -- it carries the branch factor (docs/theory.md s5).
* **first internal layer's own update** ``Delta u = m_W1 Delta W1 phi(h)`` with
  ``Delta W1 = -eta lr_W1 chi m_W1 (df/du) phi(h)^T``: ``lr_W1 m_W1^2 n (H A)^2 r2 gamma A chi``,
  relative to ``u``: divided by ``r1 H`` (depth-muP: ``L^(c1 - a) = L^-1/2``, the collapse).
  This is the maximal-update criterion of Tensor Programs (a layer learns when its own weight
  update moves its pre-activations at Theta(1)); the total change of ``u`` also inherits the
  residual-stream change through ``W1^0``: ``Delta u_total = Delta u + Delta h``.
* **drift through the first layer**: ``m_W2 W2 (phi'(u) Delta u)`` with ``Delta u`` along
  ``W2^T df/dh``: the product ``W2 D W2^T`` has the coherent part ``s_W2^2 tr(D) ~ n s_W2^2``, so
  the per-block drift is ``r2 Delta u`` (depth-muP corrected by ``(L/L0)^gamma``:
  ``L^(gamma - 1)``, i.e. ``L^-1/2`` per block at gamma = 1/2).
* **drift through the second layer**: ``lr_W2 m_W2^2 n gamma chi U^2 / H`` with ``U = r1 H``
  (the A1 drift with ``phi(u)`` as input).
* both drifts are coherent over blocks: ``L (drift_W1 + drift_W2)`` accumulated.

Layer regimes over ``L`` (and ``n``): ``W1`` by its own update, ``W2`` by its accumulated
contribution to the stream, ``stream`` by the accumulated drift (``unstable`` = the residual
stream's change grows with depth). The unique choice (within muP width scaling) with every
layer Theta(1) is ``a = c1 = c2 = 1`` (CompleteP): ``c1 = a``, ``1 + c1 - 2a = 0``,
``1 + c2 - 2a = 0``.
"""

from __future__ import annotations

from itertools import product
from typing import Iterable

import sympy as sp

from .exponents_a1 import coupling_quantities, stream_and_readout, width_regime
from .exponents_core import (ExponentResult, L_, N_, cap_one, check_parameterization,
                             classify, depth_limit_type, fmt_rational, group_orders, quantity)
from .parameterization import GroupScaling, Parameterization
from .symbols import L, n

GROUPS_A2: tuple[str, ...] = ("U", "W1", "W2", "v")
_HALF = sp.Rational(1, 2)


def derive_a2(p: Parameterization) -> ExponentResult:
    """Power counting of Model A2 (docs/theory.md s5) for any ``nfd`` parameterization."""
    p = check_parameterization(p, "nfd", GROUPS_A2, "A2")
    W1, W2 = group_orders(p, "W1"), group_orders(p, "W2")
    r1 = W1.m * W1.s * N_ ** _HALF
    r2 = W2.m * W2.s * N_ ** _HALF
    r = r1 * r2
    q = {"internal_scale": quantity("internal_scale", r1, f"m_W1·s_W1·sqrt(n) = ({W1.m})·({W1.s})·n^(1/2)",
                                    "s5: u = m_W1 W1 phi(h), CLT, relative to H"),
         "branch_scale": quantity("branch_scale", r2, f"m_W2·s_W2·sqrt(n) = ({W2.m})·({W2.s})·n^(1/2)",
                                  "s5: second layer, CLT"),
         "random_per_block": quantity("random_per_block", r, f"r1·r2 = ({r1})·({r2})",
                                      "s5: block increment relative to the stream")}
    base = stream_and_readout(p, r, "s5")
    q.update(base["q"])
    H, A, chi, gamma = base["H"], base["A"], base["chi"], base["gamma"]
    Us = r1 * H
    gu = r2 * gamma * A
    q["grad_internal"] = quantity("grad_internal", gu, f"r2·gamma·A = ({r2})·({gamma})·({A})",
                                  "s5: df/du = m_W2 phi'(u) W2^T df/dh carries the branch factor")
    du_abs = W1.lr * W1.m ** 2 * N_ * (H * A) ** 2 * gu * chi
    du = du_abs / Us
    q["internal_update"] = quantity(
        "internal_update", du,
        f"lr_W1·m_W1^2·n·(H A)^2·grad_internal·chi/(r1 H) = ({W1.lr})·({W1.m ** 2})·n·"
        f"({(H * A) ** 2})·({gu})·({chi})/({Us})",
        "s5: first internal layer's own update Delta u = m_W1 Delta W1 phi(h), relative to u")
    d1 = r2 * du_abs / (H * A)
    q["drift_w1_per_block"] = quantity(
        "drift_w1_per_block", d1, f"r2·Delta u/(H A) = ({r2})·({du_abs})/({H * A})",
        "s5: m_W2 W2 (phi'(u) Delta u), coherent part of W2 D W2^T ~ n s_W2^2")
    d2 = W2.lr * W2.m ** 2 * N_ * gamma * A * chi * Us ** 2 / (H * A)
    q["drift_w2_per_block"] = quantity(
        "drift_w2_per_block", d2,
        f"lr_W2·m_W2^2·n·gamma·A·chi·U^2/(H A) = ({W2.lr})·({W2.m ** 2})·n·({gamma})·({A})·"
        f"({chi})·({Us ** 2})/({H * A})",
        "s5: update algebra of W2 with input phi(u), coherent phi(u).phi(u') ~ n U^2")
    q["drift_per_block"] = quantity("drift_per_block", d1 + d2, "drift_w1 + drift_w2", "s5")
    w2acc = L_ * d2
    q["w2_accumulated"] = quantity("w2_accumulated", w2acc, f"L·({d2})", "s5: coherent over blocks")
    q["w1_path_accumulated"] = quantity("w1_path_accumulated", L_ * d1, f"L·({d1})",
                                        "s5: coherent over blocks (drift through W2 W2^T)")
    dacc = L_ * (d1 + d2)
    q["drift_accumulated"] = quantity("drift_accumulated", dacc, f"L·({d1 + d2})",
                                      "s5: residual-stream drift, coherent over blocks")
    dh = base["dh0"] + dacc
    q["stream_update"] = quantity("stream_update", dh, "input_update + drift_accumulated",
                                  "s5: Delta h / H")
    q["internal_update_total"] = quantity(
        "internal_update_total", du + dh * A, f"({du}) + ({dh})·({A})",
        "s5: own update + residual-stream change seen through W1^0")
    sens = gamma * N_ * H * A
    q["output_sensitivity"] = quantity("output_sensitivity", sens, f"gamma·n·H·A = ({sens})", "s5")
    q["output_update"] = quantity("output_update", q["readout_output_update"].order + sens * dh,
                                  "readout_output_update + sens·stream_update", "s5")
    gb = cap_one(base["dv"] / group_orders(p, "v").s)
    # couplings of the branch matrix W2 (the one seen from the stream)
    coupling_quantities(q, r, gb + dacc, base["dh0"] + dacc, sens,
                        f"Delta v/s_v + drift_accumulated = ({gb}) + ({dacc})",
                        f"input_update + drift_accumulated = ({base['dh0']}) + ({dacc})")
    limit, reason = depth_limit_type(base["racc"], dacc)
    nl = ("n", "L")
    regimes = (("U", classify(base["dh0"], nl)), ("W1", classify(du, nl)),
               ("W2", classify(w2acc, nl)), ("stream", classify(dacc, nl)),
               ("v", classify(q["readout_output_update"].order, nl)),
               ("width", width_regime(dh)))
    notes = []
    if limit == "divergent":
        notes.append("the random part or the residual-stream drift grows with L")
    return ExponentResult(model="A2", parameterization=p.name, quantities=tuple(q.items()),
                          regimes=regimes, limit_type=limit, limit_reason=reason,
                          notes=tuple(notes))


def a2_parameterization(a, c1, c2, *, beta: float = 1.0) -> Parameterization:
    """The muP-width two-layer family of docs/theory.md s5: branch ``beta L^-a n^-1/2`` on W2,
    ``n^-1/2`` on W1, learning rates ``eta n L^c1`` (W1) and ``eta n L^c2`` (W2), muP input
    layer and readout. Built here for the regime map (not a preset)."""
    a, c1, c2 = (sp.nsimplify(x) for x in (a, c1, c2))
    b = sp.nsimplify(beta)
    groups = (
        ("U", GroupScaling(multiplier=sp.Integer(1), lr=n)),
        ("W1", GroupScaling(multiplier=n ** -_HALF, lr=n * L ** c1)),
        ("W2", GroupScaling(multiplier=b * L ** (-a) * n ** -_HALF, lr=n * L ** c2)),
        ("v", GroupScaling(multiplier=1 / n, lr=n)),
    )
    return Parameterization(name=f"a2(a={a},c1={c1},c2={c2})", family="nfd", groups=groups,
                            description="two-layer muP family for the regime map "
                                        "(docs/theory.md s5)",
                            options=(("a", float(a)), ("beta", float(beta)), ("c1", float(c1)),
                                     ("c2", float(c2))))


def a2_regime_map(a_values: Iterable, c1_values: Iterable, c2_values: Iterable, *,
                  beta: float = 1.0) -> list[dict[str, object]]:
    """Regime per layer over a grid of (branch exponent ``a``, LR exponents ``c1``, ``c2``).

    Tidy rows (one per grid point and layer): ``a, c1, c2, layer, exponent_L`` (of the
    layer's update, docs/theory.md s5), ``regime`` (collapsed / maximal / unstable),
    ``limit`` (depth limit type) and ``all_maximal`` (every layer Theta(1) and the limit not divergent).
    """
    rows = []
    layers = (("W1", "internal_update"), ("W2", "w2_accumulated"),
              ("stream", "drift_accumulated"), ("U", "input_update"),
              ("v", "readout_output_update"))
    for a, c1, c2 in product(a_values, c1_values, c2_values):
        res = derive_a2(a2_parameterization(a, c1, c2, beta=beta))
        regs = {k: res.regime(k) for k, _ in layers}
        ok = all(r == "maximal" for r in regs.values()) and res.limit_type != "divergent"
        for layer, qname in layers:
            e = res.exponent(qname, "L")
            rows.append({"a": float(sp.nsimplify(a)), "c1": float(sp.nsimplify(c1)),
                         "c2": float(sp.nsimplify(c2)), "layer": layer,
                         "exponent_L": None if e is None else float(e),
                         "exponent_text": None if e is None else fmt_rational(e),
                         "regime": regs[layer], "limit": res.limit_type, "all_maximal": ok})
    return rows
