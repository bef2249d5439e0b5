"""The depth-L kernel recursion and the kernel ODE against closed forms (THEORY.md s3)."""

import numpy as np
import pytest

from infdepth.numerics.inputs import input_covariance
from infdepth.numerics.kernel_ode import kernel_ode
from infdepth.numerics.kernel_recursion import depth_recursion

SIGMA0 = input_covariance()


@pytest.mark.parametrize("L", [1, 3, 16])
@pytest.mark.parametrize("beta", [1.0, 0.7])
def test_linear_recursion_is_compound_growth(L, beta):
    rec = depth_recursion("linear", SIGMA0, L, beta=beta)
    growth = (1 + beta ** 2 / L) ** L
    np.testing.assert_allclose(rec.sigma, SIGMA0 * growth, rtol=1e-13)
    np.testing.assert_allclose(rec.grad, growth * np.ones(3), rtol=1e-13)


def test_relu_diagonal_closed_forms():
    """relu: E[relu(u)^2] = q/2 and E[relu'^2] = 1/2, so every diagonal grows geometrically."""
    L, beta = 10, 1.3
    rec = depth_recursion("relu", SIGMA0, L, beta=beta)
    np.testing.assert_allclose(np.diag(rec.sigma), np.diag(SIGMA0) * (1 + beta ** 2 / (2 * L)) ** L,
                               rtol=1e-13)
    np.testing.assert_allclose(rec.grad, 0.5 * (1 + beta ** 2 / (2 * L)) ** L, rtol=1e-13)
    ode = kernel_ode("relu", SIGMA0, beta=beta)  # generic solve_ivp path
    np.testing.assert_allclose(np.diag(ode.sigma), np.diag(SIGMA0) * np.exp(beta ** 2 / 2),
                               rtol=1e-10)
    np.testing.assert_allclose(ode.grad, 0.5 * np.exp(beta ** 2 / 2), rtol=1e-10)


def test_relu_correlation_ode_matches_scalar_reduction():
    """For relu the correlation obeys the scalar ODE rho' = beta^2 (J(rho)/(2 pi) - rho/2)."""
    from scipy.integrate import solve_ivp

    beta = 1.0
    s = SIGMA0[:2, :2]
    rho0 = s[0, 1] / np.sqrt(s[0, 0] * s[1, 1])

    def rhs(_t, r):
        th = np.arccos(np.clip(r[0], -1, 1))
        return [beta ** 2 * ((np.sin(th) + (np.pi - th) * np.cos(th)) / (2 * np.pi) - r[0] / 2)]

    rho1 = solve_ivp(rhs, (0, 1), [rho0], rtol=1e-12, atol=1e-14).y[0, -1]
    ode = kernel_ode("relu", s, beta=beta)
    np.testing.assert_allclose(ode.sigma[0, 1] / np.sqrt(ode.sigma[0, 0] * ode.sigma[1, 1]),
                               rho1, rtol=1e-9)


def test_linear_ode_closed_form():
    ode = kernel_ode("linear", SIGMA0, beta=0.9)
    np.testing.assert_allclose(ode.sigma, SIGMA0 * np.exp(0.81), rtol=1e-14)


@pytest.mark.parametrize("act", ["relu", "tanh", "erf", "linear"])
def test_recursion_converges_to_ode_at_first_order(act):
    """Euler of a smooth ODE: error(L) ~ C/L, so error(L)/error(2L) -> 2."""
    ref = kernel_ode(act, SIGMA0)
    errs = [np.linalg.norm(depth_recursion(act, SIGMA0, L).output - ref.output) for L in (64, 128)]
    assert errs[1] < errs[0]
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_depth(bad):
    with pytest.raises(ValueError, match="depth L must be a positive integer"):
        depth_recursion("relu", SIGMA0, bad)


def test_bad_readout():
    with pytest.raises(ValueError, match="allowed: phi, linear"):
        depth_recursion("relu", SIGMA0, 4, readout="softmax")
