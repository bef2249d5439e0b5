"""Parameterizations: per-parameter-group multiplier, init std and learning rate (docs/theory.md s7).

Convention (docs/theory.md s1): weights are drawn with unit-variance entries times ``init_std`` and
every scale factor is an explicit forward ``multiplier``. A parameterization is, for each
parameter group, three SymPy monomials in the size symbols ``(n, L, M, D, alpha)``:

* ``multiplier`` -- the factor multiplying the group's contribution in the forward pass,
* ``init_std``   -- the standard deviation of the group's entries at initialization,
* ``lr``         -- the factor multiplying the base learning rate ``eta`` for that group.

Constants (``beta``, the base depth ``L0`` of the depth-aware correction, ``1/sqrt(d)`` of the
input layer) live in the monomial's coefficient. Power counting (``exponents``) reads the
exponent of each size symbol; numerics evaluates the monomial at concrete sizes (``evaluate``).

Groups for the [NFD] models (family ``"nfd"``, docs/theory.md s2 and s5):
``U`` input layer (h_0 = U x / sqrt(d)), ``W`` one-layer block, ``W1``/``W2`` the two layers of a
two-layer block, ``v`` readout. Groups for the [HW] model (family ``"hw"``, docs/theory.md s6):
``W_in``, ``u`` and ``v`` of the 2LP block (the block multiplier ``alpha/(LM)`` sits on ``v``,
the ``1/D`` of the inner product on ``u``), ``W_out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .symbols import SIZE_SYMBOLS, L, M, D, alpha, n

#: The three scale kinds every group carries.
SCALE_KINDS: tuple[str, ...] = ("multiplier", "init_std", "lr")


@dataclass(frozen=True)
class GroupScaling:
    """Multiplier, init std and LR factor of one parameter group, as SymPy monomials."""

    multiplier: sp.Expr
    init_std: sp.Expr = sp.Integer(1)
    lr: sp.Expr = sp.Integer(1)
    trainable: bool = True

    def scale(self, kind: str) -> sp.Expr:
        if kind not in SCALE_KINDS:
            raise ValueError(f"unknown scale kind {kind!r}; allowed: {', '.join(SCALE_KINDS)}")
        return getattr(self, kind)


def monomial_exponents(expr: sp.Expr) -> dict[str, sp.Rational]:
    """Exponent of every size symbol in a monomial ``c * n^a * L^b * ...``.

    Raises ``ValueError`` if ``expr`` is not a monomial in the size symbols (e.g. a sum), since
    power counting is only defined for monomials.
    """
    expr = sp.powsimp(sp.sympify(expr), force=True)
    out: dict[str, sp.Rational] = {}
    for s in SIZE_SYMBOLS:
        e = sp.simplify(s * sp.diff(expr, s) / expr) if expr.has(s) else sp.Integer(0)
        if e.free_symbols:
            raise ValueError(f"{expr} is not a monomial in {s}: exponent {e} depends on sizes")
        out[s.name] = sp.Rational(e)
    return out


@dataclass(frozen=True)
class Parameterization:
    """A named parameterization: ``groups`` maps group name -> :class:`GroupScaling`.

    ``branch_exponent`` is ``a`` of docs/theory.md s2 (branch multiplier ``L^-a``), kept
    for display.
    ``options`` holds named constants (e.g. ``gamma``, ``L0``) as a sorted tuple of pairs so the
    object stays hashable (it is part of experiment config hashes).
    """

    name: str
    family: str
    groups: tuple[tuple[str, GroupScaling], ...]
    description: str = ""
    options: tuple[tuple[str, float], ...] = field(default_factory=tuple)

    # -- access -------------------------------------------------------------------------
    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g for g, _ in self.groups)

    def group(self, name: str) -> GroupScaling:
        for g, s in self.groups:
            if g == name:
                return s
        raise ValueError(
            f"parameterization {self.name!r} has no group {name!r}; "
            f"allowed: {', '.join(self.group_names)}"
        )

    def option(self, name: str, default: float | None = None) -> float | None:
        return dict(self.options).get(name, default)

    # -- power counting -----------------------------------------------------------------
    def exponents(self, group: str, kind: str) -> dict[str, sp.Rational]:
        """Exponents over ``(n, L, M, D, alpha)`` of one group's scale ``kind``."""
        return monomial_exponents(self.group(group).scale(kind))

    # -- numerics -----------------------------------------------------------------------
    def evaluate(self, **sizes: float) -> dict[str, dict[str, float]]:
        """Concrete scales at the given sizes: ``{group: {kind: float}}``.

        Every size symbol a scale uses must be given (``n=..., L=..., M=..., D=..., alpha=...``);
        sizes must be positive.
        """
        allowed = {s.name for s in SIZE_SYMBOLS}
        for k, v in sizes.items():
            if k not in allowed:
                raise ValueError(f"unknown size {k!r}; allowed: {', '.join(sorted(allowed))}")
            if not (v > 0):
                raise ValueError(f"size {k} must be positive, got {v!r}")
        subs = {s: sizes[s.name] for s in SIZE_SYMBOLS if s.name in sizes}
        out: dict[str, dict[str, float]] = {}
        for g, scaling in self.groups:
            row = {}
            for kind in SCALE_KINDS:
                val = scaling.scale(kind).subs(subs)
                if val.free_symbols:
                    missing = ", ".join(sorted(str(s) for s in val.free_symbols))
                    raise ValueError(
                        f"parameterization {self.name!r}, group {g!r}, {kind}: "
                        f"sizes {missing} must be given to evaluate it"
                    )
                row[kind] = float(val)
            out[g] = row
        return out

    def table(self) -> list[dict[str, object]]:
        """Tidy rows (group, kind, expression, exponent of each size) for display/tests."""
        rows = []
        for g, scaling in self.groups:
            for kind in SCALE_KINDS:
                e = monomial_exponents(scaling.scale(kind))
                rows.append({"group": g, "kind": kind, "expr": str(scaling.scale(kind)), **e})
        return rows


