"""Particle solver for the NFD limit of Model A1 under depth-muP (docs/theory.md s2, s3, s9).

The NFD limit (width to infinity first, then depth) is a McKean-Vlasov forward-backward SDE in
depth-time ``t = l/L`` for a *representative coordinate* ``(h^k_t(x), g^k_t)``, ``k = 0..K``
(docs/theory.md s3). This module approximates its law by ``M = n_particles`` particles (rows of every
tensor) and every expectation ``E[.]`` by the particle mean, and discretizes depth with ``L``
Euler-Maruyama steps. The depth-``L`` scheme is exactly the width-to-infinity limit of the
depth-``L`` network of docs/theory.md s2 (with ``variant="gia"``: with independent backward weights,
the engine's ``mode="independent"``), so its distance to the SDE is the ``O(1/L)`` Euler bias
plus the particle Monte Carlo error ``O(M^(-1/2))``. Coefficients come from the SymPy derivation
:mod:`infdepth.theory.nfd` through the generated module
:mod:`infdepth.theory.generated.nfd_terms`.

Equations (one SGD step per training example, step ``k`` trains on ``x_k := x_{k mod N}``;
``phi^s_l := phi(h^s_l(x_s))``; ``dt = 1/L``):

    h^k_0(x)   = u . x / sqrt(d) - eta sum_{s<k} chi_s (x_s . x / d) g^s_0,    u ~ N(0, I_d)
    h^k_l(x)   = h^k_{l-1}(x) + xi^k_l(x)
                 - eta beta^2 dt sum_{s<k} chi_s E[phi^s_{l-1} phi(h^k_{l-1}(x))] g^s_l
                 [+ beta^2 dt sum_{s<k} Gammat^{ks}_l(x) g^s_l]                         (cov.)
    Cov(xi^k_l(x), xi^{k'}_l(x')) = beta^2 dt E[phi(h^k_{l-1}(x)) phi(h^{k'}_{l-1}(x'))]
    f^k(x)     = E[v^k phi(h^k_L(x))],  v^k = v^0 - eta sum_{s<k} chi_s phi^s_L,  v^0 ~ N(0, 1)
    chi_k      = f^k(x_k) - y_k
    g^k_L      = v^k phi'(h^k_L(x_k))
    g^k_{l-1}  = g^k_l + phi'(h^k_{l-1}(x_k)) [ b^k_l
                 - eta beta^2 dt sum_{s<k} chi_s E[g^s_l g^k_l] phi^s_{l-1}
                 [+ beta^2 dt sum_{s<=k} Gamma^{ks}_l phi^s_{l-1}] ]                      (cov.)
    Cov(b^k_l, b^{k'}_l) = beta^2 dt E[g^k_l g^{k'}_l],   b independent of xi (GIA)

Steps are solved in order: forward of step k on all inputs (training and evaluation), then
``chi_k``, then the backward of step k; the forward of step ``K`` gives the final outputs (the
backward of step ``K`` is also run, for its gradient statistics; it does not change any output).

**Joint noise across steps.** The increments ``xi^k_l(x)`` of all steps and inputs at block
``l`` form one Gaussian family (one ``W^0_l`` in the finite network), and so do ``b^k_l``. Step
``k``'s increments are drawn from their conditional law given the increments of steps ``s < k``
already drawn at that block: ``xi^k = A xi^{<k} + S^(1/2) z^k`` with
``A = C_{k,<} C_{<,<}^+``, ``S = C_{kk} - A C_{<,k}`` (symmetric eigh square root, negative
eigenvalues from round-off clipped), ``C`` from the current particle second moments and ``z^k``
the step's columns of one standard-normal draw per particle and block.

**Covariance variant** (docs/theory.md s3). ``Gamma^{ks}_l = E[d g^k_l / d h^s_l(x_s)]`` is the
expected derivative of the backward state with respect to block ``l``'s forward increment of step
``s`` (all other noise and the mean-field averages held fixed), ``s <= k``; ``Gammat^{ks}_l(x) =
E[d phi(h^k_{l-1}(x)) / d b^s_l]``, ``s < k``. They are computed by Gaussian integration by parts
(Stein's lemma) on the particle system rather than by forward-mode tangents: the block-``l``
increments are jointly Gaussian and independent of everything else given the mean field, so
``E[g xi_T] = Cov(xi_T) E[d g / d xi_T]`` on the training-path columns ``T = {(s, x_s)}``, i.e.
``Gamma = E[xi_T xi_T^T]^+ E[xi_T g^k_l]`` (and likewise ``Gammat`` from ``b``). This is the same
expectation as the pathwise forward-mode derivative (exactly, as ``M -> infinity``), at the
cost of one small least-squares solve per block, with a Monte Carlo error that accumulates to
``O(M^(-1/2))`` over the ``L`` blocks like every other particle average.

**Depth-coupled randomness** (docs/theory.md s9). :func:`draw_noise` draws the standard normals
of one particle seed on the finest grid ``L_max``; :func:`coarsen_noise` sums them in groups of
``L_max / L`` blocks and divides by the square root of the group size, so every depth in a sweep
sees one Brownian path; :func:`solve_nfd` does both for a list of depths. The increments at
depth ``L`` are the coarsened normals times the *current* step's factor (McKean-Vlasov: the
covariance is recomputed from the particles at every block).

API::

    cfg = NFDConfig(K=3, eta=0.5, act="tanh", variant="gia", n_particles=8192, seed=0)
    res = solve_nfd(cfg, X_train, y_train, X_eval, depths=(4, 8, 16, 32))   # {L: NFDResult}
    one = solve_nfd_depth(cfg, X_train, y_train, X_eval, L=8)                # own noise
    runs = solve_nfd_seeds(cfg, X_train, y_train, X_eval, depths, seeds=range(8))

Independent particle seeds (``NFDConfig.seed``) give independent Monte Carlo estimates, to be
bootstrapped over by the caller. Tensors follow the dtype (float64 recommended) and device of
``X_train``; the normals are drawn on the CPU (reproducible across devices) and moved.
Memory: the forward states of all steps, blocks and inputs are kept, ``(K+1)(L+1) M P`` numbers
(``P`` = number of training plus evaluation inputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from infdepth.device import thread_map
from infdepth.validators import choice, nonneg_int, nonneg_number, positive_int, positive_number
from infdepth.theory.generated import nfd_terms as T
from .activations import ACTIVATION_NAMES, dphi_given, phi
from .nfd_noise import NFDNoise, coarsen_noise, draw_noise

#: NFD variants (docs/theory.md s3): plain gradient-independence, and with the Gamma terms.
VARIANTS: tuple[str, ...] = ("gia", "covariance")
DEFAULT_VARIANT = "covariance"
#: Relative eigenvalue cutoff of the pseudo-inverses (conditioning, Stein regression).
PINV_RTOL = 1e-10


@dataclass(frozen=True)
class NFDConfig:
    """Configuration of one particle solve (hashable, pure: same config and data, same numbers).

    ``K`` SGD steps (one example per step, example ``k mod N``), base learning rate ``eta``
    (depth-muP: ``eta n`` per group in the finite network, docs/theory.md s2), activation ``act``,
    branch constant ``beta``, ``variant`` ``"covariance"`` (default) | ``"gia"``,
    ``n_particles`` M, particle seed index ``seed`` under ``base_seed``.
    """

    K: int
    eta: float = 0.1
    act: str = "tanh"
    beta: float = 1.0
    variant: str = DEFAULT_VARIANT
    n_particles: int = 4096
    seed: int = 0
    base_seed: int = 0

    def __post_init__(self):
        nonneg_int("K", self.K)
        positive_int("n_particles", self.n_particles)
        nonneg_int("seed", self.seed)
        nonneg_int("base_seed", self.base_seed)
        choice("variant", self.variant, VARIANTS)
        choice("act", self.act, ACTIVATION_NAMES)
        nonneg_number("eta", self.eta, finite=True)
        positive_number("beta", self.beta, finite=True)

    def replace(self, **changes) -> "NFDConfig":
        return replace(self, **changes)


@dataclass
class NFDResult:
    """Output of one solve at depth ``L`` (tensors on the inputs' device).

    ``f_train`` (K+1, N), ``f_eval`` (K+1, E): outputs ``f^k`` (k = K: after the last step);
    ``chi`` (K,); ``loss`` (K+1,): ``mean_i 1/2 (f^k(x_i) - y_i)^2``;
    ``kernel`` (K+1, L+1, P, P): ``E[h^k_l(x) h^k_l(x')]`` (uncentred), inputs train then eval;
    ``output_kernel`` (K+1, P, P): ``E[phi(h^k_L(x)) phi(h^k_L(x'))]``;
    ``g_moment`` (K+1, L+1): ``E[(g^k_l)^2]`` on step k's training input;
    ``gamma`` (K+1, L, K+1) (covariance variant, else None): ``Gamma^{ks}_l`` (block l = 1..L at
    index l-1, zero for s > k); ``states``: ``{"h": (K+1, L+1, M, P), "g": (K+1, L+1, M)}`` when
    asked for with ``keep_states``.
    """

    config: NFDConfig
    L: int
    f_train: torch.Tensor
    f_eval: torch.Tensor
    chi: torch.Tensor
    loss: torch.Tensor
    kernel: torch.Tensor
    output_kernel: torch.Tensor
    g_moment: torch.Tensor
    gamma: torch.Tensor | None = None
    states: dict = field(default_factory=dict)


# -------------------------------------------------------------------------------------------
# Linear algebra helpers
# -------------------------------------------------------------------------------------------

def _psd_sqrt(S: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a PSD matrix (negative round-off eigenvalues clipped)."""
    w, V = torch.linalg.eigh(0.5 * (S + S.mT))
    return (V * w.clamp_min(0).sqrt()) @ V.mT


def _conditional_increment(prev: torch.Tensor, z: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Increments of the new columns given the realized ``prev`` ones (module docstring).

    ``prev`` (M, m), ``z`` (M, p) standard normals, ``C`` ((m+p) x (m+p)) joint covariance with
    the previous columns first. Returns ``prev A^T + z S^(1/2)``.
    """
    m = prev.shape[1]
    if m == 0:
        return z @ _psd_sqrt(C)
    Cpp, Cnp, Cnn = C[:m, :m], C[m:, :m], C[m:, m:]
    A = Cnp @ torch.linalg.pinv(Cpp, rtol=PINV_RTOL, hermitian=True)
    S = Cnn - A @ Cnp.mT
    return prev @ A.mT + z @ _psd_sqrt(S)


def _stein(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``E[X X^T]^+ E[X Y]``: the expected derivative of ``Y`` with respect to the Gaussian
    columns ``X`` (Stein's lemma; least-squares form). ``X`` (M, m), ``Y`` (M, p) -> (m, p)."""
    M = X.shape[0]
    return torch.linalg.pinv(X.mT @ X / M, rtol=PINV_RTOL, hermitian=True) @ (X.mT @ Y / M)


# -------------------------------------------------------------------------------------------
# The solver
# -------------------------------------------------------------------------------------------

def _check_data(X_train, y_train, X_eval):
    if not isinstance(X_train, torch.Tensor) or X_train.dtype not in (torch.float32,
                                                                      torch.float64):
        raise ValueError("X_train must be a float32 or float64 torch.Tensor of shape (N, d), "
                         f"got {getattr(X_train, 'dtype', type(X_train).__name__)}")
    if X_train.dim() != 2 or X_train.shape[0] == 0:
        raise ValueError(f"X_train must have shape (N, d) with N >= 1, got {tuple(X_train.shape)}")
    dtype, device = X_train.dtype, X_train.device
    N, d = X_train.shape
    y = torch.as_tensor(y_train, dtype=dtype, device=device)
    if y.shape != (N,):
        raise ValueError(f"y_train must have shape ({N},), got {tuple(y.shape)}")
    if X_eval is None:
        Xe = X_train.new_zeros((0, d))
    else:
        Xe = torch.as_tensor(X_eval, dtype=dtype, device=device)
        if Xe.dim() != 2 or Xe.shape[1] != d:
            raise ValueError(f"X_eval must have shape (E, {d}), got {tuple(Xe.shape)}")
    return torch.cat([X_train, Xe]), y, N


def solve_nfd_depth(cfg: NFDConfig, X_train: torch.Tensor, y_train: torch.Tensor,
                    X_eval: torch.Tensor | None = None, *, L: int,
                    noise: NFDNoise | None = None, keep_states: bool = False) -> NFDResult:
    """Solve the depth-``L`` particle scheme (module docstring) for ``cfg``.

    ``X_train`` (N, d), ``y_train`` (N,), ``X_eval`` (E, d) or None. ``noise``: standard normals
    on this grid (e.g. :func:`coarsen_noise` of a fine draw); by default
    ``draw_noise(cfg, L, ...)``. ``keep_states``: also return all particle states.
    """
    if not isinstance(cfg, NFDConfig):
        raise ValueError(f"cfg must be an NFDConfig, got {type(cfg).__name__}")
    positive_int("L", L)
    X, y, N = _check_data(X_train, y_train, X_eval)
    dtype, device = X.dtype, X.device
    P, d = X.shape
    K, M, act = cfg.K, cfg.n_particles, cfg.act
    eta, beta, cov = float(cfg.eta), float(cfg.beta), cfg.variant == "covariance"
    dt = 1.0 / L
    if noise is None:
        noise = draw_noise(cfg, L, d, P, dtype=dtype, device=device)
    if (noise.L != L or noise.u.shape != (M, d) or noise.fwd.shape[1:] != (M, (K + 1) * P)
            or noise.bwd.shape[1:] != (M, K + 1)):
        raise ValueError("noise does not match (L, n_particles, d, inputs, K) of this solve")
    nz = lambda a: a.to(dtype=dtype, device=device)  # noqa: E731
    z_f, z_b, v0 = nz(noise.fwd), nz(noise.bwd), nz(noise.v0)

    idx = [k % N for k in range(K + 1)]                 # training input of step k
    # every entry of H, G, XI, B is written before it is read
    H = X.new_empty((K + 1, L + 1, M, P))               # h^k_l(x)
    PHI = [[] for _ in range(L + 1)]                    # PHI[l][k] = phi(h^k_l(x)), (M, P)
    G = X.new_empty((K + 1, L + 1, M))                  # g^k_l (on x_k)
    XI = X.new_empty((L, M, (K + 1) * P))               # forward increments xi^k_l(x)
    B = X.new_empty((L, M, K + 1))                      # backward increments b^k_l
    gamma = X.new_zeros((K + 1, L, K + 1)) if cov else None
    chi = X.new_zeros(K)
    f_all = X.new_zeros((K + 1, P))
    XX = (X @ X.mT) / d                                 # x . x' / d
    H0 = nz(noise.u) @ X.mT / math.sqrt(d)              # h^0_0(x)
    cols = lambda k: slice(k * P, (k + 1) * P)  # noqa: E731

    def set_phi(l: int, h: torch.Tensor) -> torch.Tensor:
        """phi(h^k_l(x)) of ``h = H[k, l]`` (M, P) for the next step k of layer l, kept in
        ``PHI``: each particle state's activation is evaluated once (the numbers of evaluating
        it again: phi is elementwise)."""
        PHI[l].append(phi(act, h))
        return PHI[l][-1]

    def train_phi(l: int, upto: int) -> torch.Tensor:
        """phi(h^s_l(x_s)) for s < upto: (M, upto)."""
        return torch.stack([PHI[l][s][:, idx[s]] for s in range(upto)], dim=1)

    def train_dphi(k: int, l: int) -> torch.Tensor:
        """phi'(h^k_l(x_k)): (M,)."""
        return dphi_given(act, H[k, l, :, idx[k]], PHI[l][k][:, idx[k]])

    for k in range(K + 1):
        # ---- forward of step k on all inputs ---------------------------------------------
        h = H0.clone()
        for s in range(k):
            h = h + T.input_layer_coefficient(eta, chi[s], XX[idx[s]])[None, :] * G[s, 0][:, None]
        H[k, 0] = h
        for l in range(1, L + 1):
            Phi = set_phi(l - 1, h)                                       # (M, P)
            Phi_all = torch.cat(PHI[l - 1], dim=1)                        # steps 0..k
            C = T.forward_diffusion(beta, Phi_all.mT @ Phi_all / M) * dt
            xi = _conditional_increment(XI[l - 1, :, :k * P], z_f[l - 1, :, cols(k)], C)
            XI[l - 1, :, cols(k)] = xi
            h_new = h + xi
            if k > 0:
                PhiT = train_phi(l - 1, k)                                # (M, k)
                c = PhiT.mT @ Phi / M                                     # (k, P)
                coef = T.forward_drift_coefficient(eta, beta, chi[:k, None], c)
                Gl = G[:k, l].mT                                          # (M, k)
                h_new = h_new + (Gl @ coef) * dt
                if cov:
                    gt = _stein(B[l - 1, :, :k], Phi)                     # (k, P)
                    h_new = h_new + (Gl @ T.forward_gamma_coefficient(beta, gt)) * dt
            H[k, l] = h = h_new
        # ---- output and chi_k --------------------------------------------------------------
        PhiL = set_phi(L, h)
        vk = v0.clone()
        for s in range(k):
            vk = vk + T.readout_coefficient(eta, chi[s]) * PHI[L][s][:, idx[s]]
        f_all[k] = (vk[:, None] * PhiL).mean(0)
        if k < K:
            chi[k] = f_all[k, idx[k]] - y[idx[k]]
        # ---- backward of step k (on x_k) -----------------------------------------------------
        g = vk * train_dphi(k, L)
        G[k, L] = g
        for l in range(L, 0, -1):
            dp = train_dphi(k, l - 1)
            Gs = G[:k + 1, l].mT                                          # (M, k+1)
            Q = Gs.mT @ Gs / M
            Cb = T.backward_diffusion(beta, Q) * dt
            b = _conditional_increment(B[l - 1, :, :k], z_b[l - 1, :, k:k + 1], Cb)[:, 0]
            B[l - 1, :, k] = b
            inc = b
            if k > 0 or cov:
                PhiT = train_phi(l - 1, k + 1)                            # (M, k+1)
            if k > 0:
                coef = T.backward_drift_coefficient(eta, beta, chi[:k], Q[:k, k])
                inc = inc + (PhiT[:, :k] @ coef) * dt
            if cov:
                tcols = [s * P + idx[s] for s in range(k + 1)]
                gm = _stein(XI[l - 1][:, tcols], g[:, None])[:, 0]        # (k+1,)
                gamma[k, l - 1, :k + 1] = gm
                inc = inc + (PhiT @ T.backward_gamma_coefficient(beta, gm)) * dt
            g = g + dp * inc
            G[k, l - 1] = g

    kernel = torch.einsum("klmp,klmq->klpq", H, H) / M
    PhiL = torch.stack(PHI[L])                                      # (K+1, M, P)
    out_kernel = torch.einsum("kmp,kmq->kpq", PhiL, PhiL) / M
    res = NFDResult(config=cfg, L=L, f_train=f_all[:, :N], f_eval=f_all[:, N:], chi=chi,
                    loss=0.5 * (f_all[:, :N] - y).square().mean(1), kernel=kernel,
                    output_kernel=out_kernel, g_moment=G.square().mean(2), gamma=gamma)
    if keep_states:
        res.states = {"h": H, "g": G}
    return res


def _check_depths(depths) -> tuple[int, ...]:
    ds = tuple(depths)
    if not ds:
        raise ValueError("depths must hold at least one depth")
    for L in ds:
        positive_int("depth", L)
    Lmax = max(ds)
    bad = [L for L in ds if Lmax % L]
    if bad:
        raise ValueError(f"depths {bad} do not divide the finest depth {Lmax}")
    return ds


def solve_nfd(cfg: NFDConfig, X_train: torch.Tensor, y_train: torch.Tensor,
              X_eval: torch.Tensor | None = None, depths=(4, 8, 16, 32), *,
              keep_states: bool = False) -> dict[int, NFDResult]:
    """Depth sweep with coupled randomness (docs/theory.md s9): one draw on ``L_max = max(depths)``,
    coarsened to every depth (each must divide ``L_max``). Returns ``{L: NFDResult}``."""
    ds = _check_depths(depths)
    X, _, _ = _check_data(X_train, y_train, X_eval)
    fine = draw_noise(cfg, max(ds), X.shape[1], X.shape[0], dtype=X.dtype, device=X.device)
    return {L: solve_nfd_depth(cfg, X_train, y_train, X_eval, L=L,
                               noise=coarsen_noise(fine, L), keep_states=keep_states)
            for L in sorted(set(ds))}


def solve_nfd_seeds(cfg: NFDConfig, X_train: torch.Tensor, y_train: torch.Tensor,
                    X_eval: torch.Tensor | None = None, depths=(4, 8, 16, 32),
                    seeds=range(4), *, lanes: int = 1) -> dict[int, list[NFDResult]]:
    """:func:`solve_nfd` for several independent particle seeds: ``{L: [result per seed]}``
    (the caller bootstraps over the seeds). ``lanes``: seeds solved side by side on that many
    threads (each seed's solve is its own computation from its own noise, so the results do
    not depend on it; give each thread one intra-op thread, as the caller of a small solve
    does anyway)."""
    def one(s) -> dict[int, NFDResult]:
        return solve_nfd(cfg.replace(seed=int(s)), X_train, y_train, X_eval, depths)

    per_seed = thread_map(one, seeds, lanes)
    out: dict[int, list[NFDResult]] = {}
    for res in per_seed:
        for L, r in res.items():
            out.setdefault(L, []).append(r)
    return out


def stack_outputs(results: list[NFDResult], which: str = "f_eval") -> torch.Tensor:
    """``(S, K+1, ·)`` stack of one output over a list of per-seed results."""
    choice("which", which, ("f_train", "f_eval", "loss", "chi"))
    return torch.stack([getattr(r, which) for r in results])


__all__ = [
    "NFDConfig", "NFDNoise", "NFDResult", "VARIANTS", "DEFAULT_VARIANT", "draw_noise",
    "coarsen_noise", "solve_nfd_depth", "solve_nfd", "solve_nfd_seeds", "stack_outputs",
]
