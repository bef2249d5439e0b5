"""Computing pending points (validation/sweep.py) on Dask: a worker killed mid-point costs only
that point, every other point is computed once and stored as it arrives."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from infdepth.validation.results_store import ResultsStore, config_hash
from infdepth.validation.scheduler import SchedulerSpec, open_client
from infdepth.validation.sweep import PointTask, run_tasks

#: the repository root: worker processes import this module's points and functions from it
ROOT = Path(__file__).resolve().parents[2]


#: a cluster that cannot start or a lost task must fail the test, not hang the suite
pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class SlowPoint:
    i: int
    log: str
    kill: int = -1


def _work(claim_id: str, p: SlowPoint):
    """Log the attempt; the first attempt at point ``kill`` SIGKILLs its own worker."""
    import time
    log = Path(p.log)
    with open(log / "attempts", "a") as f:
        f.write(f"{p.i} {os.getpid()}\n")
    if p.i == p.kill and not (log / "killed").exists():
        (log / "killed").write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return pd.DataFrame({"i": [p.i], "sq": [p.i * p.i]}), {"seconds": 0.2, "pid": os.getpid()}


@pytest.fixture(scope="module")
def client():
    """One local cluster of two single-threaded workers for the module. Worker processes
    copy this process's ``sys.path``: the repository root goes on it so that they can import
    this module's points (pytest's own script, unlike ``python -m pytest``, leaves it off)."""
    added = str(ROOT) not in sys.path
    if added:
        sys.path.insert(0, str(ROOT))
    try:
        with open_client(SchedulerSpec.from_options(workers=2)) as c:
            yield c
    finally:
        if added:
            sys.path.remove(str(ROOT))


def test_a_killed_worker_costs_only_its_point(tmp_path, client):
    store = ResultsStore(tmp_path / "res")
    pts = [SlowPoint(i, str(tmp_path), kill=3) for i in range(8)]
    tasks = [PointTask("fake", config_hash(p), p) for p in pts]
    done = []
    run_tasks(tasks, store, client, on_done=lambda t, s: done.append(t.point.i),
              worker_fn=_work)
    assert sorted(done) == list(range(8))                     # each stored once
    for p in pts:
        assert store.get(p)["sq"].tolist() == [p.i * p.i]
    attempts = [tuple(map(int, line.split()))
                for line in (tmp_path / "attempts").read_text().splitlines()]
    killed = int((tmp_path / "killed").read_text())
    runs = {i: [pid for j, pid in attempts if j == i] for i in range(8)}
    # point 3 ran twice (killed, then rerun); every other rerun is of a point whose first run
    # was on the killed worker (its result not yet delivered): the other worker's points,
    # and every point delivered before the kill, ran once
    assert len(runs[3]) == 2 and runs[3][0] == killed
    for i, pids in runs.items():
        assert len(pids) == 1 or (len(pids) == 2 and pids[0] == killed), (i, pids, killed)
    assert sum(len(p) for p in runs.values()) <= 8 + 3


def test_serial_and_distributed_store_the_same_tables(tmp_path, client):
    pts = [SlowPoint(i, str(tmp_path)) for i in range(4)]
    tasks = [PointTask("fake", config_hash(p), p) for p in pts]
    a, b = ResultsStore(tmp_path / "a"), ResultsStore(tmp_path / "b")
    run_tasks(tasks, a, compute=lambda t: _work("fake", t.point)[0])
    run_tasks(tasks, b, client, worker_fn=_work)
    for p in pts:
        pd.testing.assert_frame_equal(a.get(p), b.get(p))


def test_an_error_in_a_point_is_raised_and_the_others_are_kept(tmp_path, client):
    def bad(claim_id, p):
        if p.i == 0:
            raise ArithmeticError("boom in point 0")
        return _work(claim_id, p)
    store = ResultsStore(tmp_path / "res")
    pts = [SlowPoint(i, str(tmp_path)) for i in range(3)]
    with pytest.raises(ArithmeticError, match="boom"):
        run_tasks([PointTask("fake", config_hash(p), p) for p in pts], store, client,
                  worker_fn=bad)


def test_points_of_one_group_run_together_on_one_worker(tmp_path, client):
    """Tasks sharing a group (a claim's affinity: a shared in-process reference) are one Dask
    task: computed in order by one process; ungrouped tasks spread."""
    pts = [SlowPoint(i, str(tmp_path)) for i in range(6)]
    tasks = [PointTask("fake", config_hash(p), p, group="ref" if p.i % 2 == 0 else None)
             for p in pts]
    store = ResultsStore(tmp_path / "res")
    run_tasks(tasks, store, client, worker_fn=_work)
    attempts = [tuple(map(int, line.split()))
                for line in (tmp_path / "attempts").read_text().splitlines()]
    grouped = [(i, pid) for i, pid in attempts if i % 2 == 0]
    assert [i for i, _ in grouped] == [0, 2, 4] and len({pid for _, pid in grouped}) == 1
    assert all(store.get(p)["sq"].tolist() == [p.i * p.i] for p in pts)


def test_local_workers_keep_freed_memory_for_reuse(client, monkeypatch):
    """Dask's nanny would start workers with MALLOC_TRIM_THRESHOLD_=65536 (every freed block
    over 64 KiB returned to the system: the solvers' temporaries faulted in anew at each step,
    2.5x slower); the local cluster removes it and gives its workers one malloc arena (a
    worker's task thread then allocates from the main heap, whose freed blocks
    infdepth.malloc_reuse keeps for reuse), and the SLURM jobs' workers read the same settings
    from the environment."""
    import os

    import dask
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    seen = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                               os.environ.get("MALLOC_ARENA_MAX")))
    assert seen and set(seen.values()) == {(None, "1")}
    assert "MALLOC_ARENA_MAX" not in os.environ       # this process's environment is kept
    from infdepth.validation.scheduler import worker_malloc_export
    name, value = worker_malloc_export().removeprefix("export ").split("=", 1)
    monkeypatch.setenv(name, value)
    dask.config.refresh()
    try:
        env = dask.config.get("distributed.nanny.pre-spawn-environ")
        assert env.get("MALLOC_TRIM_THRESHOLD_", "unset") is None
        assert str(env.get("MALLOC_ARENA_MAX")) == "1"
    finally:
        monkeypatch.delenv(name)
        dask.config.refresh()
