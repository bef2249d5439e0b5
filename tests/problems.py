"""Problems with known answers, shared by the tests (in the style of torchsde's
``tests/problems.py``).

Every problem has a ``name``, the module it checks (``subject``), how to compute its quantity at
a size (depth ``L``, particles ``P``, step ``h = 1/n``, ...), its exact answer or its known order,
and a stated tolerance. Tests parametrize over the registry instead of keeping reference
solutions inside single test files::

    @pytest.mark.parametrize("problem", params(OrderProblem, "numerics.kernel_recursion"))
    def test_order(problem):
        problem.check()

Kinds:

* :class:`ExactProblem` -- ``compute(size)`` equals the closed form ``exact(size)`` at every size
  (``rtol``/``atol``);
* :class:`OrderProblem` -- errors at increasing sizes fall like ``size^order``: the observed order
  (:func:`helpers.observed_order`) is ``order +- tol``, optionally every pairwise slope within
  ``pairwise_tol``, the finest error below ``max_error``, and each error equal to a known
  closed-form error within ``known_rtol``;
* :class:`SeedMeanProblem` -- independent seeds of a stochastic solver whose mean is known
  exactly (the NFD particle scheme for linear phi vs its particle-free reference);
* :class:`GaussianKernelProblem` -- ``E[f(u) f(v)]`` for ``(u, v) ~ N(0, Sigma)`` in closed form
  (arc-cosine kernel for relu, arcsine kernel for erf, linear), written here independently of the
  SymPy derivation: against Monte Carlo (``n_se`` standard errors) and the generated code;
* :class:`PowerLawProblem` -- synthetic per-seed data of known slope
  (:func:`helpers.power_law_samples`) for the rate fitter.

Sign convention (as :mod:`helpers`): an order is the log-log slope of the error, ``-1`` for
``O(1/L)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import pytest
from scipy.special import erf as _erf

from helpers import assert_order, linear_mean_ode_reference, power_law_samples

__all__ = ["ExactProblem", "OrderProblem", "SeedMeanProblem", "GaussianKernelProblem",
           "PowerLawProblem", "nfd_linear_reference",
           "PROBLEMS", "select", "params", "name_of", "SIGMA0", "COVARIANCES",
           "euler_solve", "heun_solve", "relu_arccos", "erf_arcsine", "linear_kernel"]


# -------------------------------------------------------------------------------------------
# Problem kinds
# -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExactProblem:
    """``compute(size)`` equals ``exact(size)`` (arrays) at every size of ``sizes``."""

    name: str
    subject: str
    sizes: tuple
    compute: Callable[[Any], np.ndarray]
    exact: Callable[[Any], np.ndarray]
    rtol: float
    atol: float = 0.0
    note: str = ""
    marks: tuple = ()

    def check(self) -> None:
        for s in self.sizes:
            np.testing.assert_allclose(np.asarray(self.compute(s), float),
                                       np.asarray(self.exact(s), float), rtol=self.rtol,
                                       atol=self.atol, err_msg=f"{self.name} at size {s}")


@dataclass(frozen=True)
class OrderProblem:
    """``errors(sizes)`` -> one error per size (computed together: a coupled sweep may share its
    randomness); they fall at the known ``order`` (module docstring)."""

    name: str
    subject: str
    sizes: tuple
    errors: Callable[[tuple], Sequence[float]]
    order: float
    tol: float
    pairwise_tol: float | None = None
    max_error: float | None = None
    known: Callable[[Any], float] | None = None
    known_rtol: float | None = None
    note: str = ""
    marks: tuple = ()

    def check(self) -> float:
        """Assert everything the problem states; returns the observed order."""
        errs = [float(e) for e in self.errors(self.sizes)]
        if self.known is not None:
            for s, e in zip(self.sizes, errs):
                assert e == pytest.approx(self.known(s), rel=self.known_rtol), \
                    f"{self.name}: error at {s} is {e}, known {self.known(s)}"
        if self.max_error is not None:
            assert errs[-1] < self.max_error, (self.name, errs)
        return assert_order(self.sizes, errs, self.order, self.tol,
                            pairwise_tol=self.pairwise_tol)


@dataclass(frozen=True)
class GaussianKernelProblem:
    """``E[f(u) f(v)]``, ``f = phi`` (``kind="phiphi"``) or ``phi'`` (``"dphidphi"``), in closed
    form at covariances ``(s11, s22, s12)``."""

    name: str
    subject: str
    act: str
    kind: str
    closed_form: Callable[[Any, Any, Any], np.ndarray]
    pointwise: Callable[[np.ndarray], np.ndarray]
    n_samples: int = 400_000
    n_se: float = 5.0
    atol: float = 1e-12          # constant integrands have standard error 0
    rtol_generated: float = 1e-12
    atol_generated: float = 1e-14
    marks: tuple = ()

    def monte_carlo(self, s11: float, s22: float, s12: float, seed: int) -> tuple[float, float]:
        """Sample mean and its standard error (``n_samples`` draws, ``default_rng(seed)``)."""
        a = math.sqrt(s11)
        b = s12 / a
        c = math.sqrt(max(s22 - b * b, 0.0))
        z = np.random.default_rng(seed).standard_normal((2, self.n_samples))
        vals = self.pointwise(a * z[0]) * self.pointwise(b * z[0] + c * z[1])
        return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(self.n_samples))


@dataclass(frozen=True)
class SeedMeanProblem:
    """Independent seeds of a stochastic solver whose mean is known exactly: ``runs()`` ->
    {quantity: (S, ...) per-seed values}, ``exact()`` -> {quantity: exact mean}; every entry of
    the seed mean within ``n_se`` standard errors (``std / sqrt(S)``, floored at ``se_floor``)."""

    name: str
    subject: str
    runs: Callable[[], dict]
    exact: Callable[[], dict]
    n_se: float = 5.0
    se_floor: float = 0.0
    note: str = ""
    marks: tuple = ()

    def check(self) -> None:
        runs, exact = self.runs(), self.exact()
        for q, ref in exact.items():
            f = np.asarray(runs[q], float)
            se = np.maximum(f.std(0, ddof=1) / math.sqrt(f.shape[0]), self.se_floor)
            assert np.all(np.abs(f.mean(0) - ref) <= self.n_se * se), (self.name, q, f.mean(0),
                                                                        ref)


@dataclass(frozen=True)
class PowerLawProblem:
    """Per-seed samples ``scale size^slope exp(noise z)``: the fitter must recover ``slope``
    within ``tol`` with a 95% CI of width in ``ci_width`` that covers it."""

    name: str
    subject: str
    sizes: tuple
    slope: float
    seeds: int = 64
    noise: float = 0.3
    scale: float = 2.0
    rng_seed: int = 1
    tol: float = 0.05
    ci_width: tuple[float, float] = (0.005, 0.1)
    marks: tuple = ()

    def samples(self) -> list[np.ndarray]:
        return power_law_samples(self.sizes, self.slope, self.seeds, scale=self.scale,
                                 noise=self.noise, rng_seed=self.rng_seed)


# -------------------------------------------------------------------------------------------
# Known answers
# -------------------------------------------------------------------------------------------

def _sigma0() -> np.ndarray:
    from infdepth.numerics.inputs import input_covariance
    return input_covariance()


#: the default input covariance of the init experiments (3 inputs)
SIGMA0 = _sigma0()


def _cov(s11, s22, rho):
    return (s11, s22, rho * math.sqrt(s11 * s22))


#: covariances (s11, s22, s12): positive, negative, zero, near +-1 and exactly +-1 correlation,
#: unequal and tiny variances
COVARIANCES = (
    _cov(1.0, 1.0, 0.3),
    _cov(0.5, 2.0, -0.6),
    _cov(1.3, 0.7, 0.0),
    _cov(1.0, 2.0, 0.999999),
    _cov(2.0, 0.5, -0.999999),
    (1.5, 1.5, 1.5),                      # rho = +1 exactly (u = v)
    (1.0, 4.0, -2.0),                     # rho = -1 exactly
    _cov(0.01, 4.0, 0.7),
)


def _angle(s11, s22, s12):
    rho = np.clip(np.asarray(s12, float) / np.sqrt(np.asarray(s11, float) * s22), -1.0, 1.0)
    return np.arccos(rho)


def relu_arccos(kind: str):
    """Cho & Saul's arc-cosine kernels of degree 1 (``phiphi``) and 0 (``dphidphi``)."""
    def phiphi(s11, s22, s12):
        t = _angle(s11, s22, s12)
        return np.sqrt(np.asarray(s11, float) * s22) / (2 * np.pi) * (np.sin(t)
                                                                      + (np.pi - t) * np.cos(t))

    def dphidphi(s11, s22, s12):
        return (np.pi - _angle(s11, s22, s12)) / (2 * np.pi)
    return {"phiphi": phiphi, "dphidphi": dphidphi}[kind]


