"""Gaussian expectations in numbers (numerics/gaussian_kernels.py, docs/theory.md s3).

References, for (u, v) ~ N(0, [[s11, s12], [s12, s22]]):

* the closed forms of tests/problems.py (arc-cosine kernels for relu, arcsine kernels for erf,
  linear), written independently of the SymPy derivation: against the generated code (1e-12)
  and Monte Carlo with a fixed seed (5 standard errors of the sample mean);
* 2-D Gauss-Hermite quadrature, tight (1e-10), for the smooth activations (erf, linear);
* for relu, whose kink makes Gauss-Hermite converge only algebraically (~1e-3 at 96 nodes), an
  exact polar-coordinate rule instead: relu is positively homogeneous, so the radial integral is
  a Gaussian moment and the angular integrand is a trigonometric polynomial between its kinks,
  integrated by Gauss-Legendre on each piece (tight, 1e-12);
* tanh (no closed form): both quadrature rules against scipy.integrate.dblquad and Monte Carlo.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import integrate

from infdepth.numerics import gaussian_kernels as gk
from infdepth.theory import gaussian_expectations as ge
from infdepth.theory.generated import gaussian_kernels as gen
from helpers import random_covariances
from problems import COVARIANCES, GaussianKernelProblem, params

CLOSED = ge.CLOSED_FORM_ACTIVATIONS
KINDS = ge.KINDS
ALLOWED_MSG = "allowed: relu, tanh, erf, linear"


def _cov(s11, s22, rho):
    return (s11, s22, rho * np.sqrt(s11 * s22))


def _cholesky(s11, s22, s12):
    a = np.sqrt(s11)
    b = s12 / a
    c = np.sqrt(max(s22 - b * b, 0.0))
    return a, b, c


def _f(act, kind):
    if kind == "phiphi":
        return lambda u, v: gk.phi(act, u) * gk.phi(act, v)
    return lambda u, v: gk.dphi(act, u) * gk.dphi(act, v)


def _polar_relu(kind, s11, s22, s12, nodes=24):
    """Exact rule for relu: z = r (cos t, sin t), u = r A(t), v = r B(t)."""
    a, b, c = _cholesky(s11, s22, s12)
    cuts = {0.0, 2 * np.pi, np.pi / 2, 3 * np.pi / 2}
    t0 = np.arctan2(-b, c) % np.pi
    cuts |= {t0, t0 + np.pi}
    cuts = sorted(x for x in cuts if 0 <= x <= 2 * np.pi)
    x, w = np.polynomial.legendre.leggauss(nodes)
    total = 0.0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if hi - lo < 1e-15:
            continue
        t = (hi - lo) / 2 * x + (hi + lo) / 2
        A, B = a * np.cos(t), b * np.cos(t) + c * np.sin(t)
        if kind == "phiphi":  # int_0^oo r^3 e^{-r^2/2} dr = 2
            g = 2 * np.maximum(A, 0) * np.maximum(B, 0)
        else:                 # int_0^oo r e^{-r^2/2} dr = 1
            g = ((A > 0) & (B > 0)).astype(float)
        total += (hi - lo) / 2 * (w @ g)
    return total / (2 * np.pi)


def _dblquad(f, s11, s22, s12):
    a, b, c = _cholesky(s11, s22, s12)

    def g(z2, z1):
        return f(a * z1, b * z1 + c * z2) * np.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * np.pi)

    val, _ = integrate.dblquad(g, -10, 10, -10, 10, epsabs=1e-13, epsrel=1e-13)
    return val


def _monte_carlo(f, s11, s22, s12, n=400_000, seed=0):
    a, b, c = _cholesky(s11, s22, s12)
    z = np.random.default_rng(seed).standard_normal((2, n))
    vals = f(a * z[0], b * z[0] + c * z[1])
    return vals.mean(), vals.std(ddof=1) / np.sqrt(n)


# -------------------------------------------------------------------------------------------
# Closed forms vs quadrature and Monte Carlo
# -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", ["erf", "linear"])
@pytest.mark.parametrize("kind", KINDS)
def test_smooth_closed_forms_match_gauss_hermite(act, kind):
    """200 nodes: erf' at |rho| = 1 and variance 4 is exp(-5 z^2) in z, too narrow for 96
    nodes (~2e-8 off there); 200 nodes resolve it to ~1e-15."""
    s11, s22, s12 = map(np.array, zip(*COVARIANCES))
    quad = gk.gauss_hermite_expectation(_f(act, kind), s11, s22, s12, nodes=200)
    closed = gk.expectation(act, kind, s11, s22, s12)
    np.testing.assert_allclose(closed, quad, rtol=0, atol=1e-10)
    trap = gk.trapezoid_expectation(_f(act, kind), s11, s22, s12)
    np.testing.assert_allclose(closed, trap, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cov", COVARIANCES)
def test_relu_closed_form_matches_polar_quadrature(kind, cov):
    closed = float(gk.expectation("relu", kind, *cov))
    assert closed == pytest.approx(_polar_relu(kind, *cov), abs=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_relu_gauss_hermite_converges_to_closed_form(kind):
    """Gauss-Hermite is only algebraically convergent for relu's kink: loose, but it closes."""
    cov = COVARIANCES[1]
    closed = float(gk.expectation("relu", kind, *cov))
    errs = [abs(float(gk.gauss_hermite_expectation(_f("relu", kind), *cov, nodes=m)) - closed)
            for m in (24, 96, 240)]
    assert errs[2] < errs[0] and errs[1] < 2e-2


