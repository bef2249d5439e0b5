"""Shared core of the exponent calculus (docs/theory.md s7): orders of magnitude as sets of monomials.

Power counting replaces every term of a recursion by its order in the size symbols
``(n, L, M, D, alpha)`` (docs/theory.md s1). An :class:`Order` is a sum of monomials with unit
coefficients, kept as its *Pareto-maximal* terms (a term dominated in every size by another term
is dropped). Rules:

* product of orders  = order of the product (terms multiply pairwise);
* sum of orders      = union of terms (constants never cancel in power counting: this is the
  generic-position assumption of the calculus);
* ``a / b``          = ``a`` times the inverse of ``b``'s envelope (a sum in the denominator
  counts as its largest term, size by size);
* ``order ** q``     = termwise power (``sqrt(a + b) ~ sqrt(a) + sqrt(b)`` up to constants);
* the exponent of one size with the others held fixed is the maximum over terms
  (:meth:`Order.exponent`); the exponent after sending some sizes to infinity *first* (the
  width-first limit of docs/theory.md s3) keeps only the terms that survive that limit
  (:meth:`Order.limit_exponent`).

Sums of *independent, centred* terms (random parts over blocks, CLT sums over coordinates)
are counted as ``sqrt(count)`` times one term; sums of *coherent* terms (same sign: inner
products ``phi . phi'`` of ``n`` positively correlated coordinates, training drifts over blocks)
as ``count`` times one term. Each derivation says which rule it used.

Regimes (docs/theory.md s7): a quantity whose order vanishes is *collapsed*, Theta(1) is *maximal*,
growing is *unstable*; an identically zero quantity (untrained group) is *frozen*.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import sympy as sp

from .parameterization import Parameterization, monomial_exponents
from .symbols import SIZE_NAMES, SIZE_SYMBOLS

REGIMES: tuple[str, ...] = ("collapsed", "maximal", "unstable", "frozen")


@lru_cache(maxsize=4096)
def _parse(expr: sp.Expr) -> tuple[sp.Rational, ...]:
    """Exponent vector (over SIZE_SYMBOLS) of a monomial; raises ``ValueError`` otherwise."""
    e = monomial_exponents(expr)
    return tuple(sp.Rational(e[name]) for name in SIZE_NAMES)


def _mono(vec: tuple[sp.Rational, ...]) -> sp.Expr:
    out = sp.Integer(1)
    for s, e in zip(SIZE_SYMBOLS, vec):
        out *= s ** e
    return out


@dataclass(frozen=True)
class Order:
    """A sum of unit-coefficient monomials in the size symbols (empty = identically zero).

    ``terms`` holds the exponent vectors (over ``SIZE_SYMBOLS``) of the Pareto-maximal terms;
    :attr:`monomials` gives them as SymPy expressions.
    """

    terms: tuple[tuple[sp.Rational, ...], ...]

    # -- construction -------------------------------------------------------------------
    @staticmethod
    def of(expr: sp.Expr | int) -> "Order":
        expr = sp.sympify(expr)
        if expr == 0:
            return ZERO
        return Order._pruned([_parse(expr)])

    @staticmethod
    def _pruned(terms: Iterable[tuple[sp.Rational, ...]]) -> "Order":
        keys = list(dict.fromkeys(terms))
        keep = [k for k in keys
                if not any(o != k and all(a <= b for a, b in zip(k, o)) for o in keys)]
        keep.sort(key=lambda k: tuple(-x for x in k))
        return Order(tuple(keep))

    @property
    def monomials(self) -> tuple[sp.Expr, ...]:
        return tuple(_mono(t) for t in self.terms)

    # -- algebra ------------------------------------------------------------------------
    def __mul__(self, other: "Order | sp.Expr | int") -> "Order":
        other = other if isinstance(other, Order) else Order.of(other)
        return Order._pruned(tuple(x + y for x, y in zip(a, b))
                             for a in self.terms for b in other.terms)

    __rmul__ = __mul__

    def __add__(self, other: "Order | sp.Expr | int") -> "Order":
        other = other if isinstance(other, Order) else Order.of(other)
        return Order._pruned(self.terms + other.terms)

    __radd__ = __add__

    def __truediv__(self, other: "Order | sp.Expr | int") -> "Order":
        other = other if isinstance(other, Order) else Order.of(other)
        if other.is_zero:
            raise ValueError("division by an identically zero order")
        env = other._envelope_vec()
        return Order._pruned(tuple(x - y for x, y in zip(a, env)) for a in self.terms)

    def __pow__(self, q: sp.Rational | int) -> "Order":
        q = sp.Rational(q)
        return Order._pruned(tuple(x * q for x in t) for t in self.terms)

    def _envelope_vec(self) -> tuple[sp.Rational, ...]:
        if self.is_zero:
            raise ValueError("the zero order has no envelope")
        return tuple(max(t[i] for t in self.terms) for i in range(len(SIZE_NAMES)))

    def envelope(self) -> sp.Expr:
        """The monomial whose exponent in each size is the max over terms (the order of a sum
        in each size with the others fixed). Dividing by a sum divides by its envelope."""
        return _mono(self._envelope_vec())

    # -- reading ------------------------------------------------------------------------
    @property
    def is_zero(self) -> bool:
        return not self.terms

    def exponent(self, symbol: str = "L") -> sp.Rational | None:
        """Exponent of ``symbol`` with every other size held fixed (max over terms).

        ``None`` for an identically zero order.
        """
        i = _index(symbol)
        if self.is_zero:
            return None
        return max(t[i] for t in self.terms)

    def exponents(self) -> dict[str, sp.Rational | None]:
        return {name: self.exponent(name) for name in SIZE_NAMES}

    def limit_exponent(self, symbol: str = "L", first: Sequence[str] = ("n",)) -> sp.Rational | None:
        """Exponent of ``symbol`` after the sizes in ``first`` were sent to infinity first.

        Only the terms leading in ``first`` (largest exponents, lexicographically in the given
        order) matter in that limit; the exponent of ``symbol`` is the max over them.
        """
        if self.is_zero:
            return None
        idx = [_index(s) for s in first]
        key = lambda t: tuple(t[i] for i in idx)  # noqa: E731
        top = max(key(t) for t in self.terms)
        i = _index(symbol)
        return max(t[i] for t in self.terms if key(t) == top)

    def __str__(self) -> str:
        if self.is_zero:
            return "0"
        return " + ".join(fmt_vec(t) for t in self.terms)


def _index(symbol: str) -> int:
    if symbol not in SIZE_NAMES:
        raise ValueError(f"unknown size symbol {symbol!r}; allowed: {', '.join(SIZE_NAMES)}")
    return SIZE_NAMES.index(symbol)


def fmt_rational(q: sp.Rational) -> str:
    q = sp.Rational(q)
    return str(q.p) if q.q == 1 else f"{q.p}/{q.q}"


def fmt_exponent(q: sp.Rational | None) -> str:
    """An exponent as derivations write it: ``fmt_rational``, or ``-oo`` for none (a quantity
    that vanishes identically)."""
    return "-oo" if q is None else fmt_rational(q)


def exponent_value(q: sp.Rational | None) -> float | None:
    """An exponent as a float (``None`` stays ``None``)."""
    return None if q is None else float(q)


def fmt_vec(vec: tuple[sp.Rational, ...]) -> str:
    parts = []
    for name, e in zip(SIZE_NAMES, vec):
        if e == 0:
            continue
        parts.append(name if e == 1 else f"{name}^({fmt_rational(e)})")
    return "·".join(parts) if parts else "1"


def fmt_monomial(mono: sp.Expr) -> str:
    return fmt_vec(_parse(sp.sympify(mono)))


ZERO = Order(())
ONE = Order.of(1)
#: Orders of the size symbols themselves (``N`` is ``n``, the width).
N_, L_, M_, D_, ALPHA_ = (Order.of(s) for s in SIZE_SYMBOLS)


@dataclass(frozen=True)
class Quantity:
    """One power-counted quantity: its order and a one-line derivation."""

    name: str
    order: Order
    derivation: str

    def exponent(self, symbol: str = "L") -> sp.Rational | None:
        return self.order.exponent(symbol)

    def limit_exponent(self, symbol: str = "L", first: Sequence[str] = ("n",)):
        return self.order.limit_exponent(symbol, first)

    def __str__(self) -> str:
        return self.derivation


def quantity(name: str, order: Order, formula: str, cite: str) -> Quantity:
    """Build a quantity whose derivation reads ``name = formula = order  [cite]``."""
    return Quantity(name, order, f"{name} = {formula} = {order}  [{cite}]")


def cap_one(order: Order) -> Order:
    """Order of ``x / (1 + x)`` (a relative change that saturates at Theta(1)): every exponent
    clipped at 0, size by size."""
    return Order._pruned(tuple(min(x, sp.Integer(0)) for x in t) for t in order.terms)


def classify(order: Order, symbols: Sequence[str]) -> str:
    """Regime of a feature/function update over the given sizes (docs/theory.md s7).

    ``frozen`` if identically zero; ``unstable`` if it grows in any of ``symbols`` (others
    fixed); ``maximal`` if Theta(1) in all; ``collapsed`` otherwise.
    """
    if order.is_zero:
        return "frozen"
    ex = [order.exponent(s) for s in symbols]
    if any(e > 0 for e in ex):
        return "unstable"
    if all(e == 0 for e in ex):
        return "maximal"
    return "collapsed"


@dataclass(frozen=True)
class GroupOrders:
    """Orders of one group's multiplier ``m``, init std ``s`` and learning rate ``lr``
    (``lr`` is zero for an untrained group)."""

    m: Order
    s: Order
    lr: Order


def group_orders(p: Parameterization, group: str) -> GroupOrders:
    g = p.group(group)
    return GroupOrders(m=Order.of(g.multiplier), s=Order.of(g.init_std),
                       lr=Order.of(g.lr) if g.trainable else ZERO)


def check_parameterization(p: object, family: str, groups: Sequence[str], model: str) -> Parameterization:
    """Raise ``ValueError`` unless ``p`` is a Parameterization of ``family`` with ``groups``."""
    if not isinstance(p, Parameterization):
        raise ValueError(f"model {model} needs a Parameterization (or a preset name), "
                         f"got {type(p).__name__}")
    if p.family != family:
        raise ValueError(f"model {model} needs a parameterization of family {family!r}; "
                         f"{p.name!r} has family {p.family!r}")
    missing = [g for g in groups if g not in p.group_names]
    if missing:
        raise ValueError(f"model {model} needs groups {', '.join(groups)}; parameterization "
                         f"{p.name!r} lacks {', '.join(missing)}")
    return p


@dataclass(frozen=True)
class ExponentResult:
    """Frozen output of the calculus for one (model, parameterization).

    ``quantities`` maps name -> :class:`Quantity` (orders with one-line derivations);
    ``regimes`` maps a layer (or, for [HW], a size symbol) -> regime; ``limit_type`` is the
    kind of depth limit (A1/A2: sde, ode, trivial, divergent, sde_lazy; [HW]: mean_ode, ...).
    """

    model: str
    parameterization: str
    quantities: tuple[tuple[str, Quantity], ...]
    regimes: tuple[tuple[str, str], ...]
    limit_type: str
    limit_reason: str
    notes: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Quantity:
        for k, q in self.quantities:
            if k == name:
                return q
        raise ValueError(f"no quantity {name!r} for model {self.model}; allowed: "
                         f"{', '.join(k for k, _ in self.quantities)}")

    def exponent(self, name: str, symbol: str = "L") -> sp.Rational | None:
        """Exponent of ``symbol`` (others fixed) of quantity ``name``."""
        return self[name].exponent(symbol)

    def regime(self, layer: str) -> str:
        for k, r in self.regimes:
            if k == layer:
                return r
        raise ValueError(f"no regime for {layer!r}; allowed: {', '.join(k for k, _ in self.regimes)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.quantities)

    def table(self) -> list[dict[str, object]]:
        """Tidy rows: one per quantity, exponent of each size (others fixed), derivation."""
        rows = []
        for k, q in self.quantities:
            rows.append({"model": self.model, "parameterization": self.parameterization,
                         "quantity": k, "order": str(q.order), **q.order.exponents(),
                         "derivation": q.derivation})
        return rows

    def explain(self) -> str:
        lines = [f"[{self.model}] {self.parameterization}: limit {self.limit_type} "
                 f"({self.limit_reason})"]
        lines += [f"  {q.derivation}" for _, q in self.quantities]
        lines += [f"  regime {k}: {r}" for k, r in self.regimes]
        lines += [f"  note: {t}" for t in self.notes]
        return "\n".join(lines)


def depth_limit_type(random_acc: Order, drift_acc: Order, symbol: str = "L",
                     first: Sequence[str] = ("n",)) -> tuple[str, str]:
    """Limit type over depth from the accumulated random part and training drift
    (docs/theory.md s2, s7), after the sizes in ``first`` (width) went to infinity:

    divergent if either grows; sde if both Theta(1); ode if the random part vanishes and the
    drift is Theta(1); sde_lazy if the random part is Theta(1) and the drift vanishes (an SDE
    at init that training does not move); trivial if both vanish.
    """
    r = random_acc.limit_exponent(symbol, first)
    d = drift_acc.limit_exponent(symbol, first) if not drift_acc.is_zero else None
    rt = f"accumulated random part {symbol}^({fmt_rational(r)})"
    dt = ("no training drift (frozen blocks)" if d is None
          else f"accumulated drift {symbol}^({fmt_rational(d)})")
    reason = f"{rt}, {dt}"
    if r > 0 or (d is not None and d > 0):
        return "divergent", reason
    if d is None or d < 0:
        return ("sde_lazy" if r == 0 else "trivial"), reason
    return ("sde" if r == 0 else "ode"), reason


def weak_depth_error(r: "ExponentResult") -> tuple[sp.Rational | None, str]:
    """Weak (expectation) error of the depth-L, infinite-width network to its depth limit, from
    the orders of a derived model (docs/theory.md s3, s7): the Euler-Maruyama step of an SDE
    limit has weak order 1; an ODE limit adds the centred random part at second order; no finite
    depth limit gives ``None``. Returns ``(exponent in L, derivation)``."""
    racc = r["random_accumulated"].order.limit_exponent("L")
    if r.limit_type == "sde":
        return sp.Integer(-1), ("Euler-Maruyama step of the McKean-Vlasov SDE: drift L^-1 and "
                                "noise variance L^-1 per block, weak order 1 (smooth "
                                "coefficients, width first, fixed K): L^-1")
    if r.limit_type == "ode":
        e = max(sp.Integer(-1), 2 * racc)
        return e, (f"Euler step of the ODE (L^-1) plus the centred random part "
                   f"L^({fmt_rational(racc)}) that enters expectations at second order "
                   f"(L^({fmt_rational(2 * racc)})): L^({fmt_rational(e)})")
    return None, f"no finite depth limit ({r.limit_type}: {r.limit_reason})"
