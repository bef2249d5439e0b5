"""Exponent calculus of Model A1, the one-layer-block ResNet of [NFD] (docs/theory.md s2, s4, s7).

Power counting of the recursions of docs/theory.md s2 for an arbitrary parameterization. Notation:
for a group ``G`` in ``{U, W, v}``, ``m_G``, ``s_G``, ``lr_G`` are the orders of its multiplier,
init std and learning-rate factor (the base ``eta`` and ``beta`` are constants). The model::

    h_0 = m_U U x / sqrt(d),   h_l = h_{l-1} + m_W W_l phi(h_{l-1}),   f = m_v v . phi(h_L)
    Delta theta = -eta lr_theta dloss/dtheta,   chi = f - y

Counting rules (each quantity's derivation names its rule):

* **random part per block** ``r = m_W s_W sqrt(n)``: ``W phi`` is a sum of ``n`` independent
  centred terms (CLT), relative to the stream scale ``H = m_U s_U``; ``L`` independent blocks
  accumulate it as ``sqrt(L) r``. Growth of the stream over depth is ``A = 1 + sqrt(L) r``
  (a lower bound: for a fixed ``r`` the growth is exponential in ``L``).
* **readout and gradient**: ``f_0 = m_v s_v sqrt(n) H A`` (CLT), ``chi = 1 + f_0``,
  ``Delta v = lr_v chi m_v H A`` per coordinate, ``gamma = m_v (s_v + Delta v)`` the coordinate
  order of ``df/dh_L`` (docs/theory.md s2: ``g_l = n df/dh_l`` is O(1) under muP).
* **coherent drift per block** (update algebra of s2): ``Delta W = -eta lr_W chi m_W (df/dh_l)
  phi^T`` applied through ``m_W`` to a new ``phi'`` gives ``lr_W m_W^2 (phi . phi') df/dh`` with a
  coherent inner product ``phi . phi' ~ n H^2 A^2``: relative to the stream,
  ``drift = lr_W m_W^2 n gamma chi H A^2`` (depth-muP: ``L^(c_W - 2a)``). Blocks drift in the
  same direction, so ``L`` of them give ``L drift``.
* **feature updates**: input layer ``Delta h_0 / H = lr_U m_U^2 gamma A chi / H``; hidden stream
  ``Delta h / H = Delta h_0/H + L drift``; readout ``Delta f_v = lr_v m_v^2 n (H A)^2 chi``; feature
  change seen by the output ``Delta f_h = gamma n H A (Delta h / H)`` (``v . Delta phi`` is coherent:
  ``Delta phi`` is driven by ``g``, which carries ``v``).
* **reused-weight coupling** (docs/theory.md s4), relative to the backward (or forward) signal:

  - at init, the component of ``W^T g`` along the revealed forward direction ``phi`` has a
    centred coefficient ``<phi, W^T g / sqrt(n)>_n = O(n^-1/2)`` (its mean is exactly zero:
    ``g^0`` is linear in the centred ``v^0``), so per block ``r n^-1/2`` (rms), independent
    over blocks: ``sqrt(L) r n^-1/2`` accumulated; its mean square, and its effect on
    seed-averaged second moments, is the square: ``n^-1``.
  - during training, part (b): Stein's lemma on the Gaussian ``W^0`` gives the Z-dot term
    ``m_W^2 s_W^2 n Gamma phi = r^2 Gamma phi`` per block (``beta^2/L Gamma`` under depth-muP)
    with ``Gamma = E[dg^k_l / dh^s_l]`` in units of ``g/h``. ``Gamma = 0`` at init; after one step
    ``g^k`` depends on ``h^s`` through the readout update (``Delta v / v``) and through the drift
    of all blocks above (``L drift``): ``Gamma = Delta v/v + L drift``. The forward twin uses
    ``Gammat`` = (input-layer update + ``L drift``), counted w.r.t. the branch-scaled backward
    increment ``m_W sqrt(n) z~`` (w.r.t. the raw ``z~`` of s3 it carries one more factor ``r``).
    ``Gamma`` is a mean (coherent over blocks): accumulated ``L r^2 Gamma``. The coupling
    *scalar* (coefficient on ``phi^s``, before the branch multiplier) is ``r Gamma``.
  - part (c) = (a) - (b): Stein's lemma is exact for Gaussian ``W^0``, so at infinite width the
    conditional-Gaussian coupling equals the Z-dot term exactly and (c) -> 0; at finite width
    (c) is the projection of the GIA part on the ``k``-dimensional revealed span, rms
    ``r n^-1/2`` per block, independent over blocks: ``sqrt(L) r n^-1/2``. (If (b) is evaluated
    with the continuum ``Gamma_t`` instead of the network's own ``Gamma_l``, (c) also carries the
    Euler error ``L^-1`` of s3.)
  - the gap between reused and independent backward weights (s4, meaning 2) is the effect of the
    accumulated (b) terms, forward and backward, on the function (width first):
    ``(L r^2 (Gamma + Gammat)) gamma n H A``.
"""

