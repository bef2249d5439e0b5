"""Model B of docs/theory.md s6: the [HW] ResNet with hidden width M, 2LP blocks, full-batch GD.

Forward pass (per seed; every seed of an ensemble runs in one batched matmul per block)::

    h_0 = W_in x
    h_l = h_{l-1} + (alpha / (L M)) sum_{j<=M} v_{j,l} sigma(u_{j,l} . h_{l-1} / D),  l = 1..L
    f   = W_out^T h_L / D

``u_{j,l}, v_{j,l}`` in R^D with entries N(0, D) (std sqrt(D)); ``W_in`` (D x d_in) entries
N(0, 1/d_in); ``W_out`` (D x d_out) entries N(0, s^2). Loss (choice): ``(1/(2n)) sum_x |f(x) - y|^2``
(half the squared error summed over the N inputs, divided by n). ``n`` and ``s`` are set by the
named convention ``HWSettings.convention`` (:mod:`infdepth.numerics.hw_conventions`, docs/theory.md
s6 "The authors' own setting"): ``"default"`` n = N, s = 1; ``"authors"`` n = N d_out,
s = sqrt(d_out). GD on u and v with the raw learning rate
``eta L M D / alpha^2`` (choice: separate ``eta_u``, ``eta_v`` base rates); W_in and W_out are
frozen by default (choice: ``train_w_in`` / ``train_w_out`` with raw rates ``eta_in``,
``eta_out``).

The backward pass is written by hand (docs/theory.md s6, adjoint ``g_l = dloss/dh_l``)::

    g_L = (f - y) W_out^T / (D n)
    dloss/dv_{j,l} = c sum_x sigma(p_{j,l}(x)) g_l(x)                         (c = alpha/(LM))
    dloss/du_{j,l} = (1/D) sum_x c sigma'(p_{j,l}(x)) (v_{j,l} . g_l(x)) h_{l-1}(x)
    g_{l-1} = g_l + (1/D) sum_j c sigma'(p_{j,l}) (v_{j,l} . g_l) u_{j,l}

and checked against autograd in ``tests/numerics/test_hidden_width.py``. The scalar factors
``1/D`` and ``c`` are applied to the small side of each product (``h/D``, ``g c``: (S, N, D)
arrays) rather than to the (S, N, M) or (S, M, D) ones, and tanh is NumPy's on the CPU
(:func:`~infdepth.numerics.activations.phi_values`), as in the Mean-ODE solver
(docs/design.md, "Numerics rules": the same numbers to round-off).

Recorded trajectory (:func:`train_hw`): the output before each of the K updates, and under
``"default"`` also the output after the last one -- ``f_0 .. f_K`` (``"authors"``: ``f_0 ..
f_{K-1}``); the output "after training" is the last recorded one.

Randomness: one ``torch.Generator`` per (stream, base seed, seed index) (:mod:`infdepth.seeding`),
streams ``hw/W_in``, ``hw/W_out``, ``hw/u``, ``hw/v``: a seed's weights do not depend on how many
seeds run together. The data set (:func:`hw_data`) is fixed by its own seed.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Sequence

import torch

from infdepth.device import torch_threads
from infdepth.seeding import generator, normal

from .activations import check_activation, dphi_given, phi_values
from .hw_conventions import DEFAULT, Convention, check_convention, convention

__all__ = ["HWSettings", "HWConfig", "HWResult", "hw_data", "init_weights", "forward",
           "gradients", "train_hw", "check_config"]

_DTYPES = ("float64", "float32")


@dataclass(frozen=True, kw_only=True)
class HWSettings:
    """The settings the [HW] 2LP network (:class:`HWConfig`) and its Mean-ODE solver
    (:class:`~infdepth.numerics.mean_ode.MeanODEConfig`) share (docs/theory.md s6), keyword-only:
    ``K`` GD steps, residual scale ``alpha``, base rate ``eta`` (``eta_u`` / ``eta_v`` on u / v
    default to it), activation, ``n_seeds`` seeds of ``W_in``, ``W_out`` from ``base_seed``,
    dtype, device, and the named ``convention`` (``"default"`` | ``"authors"``: loss
    normalizer, ``W_out`` std, recorded outputs; :mod:`infdepth.numerics.hw_conventions`,
    docs/theory.md s6 "The authors' own setting")."""

    K: int = 15
    alpha: float = 1.0
    eta: float = 1.0
    eta_u: float | None = None
    eta_v: float | None = None
    act: str = "tanh"
    n_seeds: int = 1
    base_seed: int = 0
    dtype: str = "float64"
    device: str = "cpu"
    convention: str = DEFAULT

    @property
    def rules(self) -> Convention:
        """The :class:`~infdepth.numerics.hw_conventions.Convention` named by ``convention``
        (``ValueError`` naming a bad name and the allowed ones)."""
        return convention(self.convention)

    @property
    def step_eta_u(self) -> float:
        """The base rate on u: ``eta_u``, else ``eta``."""
        return self.eta if self.eta_u is None else self.eta_u

    @property
    def step_eta_v(self) -> float:
        """The base rate on v: ``eta_v``, else ``eta``."""
        return self.eta if self.eta_v is None else self.eta_v


@dataclass(frozen=True)
class HWConfig(HWSettings):
    """Sizes and training settings of the [HW] 2LP ResNet (docs/theory.md s6).

    The raw rate on u (v) is ``eta_u L M D / alpha^2`` (``eta_v ...``; both default to ``eta``,
    :class:`HWSettings`). ``eta_in`` / ``eta_out`` are raw rates of the optional trainable input
    / output layers.
    """

    D: int
    L: int
    M: int
    _: KW_ONLY
    train_w_in: bool = False
    train_w_out: bool = False
    eta_in: float = 1.0
    eta_out: float = 1.0

    @property
    def rate_u(self) -> float:
        return self.step_eta_u * self.L * self.M * self.D / self.alpha ** 2

    @property
    def rate_v(self) -> float:
        return self.step_eta_v * self.L * self.M * self.D / self.alpha ** 2

    @property
    def block_scale(self) -> float:
        return self.alpha / (self.L * self.M)


def check_config(cfg: HWConfig) -> HWConfig:
    """Raise ``ValueError`` naming the bad value and the allowed range."""
    for name in ("D", "L", "M", "n_seeds"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if isinstance(cfg.K, bool) or not isinstance(cfg.K, int) or cfg.K < 0:
        raise ValueError(f"K must be a non-negative integer, got {cfg.K!r}")
    if not (cfg.alpha > 0):
        raise ValueError(f"alpha must be positive, got {cfg.alpha!r}")
    for name in ("eta", "eta_u", "eta_v", "eta_in", "eta_out"):
        v = getattr(cfg, name)
        if v is not None and not (v >= 0):
            raise ValueError(f"{name} must be non-negative, got {v!r}")
    check_activation(cfg.act)
    check_convention(cfg.convention)
    if cfg.dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {cfg.dtype!r}")
    return cfg


def hw_data(N: int = 10, d_in: int = 5, d_out: int = 5, seed: int = 0,
            dtype: torch.dtype = torch.float64, device: str = "cpu"):
    """docs/theory.md s6 typical data: N Gaussian inputs x ~ N(0, I_{d_in}) and Gaussian targets
    y ~ N(0, I_{d_out}) (choice), fixed by ``seed``. Returns ``(X, Y)`` of shapes (N, d_in),
    (N, d_out)."""
    for name, v in (("N", N), ("d_in", d_in), ("d_out", d_out)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    g = generator("hw/data", seed, 0)
    X = torch.randn(N, d_in, generator=g, dtype=torch.float64)
    Y = torch.randn(N, d_out, generator=g, dtype=torch.float64)
    return X.to(dtype=dtype, device=device), Y.to(dtype=dtype, device=device)


def init_weights(cfg: HWConfig, d_in: int, d_out: int,
                 seeds: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
    """Initial weights, batched over seeds: ``W_in`` (S, D, d_in), ``u``, ``v`` (S, L, M, D),
    ``W_out`` (S, D, d_out), its entries of std ``cfg.rules.w_out_std(d_out)`` (1, or
    ``sqrt(d_out)`` under ``"authors"``). Seed ``i`` draws from its own generators
    (:func:`infdepth.seeding.normal`: float64 on the CPU, then cast; cached per process).
    ``seeds``: the seed indices (default ``range(cfg.n_seeds)``); a seed's draws do not
    depend on which others are drawn with it."""
    check_config(cfg)
    dt = getattr(torch, cfg.dtype)
    D = cfg.D
    seeds = range(cfg.n_seeds) if seeds is None else seeds

    def draw(stream, shape, std):
        return normal(stream, cfg.base_seed, seeds, shape, std=std, dtype=dt, device=cfg.device)

    return {"W_in": draw("hw/W_in", (D, d_in), d_in ** -0.5),
            "u": draw("hw/u", (cfg.L, cfg.M, D), D ** 0.5),
            "v": draw("hw/v", (cfg.L, cfg.M, D), D ** 0.5),
            "W_out": draw("hw/W_out", (D, d_out), cfg.rules.w_out_std(d_out))}


def forward(w: dict[str, torch.Tensor], X: torch.Tensor, cfg: HWConfig):
    """Batched forward pass. Returns ``(f, hs, ps)``: outputs (S, N, d_out), the stream
    ``hs`` (list of L+1 tensors (S, N, D)) and pre-activations ``ps`` (list of L, (S, N, M))."""
    f, hs, ps, _ = _forward(w, X, cfg)
    return f, hs, ps


def _forward(w: dict[str, torch.Tensor], X: torch.Tensor, cfg: HWConfig):
    """:func:`forward` that also returns the activations ``sigma(p)`` per block (the same
    tensors the forward pass used; for the linear activation ``p`` itself, which equals
    ``sigma(p)`` and is never written to)."""
    c, D = cfg.block_scale, cfg.D
    h = torch.einsum("sdi,ni->snd", w["W_in"], X)
    hs, ps, ss = [h], [], []
    for l in range(w["u"].shape[1]):
        p = torch.bmm(h / D, w["u"][:, l].transpose(1, 2))
        s = p if cfg.act == "linear" else phi_values(cfg.act, p)
        h = h + torch.bmm(s, w["v"][:, l]) * c
        hs.append(h)
        ps.append(p)
        ss.append(s)
    f = torch.bmm(h, w["W_out"]) / D
    return f, hs, ps, ss


def _loss(f: torch.Tensor, Y: torch.Tensor, n: int) -> torch.Tensor:
    """Per-seed loss (1/(2n)) sum_x |f - y|^2, shape (S,); ``n`` the convention's loss
    normalizer (:meth:`~infdepth.numerics.hw_conventions.Convention.loss_count`)."""
    return 0.5 * ((f - Y) ** 2).sum(dim=(1, 2)) / n


def gradients(w: dict[str, torch.Tensor], X: torch.Tensor, Y: torch.Tensor, cfg: HWConfig,
              _fwd=None) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand-written backward pass (module docstring). Returns ``(grads, loss, f, h_L)``;
    ``grads`` has the gradient of every group (also the frozen ones) of the per-seed loss
    ``(1/(2n)) sum_x |f - y|^2`` (``n = cfg.rules.loss_count(N, d_out)``: N, or N d_out under
    ``"authors"``)."""
    c, D = cfg.block_scale, cfg.D
    if _fwd is None:
        f, hs, ps, ss = _forward(w, X, cfg)
    else:
        f, hs, ps = _fwd
        ss = [phi_values(cfg.act, p) for p in ps]
    n = cfg.rules.loss_count(X.shape[0], Y.shape[1])
    r = (f - Y) / n                                        # dloss/df, (S, N, d_out)
    g = torch.bmm(r, w["W_out"].transpose(1, 2)) / D       # dloss/dh_L, (S, N, D)
    gW_out = torch.bmm(hs[-1].transpose(1, 2), r) / D
    L = len(ps)
    gu = torch.empty_like(w["u"])
    gv = torch.empty_like(w["v"])
    for l in range(L - 1, -1, -1):
        p, hprev, s = ps[l], hs[l], ss[l]
        vl, ul = w["v"][:, l], w["u"][:, l]
        gc = g * c
        gv[:, l] = torch.bmm(s.transpose(1, 2), gc)
        gp = torch.bmm(gc, vl.transpose(1, 2))                             # dloss/dp (S,N,M)
        if cfg.act != "linear":                                           # linear: phi' = 1
            gp = gp * dphi_given(cfg.act, p, s)
        gu[:, l] = torch.bmm(gp.transpose(1, 2), hprev / D)
        g = g + torch.bmm(gp, ul) / D
    gW_in = torch.einsum("snd,ni->sdi", g, X)
    return ({"W_in": gW_in, "u": gu, "v": gv, "W_out": gW_out}, _loss(f, Y, n), f, hs[-1])


