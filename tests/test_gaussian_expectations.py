"""Gaussian expectations: symbolic checks, closed forms vs quadrature and Monte Carlo, tanh
quadrature vs scipy dblquad, generated code vs lambdify (THEORY.md s3)."""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from infdepth.numerics import gaussian_kernels as gk
from infdepth.theory import gaussian_expectations as ge
from infdepth.theory.generated import gaussian_kernels as gen

COVS = [(1.0, 1.0, 0.3), (1.3, 0.7, -0.5), (0.5, 2.0, 0.99 * np.sqrt(1.0)),
        (1.0, 1.0, -0.999), (2.0, 0.4, 0.0)]


@pytest.mark.parametrize("act", ge.CLOSED_FORM_ACTIVATIONS)
def test_symbolic_verification(act):
    assert all(r == 0 for r in ge.verify(act).values())


def _gh_reference(f, s11, s22, s12, nodes=160):
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    a = np.sqrt(s11)
    b = s12 / a
    c = np.sqrt(max(s22 - b * b, 0.0))
    return float(np.sum(np.outer(w, w) * f(a * z[:, None]) * f(b * z[:, None] + c * z[None, :])))


FNS = {"relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
       "erf": (__import__("scipy.special").special.erf, lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x)),
       "linear": (lambda x: x, lambda x: np.ones_like(x))}


@pytest.mark.parametrize("act", ["erf", "linear"])
@pytest.mark.parametrize("cov", COVS)
def test_smooth_closed_forms_match_quadrature(act, cov):
    f, df = FNS[act]
    assert gk.phiphi(act, *cov) == pytest.approx(_gh_reference(f, *cov), rel=1e-10, abs=1e-12)
    assert gk.dphidphi(act, *cov) == pytest.approx(_gh_reference(df, *cov), rel=1e-8)


@pytest.mark.parametrize("cov", COVS)
def test_relu_closed_forms_match_adaptive_quadrature(cov):
    """relu is not smooth, so reduce to a smooth 1-D integral: with u = a z1, v = b z1 + c z2,
    E[relu(u) relu(v)] = int_{z1>0} a z1 (m Phi(m/c) + c phi(m/c)) dN(z1), m = b z1;
    E[relu'(u) relu'(v)] = int_{z1>0} Phi(m/c) dN(z1). scipy quad, tolerance 1e-9."""
    from scipy.stats import norm
    s11, s22, s12 = cov
    a, b = np.sqrt(s11), s12 / np.sqrt(s11)
    c = np.sqrt(max(s22 - b * b, 0.0))
    inner = lambda z: b * z * norm.cdf(b * z / c) + c * norm.pdf(b * z / c)
    kk, _ = integrate.quad(lambda z: a * z * inner(z) * norm.pdf(z), 0, np.inf,
                           epsabs=1e-13, epsrel=1e-12)
    dk, _ = integrate.quad(lambda z: norm.cdf(b * z / c) * norm.pdf(z), 0, np.inf,
                           epsabs=1e-13, epsrel=1e-12)
    assert gk.phiphi("relu", *cov) == pytest.approx(kk, rel=1e-9, abs=1e-12)
    assert gk.dphidphi("relu", *cov) == pytest.approx(dk, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("act", ["relu", "erf", "linear", "tanh"])
def test_closed_forms_match_monte_carlo(act):
    """Statistical tolerance: 5 standard errors of a 400k-sample Monte Carlo, fixed seed."""
    rng = np.random.default_rng(1)
    for s11, s22, s12 in COVS[:3]:
        C = np.array([[s11, s12], [s12, s22]])
        uv = rng.multivariate_normal([0, 0], C, size=400_000)
        for fn, val in ((gk.phi, gk.phiphi(act, s11, s22, s12)),
                        (gk.dphi, gk.dphidphi(act, s11, s22, s12))):
            prod = fn(act, uv[:, 0]) * fn(act, uv[:, 1])
            assert abs(prod.mean() - val) < 5 * prod.std() / np.sqrt(len(prod)) + 1e-12


def test_tanh_quadrature_matches_dblquad():
    s11, s22, s12 = 1.3, 0.7, -0.5
    a, b = np.sqrt(s11), s12 / np.sqrt(s11)
    c = np.sqrt(s22 - b * b)
    val, _ = integrate.dblquad(lambda z2, z1: np.tanh(a * z1) * np.tanh(b * z1 + c * z2)
                               * np.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * np.pi),
                               -10, 10, -10, 10, epsabs=1e-12, epsrel=1e-11)
    assert gk.phiphi("tanh", s11, s22, s12) == pytest.approx(val, rel=1e-9)


@pytest.mark.parametrize("act", ge.CLOSED_FORM_ACTIVATIONS)
@pytest.mark.parametrize("kind", ["phiphi", "dphidphi"])
def test_generated_code_equals_lambdify(act, kind):
    expr = getattr(ge, f"{kind}_expr")(act)
    ref = sp.lambdify((ge.s11, ge.s22, ge.s12), expr, "numpy")
    rng = np.random.default_rng(0)
    s11, s22 = rng.uniform(0.2, 3, 50), rng.uniform(0.2, 3, 50)
    s12 = rng.uniform(-0.95, 0.95, 50) * np.sqrt(s11 * s22)
    got = getattr(gen, f"{act}_{kind}")(s11, s22, s12)
    want = np.broadcast_to(ref(s11, s22, s12), got.shape)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_relu_at_perfect_correlation_has_no_nan():
    q = np.array([0.3, 1.7, 2.9])
    assert np.all(np.isfinite(gk.phiphi("relu", q, q, q * (1 + 1e-16))))
    np.testing.assert_allclose(gk.phiphi("relu", q, q, q), q / 2, rtol=1e-12)


def test_broadcasting_and_bad_activation():
    assert gk.dphidphi("linear", np.ones((2, 3)), 1.0, 0.5).shape == (2, 3)
    with pytest.raises(ValueError, match="unknown activation 'gelu'; allowed: relu, tanh, erf, linear"):
        gk.phiphi("gelu", 1, 1, 0)
    with pytest.raises(ValueError, match="allowed: relu, erf, linear"):
        ge.phiphi_expr("tanh")