from __future__ import annotations

import sympy as sp

from .exponents_core import (ExponentResult, L_, N_, ONE, Order, cap_one,
                             check_parameterization, classify, depth_limit_type, group_orders,
                             quantity)
from .parameterization import Parameterization

GROUPS_A1: tuple[str, ...] = ("U", "W", "v")
_HALF = sp.Rational(1, 2)


def stream_and_readout(p: Parameterization, r: Order, cite: str) -> dict[str, object]:
    """Shared part of A1/A2: stream scale, growth, readout, gradient and input-layer update.

    ``r`` is the relative random part per block. Returns the quantities and helper orders.
    """
    U, v = group_orders(p, "U"), group_orders(p, "v")
    q = {}
    H = U.m * U.s
    q["h0_scale"] = quantity("h0_scale", H, f"m_U·s_U = ({U.m})·({U.s})", "s2: h_0 = U x/sqrt(d)")
    racc = L_ ** _HALF * r
    q["random_accumulated"] = quantity(
        "random_accumulated", racc, f"sqrt(L)·random_per_block = L^(1/2)·({r})",
        f"{cite}: L independent centred block increments add in quadrature")
    A = ONE + racc
    q["stream_growth"] = quantity("stream_growth", A, f"1 + random_accumulated = 1 + ({racc})",
                                  "s2: growth of |h_l| over depth (lower bound)")
    f0 = v.m * v.s * N_ ** _HALF * H * A
    q["f_init"] = quantity("f_init", f0, f"m_v·s_v·sqrt(n)·H·A = ({v.m})·({v.s})·n^(1/2)·({H})·({A})",
                           "s2: f = m_v v.phi(h_L), CLT over n coordinates")
    chi = ONE + f0
    q["chi"] = quantity("chi", chi, f"1 + f_init = 1 + ({f0})", "s2: chi = f - y, y = O(1)")
    dv = v.lr * chi * v.m * H * A
    q["readout_weight_update"] = quantity(
        "readout_weight_update", dv, f"lr_v·chi·m_v·H·A = ({v.lr})·({chi})·({v.m})·({H})·({A})",
        "s2: Delta v = -eta lr_v chi m_v phi(h_L)")
    vs = v.s + dv
    gamma = v.m * vs
    q["grad_scale"] = quantity("grad_scale", gamma, f"m_v·(s_v + Delta v) = ({v.m})·({vs})",
                               "s2: coordinates of df/dh_L = m_v v phi'(h_L)")
    dh0 = U.lr * U.m ** 2 * gamma * A * chi / H
    q["input_update"] = quantity(
        "input_update", dh0,
        f"lr_U·m_U^2·gamma·A·chi/H = ({U.lr})·({U.m ** 2})·({gamma})·({A})·({chi})/({H})",
        "s2: Delta h_0 = -eta lr_U chi m_U^2 (df/dh_0) |x|^2/d, relative to H")
    dfv = v.lr * v.m ** 2 * N_ * (H * A) ** 2 * chi
    q["readout_output_update"] = quantity(
        "readout_output_update", dfv,
        f"lr_v·m_v^2·n·(H A)^2·chi = ({v.lr})·({v.m ** 2})·n·({(H * A) ** 2})·({chi})",
        "s2: Delta f from Delta v, coherent |phi|^2 ~ n")
    return {"q": q, "H": H, "A": A, "chi": chi, "dv": dv, "vs": vs, "gamma": gamma,
            "dh0": dh0, "racc": racc}


