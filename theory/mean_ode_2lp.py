"""Neural Mean ODE of the [HW] 2LP ResNet (docs/theory.md s6), derived from the finite network.

Model B, 2LP block, per-unit function ``Phi(h, z) = v sigma(u . h / D)``, ``z = (u, v)`` in
``R^{2D}``; ``L`` blocks of ``M`` units, block scale ``c = alpha/(L M)``, readout
``f = W_out^T h_L / D``, loss ``(1/(2N)) sum_x |f(x) - y(x)|^2``, raw GD rates
``eta_u L M D / alpha^2`` on u and ``eta_v L M D / alpha^2`` on v (W_in, W_out frozen), adjoint
``g_l(x) = dloss/dh_l(x)``. :func:`derive_finite_step` writes one block with explicit symbolic
units, inputs and adjoints (``n_comp`` components; nothing below depends on that number) and
derives, with SymPy's Jacobians:

* **forward**: ``h_l - h_{l-1} = (1/L) (1/M) sum_j [alpha Phi(h_{l-1}, z_j)]`` exactly, for every
  L and M -- the Euler step ``ds = 1/L`` of ``d/ds h = alpha E_z[Phi(h, Z(s, z))]`` with the
  empirical measure of the block's M units;
* **backward**: ``g_{l-1} = (d h_l / d h_{l-1})^T g_l = g_l - (1/L) (1/M) sum_j B_j`` with the
  per-unit integrand ``B_j = -alpha d_h Phi(h_{l-1}, z_j)^T g_l``, i.e. the adjoint of that Euler
  step is the Euler step (backward in s) of ``d/ds b = E_z[B] = -alpha E_z[d_h Phi^T b]``;
* **training**: ``Delta z_j = -(raw rate) sum_x (d h_l(x) / d z_j)^T g_l(x)`` equals
  ``sum_x [per-input update]`` with L and M cancelling (the limit exists at fixed step):

      Delta u = -(eta_u D/alpha) sum_x d_u Phi(h(x), z)^T b(x)
              = -(eta_u/alpha) sum_x sigma'(p) (v.b) h
      Delta v = -(eta_v D/alpha) sum_x d_v Phi(h(x), z)^T b(x) = -(eta_v D/alpha) sum_x sigma(p) b

  with ``p = u . h / D``, evaluated at ``h = h_{l-1}(x)``, ``b = g_l(x)`` (stream entering the
  block, adjoint leaving it);
* **terminal**: ``b(1, x) = dloss/dh_L(x) = W_out (f(x) - y(x)) / (D N)``.

So the Mean ODE of step k reads (``s = l/L``, ``Z_0(s, z) = z ~ N(0, D I_{2D})``)::

    forward   d/ds h_k(s,x) = alpha E_z[ v_k sigma(p) ],                    h_k(0,x) = W_in x
    backward  d/ds b_k(s,x) = -(alpha/D) E_z[ sigma'(p) (v_k . b_k) u_k ],  b_k(1,x) above
    training  u_{k+1} = u_k - (eta_u/alpha) sum_x sigma'(p) (v_k . b_k) h_k
              v_{k+1} = v_k - (eta_v D/alpha) sum_x sigma(p) b_k,   p = u_k(s,z) . h_k(s,x)/D

(``u_k = u_k(s, z)`` etc.). docs/theory.md s6 writes the training line as
``(eta/alpha) mean_x[d_Z Phi^T b]`` for a general block with raw rate ``L M eta/alpha^2``; with the 2LP block's extra factor D in
the raw rate and the loss's 1/N carried by ``b`` (as here) the derived step is ``eta D/alpha``
times the sum over x -- the same equation with ``b`` normalized as the finite network's adjoint.
With linear sigma these equations give the moment system of :mod:`infdepth.theory.mean_ode_linear`
(``e_u = eta_u/alpha``, ``e_v = eta_v/alpha`` acting on ``C = sum_x b h^T``).

Every per-particle term has the form **scalar coefficient x one vector** (``v``, ``u``, ``h`` or
``b``); :func:`derive_terms` extracts the coefficient (ratio of components, checked on every
component) and rewrites it in the scalars ``p = u.h/D``, ``vb = v.b``, ``sigma_p = sigma(p)``,
``dsigma_p = sigma'(p)`` (it fails if anything else is left). :func:`render_mean_ode_2lp` emits
the generated module :mod:`infdepth.theory.generated.mean_ode_2lp` (registered in
:mod:`infdepth.theory.codegen`): elementwise ``*_coefficient`` functions (plain arithmetic: numpy
arrays and torch tensors alike; the batched solver :mod:`infdepth.numerics.mean_ode` uses these
and contracts them with the vector by einsum) and per-particle vector functions (last axis = the
D components, leading axes broadcast) that are the reference the solver's batched evaluation is
tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from .symbols import D, L, M, alpha

__all__ = ["sigma", "dsigma", "Term", "TERM_NAMES", "PARTICLE_SCALARS", "PARTICLE_TERMS",
           "unit_function", "derive_finite_step", "derive_terms", "component_terms",
           "render_mean_ode_2lp"]

# -- symbols -----------------------------------------------------------------------------------
N = sp.Symbol("N", positive=True)                      # number of training inputs
eta_u, eta_v = sp.symbols("eta_u eta_v", nonnegative=True)
p = sp.Symbol("p", real=True)                          # pre-activation u . h / D
vb = sp.Symbol("vb", real=True)                        # v . b
sigma_p = sp.Symbol("sigma_p", real=True)              # sigma(p)
dsigma_p = sp.Symbol("dsigma_p", real=True)            # sigma'(p)
#: The per-particle scalars a coefficient may contain; everything else in it is a constant.
PARTICLE_SCALARS = (p, vb, sigma_p, dsigma_p)


class dsigma(sp.Function):
    """sigma', the activation's derivative (undefined; any activation)."""


class sigma(sp.Function):
    """The activation (undefined; its derivative is :class:`dsigma`)."""

    def fdiff(self, argindex=1):
        return dsigma(self.args[0])


def _vec(name: str, n: int) -> sp.Matrix:
    return sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"{name}_{i}", real=True))


def _dot(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    return (a.T * b)[0, 0]


def unit_function(h: sp.Matrix, u: sp.Matrix, v: sp.Matrix) -> sp.Matrix:
    """Phi(h, z) = v sigma(u . h / D) (docs/theory.md s6, 2LP block)."""
    return v * sigma(_dot(u, h) / D)


def _is_zero(m: sp.Matrix) -> bool:
    return all(sp.simplify(e) == 0 for e in m)


@dataclass(frozen=True)
class FiniteStep:
    """Per-unit terms of one finite block, derived (component form, ``n_comp`` components).

    ``forward[j]``: ``L M`` times unit j's share of ``h_l - h_{l-1}``; ``backward[j]``: ``-L M``
    times unit j's share of ``g_{l-1} - g_l``; ``du[j][x]``/``dv[j][x]``: input x's share of
    unit j's GD update; ``terminal[x]``: ``dloss/dh_L(x)``. ``h, g, units, W_out, f, y`` are the
    symbols used.
    """

    forward: tuple
    backward: tuple
    du: tuple
    dv: tuple
    terminal: tuple
    h: tuple
    g: tuple
    units: tuple
    W_out: sp.Matrix
    f: tuple
    y: tuple


@lru_cache(maxsize=4)
def derive_finite_step(n_comp: int = 3, n_units: int = 2, n_inputs: int = 2,
                       d_out: int = 2) -> FiniteStep:
    """One finite block and its GD step, differentiated by SymPy (module docstring).

    Checks (``AssertionError`` otherwise): the block increment and the adjoint's increment are
    sums of per-unit shares that, scaled by ``L M``, do not depend on L or M; the per-input GD
    update of a unit does not depend on L or M; the per-input updates add up to the update
    along the gradient of ``sum_x g_l(x) . h_l(x)`` (a consistency check of the summation: with
    the adjoint ``g_l`` fixed, both sides are the same chain rule, so it is not an independent
    check of the full-batch loss -- that is ``tests/numerics/test_mean_ode.py``'s autograd test of one
    unit's update on the finite network). The units' shares are isolated by setting the other units' ``v`` to 0
    (the block is additive over units).
    """
    c = alpha / (L * M)
    rate_u, rate_v = eta_u * L * M * D / alpha ** 2, eta_v * L * M * D / alpha ** 2
    units = tuple((_vec(f"u{j}", n_comp), _vec(f"v{j}", n_comp)) for j in range(n_units))
    hs = tuple(_vec(f"h{x}", n_comp) for x in range(n_inputs))        # h_{l-1}(x)
    gs = tuple(_vec(f"g{x}", n_comp) for x in range(n_inputs))        # g_l(x) = dloss/dh_l(x)

    def block(h, us):
        return h + c * sum((unit_function(h, u, v) for u, v in us), sp.zeros(n_comp, 1))

    def only(j):
        """Substitution keeping unit j alone (other units' v set to 0)."""
        return {vi: 0 for k, (_, v) in enumerate(units) if k != j for vi in v}

    free_of_LM = lambda e: not (e.has(L) or e.has(M))  # noqa: E731
    forward, backward, du, dv = [], [], [], []
    h, g = hs[0], gs[0]
    inc = block(h, units) - h
    jac = block(h, units).jacobian(h)
    g_prev = jac.T * g
    assert _is_zero(inc - sum((inc.subs(only(j)) for j in range(n_units)), sp.zeros(n_comp, 1)))
    assert _is_zero((g_prev - g) - sum(((g_prev - g).subs(only(j)) for j in range(n_units)),
                                       sp.zeros(n_comp, 1)))
    for j, (u, v) in enumerate(units):
        fw = sp.simplify(L * M * inc.subs(only(j)))
        bw = sp.simplify(-L * M * (g_prev - g).subs(only(j)))
        assert all(free_of_LM(e) for e in fw) and all(free_of_LM(e) for e in bw)
        forward.append(fw)
        backward.append(bw)
        # dloss/dz_j through block l: sum_x (d h_l(x)/d z_j)^T g_l(x); GD: -rate * that
        du_x, dv_x = [], []
        for hx, gx in zip(hs, gs):
            out = block(hx, units)
            du_x.append(sp.simplify(-rate_u * out.jacobian(u).T * gx))
            dv_x.append(sp.simplify(-rate_v * out.jacobian(v).T * gx))
            assert all(free_of_LM(e) for e in du_x[-1]) and all(free_of_LM(e) for e in dv_x[-1])
        # full-batch check: the summed per-input updates are -rate * grad of sum_x g_x . h_l(x)
        lin = sum(_dot(gx, block(hx, units)) for hx, gx in zip(hs, gs))
        grad_u = sp.Matrix([sp.diff(lin, ui) for ui in u])
        grad_v = sp.Matrix([sp.diff(lin, vi) for vi in v])
        assert _is_zero(sum(du_x, sp.zeros(n_comp, 1)) + rate_u * grad_u)
        assert _is_zero(sum(dv_x, sp.zeros(n_comp, 1)) + rate_v * grad_v)
        du.append(tuple(du_x))
        dv.append(tuple(dv_x))
    # terminal condition: b(1, x) = dloss/dh_L(x), loss = (1/(2N)) sum_x |W_out^T h_L(x)/D - y|^2
    W = sp.Matrix(n_comp, d_out, lambda i, o: sp.Symbol(f"W_{i}{o}", real=True))
    hL = tuple(_vec(f"hL{x}", n_comp) for x in range(n_inputs))
    ys = tuple(_vec(f"y{x}", d_out) for x in range(n_inputs))
    fs = tuple(W.T * hx / D for hx in hL)
    loss = sum(((fx - yx).T * (fx - yx))[0, 0] for fx, yx in zip(fs, ys)) / (2 * N)
    terminal = tuple(sp.Matrix([sp.diff(loss, hi) for hi in hx]) for hx in hL)
    fsym = tuple(_vec(f"f{x}", d_out) for x in range(n_inputs))
    return FiniteStep(tuple(forward), tuple(backward), tuple(du), tuple(dv), terminal, hs, gs,
                      units, W, fsym, ys)


@dataclass(frozen=True)
class Term:
    """One per-particle term: ``coefficient(*args) * direction``.

    ``direction`` names the vector it multiplies (``v``, ``u``, ``h``, ``b``, or ``W_out(f-y)``),
    ``vector_args`` are the arguments of the generated vector function, ``needs`` the named
    scalars it uses (``p``, ``vb``, ``sigma_p``, ``dsigma_p``), ``equation`` the printed vector
    form and ``doc`` its meaning.
    """

    name: str
    args: tuple[sp.Symbol, ...]
    coefficient: sp.Expr
    direction: str
    vector_args: tuple[str, ...]
    equation: str
    doc: str

    @property
    def split(self) -> tuple[sp.Expr, sp.Expr]:
        """``(scale, field)`` with ``coefficient == scale * field``: ``scale`` the factor in the
        constants (D, alpha, the learning rates), ``field`` the product of the per-particle
        scalars (``p``, ``vb``, ``sigma_p``, ``dsigma_p``). Every coefficient is a monomial, so
        the batched solver applies ``scale`` to the small contracted result and passes over the
        (seeds, inputs, particles) arrays only to form ``field``."""
        scale, field = self.coefficient.as_independent(*PARTICLE_SCALARS, as_Add=False)
        assert sp.simplify(scale * field - self.coefficient) == 0
        assert not scale.free_symbols & set(PARTICLE_SCALARS), (self.name, scale)
        return scale, field

    @property
    def scale_args(self) -> tuple[sp.Symbol, ...]:
        """The arguments of ``self.args`` the scale depends on."""
        return tuple(a for a in self.args if a not in PARTICLE_SCALARS)

    @property
    def field_args(self) -> tuple[sp.Symbol, ...]:
        """The per-particle arguments of ``self.args``."""
        return tuple(a for a in self.args if a in PARTICLE_SCALARS)


#: Names of the generated terms, in order.
TERM_NAMES: tuple[str, ...] = ("forward", "backward", "u_update", "v_update", "terminal")
#: The terms evaluated per particle (the terminal adjoint is per input), emitted also split
#: into ``<term>_scale`` and ``<term>_field`` (:attr:`Term.split`).
PARTICLE_TERMS: tuple[str, ...] = TERM_NAMES[:4]


def _coefficient(vec: sp.Matrix, direction: sp.Matrix, subs: dict, allowed: set) -> sp.Expr:
    """The scalar ``a`` with ``vec == a * direction`` (checked on every component), rewritten
    with ``subs``; ``AssertionError`` if the result has symbols outside ``allowed``."""
    a = sp.simplify(vec[0] / direction[0])
    assert _is_zero(vec - a * direction), "term is not a multiple of its direction"
    a = sp.simplify(a.subs(subs))
    assert a.free_symbols <= allowed, (a, a.free_symbols - allowed)
    return a


def _scalars(h, u, v, b) -> dict:
    """Rewrite rules to the named scalars: sigma(u.h/D) -> sigma_p, sigma'(..) -> dsigma_p, and
    v_0 eliminated in favour of vb = v . b (so v may only enter through v . b)."""
    pre = _dot(u, h) / D
    rules = {sigma(pre): sigma_p, dsigma(pre): dsigma_p}
    if b is not None:
        rules[v[0]] = (vb - sum(v[i] * b[i] for i in range(1, len(v)))) / b[0]
    return rules


@lru_cache(maxsize=1)
def derive_terms() -> tuple[Term, ...]:
    """The per-particle terms of the Mean ODE in coefficient form (module docstring), from
    :func:`derive_finite_step`."""
    fs = derive_finite_step()
    h, g = fs.h[0], fs.g[0]
    u, v = fs.units[0]
    base = {D, alpha}
    forward = _coefficient(fs.forward[0], v, _scalars(h, u, v, None), base | {sigma_p})
    backward = _coefficient(fs.backward[0], u, _scalars(h, u, v, g), base | {dsigma_p, vb})
    du = _coefficient(fs.du[0][0], h, _scalars(h, u, v, g), base | {eta_u, dsigma_p, vb})
    dv = _coefficient(fs.dv[0][0], g, _scalars(h, u, v, g), base | {eta_v, sigma_p})
    # terminal: dloss/dh_L = a * W_out (f - y), f = W_out^T h_L / D
    W, hL, y = fs.W_out, _vec("hL0", fs.W_out.shape[0]), fs.y[0]
    resid = W * (W.T * hL / D - y)
    term = _coefficient(fs.terminal[0], resid, {}, {D, N})
    return (
        Term("forward", (sigma_p, alpha), forward, "v", ("h", "u", "v", "D", "alpha", "sigma"),
             "d/ds h = E_z[forward_integrand(h, u, v)] = alpha E_z[sigma(u.h/D) v]",
             "forward integrand alpha Phi(h, z): coefficient of v"),
        Term("backward", (dsigma_p, vb, D, alpha), backward, "u",
             ("h", "b", "u", "v", "D", "alpha", "dsigma"),
             "d/ds b = E_z[backward_integrand(h, b, u, v)] = -alpha E_z[d_h Phi(h, z)^T b]",
             "backward integrand -alpha d_h Phi(h, z)^T b: coefficient of u"),
        Term("u_update", (dsigma_p, vb, alpha, eta_u), du, "h",
             ("h", "b", "u", "v", "D", "alpha", "eta_u", "dsigma"),
             "u_{k+1}(s,z) = u_k(s,z) + sum_x u_update(h_k(s,x), b_k(s,x), u_k, v_k)",
             "input x's share of the GD update of u: coefficient of h"),
        Term("v_update", (sigma_p, D, alpha, eta_v), dv, "b",
             ("h", "b", "u", "D", "alpha", "eta_v", "sigma"),
             "v_{k+1}(s,z) = v_k(s,z) + sum_x v_update(h_k(s,x), b_k(s,x), u_k)",
             "input x's share of the GD update of v: coefficient of b"),
        Term("terminal", (D, N), term, "W_out(f-y)", ("f", "y", "W_out", "D", "N"),
             "b_k(1,x) = terminal_adjoint(f_k(x), y(x), W_out) = dloss/dh(1,x)",
             "terminal adjoint dloss/dh_L(x): coefficient of W_out (f(x) - y(x))"),
    )


def component_terms(n_comp: int = 3) -> dict[str, tuple[list[sp.Symbol], sp.Matrix]]:
    """The derived per-particle terms in component form (``n_comp`` components, sigma/dsigma
    undefined functions), as ``name -> (argument symbols, column vector)``, straight from the
    finite-network derivation (no coefficient extraction) -- the independent side of the
    generated-code test. Arguments: ``forward`` (h, u, v, D, alpha); ``backward`` (h, b, u, v,
    D, alpha); ``u_update`` (h, b, u, v, D, alpha, eta_u); ``v_update`` (h, b, u, D, alpha,
    eta_v); ``terminal`` (h_L, y, W_out (row-major), D, N); vectors flattened componentwise."""
    fs = derive_finite_step(n_comp=n_comp)
    h, g = list(fs.h[0]), list(fs.g[0])
    u, v = (list(t) for t in fs.units[0])
    W = list(fs.W_out)
    hL = list(_vec("hL0", n_comp))
    y = list(fs.y[0])
    return {
        "forward": (h + u + v + [D, alpha], fs.forward[0]),
        "backward": (h + g + u + v + [D, alpha], fs.backward[0]),
        "u_update": (h + g + u + v + [D, alpha, eta_u], fs.du[0][0]),
        "v_update": (h + g + u + [D, alpha, eta_v], fs.dv[0][0]),
        "terminal": (hL + y + W + [D, N], fs.terminal[0]),
    }


# -- rendering ---------------------------------------------------------------------------------

_MODULE_DOC = [
    "Per-particle terms of the Neural Mean ODE of the [HW] 2LP ResNet (docs/theory.md s6).",
    "",
    "Derived in infdepth.theory.mean_ode_2lp from one block of the finite network (L blocks of M "
    "units, scale alpha/(L M), raw GD rate eta L M D/alpha^2, loss (1/(2N)) sum_x |f - y|^2): "
    "the block increment times L M, the adjoint increment times L M and a unit's GD update do "
    "not depend on L or M, so the finite network is the Euler scheme (ds = 1/L, empirical "
    "measure of the M units) of",
    "",
    "    forward   d/ds h = E_z[forward_integrand(h, u, v)]",
    "    backward  d/ds b = E_z[backward_integrand(h, b, u, v)],   b(1) = terminal_adjoint(...)",
    "    training  z_{k+1}(s,z) = z_k(s,z) + sum_x (u_update, v_update)(h_k(s,x), b_k(s,x), z_k)",
    "",
    "Each term is a scalar coefficient times one vector. The ``*_coefficient`` functions are "
    "plain arithmetic in the scalars p = u.h/D, vb = v.b, sigma_p = sigma(p), dsigma_p = "
    "sigma'(p) and evaluate elementwise on floats, numpy arrays and torch tensors (the batched "
    "solver infdepth.numerics.mean_ode contracts them with the vector by einsum). The vector "
    "functions take vectors with the D components on the last axis (leading axes broadcast, "
    "numpy or torch) and the activation as callables sigma / dsigma; they are the per-particle "
    "reference the solver is tested against.",
]


def _helpers() -> list[str]:
    return [
        "def _dot(a, b):",
        '    """a . b over the last axis, kept as a length-1 axis (numpy and torch)."""',
        "    return (a * b).sum(-1)[..., None]",
        "", "",
        "def _matvec(W, r):",
        '    """W r for W (..., D, d_out) and r (..., d_out) (numpy and torch)."""',
        "    return (W * r[..., None, :]).sum(-1)",
    ]


_SCALAR_CODE = {"p": "p = _dot(u, h)/D", "vb": "vb = _dot(v, b)",
                "sigma_p": "sigma_p = sigma(p)", "dsigma_p": "dsigma_p = dsigma(p)"}
_DIRECTION_CODE = {"v": "v", "u": "u", "h": "h", "b": "b", "W_out(f-y)": "_matvec(W_out, f - y)"}
_VECTOR_NAMES = {"forward": "forward_integrand", "backward": "backward_integrand",
                 "u_update": "u_update", "v_update": "v_update", "terminal": "terminal_adjoint"}


def render_mean_ode_2lp() -> str:
    """Body of ``generated/mean_ode_2lp.py``: ``<term>_coefficient`` and the vector function of
    every :func:`derive_terms` entry, plus ``COEFFICIENTS`` and ``DIRECTIONS`` tables."""
    from .codegen import _docstring, _wrap_statement, numpy_code, render_formula_function

    terms = derive_terms()
    split = [t for t in terms if t.name in PARTICLE_TERMS]
    names = ([f"{t.name}_coefficient" for t in terms]
             + [f"{t.name}_{part}" for t in split for part in ("scale", "field")]
             + [_VECTOR_NAMES[t.name] for t in terms])
    out = _docstring(_MODULE_DOC, "")
    out += ["", "__all__ = ["] + [f'    "{n}",' for n in names]
    out += ['    "COEFFICIENTS",', '    "FIELDS",', '    "DIRECTIONS",', "]", "", ""]
    out += _helpers()
    text = "\n".join(out) + "\n"
    for t in terms:     # every coefficient is a monomial in its arguments
        text += "\n\n" + render_formula_function(f"{t.name}_coefficient", t.args, t.coefficient,
                                                 f"{t.doc} (docs/theory.md s6)")
    parts = {t.name: t.split for t in split}        # (scale, field), simplified once
    for t in split:
        scale, field = parts[t.name]
        what = t.doc.split(":")[0]
        text += "\n\n" + render_formula_function(
            f"{t.name}_scale", t.scale_args, scale,
            f"constant factor of {t.name}_coefficient ({what}; {t.name}_coefficient = "
            f"{t.name}_scale * {t.name}_field)")
        text += "\n\n" + render_formula_function(
            f"{t.name}_field", t.field_args, field,
            f"per-particle factor of {t.name}_coefficient ({what})")
    for t in terms:
        needs = [str(s) for s in PARTICLE_SCALARS if s in t.coefficient.free_symbols]
        if ("sigma_p" in needs or "dsigma_p" in needs) and "p" not in needs:
            needs.insert(0, "p")
        lines = [f"def {_VECTOR_NAMES[t.name]}({', '.join(t.vector_args)}):",
                 *_docstring([f"{t.doc.split(':')[0]} (docs/theory.md s6):", "",
                              f"    {t.equation}",
                              "", f"equal to {t.name}_coefficient(...) * {t.direction}."],
                             "    ")]
        lines += [f"    {_SCALAR_CODE[s]}" for s in needs]
        call = f"{t.name}_coefficient({', '.join(str(a) for a in t.args)})"
        lines += _wrap_statement("return ", f"{call}*{_DIRECTION_CODE[t.direction]}", "    ")
        text += "\n\n" + "\n".join(lines) + "\n"
    text += ("\n\n#: ``term -> coefficient function``.\nCOEFFICIENTS = {\n"
             + "".join(f'    "{t.name}": {t.name}_coefficient,\n' for t in terms) + "}\n")
    text += ("\n#: ``term -> formula of its per-particle factor`` (one evaluation per formula)."
             "\nFIELDS = {\n"
             + "".join(f'    "{n}": "{numpy_code(field)}",\n' for n, (_, field) in parts.items())
             + "}\n")
    text += ("\n#: ``term -> the vector its coefficient multiplies``.\nDIRECTIONS = {\n"
             + "".join(f'    "{t.name}": "{t.direction}",\n' for t in terms) + "}\n")
    return text
