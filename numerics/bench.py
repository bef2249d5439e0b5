"""Benchmark of the Model-A1 training engine against plain per-seed torch.nn + autograd code.

``run_bench(n=..., L=..., K=..., seeds=..., act=...)`` trains the same ensemble twice from the
same initial weights (docs/theory.md s2, depth-muP by default, SGD on one example per step):

* **engine**: :func:`~infdepth.numerics.engine.train_a1` -- all seeds batched, hand-written
  backward, low-rank updates (docs/design.md, numerics rules), including its per-block records;
* **plain**: a Python loop over seeds of a ``torch.nn.Module`` (``nn.Parameter`` weights used
  as ``F.linear``, i.e. ``nn.Linear`` without bias), ``loss.backward()`` and a manual SGD step
  with the engine's per-group learning rates ``eta * scales[G]["lr"]``. Like the engine it
  records the outputs on all inputs before every step (the trajectory), nothing else.

It checks that both trajectories (outputs on the training and evaluation inputs at steps
``0..K`` and the training loss) agree to ``tol`` relative (``1e-10`` in float64), then times
both ``repeats`` times, interleaved (engine first on even repeats, plain first on odd ones, so
slow drift of a shared machine cancels) and reports the median of the per-repeat ratios.

FLOP model of one engine run (matmul FLOPs, 2 per multiply-add; elementwise work, activations
and records are not counted). ``M = N + E`` record rows, ``B`` training rows per step (1 for
``batching="sgd"``), ``r_k = k B`` update columns at step k, and ``P(m, r) = 2 n^2 m + 4 n r m``
the cost of ``W^k x`` for ``m`` rows (dense ``W^0`` plus the low-rank factors ``B x``, ``A^T(.)``)::

    F = S * sum_{k=0..K}   [ L P(M, r_k) + (2 n d + 2 n) M ]                     records
      + S * sum_{k=0..K-1} [ 2 L P(B, r_k) + (2 n d + 2 n) B + 2 n d B + 2 n B ]  train fwd+bwd

(the ``2 n d``/``2 n`` terms are the input layer, the readout and their gradients). The
achieved rate ``F / t_engine`` is compared with the rate of the same products done as bare
batched matmuls (``torch.matmul`` of ``(S, m, n) x (S, n, n)`` cycling through the L blocks'
matrices, ``m = M`` and ``m = B``), measured in the same run: the reference rate is the
FLOP-weighted harmonic mean of the two shapes' rates, i.e. ``F`` divided by the time the bare
matmuls would take (low-rank FLOPs are charged at the dense rate of their row count).

**Memory-streaming floor.** Every product pass with a block matrix reads the whole matrix
(``W^0_l`` of every seed, plus the low-rank factors ``A``, ``B`` at the pass's rank): the records
pass at each of the K+1 steps and the backward pass of each of the K training steps (the
training forward reuses the records pass), so one run must stream at least::

    bytes = S * L * [ (2K + 1) n^2 + sum_{k=0..K} 2 n r_k + sum_{k=0..K-1} 2 n r_k ] * itemsize

(``r_k = k B``; the input layer, the readout and the activations are not counted). The floor is
``bytes`` divided by the machine's streaming read bandwidth, measured in the same run as the
rate of ``torch.sum`` over a buffer of at least 256 MiB (many times the last-level cache;
best of three, re-measured after every repeat), and ``fraction_of_floor`` = floor / engine time
(median of the per-repeat fractions). Close to 1: the engine runs at the speed of reading its
weights once per pass; the products with few rows cannot do better on that machine.

**What the products allow.** ``matmul_fraction_of_floor`` = floor / (``F`` at the bare matmul
rate): the fraction of the floor an engine would reach that did nothing but its products, at
the speed the machine's BLAS does them as bare batched matmuls (median of the per-repeat
values). The engine's own fraction can exceed it only where the engine's products run faster
than the bare ones (the engine's one-row backward products, ``g @ W``, read ``W`` in the
faster order). Measured on the 2-core development machine (MKL, one thread, ``infdepth bench
--n 512 --threads 1``): the engine's ``(8, 4, 512) x (8, 512, 512)`` products stream their
matrices at about 11 GB/s and its ``(8, 1, 512)`` ones at about 19 GB/s (torch profiler),
against 25-29 GB/s for ``torch.sum``; the bare matmuls' fraction is 0.32-0.37 and the
engine's 0.38-0.39 there (two runs), so a fraction of 0.7 would need products that BLAS does not do on that machine.

On a small machine shared with other processes, two intra-op threads make tiny ops stall
badly whenever a core is taken (single repeats 10-100x slow, mostly in the plain loop's many
small ops); ``threads=1`` gives steady ratios there. Medians over repeats absorb the rest.
"""