def coupling_quantities(q: dict, r: Order, gamma_b: Order, gamma_f: Order, sens: Order,
                        gamma_b_text: str, gamma_f_text: str, cite: str = "s4") -> None:
    """Reused-weight coupling at init and in training, levels (a), (b), (c) (docs/theory.md s4).

    ``r``: relative random part of the reused matrix per block; ``gamma_b``/``gamma_f``: orders
    of the backward/forward ``Gamma`` after one step; ``sens``: output change per relative
    change of the stream. Adds the coupling quantities to ``q``.
    """
    nh = N_ ** (-_HALF)
    sqL = L_ ** _HALF
    ci = r * nh
    q["coupling_init_per_block"] = quantity(
        "coupling_init_per_block", ci, f"r·n^(-1/2) = ({r})·n^(-1/2)",
        f"{cite}: rms of the projection of W^T g on phi, centred coefficient <phi,z>_n")
    q["coupling_init_accumulated"] = quantity(
        "coupling_init_accumulated", sqL * ci, f"sqrt(L)·({ci})",
        f"{cite}: independent over blocks (rms)")
    q["coupling_init_accumulated_ms"] = quantity(
        "coupling_init_accumulated_ms", (sqL * ci) ** 2, f"({sqL * ci})^2",
        f"{cite}: mean square; effect on seed-averaged second moments (mean of the term is 0)")
    q["gamma_backward"] = quantity(
        "gamma_backward", gamma_b, gamma_b_text,
        f"{cite}: Gamma = E[dg^k/dh^s] after one step, via readout update and drift above")
    q["gamma_forward"] = quantity(
        "gamma_forward", gamma_f, gamma_f_text,
        f"{cite}: forward twin Gammat after one step, via input update and drift below")
    q["coupling_scalar_per_block"] = quantity(
        "coupling_scalar_per_block", r * gamma_b, f"r·Gamma = ({r})·({gamma_b})",
        f"{cite}: Z-dot coefficient on phi^s before the branch multiplier")
    b = r ** 2 * gamma_b
    bf = r ** 2 * gamma_f
    q["coupling_b_per_block"] = quantity(
        "coupling_b_per_block", b, f"r^2·Gamma = ({r ** 2})·({gamma_b})",
        f"{cite}: Stein / Z-dot term (beta^2/L) Gamma phi in the backward pass")
    q["coupling_b_forward_per_block"] = quantity(
        "coupling_b_forward_per_block", bf, f"r^2·Gammat = ({r ** 2})·({gamma_f})",
        f"{cite}: forward twin (beta^2/L) Gammat g in the forward pass")
    q["coupling_b_accumulated"] = quantity(
        "coupling_b_accumulated", L_ * b, f"L·({b})", f"{cite}: Gamma is a mean: coherent over blocks")
    q["coupling_b_forward_accumulated"] = quantity(
        "coupling_b_forward_accumulated", L_ * bf, f"L·({bf})", f"{cite}: coherent over blocks")
    c = r * nh
    q["coupling_c_per_block"] = quantity(
        "coupling_c_per_block", c, f"r·n^(-1/2) = ({r})·n^(-1/2)",
        f"{cite}: (a)-(b); Stein exact for Gaussian W^0, left: projection of the GIA part on the "
        "revealed span (0 at infinite width)")
    q["coupling_c_accumulated"] = quantity(
        "coupling_c_accumulated", L_ ** _HALF * c, f"sqrt(L)·({c})", f"{cite}: independent over blocks")
    a_acc = L_ * b + L_ ** _HALF * c
    q["coupling_a_accumulated"] = quantity(
        "coupling_a_accumulated", a_acc, "(b) + (c) accumulated",
        f"{cite}: full reused-weight term; each size's exponent with the others fixed")
    gap = (L_ * b + L_ * bf) * sens
    q["gia_gap"] = quantity(
        "gia_gap", gap, f"L·r^2·(Gamma + Gammat)·sens = ({L_ * (b + bf)})·({sens})",
        f"{cite}: reused vs independent backward weights, width first: the accumulated (b) "
        "terms seen by the output")


