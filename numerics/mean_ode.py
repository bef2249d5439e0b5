"""Particle solver of the Neural Mean ODE of the [HW] 2LP ResNet, any activation (docs/theory.md s6).

Equations (derived in :mod:`infdepth.theory.mean_ode_2lp`, per-particle terms from the generated
module :mod:`infdepth.theory.generated.mean_ode_2lp`), step ``k = 0..K``, ``s`` in [0, 1]::

    forward   d/ds h_k(s,x) = alpha E_z[ v_k sigma(p) ],                 h_k(0,x) = W_in x
    backward  d/ds b_k(s,x) = -(alpha/D) E_z[ sigma'(p) (v_k . b_k) u_k ],  b_k(1,x) = W_out r/(Dn)
    training  u_{k+1}(s,z) = u_k(s,z) - (eta_u/alpha) sum_x sigma'(p) (v_k . b_k(s,x)) h_k(s,x)
              v_{k+1}(s,z) = v_k(s,z) - (eta_v D/alpha) sum_x sigma(p) b_k(s,x)
    f_k(x) = W_out^T h_k(1,x) / D,  r = f_k(x) - y(x),  p = u_k(s,z) . h_k(s,x) / D,
    Z_0(s, z) = z = (u, v) ~ N(0, D I_{2D})

with ``n`` the loss normalizer of the named convention ``cfg.convention`` (N, or N d_out under
``"authors"``; :mod:`infdepth.numerics.hw_conventions`, docs/theory.md s6 "The authors' own
setting"), which also sets the std of ``W_out`` and which steps are recorded, exactly as for the
finite network.

**Design.** ``E_z`` is the mean over ``P`` particles ``z_p`` drawn once (:func:`draw_particles`;
marginally ``N(0, D I)``; by default randomized quasi-Monte Carlo -- scrambled Sobol points
through the normal inverse CDF, which measured a faster-than-``P^-1/2`` error -- or i.i.d. draws
with ``sampler="mc"``) and shared by every depth point (``Z_0(s, z_p) = z_p``); the parameter
map ``Z_k(s_i, z_p)`` is stored on a depth grid (``(S, nodes, P, D)`` for u and for v) and
updated in place by the training equations evaluated at the grid points. Default particles are
**antithetic in v**: pairs ``(u, v)``, ``(u, -v)``, so the forward drift is exactly 0 at init
(as is the limit's) and every v-odd part of the Monte Carlo error cancels;
``moment_match=True`` also whitens the drawn halves so that ``E_P[u u^T] = E_P[v v^T] = D I``
exactly (then, with linear sigma, the particle system *is* the exact moment system of
:mod:`infdepth.numerics.mean_ode_linear` and only the depth discretisation remains; with tanh it
halves the i.i.d. spread but adds nothing to the Sobol points, so it is off by default). Seeds
share the particles; each seed has its own ``W_in``, ``W_out``, drawn exactly as
:func:`infdepth.numerics.hidden_width.init_weights` draws them.

**Schemes** (``scheme``), both on the uniform grid ``ds = 1/Ls``:

* ``"euler"`` (order 1): ``nodes = Ls`` parameter points (block ``l`` uses node ``l-1``),
  ``h_l = h_{l-1} + ds F(h_{l-1}, Z_{l-1})``; backward ``b_{l-1} = b_l - ds B(h_{l-1}, b_l,
  Z_{l-1})`` and the update of node ``l-1`` at ``(h_{l-1}, b_l)``. This is exactly the finite
  network with ``L = Ls`` blocks of ``M = P`` units and its hand-written GD step (the derivation
  in :mod:`infdepth.theory.mean_ode_2lp`), so given the finite network's units
  (``units=(u, v)`` of shape ``(S, L, M, D)``) it reproduces :func:`~infdepth.numerics.
  hidden_width.train_hw` to round-off; with shared particles it is that network with the same
  P units in every block.
* ``"heun"`` (order 2, default): ``nodes = Ls + 1`` points ``s_i = i/Ls``; forward
  ``h_{i+1} = h_i + ds/2 [F(h_i, Z_i) + F(h_i + ds F(h_i, Z_i), Z_{i+1})]``; backward from
  ``s = 1`` likewise (predictor ``b_{i+1} - ds B(h_{i+1}, b_{i+1}, Z_{i+1})``, trapezoid
  corrector, ``h`` at the nodes from the forward pass); the update of node i uses ``(h_i, b_i)``
  at that node. ``Z_k(s)`` is smooth in s (``Z_0`` is constant in s and the updates are smooth
  functions of ``h_k(s), b_k(s)``), so the error of ``f_K`` is ``O(Ls^-2)`` at fixed particles.

At fixed particles the solver converges, as ``Ls -> infinity``, to the Mean ODE of the
``P``-particle empirical measure; its distance to the Mean ODE is the particle Monte Carlo error
(``O(P^-1/2)`` for i.i.d. draws, faster for the default RQMC points). :func:`~infdepth.numerics.mean_ode_convergence.convergence_check`
measures both (depth: same particles at ``Ls``, ``2Ls``, ``4Ls``; Monte Carlo: independent
particle draws, and ``width_factor * P`` particles).

Measured (tanh, D = 5, N = 10, d_in = d_out = 5, eta = 0.5, alpha = 1, K = 15, data
``hw_data(10, 5, 5, 0)``, seeds 0..7, one CPU thread; medians over seeds of the rms over f_K's
entries): ``(Ls, P) = (16, 8192)``: depth error 2.2e-4 (observed order 1.92), Monte Carlo spread
1.1e-3, 4.4 s; ``(16, 32768)``: depth 2.2e-4, spread 4.6e-4, 18 s; ``(32, 65536)``: 173 s
(times taken before the transposed layout and NumPy's tanh of :class:`_Terms`, which made a
two-seed ``(16, 32768)`` solve 1.6x faster).
The [HW] network's own error at ``L M = 2048`` is about 1e-2.

**Batched evaluation.** The generated per-particle vector functions (``forward_integrand``,
...) are evaluated here in batched form: each coefficient is a monomial, generated also as a
constant ``*_scale`` times a per-particle ``*_field``; the field is formed elementwise on the
``(S, N, P)`` arrays of ``sigma(p)``, ``sigma'(p)``, ``v . b``, contracted with the vector it
multiplies by ``bmm`` (:data:`~infdepth.theory.generated.mean_ode_2lp.DIRECTIONS`), and the
scale applied to the small side of the product (:class:`_Terms`);
``tests/numerics/test_mean_ode.py`` checks this against the vector functions particle by
particle.

On the CPU the seeds are solved in chunks (:data:`CHUNK_ELEMENTS` numbers per ``(seeds, N, P)``
temporary), so that the elementwise passes run in the cache, on one intra-op thread (a chunk's
operations are small: on the shared 2-core machine two threads made every one of them wait for
the other core); seeds do not interact, so the numbers do not depend on the chunks (measured,
smoke reference solve S = 24, P = 8192, K = 15, machine loaded by other processes: 79/76 s
before, 19/24 s chunked on one thread; bit-identical).

Memory: ``u``, ``v`` dominate (``2 S nodes P D`` numbers), plus ``O(S N P)`` temporaries per
node; :func:`memory_bytes` estimates it and :func:`solve_mean_ode` refuses sizes above
``max_memory_gb``.
"""