def erf_arcsine(kind: str):
    """Williams' arcsine kernel of erf and the kernel of its derivative
    ``erf'(x) = 2/sqrt(pi) exp(-x^2)``."""
    def phiphi(s11, s22, s12):
        return 2 / np.pi * np.arcsin(2 * np.asarray(s12, float)
                                     / np.sqrt((1 + 2 * np.asarray(s11, float)) * (1 + 2 * s22)))

    def dphidphi(s11, s22, s12):
        det = (1 + 2 * np.asarray(s11, float)) * (1 + 2 * np.asarray(s22, float)) \
            - 4 * np.asarray(s12, float) ** 2
        return 4 / (np.pi * np.sqrt(det))
    return {"phiphi": phiphi, "dphidphi": dphidphi}[kind]


def linear_kernel(kind: str):
    if kind == "phiphi":
        return lambda s11, s22, s12: np.asarray(s12, float) + 0 * np.asarray(s11, float)
    return lambda s11, s22, s12: np.ones_like(np.asarray(s12, float))


_POINTWISE = {
    ("relu", "phiphi"): lambda x: np.maximum(x, 0.0),
    ("relu", "dphidphi"): lambda x: (x > 0).astype(float),
    ("erf", "phiphi"): lambda x: _erf(x),
    ("erf", "dphidphi"): lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x),
    ("linear", "phiphi"): lambda x: x,
    ("linear", "dphidphi"): np.ones_like,
}
_CLOSED = {"relu": relu_arccos, "erf": erf_arcsine, "linear": linear_kernel}
_KERNEL_NAMES = {"relu": "arccos", "erf": "arcsine", "linear": "linear"}


