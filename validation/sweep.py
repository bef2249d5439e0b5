"""Compute the pending points of a sweep (docs/design.md "Sweeps"), serially or on Dask.

The runner hands over every pending point of every requested claim at once
(:class:`PointTask`: a claim id and a plain frozen config -- workers build their tensors
themselves, nothing but configs and the resulting tables crosses the wire). Each finished
point is written to the results store as soon as it arrives, with its provenance, so an
interrupted run loses only the points in flight; Dask reschedules the points of a worker that
died (a worker killed mid-point costs only that point).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from infdepth.errors import InfdepthError

from .results_store import ResultsStore

__all__ = ["PointTask", "compute_point", "run_tasks"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PointTask:
    """One pending point: ``claim`` computes ``point`` (config hash ``key``); tasks with the
    same non-``None`` ``group`` (the claim's :meth:`~Claim.affinity`) run in one Dask task,
    one after the other, so they share the worker's in-process caches."""

    claim: str
    key: str
    point: Any
    group: Any = None


def compute_point(claim_id: str, point: Any) -> tuple[Any, dict[str, Any]]:
    """Compute one point (on whichever process runs it) and return its table and provenance.
    On a worker, torch keeps to one thread: a worker is one core."""
    from .claims import get_claim
    return _timed(point, lambda: get_claim(claim_id).compute(point))


def _timed(point: Any, compute: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """``compute()``'s table and the point's provenance with its wall time. While the point is
    computed, freed memory is kept for its next step and handed back at the end
    (:func:`infdepth.malloc_reuse.reuse_freed_memory`)."""
    from infdepth.malloc_reuse import reuse_freed_memory
    from infdepth.provenance import provenance
    t0 = time.perf_counter()
    with reuse_freed_memory():
        df = compute()
    return df, provenance(point, time.perf_counter() - t0)


def _compute_on_worker(claim_id: str, point: Any) -> tuple[Any, dict[str, Any]]:
    import torch
    torch.set_num_threads(1)
    return compute_point(claim_id, point)


def _compute_batch(fn: Callable[[str, Any], tuple[Any, dict[str, Any]]],
                   items: list[tuple[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
    """One Dask task for points sharing an affinity: computed in order on one worker."""
    return [fn(claim_id, point) for claim_id, point in items]


def _batches(tasks: Sequence[PointTask]) -> list[list[PointTask]]:
    """Tasks in order, those of one group together (at the position of the group's first)."""
    out: list[list[PointTask]] = []
    where: dict[Any, int] = {}
    for t in tasks:
        if t.group is None:
            out.append([t])
            continue
        gk = (t.claim, t.group)
        if gk not in where:
            where[gk] = len(out)
            out.append([])
        out[where[gk]].append(t)
    return out


def run_tasks(tasks: Sequence[PointTask], store: ResultsStore, client: Any = None, *,
              on_done: Callable[[PointTask, float], None] | None = None,
              compute: Callable[[PointTask], Any] | None = None,
              worker_fn: Callable[[str, Any], tuple[Any, dict[str, Any]]] | None = None,
              on_table: Callable[[PointTask, Any], None] | None = None
              ) -> None:
    """Compute ``tasks`` (serially when ``client`` is ``None``, else all submitted to the Dask
    ``client`` at once) and store each as it finishes; ``on_table(task, table)`` then
    ``on_done(task, seconds)`` after each.
    ``compute(task)`` replaces the registry lookup of the serial path (a claim object that is
    not in the catalog, as in tests); Dask workers look the claim up by id, through
    ``worker_fn(claim_id, point) -> (table, provenance)`` (default: :func:`compute_point` with
    one torch thread)."""
    def store_one(task: PointTask, df: Any, prov: dict[str, Any]) -> None:
        store.put(task.point, df, meta={"claim": task.claim}, provenance=prov)
        if on_table:
            on_table(task, df)
        if on_done:
            on_done(task, float(prov.get("seconds") or 0.0))

    if client is None:
        for task in tasks:
            if compute is None:
                df, prov = compute_point(task.claim, task.point)
            else:
                df, prov = _timed(task.point, lambda: compute(task))
            store_one(task, df, prov)
        return
    from distributed import as_completed
    fn = worker_fn or _compute_on_worker
    futures = {}
    for batch in _batches(tasks):
        t = batch[0]
        if len(batch) == 1:
            fut = client.submit(fn, t.claim, t.point, key=f"{t.claim}-{t.key}", pure=False)
        else:
            fut = client.submit(_compute_batch, fn, [(b.claim, b.point) for b in batch],
                                key=f"{t.claim}-group-{t.key}", pure=False)
        futures[fut] = batch
    try:
        for fut in as_completed(futures):
            batch = futures[fut]
            try:
                out = fut.result()
            except Exception as e:
                if type(e).__name__ == "KilledWorker":
                    raise InfdepthError(f"point {batch[0].key} of {batch[0].claim} killed its "
                                        "worker repeatedly (out of memory?); the other "
                                        "finished points are stored") from None
                raise
            for task, (df, prov) in zip(batch, [out] if len(batch) == 1 else out):
                store_one(task, df, prov)
            fut.release()
    finally:
        for fut in futures:
            fut.cancel()