from __future__ import annotations

import math
import time
from dataclasses import KW_ONLY, dataclass, field

import torch

from infdepth.device import resolve_device, resolve_dtype, thread_map, torch_threads
from infdepth.seeding import normal_sequence, seed_value
from infdepth.validators import (choice, int_at_least, nonneg_number, positive_int,
                                 positive_number)
from infdepth.theory.generated import mean_ode_2lp as gen

from . import footprint
from .activations import check_activation, dphi_given, phi_values
from .hidden_width import HWConfig, HWSettings, init_weights
from .hw_conventions import check_convention

__all__ = ["MeanODEConfig", "MeanODEResult", "SCHEMES", "SAMPLERS", "SCHEME_ORDER",
           "check_mean_ode_config", "draw_particles", "memory_bytes", "solve_mean_ode"]

#: Depth schemes and their order in ``1/Ls``.
SCHEME_ORDER = {"euler": 1, "heun": 2}
SCHEMES = tuple(SCHEME_ORDER)
#: Particle samplers: i.i.d. Gaussian draws, or scrambled Sobol points mapped by the normal
#: inverse CDF (randomized quasi-Monte Carlo).
SAMPLERS = ("mc", "sobol")
PARTICLE_STREAM = "mean_ode/particles"


@dataclass(frozen=True)
class MeanODEConfig(HWSettings):
    """Settings of :func:`solve_mean_ode` (docs/theory.md s6; module docstring).

    ``Ls`` depth steps, ``P`` particles (even when ``antithetic``); the training settings ``K``,
    ``alpha``, ``eta`` (``eta_u`` / ``eta_v``), ``act``, ``dtype``, ``device``, ``convention``
    mean what they mean for the network (:class:`~infdepth.numerics.hidden_width.HWSettings`), and ``n_seeds``
    / ``base_seed`` select ``W_in``, ``W_out`` as ``init_weights`` does; ``particle_seed``
    selects the particle draw.
    """

    D: int
    Ls: int = 16
    P: int = 8192
    _: KW_ONLY
    scheme: str = "heun"
    antithetic: bool = True
    moment_match: bool = False
    sampler: str = "sobol"
    particle_seed: int = 0
    max_memory_gb: float = 8.0

    @property
    def nodes(self) -> int:
        """Depth points carrying parameters: ``Ls + 1`` (heun) or ``Ls`` (euler)."""
        return self.Ls + 1 if self.scheme == "heun" else self.Ls


