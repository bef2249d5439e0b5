"""Peak memory and sequential steps of the numerics' computations, from their sizes alone.

No torch here: the memory check of a sweep (:mod:`infdepth.validation.memory_estimate`) runs
before any work and must answer at once. Each function returns a :class:`Footprint` of one
computation:

* ``peak`` -- bytes at its high-water mark: the tensors it allocates (named in each docstring),
  in the run's dtype (``itemsize`` bytes a number), plus what the draw cache of
  :mod:`infdepth.seeding` keeps of its draws (float64, at most the cache's budget);
* ``kept`` -- bytes still held after it returns (draw cache, in-process result caches);
* ``steps`` -- sequential steps: iterations of a Python-level loop (a block of a pass, a seed's
  draw, a step of a solver), each taking at least microseconds whatever the sizes.

The counts follow the code; the multipliers on them (named constants) come from peak resident
memory measured on small points (``tests/validation/test_memory_estimate.py``), which includes
the allocator's own overhead. Sequential computations combine with :meth:`Footprint.then`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infdepth.draw_budget import draw_cache_budget

__all__ = ["Footprint", "itemsize", "block_matrices", "dense_updates", "draws_fit_cache",
           "engine", "coupling_levels", "init_monte_carlo", "kernel_recursion", "nfd_solves",
           "hw_network", "mean_ode", "mean_ode_reference", "linear_mean_ode", "hw_bias",
           "mean_ode_chunk", "MEAN_ODE_CHUNK_ELEMENTS", "bench", "BENCH_PROBE_ELEMENTS",
           "INIT_CHUNK_BYTES", "HW_BIAS_CHUNK",
           "MATRIX_SLACK", "MMAP_THRESHOLD"]

F64 = 8
#: bytes of weights per chunk of seeds in the init Monte Carlo
#: (:data:`infdepth.numerics.finite_width_init.CHUNK_BYTES`, which reads it from here)
INIT_CHUNK_BYTES = 256 * 2 ** 20
#: units (L M) per chunk of seeds of the Euler-bias networks
#: (:data:`infdepth.numerics.hw_bias.CHUNK_ELEMENTS`, which reads it from here)
HW_BIAS_CHUNK = 1 << 17
#: resident bytes per byte of the engine's initial matrices: matrices larger than
#: :data:`MMAP_THRESHOLD` bytes get pages of their own (measured 1.0-1.1 at n = 256 to 2048 in
#: float64), smaller ones share the heap with the draws (measured 1.4-1.7 at n = 64, 128)
MATRIX_SLACK = {"mapped": 1.1, "heap": 1.75}
#: the allocator's threshold for giving an allocation pages of its own (glibc's default)
MMAP_THRESHOLD = 128 * 2 ** 10
#: resident bytes per byte the Mean-ODE solves of a reference count (measured 1.0)
REFERENCE_SLACK = 1.1
#: u-sized tensors (``S L M D`` numbers) resident during a Model-B training: the initial and
#: current u and v, their gradients, the update's temporaries, the movement's difference and the
#: allocator's overhead (counted 11, measured 14)
HW_UNIT_FACTOR = 14
#: resident bytes of the exact linear Mean ODE per ``S D^2 (K+1)^LINEAR_ODE_POWER``, measured
#: over S D^2 = 256..32768, K + 1 = 8..32: the ``solve_ivp`` integrator of every step k (its
#: stages over ``2 (k+1) S D^2`` numbers) stays in a reference cycle until the garbage collector
#: runs, so the peak grows almost like the sum over the steps
LINEAR_ODE_BYTES = 300
LINEAR_ODE_POWER = 1.86


def itemsize(dtype: str) -> int:
    """Bytes of one number of ``dtype`` (``float64`` | ``float32``)."""
    return {"float64": 8, "float32": 4}[dtype]


@dataclass(frozen=True)
class Footprint:
    """``peak`` and ``kept`` bytes and sequential ``steps`` of a computation (module
    docstring)."""

    peak: int = 0
    kept: int = 0
    steps: int = 0

    def then(self, later: "Footprint") -> "Footprint":
        """This computation, then ``later`` while what this one keeps is held."""
        return Footprint(max(self.peak, self.kept + later.peak), self.kept + later.kept,
                         self.steps + later.steps)

    def repeat(self, k: int) -> "Footprint":
        """This computation run ``k`` times in a row, keeping nothing more after the first
        (e.g. later runs whose draws are cache hits)."""
        if k <= 1:
            return self if k == 1 else Footprint()
        return Footprint(self.peak, self.kept, self.steps * k)


def _cached(nbytes: float) -> int:
    """What the draw cache keeps of ``nbytes`` of float64 draws: at most its budget."""
    return int(min(nbytes, draw_cache_budget()))


def block_matrices(n: int, L: int, S: int, *, groups: int = 1,
                   independent: bool = False) -> int:
    """Numbers in an engine run's initial block matrices: ``groups`` matrices of ``n x n`` per
    block and seed (twice with independent backward matrices)."""
    return groups * L * S * n * n * (2 if independent else 1)


def draws_fit_cache(nbytes: float) -> bool:
    """Whether one run's ``nbytes`` of float64 block-matrix draws fit in the draw cache's
    budget: the engine keeps them there only then (:class:`~infdepth.numerics.engine.A1Model`;
    draws that do not fit would push out one another before any reuse; measured on
    init_coupling_width's n = 512, L = 16 point, 400 seeds: 38 s and 22.2 GB peak stored,
    29 s and 14.7 GB not)."""
    return nbytes <= draw_cache_budget()


def dense_updates(n_in: int, columns: int, *, independent: bool = False,
                  coupling: bool = False, differentiable: bool = False) -> bool:
    """Whether the engine keeps a block matrix's training updates as a dense matrix instead
    of low-rank factors (:class:`~infdepth.numerics.engine.lowrank.LowRankStack`): when the
    run's ``columns`` update columns (``K * batch``) reach the matrix's input width ``n_in``
    -- the factors would then hold more numbers, and every product with them cost more, than
    the matrix itself -- and nothing needs the factors (exact backprop: not ``independent``,
    no coupling decomposition, not ``differentiable``)."""
    return columns >= n_in and not (independent or coupling or differentiable)


def engine(n: int, L: int, S: int, K: int, *, rows: int, batch: int = 1, d: int = 4,
           groups: int = 1, independent: bool = False, coupling: bool = False,
           item: int = 8, new_draws: float = 1.0) -> Footprint:
    """One :func:`~infdepth.numerics.engine.train_a1` run: Model A1/A2 of width ``n``, ``L``
    blocks, ``S`` seeds, ``K`` SGD steps of ``batch`` examples, ``rows`` inputs per records pass
    (training and evaluation), input dimension ``d``, ``groups`` matrices per block (1: one-layer,
    2: two-layer).

    Tensors: the initial matrices ``W^0`` (``groups L S n^2``; twice with ``independent``
    backward matrices; times :data:`MATRIX_SLACK` for the allocator); the draw cache's float64
    copy of the fraction ``new_draws`` of them not drawn by an earlier run (the rest are cache
    hits), when they fit in the cache (:func:`draws_fit_cache`); the low-rank factors ``A``,
    ``B``, ``c`` (``groups L S K batch (2n + 1)``, and the products ``Y``, ``Zt`` with
    ``coupling``), or with :func:`dense_updates` the current matrices and one step's updates
    (``2 groups L S n^2``); a records pass's trace (``(L+1) S rows n`` per stored tensor: the
    stream and each block's cache) and the backward vectors and their temporaries (about 12 of
    ``(L+1) S batch n``, measured).
    Steps: a draw per seed and block, a block per pass (``K+1`` records passes, ``K`` backward
    passes).
    """
    mats = block_matrices(n, L, S, groups=groups, independent=independent)
    cap = K * batch
    if dense_updates(n, cap, independent=independent, coupling=coupling):
        lowrank = 2 * mats                  # the current matrices and a step's updates
    else:
        lowrank = groups * L * S * cap * ((2 * n + 1) + (2 * n if coupling else 0))
    per_block = (2 if groups == 1 else 5) + (2 if coupling else 0)
    trace = (L + 1) * S * rows * n * (1 + per_block) + 12 * (L + 1) * S * batch * n
    records = 16 * S * (K + 1) * (L + 1)
    blocks = mats * F64 if draws_fit_cache(mats * F64) else 0      # kept in the cache or not
    cache = _cached(new_draws * (blocks + S * n * (d + 1) * F64))
    slack = MATRIX_SLACK["mapped" if n * n * item > MMAP_THRESHOLD else "heap"]
    peak = (slack * mats + lowrank + trace + records) * item + cache + n * n * F64
    steps = mats // max(n * n, 1) + 2 * S + (2 * K + 1) * L
    return Footprint(int(peak), cache, int(steps))


#: elements of ``infdepth bench``'s bandwidth probe buffer, at least (256 MiB in float64;
#: :data:`infdepth.numerics.bench.STREAM_PROBE_ELEMENTS`, which reads it from here)
BENCH_PROBE_ELEMENTS = 1 << 25


def bench(n: int, L: int, K: int, S: int, *, rows: int, d: int = 4, item: int = 8) -> Footprint:
    """One ``infdepth bench`` (:func:`~infdepth.numerics.bench.run_bench`): the model every run
    copies (its ``W^0``, ``L S n^2`` numbers, and the draw cache's float64 copy of its draws),
    the bandwidth probe (``max(BENCH_PROBE_ELEMENTS, L S n^2)`` numbers), held throughout, and
    the larger of an engine run (a copy of the model training: :func:`engine` without the
    cache) and the plain per-seed modules (their weights, gradients and the optimizer's
    temporaries: three times ``L S n^2``). Steps: the engine run's, twice (warm-up and timing
    runs do not add memory)."""
    run = engine(n, L, S, K, rows=rows, d=d, item=item)
    mats = block_matrices(n, L, S)
    slack = MATRIX_SLACK["mapped" if n * n * item > MMAP_THRESHOLD else "heap"]
    model = slack * mats * item + run.kept
    probe = max(BENCH_PROBE_ELEMENTS, mats) * item
    plain = 3 * slack * mats * item
    peak = model + probe + max(run.peak - run.kept, plain)
    return Footprint(int(peak), 0, 2 * run.steps)


def coupling_levels(n: int, L: int, S: int, K: int, *, batch: int = 1, d: int = 4,
                    n_probes: int = 1, max_batch: int = 64, item: int = 8) -> Footprint:
    """One :func:`~infdepth.numerics.engine.coupling_levels.coupling_levels` run (one-layer
    blocks, levels at the last step): the engine's matrices and draws, the autograd graph of
    ``K`` differentiable steps (about 24 vectors of ``S batch n`` per block and step, measured),
    and the batched reverse passes (``max_batch`` cotangents through ``K L`` blocks). Steps: the
    engine's, and per probe job one reverse pass over ``K L`` blocks, batched by ``max_batch``."""
    base = engine(n, L, S, K, rows=batch, batch=batch, d=d, coupling=True, item=item)
    jobs = 2 * L * batch * n_probes
    cot = min(max_batch, L * batch * n_probes)
    graph = 24 * K * L * S * batch * n + 4 * cot * K * L * S * batch * n
    steps = base.steps + math.ceil(jobs / max_batch) * K * L + jobs * K
    return Footprint(base.peak + graph * item, base.kept, int(steps))