from __future__ import annotations

import copy
import math
import platform
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from infdepth.device import resolve_device, resolve_dtype
from infdepth.validators import int_at_least
from . import footprint
from .activations import activation, check_activation
from .engine import A1Config, A1Model, train_a1

#: relative tolerance of the trajectory check, per dtype
TOLERANCES = {torch.float64: 1e-10, torch.float32: 1e-3}


# ------------------------------------------------------------------------------------------
# Plain reference
# ------------------------------------------------------------------------------------------

class PlainA1(nn.Module):
    """One seed of Model A1 (docs/theory.md s2) as an ordinary module, trained with autograd::

        h_0 = m_U U x,   h_l = h_{l-1} + m_W W_l phi(h_{l-1}),   f = m_v v . phi(h_L)

    (``m_U`` includes the ``1/sqrt(d)``). Weights are ``nn.Parameter`` in ``nn.Linear`` layout
    (out, in); ``sgd_step`` does ``theta <- theta - lr_G grad theta`` per group.
    """

    def __init__(self, U, Ws, v, *, mU, mW, mv, lr_U, lr_W, lr_v, act):
        super().__init__()
        self.U = nn.Parameter(U.clone())
        self.W = nn.ParameterList([nn.Parameter(W.clone()) for W in Ws])
        self.v = nn.Parameter(v.clone())
        self.mU, self.mW, self.mv = mU, mW, mv
        self.lrs = [(self.U, lr_U), (self.v, lr_v)] + [(W, lr_W) for W in self.W]
        self.phi = activation(act).phi_torch

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        h = self.mU * F.linear(X, self.U)
        for W in self.W:
            h = h + self.mW * F.linear(self.phi(h), W)
        return self.mv * (self.phi(h) @ self.v)

    @torch.no_grad()
    def sgd_step(self) -> None:
        for p, lr in self.lrs:
            p.sub_(p.grad, alpha=lr)
            p.grad = None


def plain_models(model: A1Model) -> list[PlainA1]:
    """One :class:`PlainA1` per seed with the initial weights of the engine's ``model``."""
    blk = model.blocks
    W0 = blk.stacks["W"].W0
    return [PlainA1(model.U[s], [W0[l, s] for l in range(model.L)], model.v[s],
                    mU=model.mU, mW=blk.mult["W"], mv=model.mv, lr_U=model.lr_U,
                    lr_W=blk.lr["W"], lr_v=model.lr_v, act=model.act)
            for s in range(model.S)]


def train_plain(models: list[PlainA1], X: torch.Tensor, y: torch.Tensor, Xe: torch.Tensor,
                K: int) -> torch.Tensor:
    """Train each seed's module for K SGD steps (step k on example ``k mod N``, loss
    ``1/2 (f - y)^2``); returns the outputs on ``[X; Xe]`` before each step, ``(S, K+1, N+E)``."""
    N = X.shape[0]
    X_all = torch.cat([X, Xe], dim=0)
    out = X.new_empty((len(models), K + 1, X_all.shape[0]))
    for s, m in enumerate(models):
        for k in range(K + 1):
            with torch.no_grad():
                out[s, k] = m(X_all)
            if k == K:
                break
            i = k % N
            loss = 0.5 * (m(X[i:i + 1]) - y[i:i + 1]).square().mean()
            loss.backward()
            m.sgd_step()
    return out


# ------------------------------------------------------------------------------------------
# FLOP model and matmul reference
# ------------------------------------------------------------------------------------------

