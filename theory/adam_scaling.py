"""Adam learning-rate factors derived from the exponent calculus (docs/theory.md s7, "Adam").

SGD moves an entry of group ``G`` by ``lr_G`` times one entry of its gradient; Adam (and AdamW,
and signSGD, its first step at ``eps -> 0``) moves it by ``lr^Adam_G`` times an O(1) number,
whatever the gradient's size, because it divides the gradient by its own running rms. An Adam
run therefore reproduces the entry-wise update sizes of the SGD run -- hence every feature
update, drift and regime the calculus derives for it -- exactly when

    lr^Adam_G  =  lr_G * |dloss/dG|_entry .

The order of one gradient entry is read off the calculus's own update formulas (the same factors
the feature updates of :mod:`.exponents_a1`, :mod:`.exponents_a2` use; ``chi`` the output error,
``gamma`` the coordinate order of ``df/dh``, ``H`` the stream scale, ``A`` its growth over depth,
``r1`` the first internal layer's scale, ``grad_internal`` the coordinate order of ``df/du``):

* ``U`` (input layer, inputs O(1)):        ``chi m_U gamma A``
* ``W`` (one-layer block):                  ``chi m_W gamma (H A)``
* ``W1`` (first layer of a two-layer block): ``chi m_W1 grad_internal (H A)``
* ``W2`` (second layer):                     ``chi m_W2 gamma A (r1 H)``
* ``v`` (readout):                           ``chi m_v (H A)``

Each order is a sum of monomials; a learning-rate factor must be one monomial, so the envelope
(largest exponent of every size) is taken. Depth-muP with muP width gives ``lr^Adam_W =
n^-1/2 L^-1/2`` in this multiplier form (equivalently ``1/fan_in`` times ``L^-1/2`` for a
multiplier-1 layer, Tensor Programs VI), ``U`` and ``v`` Theta(1); CompleteP gives ``W1, W2``:
``n^-1/2`` with no depth factor. No rate is typed in: changing a preset changes the result.
"""

from __future__ import annotations

from dataclasses import dataclass


from .exponent_calculus import derive
from .exponents_core import Order, fmt_exponent, group_orders
from .parameterization import GroupScaling, Parameterization, preset

__all__ = ["OPTIMIZERS", "GradientEntry", "gradient_entries", "adam_parameterization",
           "optimizer_parameterization", "lr_exponents"]

#: optimizer families: ``sgd`` (the calculus's own), ``adam`` (Adam, AdamW, signSGD)
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")


@dataclass(frozen=True)
class GradientEntry:
    """Order of one gradient entry of a group, the Adam LR factor it implies, and how."""

    group: str
    order: Order
    sgd_lr: Order
    adam_lr: Order
    derivation: str


def _q(res, name: str) -> Order:
    return res[name].order


def gradient_entries(p: Parameterization | str, model: str = "A1") -> dict[str, GradientEntry]:
    """Per group of ``model`` (``"A1"``: U, W, v; ``"A2"``: U, W1, W2, v), the order of one
    gradient entry under ``p`` and the Adam LR factor ``lr_G * entry`` (module docstring)."""
    if isinstance(p, str):
        p = preset(p)
    res = derive(p, model)
    chi, gamma, H, A = (_q(res, k) for k in ("chi", "grad_scale", "h0_scale", "stream_growth"))
    m = {g: group_orders(p, g).m for g in p.group_names}
    if res.model == "A1":
        entries = {
            "U": (chi * m["U"] * gamma * A, "chi·m_U·gamma·A"),
            "W": (chi * m["W"] * gamma * H * A, "chi·m_W·gamma·(H A)"),
        }
    elif res.model == "A2":
        r1, gu = _q(res, "internal_scale"), _q(res, "grad_internal")
        entries = {
            "U": (chi * m["U"] * gamma * A, "chi·m_U·gamma·A"),
            "W1": (chi * m["W1"] * gu * H * A, "chi·m_W1·grad_internal·(H A)"),
            "W2": (chi * m["W2"] * gamma * A * r1 * H, "chi·m_W2·gamma·A·(r1 H)"),
        }
    else:
        raise ValueError(f"Adam factors are derived for models A1 and A2, not {model!r}")
    entries["v"] = (chi * m["v"] * H * A, "chi·m_v·(H A)")
    out = {}
    for g, (order, text) in entries.items():
        lr = group_orders(p, g).lr
        adam = Order.of(lr.envelope()) * Order.of(order.envelope()) if not lr.is_zero else lr
        out[g] = GradientEntry(
            group=g, order=order, sgd_lr=lr, adam_lr=adam,
            derivation=(f"|dloss/d{g}|_entry = {text} = {order}; lr^Adam_{g} = lr_{g}·entry = "
                        f"({lr})·({order.envelope() if not order.is_zero else 0}) = {adam}  "
                        f"[s7 Adam: equal entry-wise updates]"))
    return out


def adam_parameterization(p: Parameterization | str, model: str = "A1") -> Parameterization:
    """``p`` with every trained group's LR factor replaced by its Adam factor (a monomial with
    coefficient 1; multipliers and init stds unchanged). Groups the model does not use keep
    their SGD factor and are listed in the description."""
    if isinstance(p, str):
        p = preset(p)
    ent = gradient_entries(p, model)
    groups = []
    for g, s in p.groups:
        if g in ent and s.trainable:
            s = GroupScaling(multiplier=s.multiplier, init_std=s.init_std,
                             lr=ent[g].adam_lr.envelope(), trainable=s.trainable)
        groups.append((g, s))
    untouched = [g for g in p.group_names if g not in ent]
    desc = f"{p.name} with Adam LR factors derived for model {model}"
    if untouched:
        desc += f" (groups {', '.join(untouched)} keep the SGD factor)"
    return Parameterization(name=f"{p.name}+adam", family=p.family, groups=tuple(groups),
                            description=desc, options=p.options)


def optimizer_parameterization(p: Parameterization | str, optimizer: str,
                               model: str = "A1") -> Parameterization:
    """``p`` itself for ``"sgd"``, :func:`adam_parameterization` for ``"adam"``."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
    if isinstance(p, str):
        p = preset(p)
    return p if optimizer == "sgd" else adam_parameterization(p, model)


def lr_exponents(p: Parameterization | str, model: str = "A1") -> list[dict[str, object]]:
    """Tidy rows: group, SGD and Adam LR exponents in ``n`` and ``L``, derivation."""
    rows = []
    for g, e in gradient_entries(p, model).items():
        rows.append({"group": g,
                     "sgd_n": fmt_exponent(e.sgd_lr.exponent("n") if not e.sgd_lr.is_zero else None),
                     "sgd_L": fmt_exponent(e.sgd_lr.exponent("L") if not e.sgd_lr.is_zero else None),
                     "adam_n": fmt_exponent(e.adam_lr.exponent("n") if not e.adam_lr.is_zero else None),
                     "adam_L": fmt_exponent(e.adam_lr.exponent("L") if not e.adam_lr.is_zero else None),
                     "derivation": e.derivation})
    return rows
