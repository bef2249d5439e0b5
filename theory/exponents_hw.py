"""Exponent calculus of Model B, [HW] ResNets with hidden width M (docs/theory.md s6, s7).

The 2LP block (groups ``W_in``, ``u``, ``v``, ``W_out``; orders ``m_G``, ``s_G``, ``lr_G``)::

    h_0 = m_in W_in x,  h_l = h_{l-1} + m_v sum_{j<=M} v_j sigma(m_u u_j . h_{l-1}),
    f = m_out W_out^T h_L,   GD on u, v with raw rates eta lr_u, eta lr_v

``h`` lives in R^D with O(1) coordinates ``H = m_in s_in`` (``x`` has fixed dimension). Counting
rules (per coordinate of D-vectors):

* pre-activation ``p_j = m_u u_j . h``: CLT over D coordinates, ``P = m_u s_u sqrt(D) H``;
  ``sigma(p) ~ P`` (``P = Theta(1)`` in every preset).
* **random part**: ``v_j`` are centred and independent, so a block adds ``m_v s_v sqrt(M) P``
  (CLT over M units) and L blocks ``sqrt(L M) m_v s_v P``: the [HW] noise, per embedding
  coordinate (``alpha sqrt(D)/sqrt(LM)`` for the preset). The readout sees it through the
  independent ``W_out``: ``m_out s_out sqrt(D)`` times that.
* backward signal ``b = dloss/dh``: coordinates ``B = m_out s_out chi``, ``chi = 1 + f_0``,
  ``f_0 = m_out s_out sqrt(D) H``.
* **unit movement** (local updates): ``Delta v_j = eta lr_v m_v sigma(p_j) b``: coordinates
  ``lr_v m_v B P``, along the readout direction: relative to ``v_j``'s projection ``s_v`` it is
  ``rho_v = sqrt(D) lr_v m_v B P / s_v``. ``Delta p_j = lr_u m_u^2 m_v (v_j . b) |h|^2`` with
  ``v_j . b ~ sqrt(D) s_v B`` (CLT) and ``|h|^2 ~ D H^2``: ``rho_u = Delta p_j / P``.
* **drift per block**: ``m_v M Delta v_j P`` (coherent over units: every ``Delta v_j`` points
  along ``b``) plus ``m_v M s_v^2 B lr_u m_u^2 m_v D H^2`` (``v_j (v_j . b)`` has the coherent
  part ``s_v^2 b``); ``L`` blocks: ``L`` times (the Mean ODE drift, step ``1/L``).
* **function change** ``Delta f = m_out s_out D Delta h`` (the drift is along ``b ~ W_out``).
* **errors** (s6): Euler bias of the Mean ODE = (drift per block)/(drift accumulated) to the
  first power (weak order 1: ``L^-1``); noise as above.

Regimes per size ``s`` (others fixed): ``unstable`` if the function change or a unit's movement
grows in ``s``, or (for ``L``, ``M``) the random part grows; ``trivial`` if the function change
vanishes; ``maximal`` (maximal local updates: complete feature learning) if the function change
and both units' movements are Theta(1); ``lazy`` if the function change is Theta(1) while the
units' movement vanishes. The noise's growth in ``D`` and ``alpha`` is reported, not used for
the regime (it needs ``D = O(LM)``, ``alpha << sqrt(LM)``). A size the parameterization does
knob ``alpha`` that the parameterization does not use is ``independent`` (L, M, D are structural
sizes and always classified).
"""

from __future__ import annotations

from itertools import product
from typing import Iterable

import sympy as sp

from .exponents_core import (ExponentResult, D_, L_, M_, ONE, Order, check_parameterization,
                             fmt_rational, group_orders, quantity)
from .parameterization import GroupScaling, Parameterization
from .symbols import D, L, M

GROUPS_HW: tuple[str, ...] = ("W_in", "u", "v", "W_out")
HW_REGIMES: tuple[str, ...] = ("maximal", "lazy", "trivial", "unstable")
_HALF = sp.Rational(1, 2)


def _regime(df: Order, rho: Order, noise: Order, s: str) -> str:
    if df.is_zero:
        return "trivial"
    e_df, e_rho = df.exponent(s), (None if rho.is_zero else rho.exponent(s))
    if e_df > 0 or (e_rho is not None and e_rho > 0) or (s in ("L", "M") and noise.exponent(s) > 0):
        return "unstable"
    if e_df < 0:
        return "trivial"
    if e_rho is not None and e_rho == 0:
        return "maximal"
    return "lazy"