@pytest.mark.parametrize("problem", params(GaussianKernelProblem, "numerics.gaussian_kernels"))
def test_closed_forms_match_monte_carlo(problem):
    """400k samples per covariance, seed i; |closed - MC| <= 5 standard errors (+1e-12 for
    constant integrands, whose standard error is 0)."""
    for i, cov in enumerate(COVARIANCES):
        mean, se = problem.monte_carlo(*cov, seed=i)
        closed = float(problem.closed_form(*cov))
        assert abs(closed - mean) <= problem.n_se * se + problem.atol, (problem.name, cov,
                                                                         closed, mean, se)


@pytest.mark.parametrize("problem", params(GaussianKernelProblem, "numerics.gaussian_kernels"))
def test_generated_code_is_the_textbook_closed_form(problem):
    """The derived-and-generated kernels equal the arc-cosine / arcsine / linear kernels."""
    s11, s22, s12 = (np.array(x) for x in zip(*COVARIANCES))
    rs11, rs22, rs12 = random_covariances()
    for a, b, c in ((s11, s22, s12), (rs11, rs22, rs12)):
        np.testing.assert_allclose(gk.expectation(problem.act, problem.kind, a, b, c),
                                   problem.closed_form(a, b, c), rtol=problem.rtol_generated,
                                   atol=problem.atol_generated, err_msg=problem.name)


# -------------------------------------------------------------------------------------------
# tanh by quadrature
# -------------------------------------------------------------------------------------------