def width_regime(stream_update: Order) -> str:
    """Regime in width at fixed depth: ``feature_learning`` if the stream moves Theta(1) in n,
    ``kernel`` if it vanishes (lazy/NTK-like), ``unstable`` if it grows."""
    e = stream_update.exponent("n") if not stream_update.is_zero else None
    if e is None or e < 0:
        return "kernel"
    return "feature_learning" if e == 0 else "unstable"


def derive_a1(p: Parameterization) -> ExponentResult:
    """Power counting of Model A1 (docs/theory.md s2, s4) for any ``nfd`` parameterization.

    Layer regimes over ``(n, L)`` (each size with the other fixed): ``U`` by the input-layer
    update, ``W`` (hidden blocks) by their accumulated drift, ``v`` by the readout's change of the
    output. Limit type over depth (width first) from the accumulated random part and drift.
    """
    p = check_parameterization(p, "nfd", GROUPS_A1, "A1")
    W = group_orders(p, "W")
    r = W.m * W.s * N_ ** _HALF
    q0 = {"random_per_block": quantity(
        "random_per_block", r, f"m_W·s_W·sqrt(n) = ({W.m})·({W.s})·n^(1/2)",
        "s2: W phi is a CLT sum over n coordinates")}
    base = stream_and_readout(p, r, "s2")
    q = {**q0, **base["q"]}
    H, A, chi, gamma = base["H"], base["A"], base["chi"], base["gamma"]
    drift = W.lr * W.m ** 2 * N_ * gamma * chi * H * A ** 2
    q["drift_per_block"] = quantity(
        "drift_per_block", drift,
        f"lr_W·m_W^2·n·gamma·chi·H·A^2 = ({W.lr})·({W.m ** 2})·n·({gamma})·({chi})·({H})·({A ** 2})",
        "s2: update algebra, Delta W = -eta lr_W chi m_W (df/dh) phi^T, coherent phi.phi' ~ n")
    dacc = L_ * drift
    q["drift_accumulated"] = quantity("drift_accumulated", dacc, f"L·({drift})",
                                      "s2: blocks drift coherently")
    dh = base["dh0"] + dacc
    q["stream_update"] = quantity("stream_update", dh, "input_update + drift_accumulated",
                                  "s2: Delta h_l / H at depth-time t = l/L")
    sens = gamma * N_ * H * A
    q["output_sensitivity"] = quantity(
        "output_sensitivity", sens, f"gamma·n·H·A = ({gamma})·n·({H})·({A})",
        "s2: Delta f per relative stream change, v.Delta phi coherent")
    dfh = sens * dh
    q["feature_output_update"] = quantity("feature_output_update", dfh, f"({sens})·({dh})",
                                          "s2: Delta f from the features")
    q["output_update"] = quantity("output_update", q["readout_output_update"].order + dfh,
                                  "readout_output_update + feature_output_update", "s2")
    gb = cap_one(base["dv"] / group_orders(p, "v").s)
    gamma_b = gb + dacc
    gamma_f = base["dh0"] + dacc
    coupling_quantities(q, r, gamma_b, gamma_f, sens,
                        f"Delta v/s_v + drift_accumulated = ({gb}) + ({dacc})",
                        f"input_update + drift_accumulated = ({base['dh0']}) + ({dacc})")
    limit, reason = depth_limit_type(base["racc"], dacc)
    regimes = (("U", classify(base["dh0"], ("n", "L"))),
               ("W", classify(dacc, ("n", "L"))),
               ("v", classify(q["readout_output_update"].order, ("n", "L"))),
               ("output", classify(q["output_update"].order, ("n", "L"))),
               ("width", width_regime(dh)))
    notes = []
    if limit == "divergent":
        notes.append("the random part or the drift grows with L: power counting gives lower "
                     "bounds (growth is exponential in L at fixed per-block size)")
    if H.exponent("n") != 0 or H.exponent("L") != 0:
        notes.append(f"input embedding is not Theta(1) ({H}); phi counted as 1-homogeneous")
    return ExponentResult(model="A1", parameterization=p.name,
                          quantities=tuple(q.items()), regimes=regimes,
                          limit_type=limit, limit_reason=reason, notes=tuple(notes))