def derive_hw(p: Parameterization) -> ExponentResult:
    """Power counting of the [HW] 2LP ResNet (docs/theory.md s6) for any ``hw`` parameterization.

    ``regimes`` holds one entry per size symbol (``L``, ``M``, ``D``, ``alpha``) and ``joint``
    (over L, M, D). ``limit_type`` is ``mean_ode`` when the random part vanishes in L and M and
    the drift is Theta(1), else ``divergent``/``trivial``/``sde`` like the A-models.
    """
    p = check_parameterization(p, "hw", GROUPS_HW, "B")
    win, u, v, wo = (group_orders(p, g) for g in GROUPS_HW)
    q = {}
    H = win.m * win.s
    q["h0_scale"] = quantity("h0_scale", H, f"m_in·s_in = ({win.m})·({win.s})", "s6: h_0 = W_in x")
    P = u.m * u.s * D_ ** _HALF * H
    q["preactivation"] = quantity("preactivation", P, f"m_u·s_u·sqrt(D)·H = ({u.m})·({u.s})·D^(1/2)·({H})",
                                  "s6: sigma(u.h/D), CLT over D coordinates")
    q["residual_scale"] = quantity("residual_scale", v.m * v.s, f"m_v·s_v = ({v.m})·({v.s})",
                                   "s6: standard-normal form alpha sqrt(D)/(LM)")
    rpb = v.m * v.s * M_ ** _HALF * P / H
    q["random_per_block"] = quantity("random_per_block", rpb,
                                     f"m_v·s_v·sqrt(M)·P/H = ({v.m})·({v.s})·M^(1/2)·({P})/({H})",
                                     "s6: M independent centred units (CLT)")
    racc = L_ ** _HALF * rpb
    q["random_accumulated"] = quantity("random_accumulated", racc, f"sqrt(L)·({rpb})",
                                       "s6: L independent blocks; relative to H")
    noise = racc * H
    q["noise_embedding"] = quantity("noise_embedding", noise, f"({racc})·({H})",
                                    "s6: per embedding coordinate, alpha sqrt(D)/sqrt(LM)")
    q["noise_output"] = quantity("noise_output", wo.m * wo.s * D_ ** _HALF * noise,
                                 f"m_out·s_out·sqrt(D)·noise = ({wo.m})·({wo.s})·D^(1/2)·({noise})",
                                 "s6: the readout W_out is independent of the noise (CLT over D)")
    f0 = wo.m * wo.s * D_ ** _HALF * H
    q["f_init"] = quantity("f_init", f0, f"m_out·s_out·sqrt(D)·H = ({f0})", "s6: f = W_out^T h/D")
    chi = ONE + f0
    B = wo.m * wo.s * chi
    q["backward_scale"] = quantity("backward_scale", B, f"m_out·s_out·chi = ({wo.m})·({wo.s})·({chi})",
                                   "s6: b = dloss/dh, coordinates")
    dv = v.lr * v.m * B * P
    q["v_update"] = quantity("v_update", dv, f"lr_v·m_v·B·P = ({v.lr})·({v.m})·({B})·({P})",
                             "s6: Delta v_j = -eta lr_v m_v sigma(p_j) b, coordinates")
    rho_v = D_ ** _HALF * dv / v.s
    q["rho_v"] = quantity("rho_v", rho_v, f"sqrt(D)·Delta v/s_v = D^(1/2)·({dv})/({v.s})",
                          "s6: unit movement along the readout direction, relative")
    vb = D_ ** _HALF * v.s * B
    dp = u.lr * u.m ** 2 * v.m * vb * D_ * H ** 2
    q["preactivation_update"] = quantity(
        "preactivation_update", dp,
        f"lr_u·m_u^2·m_v·(v.b)·D·H^2 = ({u.lr})·({u.m ** 2})·({v.m})·({vb})·D·({H ** 2})",
        "s6: Delta p_j = m_u Delta u_j . h, v_j.b CLT over D")
    rho_u = dp / P
    q["rho_u"] = quantity("rho_u", rho_u, f"Delta p/P = ({dp})/({P})", "s6: relative")
    rho = rho_u + rho_v
    q["unit_movement"] = quantity("unit_movement", rho, "rho_u + rho_v",
                                  "s6: local (per-unit) parameter movement")
    d_v = v.m * M_ * dv * P
    d_u = v.m * M_ * v.s ** 2 * B * u.lr * u.m ** 2 * v.m * D_ * H ** 2
    drift = (d_v + d_u) / H
    q["drift_per_block"] = quantity(
        "drift_per_block", drift, f"(m_v·M·Delta v·P + m_v·M·s_v^2·B·Delta p/(v.b))/H = "
        f"(({d_v}) + ({d_u}))/({H})",
        "s6: coherent over the M units (all Delta v_j along b; v_j (v_j.b) ~ s_v^2 b)")
    dacc = L_ * drift
    q["drift_accumulated"] = quantity("drift_accumulated", dacc, f"L·({drift})",
                                      "s6: coherent over blocks: Mean ODE drift")
    df = wo.m * wo.s * D_ * dacc * H
    q["output_update"] = quantity("output_update", df,
                                  f"m_out·s_out·D·Delta h = ({wo.m})·({wo.s})·D·({dacc * H})",
                                  "s6: Delta h along b ~ W_out: coherent readout")
    q["euler_bias"] = quantity("euler_bias", drift / dacc, "drift_per_block/drift_accumulated",
                               "s6: forward Euler step of the Mean ODE, weak order 1")
    used = {s for g in p.group_names for k in ("multiplier", "init_std", "lr")
            for s, e in p.exponents(g, k).items() if e != 0}
    regs = {s: (_regime(df, rho, noise, s) if (s in used or s != "alpha") else "independent")
            for s in ("L", "M", "D", "alpha")}
    order = {r: i for i, r in enumerate(("unstable", "trivial", "lazy", "maximal"))}
    joint = min((regs[s] for s in ("L", "M", "D") if regs[s] != "independent"),
                key=lambda r: order[r], default="maximal")
    regimes = tuple(regs.items()) + (("joint", joint),)
    rL, rM = racc.exponent("L"), racc.exponent("M")
    dL = dacc.exponent("L") if not dacc.is_zero else None
    reason = (f"random part L^({fmt_rational(rL)}) M^({fmt_rational(rM)}), "
              f"drift L^({fmt_rational(dL) if dL is not None else '-oo'})")
    if rL > 0 or rM > 0 or (dL is not None and dL > 0):
        limit = "divergent"
    elif dL is None or dL < 0:
        limit = "trivial"
    elif rL == 0 and rM == 0:
        limit = "sde"
    else:
        limit = "mean_ode"
    notes = []
    if noise.exponent("D") > 0:
        notes.append(f"noise grows like D^({fmt_rational(noise.exponent('D'))}): the Mean ODE "
                     "error bound needs D = O(LM)")
    if noise.exponent("alpha") > 0:
        notes.append(f"noise grows like alpha^({fmt_rational(noise.exponent('alpha'))}): valid "
                     "while alpha << sqrt(LM)")
    return ExponentResult(model="B", parameterization=p.name, quantities=tuple(q.items()),
                          regimes=regimes, limit_type=limit, limit_reason=reason,
                          notes=tuple(notes))


