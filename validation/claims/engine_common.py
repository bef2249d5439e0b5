"""What the claims on engine runs share (docs/theory.md s2, s4, s5). Not a claim module: the depth
sweep of ``gia_restoration``, ``train_coupling_depth`` and the two-layer claims, the bases of
the point dataclasses of Model A1/A2 runs (:func:`infdepth.numerics.engine.train_a1`): the run
settings on top of the run fields, keyword-only like them, the rate measurement of a
per-seed column over the depth sweep (:func:`depth_rate`) and the footprint of an engine run on
the training task (:func:`engine_footprint`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from infdepth.numerics import footprint as fp
from infdepth.numerics.inputs import DEFAULT_INPUTS
from infdepth.numerics.training_task import ETA
from infdepth.run_fields import RunFields

from ..intervals import geometric_mean
from ..measurements import RateMeasurement
from .base import Overrides, size_sweep


#: rows of a records pass on the training task (its inputs, evaluated on themselves too) and
#: their dimension
TASK_ROWS = 2 * len(DEFAULT_INPUTS)
TASK_DIM = len(DEFAULT_INPUTS[0])


#: the peak memory one engine run of a point may take (bytes); a point whose seeds need more is
#: computed in chunks of seeds (:func:`seed_chunks`)
RUN_BYTES = 2 * 2 ** 30


def seed_chunks(n_seeds: int, peak: Callable[[int], int],
                budget: int | None = None) -> list[tuple[int, int]]:
    """``(seed_offset, count)`` chunks of the seeds ``0..n_seeds-1``, in order, each of the
    largest count whose ``peak(count)`` (bytes, non-decreasing in the count) is within
    ``budget`` (default :data:`RUN_BYTES`), at least one seed. Seeds do not interact (a
    seed's numbers come from its own streams, and every product and statistic of the engine
    is per seed), so the chunks give the numbers of one run of all seeds, bit for bit, while
    only a chunk is held."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    budget = RUN_BYTES if budget is None else budget
    lo, hi = 1, n_seeds
    while lo < hi:                                  # the largest count within the budget
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if peak(mid) <= budget else (lo, mid - 1)
    return [(a, min(lo, n_seeds - a)) for a in range(0, n_seeds, lo)]


@dataclass(frozen=True, kw_only=True)
class EnginePoint(RunFields):
    """``n_seeds`` networks of width ``n`` and depth ``L`` with activation ``act`` under
    ``parameterization``, base learning rate ``eta``."""

    act: str
    n: int
    L: int
    n_seeds: int
    eta: float = ETA
    parameterization: str = "depth_mup"


@dataclass(frozen=True, kw_only=True)
class TrainedPoint(EnginePoint):
    """An :class:`EnginePoint` trained ``K`` SGD steps."""

    K: int


@dataclass(frozen=True)
class DepthSweep:
    """A suite of a depth sweep at fixed width: activation, width ``n``, depths, seeds per point,
    SGD steps ``K``."""

    act: str
    n: int
    depths: tuple[int, ...]
    seeds: int
    K: int

    def points(self, point_type: type[TrainedPoint], overrides: Overrides, run: RunFields,
               **fields) -> list:
        """One ``point_type`` per depth (``--depths`` replace the suite's) at the suite's
        activation and width (or the first of ``--activations``, the largest of ``--widths``);
        ``fields``: the point's other fields."""
        act, n = overrides.activation(self.act), overrides.width(self.n)
        return [point_type(act=act, n=n, L=L, K=self.K, n_seeds=self.seeds, **fields,
                           **run.run_fields())
                for L in size_sweep(overrides.depths, self.depths)]


def depth_rate(points, frames, column: str, what: str) -> RateMeasurement:
    """The per-seed values of ``column`` over a depth sweep, summarised by their geometric mean
    and paired across depths (seed ``i`` is the same draw at every depth; docs/theory.md s9);
    ``what`` describes the quantity (", geometric mean" is appended)."""
    return RateMeasurement([p.L for p in points], [f[column].to_numpy() for f in frames],
                           geometric_mean, "depth L", f"{what}, geometric mean", paired=True,
                           column=column)


def engine_footprint(p: EnginePoint, K: int, **sizes) -> fp.Footprint:
    """:func:`infdepth.numerics.footprint.engine` of one run of the point's networks (``n``,
    ``L``, ``n_seeds``, dtype) for ``K`` steps on the training task; ``sizes``: the run's other
    sizes (``groups``, ``independent``, ``coupling``, ``new_draws``; ``rows``, ``batch``, ``d``
    for another task)."""
    task = {"rows": TASK_ROWS, "batch": 1, "d": TASK_DIM}
    return fp.engine(p.n, p.L, p.n_seeds, K, item=fp.itemsize(p.dtype), **{**task, **sizes})


def point_chunks(p: EnginePoint, run: Callable[[EnginePoint], fp.Footprint]
                 ) -> list[tuple[int, int]]:
    """:func:`seed_chunks` of the point's seeds, ``run(q)`` the footprint of the point's
    computation on the seeds of ``q`` (the point with fewer seeds)."""
    return seed_chunks(p.n_seeds, lambda s: run(replace(p, n_seeds=s)).peak)


def chunked_footprint(p: EnginePoint, run: Callable[[EnginePoint], fp.Footprint]
                      ) -> fp.Footprint:
    """The footprint of ``run`` on each of the point's :func:`point_chunks`, one after
    another."""
    chunks = point_chunks(p, run)
    return run(replace(p, n_seeds=chunks[0][1])).repeat(len(chunks))


def engine_chunks(p: EnginePoint, K: int, **sizes) -> list[tuple[int, int]]:
    """:func:`point_chunks` for engine runs of ``K`` steps (:func:`engine_footprint` with
    ``sizes``)."""
    return point_chunks(p, lambda q: engine_footprint(q, K, **sizes))