def euler_solve(F: Callable[[float], float], y0: float, n: int) -> float:
    """``n`` forward-Euler steps of ``y' = F(y)`` over ``[0, 1]``."""
    y, h = y0, 1.0 / n
    for _ in range(n):
        y = y + h * F(y)
    return y


def heun_solve(F: Callable[[float], float], y0: float, n: int) -> float:
    """``n`` Heun (explicit trapezoid) steps of ``y' = F(y)`` over ``[0, 1]``."""
    y, h = y0, 1.0 / n
    for _ in range(n):
        k1 = F(y)
        y = y + h / 2 * (k1 + F(y + h * k1))
    return y


# -- kernel recursion and kernel ODE (docs/theory.md s3) --------------------------------------

def _linear_recursion(beta):
    def compute(L):
        from infdepth.numerics.kernel_recursion import depth_recursion
        rec = depth_recursion("linear", SIGMA0, L, beta=beta)
        return np.concatenate([rec.sigma.ravel(), rec.grad])

    def exact(L):
        g = (1 + beta ** 2 / L) ** L
        return np.concatenate([(SIGMA0 * g).ravel(), g * np.ones(SIGMA0.shape[0])])
    return compute, exact


def _linear_recursion_errors(sizes):
    from infdepth.numerics.kernel_recursion import depth_recursion
    return [np.abs(depth_recursion("linear", SIGMA0, L).sigma - math.e * SIGMA0).max()
            for L in sizes]


def _recursion_vs_ode(act):
    def errors(sizes):
        from infdepth.numerics.kernel_ode import kernel_ode
        from infdepth.numerics.kernel_recursion import depth_recursion
        ref = kernel_ode(act, SIGMA0)
        return [np.linalg.norm(depth_recursion(act, SIGMA0, L).output - ref.output)
                for L in sizes]
    return errors


