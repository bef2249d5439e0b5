"""The one activation registry (numerics/activations.py) against theory's derivation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp
import torch

import infdepth.numerics.activations as acts
from infdepth.numerics import gaussian_kernels as gk
from infdepth.theory import gaussian_expectations as ge
from infdepth.theory.generated import gaussian_kernels as gen

X = np.concatenate([np.linspace(-4, 4, 41), [0.0, 1e-300, -1e-300, 12.0, -12.0]])


def test_names_and_closed_forms_match_theory():
    assert acts.ACTIVATION_NAMES == ge.ACTIVATIONS
    assert tuple(acts.ACTIVATIONS) == ge.ACTIVATIONS
    assert acts.CLOSED_FORM_ACTIVATIONS == ge.CLOSED_FORM_ACTIVATIONS
    generated = {a for a, _ in gen.KERNELS}
    for name, entry in acts.ACTIVATIONS.items():
        assert entry.name == name
        assert entry.closed_form == (name in generated)
        if not entry.closed_form:
            assert entry.pole_distance is not None and entry.pole_distance > 0


def _sympy(act, which):
    x = sp.Symbol("x", real=True)
    expr = (ge.phi_expr if which == "phi" else ge.dphi_expr)(act, x)
    f = sp.lambdify(x, expr, ["scipy", "numpy"])
    return lambda v: np.broadcast_to(np.asarray(f(v), dtype=np.float64), v.shape)


@pytest.mark.parametrize("act", ge.ACTIVATIONS)
@pytest.mark.parametrize("which", ["phi", "dphi"])
def test_numpy_and_torch_agree_with_sympy(act, which):
    fn = acts.phi if which == "phi" else acts.dphi
    ref = _sympy(act, which)(X)
    np.testing.assert_allclose(fn(act, X), ref, rtol=1e-14, atol=1e-15)  # 1 - t*t: absolute eps
    t = fn(act, torch.tensor(X, dtype=torch.float64))
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("act", ge.ACTIVATIONS)
def test_torch_phi_is_differentiable_with_dphi_as_derivative(act):
    xg = torch.tensor(X[X != 0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(acts.phi(act, xg).sum(), xg)
    torch.testing.assert_close(grad, acts.dphi(act, xg.detach()), rtol=1e-13, atol=1e-15)
    if act == "relu":  # the kink: autograd and dphi both say 0
        x0 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        (g0,) = torch.autograd.grad(acts.phi(act, x0).sum(), x0)
        assert g0.item() == 0.0 == acts.dphi(act, x0.detach()).item()


@pytest.mark.parametrize("act", ge.ACTIVATIONS)
def test_dtypes_fresh_outputs_and_fused_pair(act):
    for dt in (torch.float32, torch.float64):
        x = torch.tensor(X, dtype=dt)
        p, d = acts.phi(act, x), acts.dphi(act, x)
        assert p.dtype == dt and d.dtype == dt and p is not x
        fp, fd = acts.phi_dphi(act, x)
        assert torch.equal(fp, p) and torch.equal(fd, d)
    for dt in (np.float32, np.float64):
        x = X.astype(dt)
        p = acts.phi(act, x)
        assert p.dtype == dt and acts.dphi(act, x).dtype == dt and p is not x
    assert acts.phi(act, np.arange(3)).dtype == np.float64


def test_tanh_derivative_is_one_minus_t_squared_bitwise():
    x = np.random.default_rng(0).standard_normal(10_000) * 3
    t = np.tanh(x)
    assert np.array_equal(acts.dphi("tanh", x), 1 - np.tanh(x) ** 2)
    assert np.array_equal(acts.dphi("tanh", x), 1.0 - t * t)
    xt = torch.from_numpy(x)
    assert torch.equal(acts.dphi("tanh", xt), 1 - torch.tanh(xt) ** 2)


def test_unknown_activation_message():
    for fn in (lambda: acts.phi("gelu", np.zeros(2)), lambda: acts.dphi("gelu", torch.zeros(2)),
               lambda: acts.check_activation("gelu"), lambda: acts.activation("gelu")):
        with pytest.raises(ValueError) as exc:
            fn()
        assert str(exc.value) == "unknown activation 'gelu'; allowed: relu, tanh, erf, linear"


def test_every_import_path_is_the_registry():
    from infdepth.numerics import engine
    assert engine.phi is acts.phi and engine.dphi is acts.dphi
    assert engine.ACTIVATION_NAMES == acts.ACTIVATION_NAMES
    assert gk.phi is acts.phi and gk.dphi is acts.dphi and gk.ACTIVATIONS == acts.ACTIVATION_NAMES


def test_kernel_method_is_read_from_the_registry(monkeypatch):
    """Marking erf as 'no closed form' sends it to quadrature, which agrees with the closed
    form (so the closed form vs quadrature decision is the registry's)."""
    s11, s22 = np.array([0.3, 1.0, 2.5]), np.array([0.7, 1.0, 1.5])
    s12 = 0.5 * np.sqrt(s11 * s22)
    closed = gk.phiphi("erf", s11, s22, s12), gk.dphidphi("erf", s11, s22, s12)
    entry = dataclasses.replace(acts.ACTIVATIONS["erf"], closed_form=False, pole_distance=3.0)
    monkeypatch.setitem(acts.ACTIVATIONS, "erf", entry)
    calls = []
    real = gk.trapezoid_expectation
    monkeypatch.setattr(gk, "trapezoid_expectation",
                        lambda *a, **k: calls.append(k) or real(*a, **k))
    quad = gk.phiphi("erf", s11, s22, s12), gk.dphidphi("erf", s11, s22, s12)
    assert len(calls) == 2 and all(k["pole_distance"] == 3.0 for k in calls)
    for c, q in zip(closed, quad):
        np.testing.assert_allclose(q, c, rtol=1e-12)


@pytest.mark.parametrize("name", acts.ACTIVATION_NAMES)
def test_phi_values_and_dphi_given_are_phi_and_dphi(name):
    """``phi_values`` (NumPy's route on the CPU where it is faster) equals ``phi`` to one ulp
    and exactly where it takes torch's route; ``dphi_given`` from ``phi(x)`` equals ``dphi``
    bit for bit."""
    x = torch.linspace(-6.0, 6.0, 1001, dtype=torch.float64)
    got, ref = acts.phi_values(name, x), acts.phi(name, x)
    assert got.dtype == x.dtype and got.shape == x.shape
    if name in acts.NUMPY_FASTER:
        ulp = torch.from_numpy(np.spacing(np.abs(ref.numpy())))
        assert ((got - ref).abs() <= ulp).all()
    else:
        assert torch.equal(got, ref)
    assert torch.equal(acts.dphi_given(name, x, ref), acts.dphi(name, x))
    with pytest.raises(ValueError, match="gelu"):
        acts.dphi_given("gelu", x, ref)