@dataclass
class HWResult:
    """Trajectories of :func:`train_hw`: step k is recorded before the (k+1)-th update, k = 0..K
    (``"default"``: ``K+1`` records, the last after the K-th update) or k = 0..K-1
    (``"authors"``: ``K`` records); the last record is the output "after training".

    ``f`` (S, R, N, d_out), ``h_L`` (S, R, N, D), ``loss`` (S, R) with ``R`` the records
    (:meth:`~infdepth.numerics.hw_conventions.Convention.recorded_steps`), ``movement``
    group -> (S,) relative movement ``|Z_K - Z_0| / |Z_0|`` (Frobenius over the group, per
    seed; ``"uv"`` for u and v together), ``weights`` the final weights (``init`` the initial).
    ``movement_at``: step k -> the movement dict after k steps, for the steps asked for by
    ``train_hw(..., movement_at=...)`` (the numbers a run with ``K = k`` reports).
    """

    f: torch.Tensor
    h_L: torch.Tensor
    loss: torch.Tensor
    movement: dict[str, torch.Tensor]
    weights: dict[str, torch.Tensor] = field(repr=False)
    init: dict[str, torch.Tensor] = field(repr=False)
    movement_at: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)


def _norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1)


#: per-block activations ``S N M`` up to which :func:`train_hw` runs on one intra-op thread:
#: its operations are then a few microseconds each, and a second thread only adds the cost of
#: waking it (measured on a loaded 2-core machine: a (8, 10, 5) x (8, 5, 256) bmm 28 us on one
#: thread, 1.06 ms on two). Numbers do not depend on it (the products are per seed).
SINGLE_THREAD_ELEMENTS = 1 << 16