def flop_model(n: int, L: int, K: int, S: int, N: int, E: int, d: int, B: int = 1) -> dict:
    """Matmul FLOPs of one engine run (module docstring), split by row count of the products."""
    M = N + E

    def P(m, r):
        return 2 * n * n * m + 4 * n * r * m

    rec = S * sum(L * P(M, k * B) + (2 * n * d + 2 * n) * M for k in range(K + 1))
    train = S * sum(2 * L * P(B, k * B) + (4 * n * d + 4 * n) * B for k in range(K))
    return {"total": rec + train, "records": rec, "train": train, "M": M, "B": B}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(W: torch.Tensor, m: int, *, min_time: float = 0.05, device=None) -> float:
    """FLOP/s of ``x_l @ W_l^T`` for ``x_l`` (S, m, n), cycling over ``W`` (L, S, n, n) the
    way the engine walks through its blocks."""
    L, S, n_out, n_in = W.shape
    x = torch.randn((S, m, n_in), dtype=W.dtype, device=W.device)
    device = W.device

    def sweep():
        for l in range(L):
            torch.matmul(x, W[l].mT)

    sweep()
    reps, best = 1, math.inf
    while True:
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            sweep()
        _sync(device)
        dt = time.perf_counter() - t0
        if dt >= min_time:
            best = min(best, dt / reps)
            break
        reps *= 2
    for _ in range(2):        # two more timings at the chosen count, keep the best
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            sweep()
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / reps)
    return 2.0 * L * S * m * n_out * n_in / best


def stream_bytes(n: int, L: int, K: int, S: int, B: int = 1, itemsize: int = 8) -> int:
    """Bytes of block matrices one engine run must read (module docstring, floor): every
    ``W^0_l`` and the low-rank factors once per records pass (K+1) and per backward pass (K)."""
    factors = sum(2 * n * k * B for k in range(K + 1)) + sum(2 * n * k * B for k in range(K))
    return S * L * ((2 * K + 1) * n * n + factors) * itemsize


#: elements of the bandwidth probe's buffer (256 MiB in float64), at least
STREAM_PROBE_ELEMENTS = footprint.BENCH_PROBE_ELEMENTS


def stream_bandwidth(dtype=torch.float64, device=None, *, numel: int | None = None,
                     buf: torch.Tensor | None = None, repeats: int = 3) -> tuple[float, int]:
    """Streaming read bandwidth (bytes/s): best of ``repeats`` timings of ``torch.sum`` over a
    buffer of ``numel`` elements (default :data:`STREAM_PROBE_ELEMENTS`) or over ``buf``.
    Returns ``(bytes_per_s, buffer_bytes)``."""
    device = torch.device("cpu") if device is None else torch.device(device)
    if buf is None:
        buf = torch.ones(numel or STREAM_PROBE_ELEMENTS, dtype=dtype, device=device)
    nbytes = buf.numel() * buf.element_size()
    buf.sum()
    best = math.inf
    for _ in range(repeats):
        _sync(buf.device)
        t0 = time.perf_counter()
        buf.sum()
        _sync(buf.device)
        best = min(best, time.perf_counter() - t0)
    return nbytes / best, nbytes


# ------------------------------------------------------------------------------------------
# Benchmark
# ------------------------------------------------------------------------------------------

def memory_bytes(n: int, L: int, K: int, seeds: int, *, n_train: int = 4, n_eval: int = 0,
                 d: int = 4, dtype=torch.float64) -> int:
    """Estimated peak memory of :func:`run_bench` at these sizes
    (:func:`infdepth.numerics.footprint.bench`), in bytes."""
    item = torch.empty((), dtype=resolve_dtype(dtype) if isinstance(dtype, str)
                       else dtype).element_size()
    return footprint.bench(n, L, K, seeds, rows=n_train + n_eval, d=d, item=item).peak