TANH_COVARIANCES = [(1.0, 0.5, 0.4), _cov(0.7, 1.5, -0.9), _cov(0.3, 0.4, 0.999), (3.0, 10.0, 5.0)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cov", TANH_COVARIANCES)
def test_tanh_quadrature_matches_dblquad(kind, cov):
    ref = _dblquad(_f("tanh", kind), *cov)
    trap = float(gk.expectation("tanh", kind, *cov, method="trapezoid"))
    assert trap == pytest.approx(ref, abs=1e-12)
    herm = float(gk.expectation("tanh", kind, *cov))
    tol = 1e-10 if max(cov[0], cov[1]) <= 1.5 else 1e-5  # Gauss-Hermite degrades with variance
    assert herm == pytest.approx(ref, abs=tol)


@pytest.mark.parametrize("kind", KINDS)
def test_tanh_quadrature_matches_monte_carlo(kind):
    for i, cov in enumerate(TANH_COVARIANCES):
        mean, se = _monte_carlo(_f("tanh", kind), *cov, seed=100 + i)
        assert abs(float(gk.expectation("tanh", kind, *cov)) - mean) <= 5 * se


def test_tanh_batch_equals_elementwise_and_handles_degenerate_covariances():
    s11, s22, s12 = random_covariances(n=12, seed=3)
    s11, s22, s12 = s11.reshape(3, 4), s22.reshape(3, 4), s12.reshape(3, 4)
    for method in gk.METHODS:
        batch = gk.phiphi("tanh", s11, s22, s12, method=method)
        assert batch.shape == (3, 4)
        one = [float(gk.phiphi("tanh", a, b, c, method=method))
               for a, b, c in zip(s11.ravel(), s22.ravel(), s12.ravel())]
        np.testing.assert_allclose(batch.ravel(), one, rtol=1e-13, atol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # zero variance: u = 0, tanh(u) = 0, tanh'(u) = 1
        assert float(gk.phiphi("tanh", 0.0, 1.0, 0.0)) == 0.0
        ref = integrate.quad(lambda v: (1 - np.tanh(v) ** 2) * np.exp(-v * v / 2)
                             / np.sqrt(2 * np.pi), -12, 12, epsabs=1e-14)[0]
        assert float(gk.dphidphi("tanh", 0.0, 1.0, 0.0)) == pytest.approx(ref, abs=1e-10)
        assert float(gk.dphidphi("tanh", 0.0, 1.0, 0.0, method="trapezoid")) == pytest.approx(
            ref, abs=1e-13)
        # tiny variances: tanh(u) ~ u, so E[tanh tanh] ~ s12
        tiny = gk.phiphi("tanh", 1e-20, 4e-20, -2e-20)
        assert float(tiny) == pytest.approx(-2e-20, rel=1e-9)
        # s12^2 = s11 s22 up to round-off: no NaN, equals the u = v value
        s = 0.37
        full = gk.phiphi("tanh", s, s, s * (1 + 1e-16))
        assert float(full) == pytest.approx(float(gk.phiphi("tanh", s, s, s)), abs=1e-14)


# -------------------------------------------------------------------------------------------
# numerics entry points
# -------------------------------------------------------------------------------------------

def test_numerics_dispatch_to_generated_code():
    s11, s22, s12 = random_covariances(n=50, seed=7)
    for act in CLOSED:
        for kind, fn in (("phiphi", gk.phiphi), ("dphidphi", gk.dphidphi)):
            np.testing.assert_array_equal(fn(act, s11, s22, s12),
                                          gen.KERNELS[(act, kind)](s11, s22, s12))


def test_relu_zero_variance_is_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gk.phiphi("relu", np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.0, 2.0]),
                        np.array([0.0, 0.0, 1.0]))
        dout = gk.dphidphi("relu", 0.0, 0.0, 0.0)
    assert out[0] == 0.0 and out[1] == 0.0 and out[2] > 0
    assert float(dout) == 0.0


def test_invalid_covariances_are_rejected():
    with pytest.raises(ValueError, match="positive semi-definite"):
        gk.phiphi("erf", 1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="non-negative"):
        gk.dphidphi("tanh", -1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="allowed: hermite, trapezoid"):
        gk.phiphi("tanh", 1.0, 1.0, 0.0, method="simpson")


def test_bad_activation_message():
    for fn in (lambda: gk.phiphi("foo", 1, 1, 0), lambda: gk.dphidphi("foo", 1, 1, 0),
               lambda: gk.phi("foo", np.zeros(2)), lambda: gk.dphi("foo", torch.zeros(2))):
        with pytest.raises(ValueError) as exc:
            fn()
        assert str(exc.value) == "unknown activation 'foo'; allowed: relu, tanh, erf, linear"


@pytest.mark.parametrize("act", ge.ACTIVATIONS)
def test_pointwise_numpy_and_torch_agree(act):
    x = np.linspace(-3, 3, 13)  # includes 0
    xt = torch.tensor(x, dtype=torch.float64)
    np.testing.assert_allclose(gk.phi(act, xt).numpy(), gk.phi(act, x), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(gk.dphi(act, xt).numpy(), gk.dphi(act, x), rtol=1e-15, atol=1e-15)
    f = sp.lambdify(sp.Symbol("x"), ge.phi_expr(act, sp.Symbol("x")), ["scipy", "numpy"])
    np.testing.assert_allclose(gk.phi(act, x), np.broadcast_to(f(x), x.shape), rtol=1e-14)
    # dphi is the derivative of phi (autograd), away from relu's kink
    xg = torch.tensor(x[x != 0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(gk.phi(act, xg).sum(), xg)
    torch.testing.assert_close(grad, gk.dphi(act, xg.detach()), rtol=1e-13, atol=1e-15)
    # dtypes and fresh outputs
    x32 = torch.tensor(x, dtype=torch.float32)
    assert gk.phi(act, x32).dtype == torch.float32 and gk.dphi(act, x32).dtype == torch.float32
    assert gk.phi(act, np.arange(3)).dtype == np.float64
    assert gk.phi(act, xt) is not xt
    assert gk.dphi("relu", np.array([0.0]))[0] == 0.0