def _relu_recursion_diagonal(L, beta=1.3):
    from infdepth.numerics.kernel_recursion import depth_recursion
    rec = depth_recursion("relu", SIGMA0, L, beta=beta)
    return np.concatenate([np.diag(rec.sigma), rec.grad])


def _relu_recursion_diagonal_exact(L, beta=1.3):
    g = (1 + beta ** 2 / (2 * L)) ** L
    return np.concatenate([np.diag(SIGMA0) * g, 0.5 * g * np.ones(SIGMA0.shape[0])])


def _kernel_ode(act, beta, what):
    from infdepth.numerics.kernel_ode import kernel_ode
    r = kernel_ode(act, SIGMA0 if act != "relu" or what != "rho" else SIGMA0[:2, :2], beta=beta)
    if what == "sigma":
        return r.sigma
    if what == "diag":
        return np.concatenate([np.diag(r.sigma), r.grad])
    return r.sigma[0, 1] / math.sqrt(r.sigma[0, 0] * r.sigma[1, 1])


def _relu_correlation_ode(beta):
    """relu: the correlation obeys the scalar ODE ``rho' = beta^2 (J(rho)/(2 pi) - rho/2)``,
    ``J(rho) = sin(t) + (pi - t) cos(t)``, ``t = arccos(rho)``; solved by ``solve_ivp``."""
    from scipy.integrate import solve_ivp
    s = SIGMA0[:2, :2]
    rho0 = s[0, 1] / math.sqrt(s[0, 0] * s[1, 1])

    def rhs(_t, r):
        th = np.arccos(np.clip(r[0], -1, 1))
        return [beta ** 2 * ((np.sin(th) + (np.pi - th) * np.cos(th)) / (2 * np.pi) - r[0] / 2)]
    return solve_ivp(rhs, (0, 1), [rho0], rtol=1e-12, atol=1e-14).y[0, -1]


# -- [HW] linear network and its Mean ODE (docs/theory.md s6) ---------------------------------

def _moments(w, M, D):
    u, v = w["u"].numpy(), w["v"].numpy()

    def mom(a, b):
        return np.einsum("slmd,slme->slde", a, b) / (M * D)
    return mom(u, u), mom(v, v), mom(v, u)


@lru_cache(maxsize=4)
def _linear_network_and_recursion(L, M):
    """The finite linear [HW] network and the discrete moment recursion on its own per-block
    moments (alpha = 1.5, eta_u = 0.2, eta_v = 0.3, K = 4, 3 seeds)."""
    from infdepth.numerics.hidden_width import HWConfig, hw_data, train_hw
    from infdepth.numerics.mean_ode_linear import train_moments_discrete
    X, Y = hw_data()
    cfg = HWConfig(D=5, L=L, M=M, K=4, n_seeds=3, act="linear", alpha=1.5, eta_u=0.2,
                   eta_v=0.3)
    r = train_hw(cfg, X, Y)
    P, Q, A = _moments(r.init, cfg.M, cfg.D)
    d = train_moments_discrete(P, Q, A, r.init["W_in"], r.init["W_out"], X, Y, alpha=1.5,
                               eta_u=0.2, eta_v=0.3, K=4)
    net = np.concatenate([r.f.numpy().ravel(), r.h_L.numpy().ravel()])
    rec = np.concatenate([d["f"].ravel(), d["h_L"].ravel()])
    return net, rec


def _hw_limit_moments_errors(sizes):
    """M = infinity Euler scheme (limit moments P = Q = I, A = 0) vs the exact linear Mean ODE
    (eta = 0.2, K = 5, 6 seeds): max error of f over steps, inputs, outputs."""
    from infdepth.numerics.mean_ode_linear import train_moments_discrete
    S, K, eta = 6, 5, 0.2
    X, Y, w, ref = linear_mean_ode_reference(S, K, eta)
    out = []
    for L in sizes:
        eye = np.broadcast_to(np.eye(5), (S, L, 5, 5))
        d = train_moments_discrete(eye, eye, 0 * eye, w["W_in"], w["W_out"], X, Y, K=K,
                                   eta_u=eta, eta_v=eta)
        out.append(np.abs(d["f"] - ref["f"]).max())
    return out


