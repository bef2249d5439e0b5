"""Where sweep points are computed (docs/design.md "Sweeps"): in this process, on a local
Dask cluster, on an existing Dask scheduler, or on SLURM jobs through dask-jobqueue.

A :class:`SchedulerSpec` is the user's request (``infdepth validate --workers/--scheduler/
--slurm...``); :func:`open_client` turns it into a ``dask.distributed.Client`` (``None`` for
the serial path) and closes what it started on exit -- including on an exception or Ctrl-C.
Workers are single-threaded processes (one point at a time, one torch thread), so a point
computes the same numbers on any of them as in the serial path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, Iterator

from infdepth.draw_budget import DEFAULT_DRAW_CACHE_BYTES, DRAW_CACHE_ENV
from infdepth.errors import InfdepthError

__all__ = ["SchedulerSpec", "SlurmSpec", "local_cores", "open_client", "slurm_cluster",
           "worker_env", "worker_cache_bytes"]

#: the draw cache budget of one process when none is set (infdepth.seeding), in MiB
_DEFAULT_DRAW_CACHE_MB = DEFAULT_DRAW_CACHE_BYTES // 2 ** 20


@dataclass(frozen=True)
class SlurmSpec:
    """One SLURM job of workers: ``cores`` single-threaded workers sharing ``memory``
    (e.g. ``"16GB"``) for ``walltime`` (``HH:MM:SS``) on ``queue`` (partition; ``None``: the
    site default), ``account`` to charge; ``jobs`` jobs at once, or ``adaptive``: between 0
    and ``jobs`` jobs as the pending work needs."""

    cores: int = 4
    memory: str = "16GB"
    walltime: str = "02:00:00"
    queue: str | None = None
    account: str | None = None
    jobs: int = 1
    adaptive: bool = False
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.cores < 1:
            raise ValueError(f"--slurm-cores must be a positive integer, got {self.cores}")
        if self.jobs < 1:
            raise ValueError(f"--slurm-jobs must be a positive integer, got {self.jobs}")
        parts = self.walltime.split(":")
        if not (1 <= len(parts) <= 3 and all(p.isdigit() for p in parts)):
            raise ValueError(f"--slurm-walltime must be HH:MM:SS, got {self.walltime!r}")
        from dask.utils import parse_bytes
        try:
            if parse_bytes(self.memory) <= 0:
                raise ValueError
        except (ValueError, TypeError):
            raise ValueError(f"--slurm-memory must be a size such as 16GB, got "
                             f"{self.memory!r}") from None


def local_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count): a local
    cluster runs at most one single-threaded worker per core."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


@dataclass(frozen=True)
class SchedulerSpec:
    """``kind``: ``serial`` (this process), ``local`` (a ``LocalCluster`` of ``workers``
    processes), ``address`` (connect to ``address``, e.g. ``tcp://host:8786``) or ``slurm``."""

    kind: str = "serial"
    workers: int = 1
    address: str | None = None
    slurm: SlurmSpec | None = None

    @classmethod
    def from_options(cls, workers: int = 1, scheduler: str | None = None,
                     slurm: SlurmSpec | None = None) -> "SchedulerSpec":
        """The spec of ``--workers N [--scheduler local|serial|tcp://HOST:PORT] [--slurm]``:
        the default is serial with one worker and a local cluster with more."""
        if workers < 1:
            raise ValueError(f"--workers must be a positive integer, got {workers}")
        if slurm is not None:
            if scheduler not in (None, "slurm"):
                raise ValueError(f"--scheduler {scheduler} conflicts with --slurm")
            return cls("slurm", workers, slurm=slurm)
        if scheduler is None:
            scheduler = "local" if workers > 1 else "serial"
        if scheduler in ("serial", "local"):
            if scheduler == "local" and workers > (cores := local_cores()):
                raise ValueError(
                    f"--workers {workers} is more than the {cores} core(s) here: a local "
                    f"cluster runs one single-threaded worker per core (allowed: 1 to "
                    f"{cores}); for more, use --scheduler tcp://HOST:PORT or --slurm")
            return cls(scheduler, workers)
        if "://" in scheduler and scheduler.split("://", 1)[1]:
            return cls("address", workers, address=scheduler)
        raise ValueError(f"--scheduler must be serial, local or a scheduler address such as "
                         f"tcp://host:8786, got {scheduler!r}")

    @property
    def distributed(self) -> bool:
        return self.kind != "serial"

    def worker_memory_bytes(self) -> int | None:
        """The memory one point may use where it runs: ``None`` for this machine's (serial,
        local), a SLURM job's memory shared by its workers, and no bound on an existing
        cluster (unknown here: its workers enforce their own)."""
        if self.kind == "slurm":
            from dask.utils import parse_bytes
            assert self.slurm is not None
            return int(parse_bytes(self.slurm.memory) // self.slurm.cores)
        if self.kind == "address":
            return sys.maxsize
        return None


#: Environment of the worker processes this package starts (set through the nannies, before
#: they spawn, and in the SLURM jobs' scripts):
#:
#: * Dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc hand
#:   every freed block of more than 64 KiB back to the system: the solvers' per-step
#:   temporaries (megabytes each) are then mapped and faulted in anew at every step. Measured:
#:   the Mean-ODE reference of ``hw_rate_lm``'s smoke suite took 54 s on one thread with it,
#:   21 s without. Workers this package starts keep glibc's default (the setting is removed).
#: * ``MALLOC_ARENA_MAX=1``: a worker computes its points on a thread of its own, and glibc
#:   serves a thread other than the main one from a separate arena, whose blocks above 64 MiB
#:   are always fresh mappings: what :func:`infdepth.malloc_reuse.reuse_freed_memory` keeps
#:   for reuse on the main thread was mapped, zeroed and faulted in anew at every step there.
#:   With one arena every thread allocates from the main heap. Measured (one NFD sweep point
#:   of the standard suite, one thread): on a second thread 28.6 s with 3.5 million page
#:   faults, with one arena 23.7 s with 0.8 million, on the main thread 22.9 s.
WORKER_MALLOC = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                 "distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 1}

#: The scheduler of a cluster this package starts hands a worker its next task only when the
#: worker's thread is free (Dask's default, 1.1, lets a single-threaded worker hold a second
#: task while another worker idles): every task then goes to the first free worker in priority
#: order (points in submission order, measurements ahead of them, :mod:`.runner`). Measured on
#: the standard suite with two workers: a 43 s point queued behind another worker's ran last
#: while the other worker had finished.
GREEDY = {"distributed.scheduler.worker-saturation": 1.0}


def worker_malloc_export() -> str:
    """The job-script line that gives workers started by a SLURM job the same settings: Dask
    passes configuration to the processes it starts in ``DASK_INTERNAL_INHERIT_CONFIG``
    (``DASK_*`` variables cannot name this upper-case key: Dask lower-cases them)."""
    import dask.config
    nested: dict[str, Any] = {}
    dask.config.set(WORKER_MALLOC, config=nested)       # the dotted key as nested mappings
    return "export DASK_INTERNAL_INHERIT_CONFIG=" + dask.config.serialize(nested)


def worker_env(workers: int) -> dict[str, str]:
    """Environment of local workers: the draw cache budget split between them (unless set)."""
    if DRAW_CACHE_ENV in os.environ:
        return {DRAW_CACHE_ENV: os.environ[DRAW_CACHE_ENV]}
    return {DRAW_CACHE_ENV: str(_DEFAULT_DRAW_CACHE_MB // max(workers, 1))}


def worker_cache_bytes(workers: int) -> int:
    """The draw cache budget of each of ``workers`` local workers (:func:`worker_env`)."""
    return int(float(worker_env(workers)[DRAW_CACHE_ENV]) * 2 ** 20)


def slurm_cluster(spec: SlurmSpec, **kwargs: Any):
    """A ``dask_jobqueue.SLURMCluster`` whose jobs each run ``spec.cores`` single-threaded
    workers (nothing is submitted until it is scaled)."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:  # pragma: no cover - a dependency
        raise InfdepthError("--slurm needs dask-jobqueue: pip install dask-jobqueue") from None
    return SLURMCluster(cores=spec.cores, processes=spec.cores, memory=spec.memory,
                        walltime=spec.walltime, queue=spec.queue, account=spec.account,
                        job_extra_directives=list(spec.extra), python=sys.executable,
                        job_script_prologue=[
                            f"export {DRAW_CACHE_ENV}="
                            f"{worker_env(spec.cores)[DRAW_CACHE_ENV]}",
                            worker_malloc_export()],
                        silence_logs="error", **kwargs)


@contextlib.contextmanager
def _environment_kept() -> Iterator[None]:
    """Restore this process's environment on exit. Dask's nannies set the variables of
    ``distributed.nanny.pre-spawn-environ`` (``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``,
    ...) in the environment of the process that starts them, so that their workers inherit
    them, and leave them there: a torch first imported afterwards in this process got one
    intra-op thread, and the points computed here after the cluster (those too large to share
    the machine) ran on one core (measured: init_coupling_width's n = 512, L = 16 point 71 s
    against 37 s)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for k in [k for k in os.environ if k not in saved]:
            del os.environ[k]
        os.environ.update(saved)


@contextlib.contextmanager
def open_client(spec: SchedulerSpec) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec`` (``None`` when serial), closed on exit with
    the cluster it started; this process's environment is as it was before, from the moment
    the cluster has started its workers and again on exit (:func:`_environment_kept`)."""
    if not spec.distributed:
        yield None
        return
    import dask
    from distributed import Client, LocalCluster
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with _environment_kept(), contextlib.ExitStack() as stack:
        if spec.kind != "address":          # a cluster whose scheduler runs in this process
            stack.enter_context(dask.config.set(GREEDY))
        if spec.kind == "local":
            with dask.config.set(WORKER_MALLOC), _environment_kept():
                cluster = stack.enter_context(LocalCluster(
                    n_workers=spec.workers, threads_per_worker=1, processes=True,
                    memory_limit=0, dashboard_address=None, silence_logs=logging.ERROR,
                    env=worker_env(spec.workers)))
            client = stack.enter_context(Client(cluster))
        elif spec.kind == "address":
            try:
                client = stack.enter_context(Client(spec.address, timeout="20s"))
            except (OSError, TimeoutError) as e:
                raise InfdepthError(f"--scheduler: cannot reach {spec.address}: {e}") from None
        else:
            assert spec.slurm is not None
            cluster = stack.enter_context(slurm_cluster(spec.slurm))
            if spec.slurm.adaptive:
                cluster.adapt(minimum_jobs=0, maximum_jobs=spec.slurm.jobs)
            else:
                cluster.scale(jobs=spec.slurm.jobs)
            client = stack.enter_context(Client(cluster))
        yield client