def _movement(w: dict[str, torch.Tensor], w0: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    mov = {k: _norm(w[k] - w0[k]) / _norm(w0[k]) for k in w}
    duv = torch.sqrt(_norm(w["u"] - w0["u"]) ** 2 + _norm(w["v"] - w0["v"]) ** 2)
    mov["uv"] = duv / torch.sqrt(_norm(w0["u"]) ** 2 + _norm(w0["v"]) ** 2)
    return mov


def train_hw(cfg: HWConfig, X: torch.Tensor, Y: torch.Tensor,
             weights: dict[str, torch.Tensor] | None = None, *,
             movement_at: Sequence[int] = ()) -> HWResult:
    """K steps of full-batch GD on the [HW] 2LP ResNet (docs/theory.md s6), all seeds batched.

    ``weights`` (optional): explicit initial weights (e.g. sliced from a larger network for a
    coupled reference); shapes as :func:`init_weights`, L and M read from ``u``.
    ``movement_at``: steps ``k`` (``1 <= k <= K``) after which the movement is also recorded
    (``HWResult.movement_at``; the same numbers as the movement of a run with ``K = k``).
    Records the outputs the convention records (:class:`HWResult`); the movement is always
    that of the weights after all K updates.
    """
    check_config(cfg)
    cfg.rules.recorded_steps(cfg.K)          # ValueError if the convention records nothing
    dt = getattr(torch, cfg.dtype)
    X = X.to(dtype=dt, device=cfg.device)
    Y = Y.to(dtype=dt, device=cfg.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X, Y must be (N, d_in), (N, d_out) with the same N, got "
                         f"{tuple(X.shape)}, {tuple(Y.shape)}")
    w0 = init_weights(cfg, X.shape[1], Y.shape[1]) if weights is None else weights
    if w0["u"].shape[1:] != (cfg.L, cfg.M, cfg.D):
        raise ValueError(f"weights u must have shape (S, L={cfg.L}, M={cfg.M}, D={cfg.D}), got "
                         f"{tuple(w0['u'].shape)}")
    small = w0["u"].shape[0] * X.shape[0] * w0["u"].shape[2] <= SINGLE_THREAD_ELEMENTS
    with torch_threads(1 if small and X.device.type == "cpu" else torch.get_num_threads()):
        return _train(cfg, X, Y, w0, movement_at)


def _train(cfg: HWConfig, X: torch.Tensor, Y: torch.Tensor, w0: dict[str, torch.Tensor],
           movement_at: Sequence[int]) -> HWResult:
    w = {k: t.clone() for k, t in w0.items()}
    rates = {"u": cfg.rate_u, "v": cfg.rate_v,
             "W_in": cfg.eta_in if cfg.train_w_in else 0.0,
             "W_out": cfg.eta_out if cfg.train_w_out else 0.0}
    at = sorted(set(int(k) for k in movement_at))
    if at and (at[0] < 1 or at[-1] > cfg.K):
        raise ValueError(f"movement_at steps must lie in 1..K={cfg.K}, got {list(movement_at)}")
    moved: dict[int, dict[str, torch.Tensor]] = {}
    fs, hLs, losses = [], [], []
    n = cfg.rules.loss_count(X.shape[0], Y.shape[1])
    for k in range(cfg.rules.recorded_steps(cfg.K)):
        if k < cfg.K:
            grads, loss, f, hL = gradients(w, X, Y, cfg)
            for name, rate in rates.items():
                if rate != 0.0:          # w - rate * grad, in place (w holds copies)
                    w[name].sub_(grads[name].mul_(rate))
            if k + 1 in at:
                moved[k + 1] = _movement(w, w0)
        else:                                   # k = K: after the last update
            f, hs, _ = forward(w, X, cfg)
            hL, loss = hs[-1], _loss(f, Y, n)
        fs.append(f)
        hLs.append(hL)
        losses.append(loss)
    return HWResult(f=torch.stack(fs, 1), h_L=torch.stack(hLs, 1), loss=torch.stack(losses, 1),
                    movement=_movement(w, w0), weights=w, init=w0, movement_at=moved)


def config_from(source: object, **overrides) -> HWConfig:
    """An :class:`HWConfig` built from the attributes of ``source`` named as its fields (e.g. a
    sweep point carrying ``D``, ``L``, ``M``, ``K``, ``alpha``, ``eta``, ``act``, ``n_seeds``,
    ``base_seed``, ``dtype``, ``device``; attributes of other names are ignored, fields that
    ``source`` lacks keep their defaults); ``overrides`` replace any field."""
    from dataclasses import fields
    kw = {f.name: getattr(source, f.name) for f in fields(HWConfig) if hasattr(source, f.name)}
    return HWConfig(**{**kw, **overrides})


__all__ += ["config_from"]