def _mean_ode_linear_errors(sizes):
    """Particle solver (heun, moment-matched particles: the particle system IS the exact moment
    system) vs ``solve_mean_ode_linear``: only the depth error remains."""
    from infdepth.numerics.mean_ode import MeanODEConfig, solve_mean_ode
    S, K, eta = 2, 6, 0.2
    X, Y, _, ref = linear_mean_ode_reference(S, K, eta)
    out = []
    for Ls in sizes:
        cfg = MeanODEConfig(D=5, Ls=Ls, P=20, K=K, n_seeds=S, act="linear", eta=eta,
                            moment_match=True)
        out.append(float(np.abs(solve_mean_ode(cfg, X, Y).f.numpy() - ref["f"]).max()))
    return out


def _mean_ode_cauchy(scheme):
    """tanh particle solver at fixed particles: rms over seeds of ``f_K(Ls) - f_K(2 Ls)``; the
    Cauchy differences fall at the scheme's order."""
    def errors(sizes):
        import torch

        from infdepth.numerics.hidden_width import hw_data
        from infdepth.numerics.mean_ode import MeanODEConfig
        from infdepth.numerics.mean_ode_convergence import depth_sequence
        X, Y = hw_data()
        cfg = MeanODEConfig(D=5, P=64, K=4, n_seeds=2, eta=0.5, scheme=scheme)
        depths = tuple(sizes) + (2 * sizes[-1],)
        seq = depth_sequence(cfg, X, Y, depths)

        def rms(t):
            t = torch.as_tensor(t).double()
            return torch.sqrt((t ** 2).flatten(1).mean(1)).numpy()
        return [np.linalg.norm(rms(seq[a].f[:, -1] - seq[b].f[:, -1]))
                for a, b in zip(depths[:-1], depths[1:])]
    return errors


# -- NFD particle solver (docs/theory.md s3, s9) ---------------------------------------------

NFD_LMAX = 256


def _nfd_data():
    """3 training inputs, 2 evaluation inputs in R^4 (seed 1), fixed targets."""
    import torch
    g = torch.Generator().manual_seed(1)
    X = torch.randn(3, 4, dtype=torch.float64, generator=g)
    Xe = torch.randn(2, 4, dtype=torch.float64, generator=g)
    y = torch.tensor([0.5, -0.3, 0.8], dtype=torch.float64)
    return X, y, Xe


