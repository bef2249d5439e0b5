"""Refuse a sweep that cannot run here, before any work (docs/design.md, "Sizes a run refuses").

A point is refused when

* its **memory** estimate :meth:`Claim.memory_bytes` -- the peak of computing it, from its sizes
  (width, depth, hidden width, data, particles, seeds, steps, dtype; the arithmetic of
  :mod:`infdepth.numerics.footprint`, calibrated against measured peaks) -- exceeds the limit:
  ``INFDEPTH_MEMORY_LIMIT_GB`` GiB when that is set, else the memory available now
  (:func:`available_bytes`), and for a point on a CUDA device also the memory free on the GPU
  now (:func:`gpu_free_bytes`: such a point keeps its arrays there); or
* its **work** estimate :meth:`Claim.work_steps` -- the sequential steps of computing it (a block
  of a pass, a seed's draw, a step of a solver: Python-level loop iterations of at least a few
  microseconds each whatever the sizes) -- exceeds :data:`MAX_WORK_STEPS` = 10^7, a hundred times
  the largest point of the ``full`` suite and hours of looping; e.g. the exact depth-L kernel
  recursion fits in kilobytes at any L but walks L steps (about 85 us each).

:func:`check_points_fit` raises :class:`~infdepth.errors.UsageError` with one line naming the
claim, the point's sizes, the estimate and the limit (``infdepth validate`` prints it and exits
2). The estimates are per point: the runner holds the tables of a variant's finished points
besides (small next to the largest point), and the draw cache of :mod:`infdepth.seeding` may
keep up to its budget (4 GiB by default) of earlier points' draws.
"""

from __future__ import annotations

import os
from dataclasses import fields
from typing import Any, Iterable, Sequence

from infdepth.errors import UsageError

__all__ = ["LIMIT_ENV", "MAX_WORK_STEPS", "available_bytes", "gpu_free_bytes",
           "memory_limit_bytes", "describe_sizes", "check_points_fit", "claim_points",
           "check_request_fits"]

#: environment variable overriding the memory limit, in GiB
LIMIT_ENV = "INFDEPTH_MEMORY_LIMIT_GB"
#: the most sequential steps one point may take (module docstring)
MAX_WORK_STEPS = 10 ** 7
GiB = 2 ** 30
#: point fields that are sizes (shown in a refusal), in this order
SIZE_FIELDS = ("n", "L", "M", "D", "K", "N", "n_seeds", "depths", "n_particles", "ref_depth",
               "ref_particles", "ref_seeds", "ref_Ls", "ref_P", "L_ref", "M_ref", "n_train")


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_available() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _cgroup_available() -> int | None:
    """The cgroup's memory limit less its usage, where a finite limit is set (v2, then v1)."""
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read_int(limit_path)
        if limit is not None and limit < 2 ** 60:
            return max(0, limit - (_read_int(usage_path) or 0))
    return None


def available_bytes() -> int:
    """Memory available now: ``MemAvailable`` of ``/proc/meminfo`` (else the free pages of
    ``os.sysconf``), or the cgroup's limit less its usage where that is lower."""
    found = [v for v in ((_meminfo_available() or _sysconf_available()), _cgroup_available())
             if v is not None]
    if not found:
        raise UsageError(f"cannot tell the available memory here; set {LIMIT_ENV} (GiB)")
    return min(found)


def gpu_free_bytes() -> int:
    """Memory free now on the current CUDA device (``torch.cuda.mem_get_info``)."""
    import torch
    return int(torch.cuda.mem_get_info()[0])


def memory_limit_bytes() -> int:
    """The limit a point's memory estimate must stay under: ``INFDEPTH_MEMORY_LIMIT_GB`` GiB
    if set, else :func:`available_bytes`."""
    env = os.environ.get(LIMIT_ENV, "").strip()
    if not env:
        return available_bytes()
    try:
        gb = float(env)
    except ValueError:
        gb = float("nan")
    if not gb > 0 or gb == float("inf"):
        raise UsageError(f"{LIMIT_ENV} must be a positive number of GiB, got {env!r}")
    return int(gb * GiB)


