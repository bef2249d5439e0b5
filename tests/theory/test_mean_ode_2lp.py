"""The Neural Mean ODE of the [HW] 2LP ResNet derived in SymPy (theory/mean_ode_2lp.py,
docs/theory.md s6) and its generated code (theory/generated/mean_ode_2lp.py): the step constants taken
to the limit, and the generated vector functions against the component-form derivation (SymPy
Jacobians of one finite block)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from infdepth.theory import mean_ode_2lp as th
from infdepth.theory.generated import mean_ode_2lp as gen

_NP_ACT = {"sigma": np.tanh, "dsigma": lambda x: 1.0 - np.tanh(x) ** 2}


def test_derived_coefficients():
    """The step constants taken to the limit (L, M cancel): eta_u/alpha, eta_v D/alpha, and
    the integrands alpha sigma(p) v, -(alpha/D) sigma'(p) (v.b) u; terminal 1/(D N)."""
    t = {x.name: x for x in th.derive_terms()}
    D, a = th.D, th.alpha
    assert sp.simplify(t["forward"].coefficient - a * th.sigma_p) == 0
    assert sp.simplify(t["backward"].coefficient + a * th.dsigma_p * th.vb / D) == 0
    assert sp.simplify(t["u_update"].coefficient + th.eta_u * th.dsigma_p * th.vb / a) == 0
    assert sp.simplify(t["v_update"].coefficient + th.eta_v * D * th.sigma_p / a) == 0
    assert sp.simplify(t["terminal"].coefficient - 1 / (D * th.N)) == 0
    assert [x.direction for x in th.derive_terms()] == ["v", "u", "h", "b", "W_out(f-y)"]


def test_generated_scale_times_field_is_the_coefficient():
    """Each per-particle coefficient == its generated constant factor times its per-particle
    factor, on random values; the field formulas name only per-particle scalars."""
    rng = np.random.default_rng(2)
    vals = {"sigma_p": rng.normal(size=5), "dsigma_p": rng.normal(size=5),
            "vb": rng.normal(size=5), "D": 3.0, "alpha": 1.7, "eta_u": 0.4, "eta_v": 0.9}
    for name in th.PARTICLE_TERMS:
        term = next(t for t in th.derive_terms() if t.name == name)
        args = lambda syms: [vals[str(a)] for a in syms]  # noqa: E731
        coef = gen.COEFFICIENTS[name](*args(term.args))
        scale = getattr(gen, f"{name}_scale")(*args(term.scale_args))
        field = getattr(gen, f"{name}_field")(*args(term.field_args))
        np.testing.assert_allclose(scale * field, coef, rtol=1e-14, err_msg=name)
        assert np.ndim(scale) == 0, name
        names = set(gen.FIELDS[name].replace("*", " ").replace("/", " ").split())
        assert names <= {"sigma_p", "dsigma_p", "vb", "p"}, (name, names)


@pytest.mark.slow
@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_generated_code_is_the_derivation(lib):
    """Generated vector functions == the component-form derivation (lambdified) on random
    inputs, for numpy arrays and torch tensors, broadcasting over a leading axis. Slow (a full
    SymPy re-derivation, about 3 s); in the fast tier the generated updates are checked against
    autograd on the finite network (tests/numerics/test_mean_ode.py) and for freshness against
    the derivation (tests/theory/test_codegen.py)."""
    n, B = 3, 7
    rng = np.random.default_rng(0)
    comp = th.component_terms(n)
    vec = {k: rng.normal(size=(B, n)) * 2 for k in ("h", "b", "u", "v", "hL")}
    y = rng.normal(size=(B, 2))
    W = rng.normal(size=(B, n, 2))
    D, alpha, eta_u, eta_v, N = 2.7, 1.3, 0.4, 0.7, 5.0
    cvt = (lambda x: torch.as_tensor(x)) if lib == "torch" else np.asarray
    sig = torch.tanh if lib == "torch" else np.tanh
    dsig = (lambda x: 1 - torch.tanh(x) ** 2) if lib == "torch" else _NP_ACT["dsigma"]
    h, b, u, v = (cvt(vec[k]) for k in ("h", "b", "u", "v"))
    f = np.einsum("bio,bi->bo", W, vec["hL"]) / D
    got = {
        "forward": gen.forward_integrand(h, u, v, D, alpha, sig),
        "backward": gen.backward_integrand(h, b, u, v, D, alpha, dsig),
        "u_update": gen.u_update(h, b, u, v, D, alpha, eta_u, dsig),
        "v_update": gen.v_update(h, b, u, D, alpha, eta_v, sig),
        "terminal": gen.terminal_adjoint(cvt(f), cvt(y), cvt(W), D, N),
    }
    rows = {
        "forward": lambda i: [*vec["h"][i], *vec["u"][i], *vec["v"][i], D, alpha],
        "backward": lambda i: [*vec["h"][i], *vec["b"][i], *vec["u"][i], *vec["v"][i], D, alpha],
        "u_update": lambda i: [*vec["h"][i], *vec["b"][i], *vec["u"][i], *vec["v"][i], D, alpha,
                               eta_u],
        "v_update": lambda i: [*vec["h"][i], *vec["b"][i], *vec["u"][i], D, alpha, eta_v],
        "terminal": lambda i: [*vec["hL"][i], *y[i], *W[i].ravel(), D, N],
    }
    for name, (args, expr) in comp.items():
        fn = sp.lambdify(args, expr, modules=[_NP_ACT, "numpy"])
        ref = np.stack([np.asarray(fn(*rows[name](i)), float).ravel() for i in range(B)])
        out = np.asarray(got[name])
        assert out.shape == (B, n), name
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13, err_msg=name)


def test_linear_sigma_gives_the_moment_system_update():
    """With sigma = id the summed particle updates are U' = U - e_u C^T V, V' = V - e_v C U
    (the derivation behind :mod:`infdepth.numerics.mean_ode_linear`), C = sum_x b h^T."""
    rng = np.random.default_rng(1)
    D, alpha, eu, ev = 4, 1.7, 0.3, 0.9
    h, b = rng.normal(size=(6, D)), rng.normal(size=(6, D))
    u, v = rng.normal(size=D), rng.normal(size=D)
    C = b.T @ h
    one = lambda x: np.ones_like(x)  # noqa: E731
    du = gen.u_update(h, b, u, v, D, alpha, eu, one).sum(0)
    dv = gen.v_update(h, b, u, D, alpha, ev, lambda x: x).sum(0)
    np.testing.assert_allclose(du, -(eu / alpha) * C.T @ v, rtol=1e-13)
    np.testing.assert_allclose(dv, -(ev / alpha) * C @ u, rtol=1e-13)