def nfd_linear_reference(X, y, Xe, L, K, eta, beta=1.0, variant="gia"):
    """Exact reference of the NFD particle scheme for phi = identity (no particles). Every
    particle quantity is then a linear combination of independent standard normals (input row
    u, v^0, and per block the new directions of the forward / backward Gaussian families), so
    each state is a coefficient vector and ``E[a b] = a . b``; the block-l Gaussian family is
    realized isometrically on an orthonormal basis of the span of ``h^s_{l-1}(x)``
    (Gram-Schmidt, extended as steps add vectors): the M -> infinity limit of the depth-L scheme.

    Returns f^k on training and evaluation inputs, k = 0..K, of the depth-L scheme at M = infinity,
    phi = identity; ``variant="covariance"`` adds the Gamma terms with the Gaussian-linear
    derivative ``Gamma = (A A^T)^+ A c`` (A: coefficients of the block's family, c: of g)."""
    X = np.asarray(X, float)
    Xall = np.concatenate([X, np.asarray(Xe, float)])
    y = np.asarray(y, float)
    N, (P, d) = X.shape[0], Xall.shape
    D = d + 1 + L * ((K + 1) * P + K + 1)
    top = [d + 1]
    dt = 1.0 / L
    cov = variant == "covariance"

    def extend(Q, idx, vecs):
        for v in vecs:
            r = v.copy()
            for _ in range(2):
                for q in Q:
                    r -= (q @ r) * q
            if np.linalg.norm(r) > 1e-9 * max(np.linalg.norm(v), 1e-300):
                Q.append(r / np.linalg.norm(r))
                idx.append(top[0])
                top[0] += 1

    def noise(Q, idx, vecs):
        out = np.zeros((len(vecs), D))
        if Q:
            out[:, idx] = beta * math.sqrt(dt) * (vecs @ np.array(Q).T)
        return out

    def dderiv(A, c):
        return np.linalg.pinv(A @ A.T, rcond=1e-10, hermitian=True) @ (A @ c)

    Qf = [[] for _ in range(L + 1)]
    ef = [[] for _ in range(L + 1)]
    Qb = [[] for _ in range(L + 1)]
    eb = [[] for _ in range(L + 1)]
    H = np.zeros((K + 1, L + 1, P, D))
    G = np.zeros((K + 1, L + 1, D))
    XI = np.zeros((K + 1, L + 1, P, D))       # forward increments (coefficients)
    BI = np.zeros((K + 1, L + 1, D))          # backward increments
    v0 = np.zeros(D)
    v0[d] = 1.0
    H0 = np.zeros((P, D))
    H0[:, :d] = Xall / math.sqrt(d)
    chi = np.zeros(K)
    f = np.zeros((K + 1, P))
    it = [k % N for k in range(K + 1)]
    for k in range(K + 1):
        h = H0.copy()
        for s in range(k):
            h -= eta * chi[s] * (Xall @ Xall[it[s]] / d)[:, None] * G[s, 0][None, :]
        H[k, 0] = h
        for l in range(1, L + 1):
            extend(Qf[l], ef[l], h)
            XI[k, l] = noise(Qf[l], ef[l], h)
            new = h + XI[k, l]
            for s in range(k):
                new -= (eta * beta ** 2 * dt * chi[s] * (h @ H[s, l - 1, it[s]])[:, None]
                        * G[s, l][None, :])
            if cov and k > 0:
                Bm = BI[:k, l]                                    # (k, D)
                gt = dderiv(Bm, h.T)                              # (k, P)
                new += beta ** 2 * dt * (gt.T @ G[:k, l])
            H[k, l] = h = new
        vk = v0.copy()
        for s in range(k):
            vk -= eta * chi[s] * H[s, L, it[s]]
        f[k] = H[k, L] @ vk
        if k < K:
            chi[k] = f[k, it[k]] - y[it[k]]
        g = vk.copy()
        G[k, L] = g
        for l in range(L, 0, -1):
            extend(Qb[l], eb[l], g[None, :])
            BI[k, l] = noise(Qb[l], eb[l], g[None, :])[0]
            new = g + BI[k, l]
            for s in range(k):
                new -= eta * beta ** 2 * dt * chi[s] * (G[s, l] @ g) * H[s, l - 1, it[s]]
            if cov:
                A = np.array([XI[s, l, it[s]] for s in range(k + 1)])
                gm = dderiv(A, g)
                new += beta ** 2 * dt * sum(gm[s] * H[s, l - 1, it[s]] for s in range(k + 1))
            G[k, l - 1] = g = new
    return f[:, :N], f[:, N:]


def _nfd_linear_training(variant, L=8, K=3, eta=0.4, seeds=4, particles=20000):
    def runs():
        from infdepth.numerics.nfd_solver import NFDConfig, solve_nfd_seeds
        X, y, Xe = _nfd_data()
        rs = solve_nfd_seeds(NFDConfig(K=K, eta=eta, act="linear", n_particles=particles,
                                       variant=variant), X, y, Xe, depths=(L,),
                             seeds=range(seeds))[L]
        return {n: np.stack([getattr(r, n).numpy() for r in rs]) for n in ("f_train", "f_eval")}

    def exact():
        X, y, Xe = _nfd_data()
        tr, ev = nfd_linear_reference(X, y, Xe, L, K, eta, variant=variant)
        return {"f_train": tr, "f_eval": ev}
    return runs, exact


def _nfd_linear_errors(sizes):
    """Linear activation at init on ONE Brownian path: ``max |Sigma_1(L) - Sigma_1(L_max)|``."""
    from infdepth.numerics.nfd_solver import NFDConfig, solve_nfd
    X, y, _ = _nfd_data()
    res = solve_nfd(NFDConfig(K=0, act="linear", n_particles=20000), X, y,
                    depths=tuple(sizes) + (NFD_LMAX,))
    ref = res[NFD_LMAX].kernel[0, -1].numpy()
    return [np.abs(res[L].kernel[0, -1].numpy() - ref).max() for L in sizes]