def describe_sizes(point: Any) -> str:
    """The size fields of a point, e.g. ``n=1000000000 L=4 n_seeds=2000``, and its dtype when
    not float64."""
    names = {f.name for f in fields(point)}
    parts = [f"{k}={getattr(point, k)}".replace(" ", "") for k in SIZE_FIELDS
             if k in names and getattr(point, k) != 0]
    if getattr(point, "dtype", "float64") != "float64":
        parts.append(f"dtype={point.dtype}")
    return " ".join(parts)


def _gib(nbytes: float) -> str:
    g = nbytes / GiB
    return f"{g:.3g}" if g < 1e6 else f"{g:.2e}"


def _limit(limit_bytes: int | None) -> tuple[int, str]:
    """The memory limit and how it was set (for the message)."""
    if limit_bytes is not None:
        return int(limit_bytes), "limit"
    if os.environ.get(LIMIT_ENV, "").strip():
        return memory_limit_bytes(), f"limit ({LIMIT_ENV})"
    return memory_limit_bytes(), "available"


def _check(claim, points: Iterable[Any], limit: int, source: str) -> None:
    """(A claim outside the catalog that gives no footprint, as in tests, is not checked;
    every catalog claim gives one, tested.) A point on a CUDA device must also fit the memory
    free on the GPU, unless ``INFDEPTH_MEMORY_LIMIT_GB`` is set."""
    gpu: int | None = None
    for p in points:
        try:
            need = claim.memory_bytes(p)
        except NotImplementedError:
            return
        if need > limit:
            raise UsageError(
                f"{claim.id}: the point {describe_sizes(p)} needs about {_gib(need)} GiB of "
                f"memory, more than the {_gib(limit)} GiB {source}; use smaller sizes "
                f"(--depths/--widths) or set {LIMIT_ENV}")
        if getattr(p, "device", "cpu") == "cuda" and not os.environ.get(LIMIT_ENV, "").strip():
            gpu = gpu_free_bytes() if gpu is None else gpu
            if need > gpu:
                raise UsageError(
                    f"{claim.id}: the point {describe_sizes(p)} needs about {_gib(need)} GiB "
                    f"of memory, more than the {_gib(gpu)} GiB free on the GPU; free the GPU, "
                    f"use smaller sizes (--depths/--widths) or set {LIMIT_ENV}")
        steps = claim.work_steps(p)
        if steps > MAX_WORK_STEPS:
            raise UsageError(
                f"{claim.id}: the point {describe_sizes(p)} takes about {steps:.2g} sequential "
                f"steps, more than the {MAX_WORK_STEPS:.0e} a point may (hours of looping); "
                f"use smaller sizes (--depths/--widths)")


def check_points_fit(claim, points: Iterable[Any], limit_bytes: int | None = None) -> None:
    """Raise :class:`~infdepth.errors.UsageError` (one line) at the first point of ``claim``
    whose memory estimate exceeds ``limit_bytes`` (default :func:`memory_limit_bytes`) or whose
    sequential steps exceed :data:`MAX_WORK_STEPS`; nothing is computed."""
    _check(claim, points, *_limit(limit_bytes))


def claim_points(claim, suite: str, overrides, run) -> list[Any]:
    """Every point a suite computes for ``claim`` (its variants and negative controls under each
    convention it runs, as the runner lists them), duplicates removed."""
    return list(dict.fromkeys(p for _, _, pts in claim.suite_points(suite, overrides, run)
                              for p in pts))


def check_request_fits(claim_ids: Sequence[str], suite: str, overrides, run,
                       limit_bytes: int | None = None) -> None:
    """:func:`check_points_fit` on every point of every requested claim (``infdepth validate``
    calls it before any work)."""
    from .claims import get_claim
    limit, source = _limit(limit_bytes)
    for cid in claim_ids:
        claim = get_claim(cid)
        _check(claim, claim_points(claim, suite, overrides, run), limit, source)