def hw_parameterization(scale_exponent, lr_exponent, *, scale_d_exponent=_HALF,
                        lr_d_exponent=1) -> Parameterization:
    """2LP parameterization with residual scale (standard-normal form)
    ``D^scale_d_exponent (LM)^scale_exponent`` and raw LR ``D^lr_d_exponent (LM)^lr_exponent``
    on u and v (``hw_mlu``: scale -1, lr +1); u, v of std sqrt(D), ``1/D`` inside sigma and in
    the readout, W_in/W_out frozen (docs/theory.md s6)."""
    s, q, sd, qd = (sp.nsimplify(x) for x in (scale_exponent, lr_exponent, scale_d_exponent,
                                              lr_d_exponent))
    lr = D ** qd * (L * M) ** q
    groups = (
        ("W_in", GroupScaling(multiplier=sp.Integer(1), trainable=False)),
        ("u", GroupScaling(multiplier=1 / D, init_std=sp.sqrt(D), lr=lr)),
        ("v", GroupScaling(multiplier=D ** (sd - _HALF) * (L * M) ** s, init_std=sp.sqrt(D), lr=lr)),
        ("W_out", GroupScaling(multiplier=1 / D, trainable=False)),
    )
    return Parameterization(name=f"hw(scale=D^{sd}(LM)^{s},lr=D^{qd}(LM)^{q})", family="hw",
                            groups=groups,
                            description="[HW] 2LP phase-map point (docs/theory.md s6)")


def hw_regime_map(scale_exponents: Iterable, lr_exponents: Iterable, *,
                 scale_d_exponent=_HALF, lr_d_exponent=1) -> list[dict[str, object]]:
    """Regime over a grid of (residual-scale exponent of LM, LR exponent of LM) (docs/theory.md s6).

    Tidy rows: ``scale_exponent``, ``lr_exponent``, exponents in ``L`` of the unit movement,
    the function change and the noise, and the ``regime`` (joint over L, M, D). The only
    maximal point for ``scale_d_exponent = 1/2`` is scale -1, LR +1: ``sqrt(D)/(LM)``.
    """
    rows = []
    for s, q in product(scale_exponents, lr_exponents):
        res = derive_hw(hw_parameterization(s, q, scale_d_exponent=scale_d_exponent,
                                             lr_d_exponent=lr_d_exponent))
        rows.append({"scale_exponent": float(sp.nsimplify(s)), "lr_exponent": float(sp.nsimplify(q)),
                     "scale_d_exponent": float(sp.nsimplify(scale_d_exponent)),
                     "movement_L": float(res.exponent("unit_movement", "L")),
                     "movement_D": float(res.exponent("unit_movement", "D")),
                     "output_update_L": float(res.exponent("output_update", "L")),
                     "output_update_D": float(res.exponent("output_update", "D")),
                     "noise_L": float(res.exponent("noise_embedding", "L")),
                     "regime": res.regime("joint"), "limit": res.limit_type})
    return rows