def init_monte_carlo(n: int, L: int, S: int, *, P: int, d: int, n_acts: int,
                     item: int = 8) -> Footprint:
    """:func:`~infdepth.numerics.finite_width_init.sample_init_moments_by_act` and the point's
    table: chunks of seeds whose float64 weights (``L n^2 + n (d + 1)`` numbers a seed) fit in
    :data:`INIT_CHUNK_BYTES`; the next chunk is drawn while the previous one is held (two
    chunks), a float32 run casts a copy; per activation a pass's trace (``(L+1) s P n`` per
    stored tensor, about 6) over a chunk of ``s`` seeds; per seed the seed list (36 bytes) and,
    per activation, the statistics (``2 P^2 + P`` numbers, three copies) and the table's row
    (``P^2 + P + 2`` columns). Steps: a draw per seed and tensor, a block per pass and chunk."""
    per_seed = (L * n * n + n * (d + 1)) * F64
    chunk = max(1, INIT_CHUNK_BYTES // ((L + 1) * n * n * F64))
    s = min(S, chunk)
    s2 = min(max(S - chunk, 0), chunk)
    weights = (s + s2) * per_seed + (s * per_seed * item // F64 if item != F64 else 0)
    trace = 6 * (L + 1) * s * P * n * item
    per_seed_tables = 36 + n_acts * (3 * (2 * P * P + P) * F64 + 2 * (P * P + P + 2) * F64)
    steps = S * (L + 2) + math.ceil(S / chunk) * n_acts * 2 * L
    return Footprint(int(weights + trace + S * per_seed_tables), 0, int(steps))


def kernel_recursion(L: int, P: int) -> Footprint:
    """:func:`~infdepth.numerics.kernel_recursion.depth_recursion` and its ODE reference: a few
    ``P x P`` kernels whatever the depth; ``L`` steps."""
    return Footprint(64 * P * P * F64, 0, int(L))


def nfd_solves(M: int, K: int, P: int, d: int, top: int, seeds: int, *,
               item: int = 8) -> Footprint:
    """:func:`~infdepth.numerics.nfd_solver.solve_nfd_seeds` at every dyadic depth up to ``top``
    for ``seeds`` particle seeds of ``M`` particles, ``K`` steps, ``P`` inputs of dimension ``d``.
    At the finest depth ``L = top``: the seed's normals on the grid (``L M ((K+1) P + K + 1)``,
    drawn, and coarsened: two copies), the forward states ``H`` (``(K+1)(L+1) M P``, a copy in
    the final kernel product and as much again in the allocator's free lists, measured), the
    increments ``XI`` (``L M (K+1) P``), ``G`` and ``B``; the draw cache keeps every seed's
    normals (float64, within its budget). Steps: per seed and depth ``L``, ``2 (K+1) L`` blocks
    (forward and backward of each step)."""
    L = top
    noise = L * M * ((K + 1) * P + K + 1) + M * (d + 1)
    H = (K + 1) * (L + 1) * M * P
    work = 2 * noise + 3 * H + L * M * (K + 1) * P + (K + 1) * (L + 1) * M + L * M * (K + 1)
    cache = _cached(seeds * noise * F64)
    depths_sum = 2 * top           # 2 + 4 + ... + top
    return Footprint(int(work * item + cache), cache, int(seeds * 2 * (K + 1) * depths_sum))


def hw_network(S: int, L: int, M: int, D: int, *, N: int, d_in: int, d_out: int, K: int,
               item: int = 8, drawn: bool = True) -> Footprint:
    """One :func:`~infdepth.numerics.hidden_width.train_hw` run: ``S`` seeds of ``L`` blocks of
    ``M`` units in dimension ``D``, ``K`` GD steps on ``N`` inputs. u and v (``S L M D`` each):
    initial, current, gradients, the update's temporaries (:data:`HW_UNIT_FACTOR` such
    tensors); the pre-activations of a pass (``L S N M``, and their gradients); the
    trajectories (``(K+1) S N (D + d_out)``); the draw cache's float64 copy of the initial
    weights. Steps: a draw per seed and stream, a block per pass."""
    units = S * L * M * D
    work = (HW_UNIT_FACTOR * units + 2 * L * S * N * M
            + (K + 1) * S * N * (D + d_out + 1)) * item
    cache = _cached((2 * units + S * D * (d_in + d_out)) * F64) if drawn else 0
    steps = 4 * S + (2 * K + 1) * L
    return Footprint(int(work + cache), cache, int(steps))


#: numbers per ``(seeds, N, P)`` temporary of one chunk of seeds of the Mean-ODE solver on the
#: CPU (:data:`infdepth.numerics.mean_ode.CHUNK_ELEMENTS` is this constant)
MEAN_ODE_CHUNK_ELEMENTS = 1 << 18


def mean_ode_chunk(S: int, N: int, P: int) -> int:
    """Seeds per chunk of the Mean-ODE solver on the CPU (at least one, at most ``S``)."""
    return max(1, min(S, MEAN_ODE_CHUNK_ELEMENTS // max(1, N * P)))


def mean_ode(S: int, Ls: int, P: int, D: int, *, N: int, d_out: int, K: int,
             scheme: str = "heun", item: int = 8) -> Footprint:
    """One :func:`~infdepth.numerics.mean_ode.solve_mean_ode` on the CPU: ``u, v``
    (``2 S nodes P D``), their copies at init (``2 S nodes P D``), the stream at the nodes
    (``S nodes N D``, twice), for one chunk of ``c`` seeds (:func:`mean_ode_chunk`) about eight
    ``(c, N, P)`` temporaries and the forward pass's ``p, sigma(p)`` kept at ``Ls`` nodes for
    the backward pass (``2 Ls c N P``), the particles and the outputs; ``nodes = Ls + 1``
    (heun) or ``Ls`` (euler). The result keeps ``u, v``. Steps: per GD step the forward and
    backward sweeps over ``Ls`` depth steps (heun: two evaluations each)."""
    nodes = Ls + 1 if scheme == "heun" else Ls
    c = mean_ode_chunk(S, N, P)
    n = (4 * S * nodes * P * D + 2 * S * (nodes + 1) * N * D + (8 + 2 * Ls) * c * N * P
         + 4 * S * P * D + S * (K + 1) * N * (D + d_out + 1))
    per = 2 if scheme == "heun" else 1
    return Footprint(int(n * item), 0, int((K + 1) * Ls * 2 * per))


def mean_ode_reference(S: int, Ls: int, P: int, D: int, *, N: int, d_out: int, K: int,
                       scheme: str = "heun", error: bool = True, item: int = 8) -> Footprint:
    """The particle Mean-ODE reference of :mod:`~infdepth.numerics.hw_reference` (cached
    in-process with its ``u, v``), and with ``error`` its own error: a solve with other
    particles and one at ``2 Ls``, each while the cached solve is held; times
    :data:`REFERENCE_SLACK` for the allocator (measured)."""
    nodes = Ls + 1 if scheme == "heun" else Ls
    held = 2 * S * nodes * P * D * item
    base = mean_ode(S, Ls, P, D, N=N, d_out=d_out, K=K, scheme=scheme, item=item)
    out = Footprint(base.peak, held, base.steps)
    if error:
        out = out.then(base).then(mean_ode(S, 2 * Ls, P, D, N=N, d_out=d_out, K=K,
                                           scheme=scheme, item=item))
    return Footprint(int(REFERENCE_SLACK * out.peak), out.kept, out.steps)


def linear_mean_ode(S: int, D: int, K: int) -> Footprint:
    """:func:`~infdepth.numerics.mean_ode_linear.solve_mean_ode_linear` (float64 numpy):
    :data:`LINEAR_ODE_BYTES` per ``S D^2 (K+1)^1.86`` (measured; see the constant), which stays
    resident after it returns until the garbage collector runs (a network trained next adds its
    own peak on top, measured); steps: per GD step k a ``solve_ivp`` of the moment system whose
    right-hand side loops over ``k + 1`` steps (about 100 evaluations)."""
    nbytes = int(LINEAR_ODE_BYTES * S * D * D * (K + 1) ** LINEAR_ODE_POWER)
    return Footprint(nbytes, nbytes, int(100 * (K + 1) * (K + 2) // 2))


def hw_bias(S: int, L: int, M: int, D: int, *, N: int, d_in: int, d_out: int, K: int,
            cauchy: bool, item: int = 8) -> Footprint:
    """:func:`~infdepth.numerics.hw_bias.bias_errors`: the networks in chunks of at most
    :data:`HW_BIAS_CHUNK` units (``L M`` a seed), two trainings per chunk for the Cauchy
    difference; every seed's units stay in the draw cache (float64, within its budget). The
    M = infinity Euler scheme beside it is small."""
    chunk = max(1, min(S, HW_BIAS_CHUNK // max(L * M, 1)))
    net = hw_network(chunk, L, M, D, N=N, d_in=d_in, d_out=d_out, K=K, item=item, drawn=False)
    runs = math.ceil(S / chunk) * (2 if cauchy else 1)
    cache = _cached(2 * S * L * M * D * F64)
    return Footprint(net.peak + cache, cache, net.steps * runs + 2 * S)