def bench_data(N: int, E: int, d: int, dtype, device, seed: int = 1234):
    """Fixed inputs ``X`` (N, d), targets ``y`` (N,), eval inputs ``Xe`` (E, d)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, d, generator=g, dtype=torch.float64)
    y = torch.randn(N, generator=g, dtype=torch.float64)
    Xe = torch.randn(E, d, generator=g, dtype=torch.float64)
    return tuple(t.to(dtype=dtype, device=device) for t in (X, y, Xe))


def _timed(fn, device):
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def run_bench(n: int = 256, L: int = 16, K: int = 10, seeds: int = 8, act: str = "tanh",
              device: str = "cpu", dtype: torch.dtype | str = torch.float64, repeats: int = 5,
              *, n_train: int = 4, n_eval: int = 0, d: int = 4, eta: float = 0.1,
              parameterization: str = "depth_mup", tol: float | None = None,
              threads: int | None = None,
              check_memory: Callable[[int, str], None] | None = None) -> dict:
    """Time the engine against the plain per-seed implementation (module docstring).

    Returns a JSON-safe dict: ``config``, ``check`` (max absolute/relative trajectory
    difference, tolerance, ``passed``), ``engine_s``/``plain_s`` (median seconds and all
    repeats), ``ratio`` (median of per-repeat ``t_plain / t_engine``) and ``ratios``,
    ``flops`` (the FLOP model), ``engine_flops_per_s``, ``matmul`` (shapes and rates of the bare
    batched matmuls, their combined rate) and ``fraction_of_matmul`` (median of the per-repeat
    fractions; the matmul rates are re-measured after every repeat), ``stream`` (bytes one run
    must read, the measured streaming bandwidth, the floor in seconds) and
    ``fraction_of_floor`` (median of the per-repeat floor / engine time). ``n_train``/``n_eval``/``d``:
    number of training / evaluation inputs and input dimension. ``threads``: torch intra-op
    threads for the run (default: leave as is; restored afterwards). ``check_memory(need,
    device_type)``: called with the estimated peak (:func:`memory_bytes`) once the arguments
    are checked and before anything is allocated, to refuse what cannot fit (``infdepth bench``
    passes the validation suite's memory limit). Bad input: ValueError.
    """
    for name, v in (("n", n), ("L", L), ("K", K), ("seeds", seeds), ("repeats", repeats),
                    ("n_train", n_train), ("d", d)):
        int_at_least(name, v, 1)
    int_at_least("n_eval", n_eval, 0)
    check_activation(act)
    if isinstance(dtype, str):
        dtype = resolve_dtype(dtype)
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch.cuda.is_available() is False")
    if check_memory is not None:
        check_memory(memory_bytes(n, L, K, seeds, n_train=n_train, n_eval=n_eval, d=d,
                                  dtype=dtype), dev.type)
    tol = TOLERANCES[dtype] if tol is None else float(tol)
    if threads is not None:
        int_at_least("threads", threads, 1)
    cfg = A1Config(n=n, L=L, K=K, eta=eta, parameterization=parameterization, act=act,
                   n_seeds=seeds)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _measure(cfg, dtype, dev, repeats, n_train, n_eval, d, tol)
    finally:
        torch.set_num_threads(before)


def _measure(cfg: A1Config, dtype, dev, repeats, n_train, n_eval, d, tol) -> dict:
    n, L, K, seeds, act = cfg.n, cfg.L, cfg.K, cfg.n_seeds, cfg.act
    X, y, Xe = bench_data(n_train, n_eval, d, dtype, dev)
    pristine = A1Model(cfg, d, dtype, dev, capacity=K)

    def engine_run():
        model = copy.deepcopy(pristine)
        return _timed(lambda: train_a1(cfg, X, y, Xe, model=model), dev)

    def plain_run():
        models = plain_models(pristine)
        return _timed(lambda: train_plain(models, X, y, Xe, K), dev)

    # warm-up run of both, which is also the trajectory check
    _, res = engine_run()
    _, f_plain = plain_run()
    f_eng = torch.cat([res.f_train, res.f_eval], dim=2)
    loss_plain = 0.5 * (f_plain[:, :, :n_train] - y).square().mean(2)
    diffs, scales = [], []
    for a, b in ((f_eng, f_plain), (res.loss, loss_plain)):
        diffs.append((a - b).abs().max().item())
        scales.append(b.abs().max().item())
    max_abs = max(diffs)
    max_rel = max(dd / max(s, 1e-300) for dd, s in zip(diffs, scales))
    finite = bool(torch.isfinite(f_eng).all() and torch.isfinite(f_plain).all())
    passed = finite and max_rel <= tol

    fl = flop_model(n, L, K, seeds, n_train, n_eval, d, B=1)
    W0 = pristine.blocks.stacks["W"].W0
    rows = ((fl["M"], fl["records"]), (fl["B"], fl["train"]))
    t_eng, t_plain, ratios, fractions = [], [], [], []
    mm_rates = [[] for _ in rows]
    floor_bytes = stream_bytes(n, L, K, seeds, B=1, itemsize=W0.element_size())
    probe = torch.ones(max(STREAM_PROBE_ELEMENTS, W0.numel()), dtype=dtype, device=dev)
    bandwidths, floor_fractions, mm_floor_fractions = [], [], []
    for rep in range(repeats):
        order = (engine_run, plain_run) if rep % 2 == 0 else (plain_run, engine_run)
        times = {fn: fn()[0] for fn in order}
        t_eng.append(times[engine_run])
        t_plain.append(times[plain_run])
        ratios.append(times[plain_run] / times[engine_run])
        rates = [matmul_rate(W0, m) for m, _ in rows]
        for acc, rate in zip(mm_rates, rates):
            acc.append(rate)
        mix = 1.0 / sum(f / fl["total"] / rate for (_, f), rate in zip(rows, rates))
        fractions.append(fl["total"] / times[engine_run] / mix)
        bw, probe_bytes = stream_bandwidth(buf=probe)
        bandwidths.append(bw)
        floor_fractions.append(floor_bytes / bw / times[engine_run])
        mm_floor_fractions.append(floor_bytes / bw / (fl["total"] / mix))
    del probe

    shapes = [{"a": [seeds, m, n], "b": [seeds, n, n],
               "flops_per_s": statistics.median(acc), "flops_share": f / fl["total"]}
              for (m, f), acc in zip(rows, mm_rates)]
    mm_rate = 1.0 / sum(s["flops_share"] / s["flops_per_s"] for s in shapes)
    t_med = statistics.median(t_eng)
    eng_rate = fl["total"] / t_med

    return {
        "config": {"n": n, "L": L, "K": K, "seeds": seeds, "act": act, "device": str(dev),
                   "dtype": str(dtype).replace("torch.", ""), "repeats": repeats,
                   "n_train": n_train, "n_eval": n_eval, "d": d, "eta": cfg.eta,
                   "parameterization": cfg.param.name, "batching": "sgd", "mode": "reused"},
        "check": {"max_abs_diff": max_abs, "max_rel_diff": max_rel, "tolerance": tol,
                  "finite": finite, "passed": passed,
                  "compared": "outputs on train+eval inputs at steps 0..K, training loss"},
        "engine_s": t_med,
        "plain_s": statistics.median(t_plain),
        "engine_s_all": t_eng,
        "plain_s_all": t_plain,
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "flops": {"total": fl["total"], "records": fl["records"], "train": fl["train"],
                  "formula": "S*sum_{k=0..K}[L*P(M,k*B) + (2nd+2n)M] + S*sum_{k<K}[2L*P(B,k*B)"
                             " + (4nd+4n)B], P(m,r) = 2n^2 m + 4nrm, M = N+E, B = 1"},
        "engine_flops_per_s": eng_rate,
        "matmul": {"shapes": shapes, "flops_per_s": mm_rate,
                   "op": "torch.matmul(x (S,m,n), W_l^T (S,n,n)) over the L blocks"},
        "fraction_of_matmul": statistics.median(fractions),
        "fractions": fractions,
        "stream": {"bytes": floor_bytes, "bandwidth_bytes_per_s": statistics.median(bandwidths),
                   "bandwidths": bandwidths, "probe_bytes": probe_bytes,
                   "floor_s": floor_bytes / statistics.median(bandwidths),
                   "op": "torch.sum over the probe buffer (best of 3 per repeat)",
                   "formula": "S*L*[(2K+1) n^2 + sum_{k<=K} 2n r_k + sum_{k<K} 2n r_k] * "
                              "itemsize, r_k = k*B"},
        "fraction_of_floor": statistics.median(floor_fractions),
        "floor_fractions": floor_fractions,
        "matmul_fraction_of_floor": statistics.median(mm_floor_fractions),
        "matmul_floor_fractions": mm_floor_fractions,
        "targets": {"ratio": 5.0, "fraction_of_matmul": 0.5, "fraction_of_floor": 0.7},
        "environment": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                        "machine": platform.machine(), "python": platform.python_version(),
                        "device_name": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                                        else platform.processor() or "cpu")},
    }