# -------------------------------------------------------------------------------------------
# Presets (docs/theory.md s7)
# -------------------------------------------------------------------------------------------

def _nfd(name: str, a: sp.Rational, w_lr_L: sp.Rational, *, beta: float = 1.0,
         description: str, readout_mult: sp.Expr | None = None, lr_n: bool = True,
         gamma: float | None = None, L0: float | None = None) -> Parameterization:
    """[NFD] family preset: branch ``beta L^-a n^-1/2``, LRs ``eta n`` (muP) times ``L^c``.

    Groups: U, W (one-layer block), W1, W2 (two-layer block), v. The input layer's
    ``1/sqrt(d)`` is applied by the model (d is the fixed input dimension, not a size).
    """
    b = sp.nsimplify(beta)
    width_lr = n if lr_n else sp.Integer(1)
    branch = b * L ** (-a) * n ** sp.Rational(-1, 2)
    w1_lr = width_lr
    opts: list[tuple[str, float]] = [("beta", float(beta)), ("a", float(a))]
    if gamma is not None:
        g = sp.nsimplify(gamma)
        l0 = sp.nsimplify(L0)
        w1_lr = width_lr * (L / l0) ** g
        opts += [("gamma", float(gamma)), ("L0", float(L0))]
    groups = (
        ("U", GroupScaling(multiplier=sp.Integer(1), lr=width_lr)),
        ("W", GroupScaling(multiplier=branch, lr=width_lr * L ** w_lr_L)),
        ("W1", GroupScaling(multiplier=n ** sp.Rational(-1, 2), lr=w1_lr * L ** w_lr_L)),
        ("W2", GroupScaling(multiplier=branch, lr=width_lr * L ** w_lr_L)),
        ("v", GroupScaling(multiplier=readout_mult if readout_mult is not None else 1 / n,
                           lr=width_lr)),
    )
    return Parameterization(name=name, family="nfd", groups=groups,
                            description=description, options=tuple(sorted(opts)))


def _hw(name: str, alpha_value: sp.Expr, description: str) -> Parameterization:
    """[HW] 2LP preset (docs/theory.md s6): block multiplier ``alpha/(LM)`` on v, ``1/D`` inside,
    u and v entries of std ``sqrt(D)``, raw LR ``L M D / alpha^2`` on u and v; W_in, W_out frozen.
    """
    block_lr = L * M * D / alpha_value ** 2
    groups = (
        ("W_in", GroupScaling(multiplier=sp.Integer(1), trainable=False)),
        ("u", GroupScaling(multiplier=1 / D, init_std=sp.sqrt(D), lr=block_lr)),
        ("v", GroupScaling(multiplier=alpha_value / (L * M), init_std=sp.sqrt(D), lr=block_lr)),
        ("W_out", GroupScaling(multiplier=1 / D, trainable=False)),
    )
    return Parameterization(name=name, family="hw", groups=groups, description=description)


def preset(name: str, **options: float) -> Parameterization:
    """Build a preset by name. Options: ``beta`` (nfd presets), ``gamma`` and ``L0``
    (``depth_mup_corrected``). ``hw_lazy`` keeps ``alpha`` symbolic: pass ``alpha=...`` to
    :meth:`Parameterization.evaluate`.
    """
    builders = {
        "sp": lambda beta=1.0: _nfd(
            "sp", sp.Integer(0), sp.Integer(0), beta=beta, lr_n=False,
            readout_mult=n ** sp.Rational(-1, 2),
            description="standard parameterization: 1/sqrt(n) layers and readout, constant LR"),
        "mup": lambda beta=1.0: _nfd(
            "mup", sp.Integer(0), sp.Integer(0), beta=beta,
            description="muP without depth scaling: branch n^-1/2, readout 1/n, LR eta*n"),
        "depth_mup": lambda beta=1.0: _nfd(
            "depth_mup", sp.Rational(1, 2), sp.Integer(0), beta=beta,
            description="depth-muP: branch beta L^-1/2 n^-1/2, LR eta*n (docs/theory.md s2)"),
        "depth_mup_corrected": lambda beta=1.0, gamma=0.5, L0=4.0: _nfd(
            "depth_mup_corrected", sp.Rational(1, 2), sp.Integer(0), beta=beta,
            gamma=gamma, L0=L0,
            description="depth-muP with the first internal layer's LR times (L/L0)^gamma "
                        "(docs/theory.md s5)"),
        "completep": lambda beta=1.0: _nfd(
            "completep", sp.Integer(1), sp.Integer(1), beta=beta,
            description="CompleteP: branch beta L^-1 n^-1/2, block LR eta*n*L"),
        "hw_mlu": lambda: _hw(
            "hw_mlu", sp.Integer(1),
            description="[HW] 2LP at alpha = 1: residual scale sqrt(D)/(LM) in standard form"),
        "hw_lazy": lambda: _hw(
            "hw_lazy", alpha,
            description="[HW] 2LP with alpha as a parameter (alpha -> infinity: lazy)"),
    }
    if name not in builders:
        raise ValueError(f"unknown parameterization {name!r}; allowed: {', '.join(PRESET_NAMES)}")
    try:
        return builders[name](**options)
    except TypeError as exc:  # unexpected option name
        raise ValueError(f"bad option for parameterization {name!r}: {exc}") from None


PRESET_NAMES: tuple[str, ...] = (
    "sp", "mup", "depth_mup", "depth_mup_corrected", "completep", "hw_mlu", "hw_lazy",
)