def check_mean_ode_config(cfg: MeanODEConfig) -> MeanODEConfig:
    """Raise ``ValueError`` naming the bad value and the allowed range."""
    if not isinstance(cfg, MeanODEConfig):
        raise ValueError(f"cfg must be a MeanODEConfig, got {type(cfg).__name__}")
    for name in ("D", "Ls", "P", "n_seeds"):
        positive_int(name, getattr(cfg, name))
    int_at_least("K", cfg.K, 0)
    if cfg.antithetic and cfg.P % 2:
        raise ValueError(f"P must be even with antithetic particles, got P={cfg.P}")
    if cfg.moment_match and (cfg.P // (2 if cfg.antithetic else 1)) < cfg.D:
        raise ValueError(f"P must be at least {cfg.D * (2 if cfg.antithetic else 1)} "
                         f"(D={cfg.D}) for moment matching, got P={cfg.P}")
    positive_number("alpha", cfg.alpha, finite=True)
    for name in ("eta", "eta_u", "eta_v"):
        v = getattr(cfg, name)
        if v is not None:
            nonneg_number(name, v, finite=True)
    check_activation(cfg.act)
    check_convention(cfg.convention)
    choice("scheme", cfg.scheme, SCHEMES)
    choice("sampler", cfg.sampler, SAMPLERS)
    resolve_dtype(cfg.dtype)
    resolve_device(cfg.device)
    positive_number("max_memory_gb", cfg.max_memory_gb)
    return cfg


def memory_bytes(cfg: MeanODEConfig, N: int, d_out: int) -> int:
    """Estimated peak memory of :func:`solve_mean_ode`: ``u, v`` (``2 S nodes P D``), their
    copies at init (``2 S nodes P D``), the stream at the nodes (``S nodes N D``), about eight
    ``(S, N, P)`` temporaries and the outputs, times the dtype's size
    (:func:`infdepth.numerics.footprint.mean_ode`)."""
    return footprint.mean_ode(cfg.n_seeds, cfg.Ls, cfg.P, cfg.D, N=N, d_out=d_out, K=cfg.K,
                              scheme=cfg.scheme, item=footprint.itemsize(cfg.dtype)).peak


def _check_memory(cfg: MeanODEConfig, N: int, d_out: int) -> None:
    need = memory_bytes(cfg, N, d_out)
    limit = cfg.max_memory_gb * 2 ** 30
    if need > limit:
        per_p = need / cfg.P
        p_max = int(limit / per_p)
        raise ValueError(
            f"estimated memory {need / 2 ** 30:.2f} GiB exceeds max_memory_gb="
            f"{cfg.max_memory_gb} (S={cfg.n_seeds}, nodes={cfg.nodes}, P={cfg.P}, D={cfg.D}); "
            f"allowed: P <= about {p_max} at these sizes, or raise max_memory_gb")


def draw_particles(cfg: MeanODEConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial particles ``(u, v)``, each (P, D), entries N(0, D), from the stream
    ``mean_ode/particles`` and ``cfg.particle_seed`` (drawn in float64 on CPU, then cast, so
    CPU and CUDA see the same particles).

    ``sampler="mc"``: i.i.d. ``torch.randn`` draws. ``sampler="sobol"`` (default): the first
    points of a scrambled Sobol sequence in ``[0, 1)^{2D}`` (scrambling seeded from the stream
    and ``particle_seed``) mapped through the standard normal inverse CDF: every point is
    marginally ``N(0, D I)`` and independent scramblings are i.i.d. randomizations, so the
    spread over ``particle_seed`` is still an unbiased Monte Carlo error estimate (randomized
    QMC), while the error decays faster than ``P^-1/2`` (measured with tanh, D = 5, K = 15:
    rms spread of f_K 0.0080, 0.0036, 0.0011 at P = 512, 2048, 8192 against 0.0140, 0.0070,
    0.0039 for i.i.d. draws). Balance is best when the number of drawn points is a power of 2.

    Antithetic (default): ``P/2`` draws ``(u, v)`` followed by ``(u, -v)``. ``moment_match``:
    each drawn half is right-multiplied by ``(u^T u / (D n))^(-1/2)`` (``n`` rows), so that
    ``E_P[u u^T] = E_P[v v^T] = D I`` exactly (with antithetic pairs also ``E_P[v u^T] = 0``).
    """
    check_mean_ode_config(cfg)
    n = cfg.P // 2 if cfg.antithetic else cfg.P
    if cfg.sampler == "sobol":
        eng = torch.quasirandom.SobolEngine(2 * cfg.D, scramble=True,
                                            seed=seed_value(PARTICLE_STREAM, cfg.particle_seed, 1))
        z = torch.special.ndtri(eng.draw(n, dtype=torch.float64).clamp(2.0 ** -60, 1 - 2.0 ** -53))
        u, v = z[:, :cfg.D] * math.sqrt(cfg.D), z[:, cfg.D:] * math.sqrt(cfg.D)
    else:
        u, v = (t * math.sqrt(cfg.D) for t in
                normal_sequence(PARTICLE_STREAM, cfg.particle_seed, 0, [(n, cfg.D)] * 2))
    if cfg.moment_match:
        u, v = (_whiten(t, cfg.D) for t in (u, v))
    if cfg.antithetic:
        u, v = torch.cat([u, u]), torch.cat([v, -v])
    dt = resolve_dtype(cfg.dtype)
    return u.to(dtype=dt, device=cfg.device), v.to(dtype=dt, device=cfg.device)


def _whiten(t: torch.Tensor, D: int) -> torch.Tensor:
    """``t C^(-1/2) sqrt(D)`` with ``C = t^T t / rows`` (symmetric inverse square root)."""
    C = t.T @ t / t.shape[0]
    w, Q = torch.linalg.eigh(C)
    return t @ (Q @ torch.diag(w.rsqrt()) @ Q.T) * math.sqrt(D)


@dataclass
class MeanODEResult:
    """Trajectories of :func:`solve_mean_ode` at the steps the convention records (``k =
    0..K`` under ``"default"``, ``0..K-1`` under ``"authors"``; step k before the (k+1)-th
    update), shapes as :class:`~infdepth.numerics.hidden_width.HWResult`: ``f`` (S, R, N,
    d_out), ``h_L`` = ``h_k(1)`` (S, R, N, D), ``loss`` (S, R) with R records. ``u``, ``v`` the
    final parameter map after the K updates (S, nodes, P, D); ``wall_s`` the solve's wall
    time."""

    f: torch.Tensor
    h_L: torch.Tensor
    loss: torch.Tensor
    u: torch.Tensor = field(repr=False)
    v: torch.Tensor = field(repr=False)
    config: MeanODEConfig
    wall_s: float


class _Terms:
    """Batched evaluation of the generated per-particle terms (module docstring): every
    function returns the particle mean (drifts) or the per-particle sum over inputs (updates)
    of ``coefficient * direction``.

    **Factored coefficients.** Every coefficient is a monomial, generated also as
    ``<term>_scale`` (the constants: D, alpha, the learning rates) times ``<term>_field`` (the
    per-particle scalars; :attr:`infdepth.theory.mean_ode_2lp.Term.split`). The field is formed
    on the ``(S, N, P)`` arrays, the scale is applied to the small side of the product: the
    contracted ``(S, N, D)`` drift, or ``h``, ``b`` (``(S, N, D)``) before they are contracted
    into the ``(S, D, P)`` updates; ``p = u . h / D`` is ``u . (h / D)``. Terms whose fields are
    the same formula (:data:`~infdepth.theory.generated.mean_ode_2lp.FIELDS`: the backward
    integrand's and the u-update's, ``sigma'(p) (v . b)``) share one evaluation. A node then
    passes over ``(S, N, P)`` arrays only for the products, the activation and its fields
    (measured, one seed, N = 10, P = 32768, D = 5, K = 15, Ls = 16, one thread, medians of
    alternating runs: 1.72 -> 1.30 s; with D a power of 2, as in hw_sqrt_d, the numbers are
    unchanged: D, P, alpha and the rates are powers of 2 there, so every reordered scaling is
    exact).

    **Layout.** A node's particles are held transposed, ``uT``, ``vT`` of shape (S, D, P)
    (the solver stores the parameter map as (S, nodes, D, P)): every product then reads or
    writes P-long contiguous rows, which on the CPU made the products about twice as fast as
    with (S, P, D) (measured: p = u . h 278 -> 188 us, the particle mean 400 -> 214 us, the
    update 700 -> 219 us, the in-place update 109 -> 22 us; one seed, N = 10, P = 32768,
    D = 5, one thread). On the CPU tanh is NumPy's (:meth:`sigma`).

    Each of these (the layout, NumPy's tanh, the factored coefficients) rounds apart from the
    evaluation before it; they were checked on the stored standard-suite points (docs/design.md,
    "Numerics rules")."""

    def __init__(self, cfg: MeanODEConfig, P: int):
        self.cfg, self.D = cfg, cfg.D
        a, D = cfg.alpha, cfg.D
        self.forward_scale = gen.forward_scale(a) / P
        self.backward_scale = gen.backward_scale(D, a) / P
        self.u_scale = gen.u_update_scale(a, cfg.step_eta_u)
        self.v_scale = gen.v_update_scale(D, a, cfg.step_eta_v)
        self.shared_field = gen.FIELDS["u_update"] == gen.FIELDS["backward"]

    def sigma(self, p):
        """``sigma(p)``, through :func:`~infdepth.numerics.activations.phi_values` (on the CPU,
        NumPy's tanh)."""
        return phi_values(self.cfg.act, p)

    def dsigma(self, p, s):
        """``sigma'(p)`` given ``s = sigma(p)`` (tanh: ``1 - s^2``)."""
        return dphi_given(self.cfg.act, p, s)

    def pre(self, h, uT):
        """p = u . h / D, (S, N, P), from h (S, N, D) and uT (S, D, P), as ``u . (h / D)``."""
        return torch.bmm(h / self.D, uT)

    def forward(self, h, uT, vT):
        """E_z[forward_integrand] = forward_scale E_z[forward_field(sigma(p)) v], (S, N, D)."""
        return self.forward_from(self.sigma(self.pre(h, uT)), vT)

    def forward_from(self, s, vT):
        """:meth:`forward` from ``s = sigma(p)`` (S, N, P)."""
        return torch.bmm(gen.forward_field(s), vT.transpose(1, 2)).mul_(self.forward_scale)

    def backward(self, ds_p, b, uT, vT):
        """E_z[backward_integrand] = backward_scale E_z[backward_field(sigma'(p), v.b) u],
        (S, N, D); also returns ``v.b`` and the field (S, N, P)."""
        vb = torch.bmm(b, vT)
        field = gen.backward_field(ds_p, vb)
        return torch.bmm(field, uT.transpose(1, 2)).mul_(self.backward_scale), vb, field

    def updates(self, s_p, ds_p, vb, h, b, field=None):
        """sum_x u_update, sum_x v_update, transposed: (S, D, P) each. ``field``: the backward
        field of the same ``(sigma'(p), v.b)``, used for the u-update when the formulas agree."""
        fu = field if (field is not None and self.shared_field) else gen.u_update_field(ds_p, vb)
        du = torch.bmm((h * self.u_scale).transpose(1, 2), fu)
        dv = torch.bmm((b * self.v_scale).transpose(1, 2), gen.v_update_field(s_p))
        return du, dv


def _as_units(units, cfg: MeanODEConfig, dt, dev) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial parameter map, transposed: (S, nodes, D, P), from particles (P, D) or explicit
    per-node units (S, nodes, P, D)."""
    if units is None:
        units = draw_particles(cfg)
    u, v = units
    S, n = cfg.n_seeds, cfg.nodes
    out = []
    for name, t in (("u", u), ("v", v)):
        t = torch.as_tensor(t).to(dtype=dt, device=dev)
        if t.ndim == 2 and t.shape == (cfg.P, cfg.D):
            t = t.T.expand(S, n, cfg.D, cfg.P)
        elif t.shape == (S, n, cfg.P, cfg.D):
            t = t.transpose(-1, -2)
        else:
            raise ValueError(f"units {name} must have shape (P={cfg.P}, D={cfg.D}) or "
                             f"(S={S}, nodes={n}, P={cfg.P}, D={cfg.D}), got {tuple(t.shape)}")
        out.append(torch.empty((S, n, cfg.D, cfg.P), dtype=dt, device=dev).copy_(t))
    return out[0], out[1]


def solve_mean_ode(cfg: MeanODEConfig, X: torch.Tensor, Y: torch.Tensor, *,
                   units=None, weights: dict[str, torch.Tensor] | None = None) -> MeanODEResult:
    """K full-batch GD steps of the Neural Mean ODE of the [HW] 2LP ResNet (module docstring).

    ``X`` (N, d_in), ``Y`` (N, d_out) as :func:`~infdepth.numerics.hidden_width.hw_data`.
    ``units`` (optional): initial particles ``(u, v)`` each (P, D), or the initial parameter map
    per seed and node (S, nodes, P, D) -- e.g. a finite network's units with ``scheme="euler"``.
    ``weights`` (optional): ``{"W_in": (S, D, d_in), "W_out": (S, D, d_out)}``; default drawn as
    ``init_weights`` draws them for seeds ``base_seed``, ``0..n_seeds-1``.
    """
    check_mean_ode_config(cfg)
    cfg.rules.recorded_steps(cfg.K)          # ValueError if the convention records nothing
    t0 = time.perf_counter()
    dt, dev = resolve_dtype(cfg.dtype), resolve_device(cfg.device)
    X = torch.as_tensor(X).to(dtype=dt, device=dev)
    Y = torch.as_tensor(Y).to(dtype=dt, device=dev)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0] or X.shape[0] < 1:
        raise ValueError(f"X, Y must be (N, d_in), (N, d_out) with the same N >= 1, got "
                         f"{tuple(X.shape)}, {tuple(Y.shape)}")
    N, d_in, d_out = X.shape[0], X.shape[1], Y.shape[1]
    _check_memory(cfg, N, d_out)
    S, D = cfg.n_seeds, cfg.D
    if weights is None:
        weights = init_weights(HWConfig(D=D, L=1, M=1, K=0, n_seeds=S, base_seed=cfg.base_seed,
                                        dtype=cfg.dtype, device=cfg.device,
                                        convention=cfg.convention), d_in, d_out)
    W_in = weights["W_in"].to(dtype=dt, device=dev)
    W_out = weights["W_out"].to(dtype=dt, device=dev)
    if W_in.shape != (S, D, d_in) or W_out.shape != (S, D, d_out):
        raise ValueError(f"weights W_in, W_out must be (S={S}, D={D}, d_in={d_in}), "
                         f"(S={S}, D={D}, d_out={d_out}), got {tuple(W_in.shape)}, "
                         f"{tuple(W_out.shape)}")
    u, v = _as_units(units, cfg, dt, dev)           # transposed: (S, nodes, D, P)
    T = _Terms(cfg, cfg.P)
    h0 = torch.einsum("sdi,ni->snd", W_in, X)
    chunk = _seed_chunk(cfg, N, dev)
    starts = range(0, S, chunk)

    def solve(a):
        return _solve_seeds(cfg, T, h0[a:a + chunk], W_out[a:a + chunk], Y, u[a:a + chunk],
                            v[a:a + chunk])

    lanes = torch.get_num_threads() if dev.type == "cpu" else 1
    with torch_threads(1 if dev.type == "cpu" else torch.get_num_threads()):
        parts = thread_map(solve, starts, lanes)    # chunks side by side, one thread each
    f, h_L, loss = (torch.cat([pt[j] for pt in parts]) for j in range(3))
    return MeanODEResult(f=f, h_L=h_L, loss=loss, u=u.transpose(-1, -2),
                         v=v.transpose(-1, -2), config=cfg,
                         wall_s=time.perf_counter() - t0)


#: numbers per ``(seeds, N, P)`` temporary of one chunk of seeds on the CPU (2 MiB in float64):
#: the per-node temporaries of a chunk then stay in the cache (see :func:`_solve_seeds`)
CHUNK_ELEMENTS = footprint.MEAN_ODE_CHUNK_ELEMENTS


def _seed_chunk(cfg: MeanODEConfig, N: int, dev: torch.device) -> int:
    """Seeds solved together: on the CPU as many as keep a ``(seeds, N, P)`` temporary within
    :data:`CHUNK_ELEMENTS` (at least one), elsewhere all of them."""
    if dev.type != "cpu":
        return cfg.n_seeds
    return footprint.mean_ode_chunk(cfg.n_seeds, N, cfg.P)


def _solve_seeds(cfg: MeanODEConfig, T: _Terms, h0, W_out, Y, u, v):
    """The K steps of :func:`solve_mean_ode` for a chunk of seeds (views ``u``, ``v`` updated
    in place); returns ``(f, h_L, loss)`` stacked over the steps.

    Seeds do not interact (every product is per seed), so a seed's numbers do not depend on
    the chunk it is solved in; chunks keep the ``(seeds, N, P)`` temporaries small enough to
    stay in the cache, which the elementwise passes over them (memory-bound on whole
    ensembles) need. The backward pass reuses the forward pass's ``p = u . h / D`` and
    ``sigma(p)`` at the nodes where both evaluate them at the same ``(h, u)`` (the first
    evaluation of each forward step; for tanh ``sigma'(p) = 1 - sigma(p)^2`` from that same
    ``sigma(p)``): the same numbers, one product and one activation fewer per node.
    """
    D, Ls = cfg.D, cfg.Ls
    n = cfg.rules.loss_count(Y.shape[0], Y.shape[1])      # the loss normalizer
    ds = 1.0 / Ls
    heun = cfg.scheme == "heun"
    fs, hLs, losses = [], [], []
    for k in range(cfg.rules.recorded_steps(cfg.K)):
        # ---- forward
        hs = [h0]
        h = h0
        pre = [None] * (Ls + 1)       # (p, sigma(p)) at (hs[i], u[:, i])
        for i in range(Ls):
            p = T.pre(h, u[:, i])
            sp = T.sigma(p)
            pre[i] = (p, sp)
            F0 = T.forward_from(sp, v[:, i])
            if heun:
                F1 = T.forward(h + ds * F0, u[:, i + 1], v[:, i + 1])
                h = h + (0.5 * ds) * (F0 + F1)
            else:
                h = h + ds * F0
            hs.append(h)
        f = torch.bmm(h, W_out) / D
        fs.append(f)
        hLs.append(h)
        losses.append(0.5 * ((f - Y) ** 2).sum(dim=(1, 2)) / n)
        if k == cfg.K:
            break
        # ---- backward and training

        def activations(i):
            """``(sigma(p), sigma'(p))`` at node i, ``p = u_i . hs[i] / D``."""
            if pre[i] is None:
                p = T.pre(hs[i], u[:, i])
                sp = T.sigma(p)
            else:
                p, sp = pre[i]
                pre[i] = None
            return sp, T.dsigma(p, sp)

        b = gen.terminal_adjoint(f, Y, W_out[:, None], D, n)           # (S, N, D)
        if heun:
            s_p, ds_p = activations(Ls)
            B1, vb, fb = T.backward(ds_p, b, u[:, Ls], v[:, Ls])
            du, dv = T.updates(s_p, ds_p, vb, hs[Ls], b, fb)
            u[:, Ls] += du
            v[:, Ls] += dv
            for i in range(Ls - 1, -1, -1):
                s_p, ds_p = activations(i)
                B0 = T.backward(ds_p, b - ds * B1, u[:, i], v[:, i])[0]
                b = b - (0.5 * ds) * (B1 + B0)
                B1, vb, fb = T.backward(ds_p, b, u[:, i], v[:, i])
                du, dv = T.updates(s_p, ds_p, vb, hs[i], b, fb)
                u[:, i] += du
                v[:, i] += dv
        else:
            for i in range(Ls - 1, -1, -1):        # block l = i + 1: stream h_{l-1} = hs[i]
                s_p, ds_p = activations(i)
                B, vb, fb = T.backward(ds_p, b, u[:, i], v[:, i])
                du, dv = T.updates(s_p, ds_p, vb, hs[i], b, fb)
                u[:, i] += du
                v[:, i] += dv
                b = b - ds * B
    return torch.stack(fs, 1), torch.stack(hLs, 1), torch.stack(losses, 1)


# -------------------------------------------------------------------------------------------
# Convergence checks
# -------------------------------------------------------------------------------------------