def _nfd_linear_known(L):
    """The Euler error ``Sigma_0 |(1 + 1/L)^L - (1 + 1/L_max)^L_max|`` (beta = 1)."""
    X, _, _ = _nfd_data()
    S0 = (X @ X.T / X.shape[1]).numpy()
    return float(np.abs(S0 * ((1 + 1 / L) ** L - (1 + 1 / NFD_LMAX) ** NFD_LMAX)).max())


# -------------------------------------------------------------------------------------------
# The registry
# -------------------------------------------------------------------------------------------

def _scalar_ode_errors(solver):
    # y' = y, y(0) = 1: y(1) = e
    return lambda sizes: [abs(solver(lambda y: y, 1.0, n) - math.e) for n in sizes]


PROBLEMS: tuple = (
    # kernel recursion (exact Euler scheme of the kernel ODE at init)
    *(ExactProblem(f"linear_recursion_closed_form[beta={b}]", "numerics.kernel_recursion",
                   (1, 3, 16), *_linear_recursion(b), rtol=1e-13,
                   note="Sigma_L = (1 + beta^2/L)^L Sigma_0, gradient moment likewise")
      for b in (1.0, 0.7)),
    ExactProblem("relu_recursion_diagonal", "numerics.kernel_recursion", (10,),
                 _relu_recursion_diagonal, _relu_recursion_diagonal_exact, rtol=1e-13,
                 note="relu: E[relu(u)^2] = q/2, E[relu'^2] = 1/2: diagonals grow "
                      "geometrically, (1 + beta^2/(2L))^L"),
    OrderProblem("linear_recursion_vs_exp", "numerics.kernel_recursion",
                 (16, 32, 64, 128, 256), _linear_recursion_errors, order=-1.0, tol=0.03,
                 pairwise_tol=0.05,
                 known=lambda L: float(np.abs(SIGMA0).max() * (math.e - (1 + 1 / L) ** L)),
                 known_rtol=1e-10,
                 note="|(1 + 1/L)^L - e| Sigma_0 ~ e/(2L) Sigma_0"),
    *(OrderProblem(f"recursion_vs_kernel_ode[{act}]", "numerics.kernel_recursion", (64, 128),
                   _recursion_vs_ode(act), order=-1.0, tol=0.043,
                   note="Euler of a smooth ODE: error(L)/error(2L) = 2 within 3%")
      for act in ("relu", "tanh", "erf", "linear")),
    # kernel ODE closed forms
    ExactProblem("linear_kernel_ode_closed_form", "numerics.kernel_ode", (0.9, 1.0),
                 lambda b: _kernel_ode("linear", b, "sigma"),
                 lambda b: SIGMA0 * math.exp(b ** 2), rtol=1e-14,
                 note="Sigma(1) = exp(beta^2) Sigma_0"),
    ExactProblem("relu_kernel_ode_diagonal", "numerics.kernel_ode", (1.3,),
                 lambda b: _kernel_ode("relu", b, "diag"),
                 lambda b: np.concatenate([np.diag(SIGMA0), 0.5 * np.ones(3)])
                 * math.exp(b ** 2 / 2), rtol=1e-10,
                 note="relu diagonal and gradient moment grow like exp(beta^2/2) (generic "
                      "solve_ivp path)"),
    ExactProblem("relu_kernel_ode_correlation", "numerics.kernel_ode", (1.0,),
                 lambda b: _kernel_ode("relu", b, "rho"), _relu_correlation_ode, rtol=1e-9,
                 note="relu correlation: the scalar arc-cosine ODE"),
    # [HW] linear network and the exact Mean-ODE moment system
    ExactProblem("hw_linear_network_is_moment_recursion", "numerics.mean_ode_linear",
                 ((6, 3), (2, 5)), lambda s: _linear_network_and_recursion(*s)[0],
                 lambda s: _linear_network_and_recursion(*s)[1], rtol=0, atol=1e-10,
                 note="the finite linear network equals the discrete moment recursion on its "
                      "own per-block moments, any L and M"),
    OrderProblem("hw_limit_moments_euler_vs_mean_ode", "numerics.mean_ode_linear", (64, 256),
                 _hw_limit_moments_errors, order=-1.0, tol=0.2, max_error=1e-3,
                 note="M = infinity Euler scheme vs the exact linear Mean ODE: weak order 1"),
    OrderProblem("mean_ode_linear_particles_heun", "numerics.mean_ode", (4, 8, 16),
                 _mean_ode_linear_errors, order=-2.0, tol=0.15, pairwise_tol=0.15,
                 max_error=1e-4,
                 note="moment-matched particles: the particle system is the exact moment "
                      "system; heun depth error O(Ls^-2)"),
    *(OrderProblem(f"mean_ode_tanh_cauchy[{scheme}]", "numerics.mean_ode", (4, 8, 16),
                   _mean_ode_cauchy(scheme), order=order, tol=0.15,
                   note="Cauchy differences f(Ls) - f(2Ls) at fixed particles")
      for scheme, order in (("euler", -1.0), ("heun", -2.0))),
    # NFD particle solver
    *(SeedMeanProblem(f"nfd_linear_training[{v}]", "numerics.nfd_solver",
                      *_nfd_linear_training(v), n_se=5.0, se_floor=0.004,
                      note="phi linear, K = 3, L = 8: 4 particle seeds of M = 20000 vs the "
                           "exact particle-free reference")
      for v in ("gia", "covariance")),
    OrderProblem("nfd_linear_init_one_path", "numerics.nfd_solver", (4, 8, 16, 32),
                 _nfd_linear_errors, order=-1.0, tol=0.1, known=_nfd_linear_known,
                 known_rtol=0.2,
                 note="one Brownian path: the error to L_max is the Euler error up to Monte "
                      "Carlo (20%)"),
    # one-step schemes on a scalar ODE with a known solution (the orders theory.truncation
    # derives: Euler global order 1, Heun 2)
    OrderProblem("euler_scalar_ode", "theory.truncation", (8, 16, 32, 64, 128),
                 _scalar_ode_errors(euler_solve), order=-1.0, tol=0.05, pairwise_tol=0.1,
                 note="y' = y on [0, 1], n steps of h = 1/n: |y_n - e| ~ e h / 2"),
    OrderProblem("heun_scalar_ode", "theory.truncation", (8, 16, 32, 64, 128),
                 _scalar_ode_errors(heun_solve), order=-2.0, tol=0.05, pairwise_tol=0.1,
                 note="y' = y on [0, 1]: |y_n - e| ~ e h^2 / 6"),
    # closed-form Gaussian kernels
    *(GaussianKernelProblem(f"{_KERNEL_NAMES[a]}_kernel[{a}-{k}]", "numerics.gaussian_kernels",
                            a, k, _CLOSED[a](k), _POINTWISE[(a, k)])
      for a in ("relu", "erf", "linear") for k in ("phiphi", "dphidphi")),
    # synthetic power laws for the rate fitter
    *(PowerLawProblem(f"power_law[slope={p:+g}]", "validation.rate_fit",
                      (4, 8, 16, 32, 64, 128), p) for p in (-1.0, -0.5, -2.0, 0.5)),
)


def name_of(problem) -> str:
    return problem.name


def select(kind: type, subject: str) -> list:
    """The problems of one kind checking one module; an empty selection is an error (a test
    that parametrizes over nothing would silently pass)."""
    out = [p for p in PROBLEMS if isinstance(p, kind) and p.subject == subject]
    if not out:
        raise LookupError(f"no {kind.__name__} for {subject!r}")
    return out


def params(kind: type, subject: str) -> list:
    """:func:`select` as ``pytest.param`` objects with the problem's id and marks."""
    return [pytest.param(p, id=p.name, marks=p.marks) for p in select(kind, subject)]


def unique_names() -> bool:
    names = [p.name for p in PROBLEMS]
    return len(names) == len(set(names))


assert unique_names(), "problem names must be unique"
