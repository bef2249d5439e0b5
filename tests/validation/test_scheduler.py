"""Where points are computed (validation/scheduler.py): the options, the SLURM job script built
through dask-jobqueue (no SLURM needed), and no worker outliving a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from infdepth.cli import main
from infdepth.validation import scheduler
from infdepth.validation.scheduler import (SchedulerSpec, SlurmSpec, worker_malloc_export,
                                          slurm_cluster, worker_env)


#: a cluster that cannot start or a lost task must fail the test, not hang the suite
pytestmark = pytest.mark.timeout(180)


def test_the_default_is_serial_with_one_worker_and_local_with_more(monkeypatch):
    monkeypatch.setattr(scheduler, "local_cores", lambda: 4)
    assert SchedulerSpec.from_options().kind == "serial"
    assert SchedulerSpec.from_options(3) == SchedulerSpec("local", 3)
    assert SchedulerSpec.from_options(3, "serial").kind == "serial"
    addr = SchedulerSpec.from_options(1, "tcp://10.0.0.5:8786")
    assert (addr.kind, addr.address) == ("address", "tcp://10.0.0.5:8786")
    assert SchedulerSpec.from_options(2, None, SlurmSpec()).kind == "slurm"


def test_a_local_cluster_has_at_most_one_worker_per_core(monkeypatch, capsys):
    """(--workers 100000 started a LocalCluster trying to spawn 100000 processes.)"""
    monkeypatch.setattr(scheduler, "local_cores", lambda: 2)
    assert SchedulerSpec.from_options(2) == SchedulerSpec("local", 2)
    for kwargs in (dict(workers=3), dict(workers=100000, scheduler="local")):
        with pytest.raises(ValueError, match=r"--workers \d+ is more than the 2 core\(s\) here"
                                             r".*allowed: 1 to 2"):
            SchedulerSpec.from_options(**kwargs)
    # an existing cluster or SLURM jobs bring their own workers
    assert SchedulerSpec.from_options(64, "tcp://10.0.0.5:8786").kind == "address"
    assert SchedulerSpec.from_options(64, None, SlurmSpec()).kind == "slurm"
    assert main(["validate", "--suite", "smoke", "--claims", "init_width", "--workers",
                 "100000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--workers 100000 is more than the" in err


def test_local_cores_is_this_process_s_cpus():
    assert 1 <= scheduler.local_cores() <= (os.cpu_count() or 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(workers=0), "--workers must be a positive integer, got 0"),
    (dict(scheduler="dask"), "--scheduler must be serial, local or a scheduler address"),
    (dict(scheduler="tcp://"), "--scheduler must be serial, local or a scheduler address"),
    (dict(scheduler="local", slurm=SlurmSpec()), "--scheduler local conflicts with --slurm"),
])
def test_bad_scheduler_options_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SchedulerSpec.from_options(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(cores=0), "--slurm-cores must be a positive integer, got 0"),
    (dict(jobs=-1), "--slurm-jobs must be a positive integer, got -1"),
    (dict(walltime="2h"), "--slurm-walltime must be HH:MM:SS, got '2h'"),
    (dict(memory="lots"), "--slurm-memory must be a size such as 16GB, got 'lots'"),
])
def test_bad_slurm_options_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SlurmSpec(**kwargs)


def test_the_slurm_job_script_asks_for_the_requested_resources():
    spec = SlurmSpec(cores=8, memory="32GB", walltime="04:30:00", queue="long",
                     account="proj42", extra=("--gres=gpu:1",))
    with slurm_cluster(spec) as cluster:
        script = cluster.job_script()
    lines = script.splitlines()
    for directive in ("#SBATCH -p long", "#SBATCH -A proj42", "#SBATCH --cpus-per-task=8",
                      "#SBATCH -t 04:30:00", "#SBATCH --gres=gpu:1"):
        assert directive in lines, (directive, script)
    assert any(line.startswith("#SBATCH --mem=") and line.endswith("G") for line in lines)
    worker = next(line for line in lines if "distributed.cli.dask_worker" in line)
    assert "--nworkers 8" in worker and "--nthreads 1" in worker   # single-threaded workers
    assert "export INFDEPTH_DRAW_CACHE_MB=512" in lines            # 4096 MB split 8 ways
    # glibc's default trim threshold in the workers (Dask's nanny would set 64 KiB)
    assert worker_malloc_export() in lines


def test_the_cli_prints_the_job_script(capsys):
    assert main(["validate", "--slurm-job-script", "--slurm-cores", "2", "--slurm-walltime",
                 "00:30:00", "--slurm-queue", "debug"]) == 0
    out = capsys.readouterr().out
    assert "#SBATCH -p debug" in out and "#SBATCH -t 00:30:00" in out and "--nworkers 2" in out


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers must be a positive integer, got 0"),
    (["--scheduler", "nowhere"], "--scheduler must be serial, local or a scheduler address"),
    (["--slurm", "--slurm-walltime", "forever"], "--slurm-walltime must be HH:MM:SS"),
])
def test_bad_scheduler_options_are_one_line_errors(argv, message, capsys, tmp_path):
    assert main(["validate", "--suite", "smoke", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_local_workers_get_a_share_of_the_draw_cache(monkeypatch):
    monkeypatch.delenv("INFDEPTH_DRAW_CACHE_MB", raising=False)
    assert worker_env(2) == {"INFDEPTH_DRAW_CACHE_MB": "2048"}
    monkeypatch.setenv("INFDEPTH_DRAW_CACHE_MB", "100")
    assert worker_env(4) == {"INFDEPTH_DRAW_CACHE_MB": "100"}


def _descendants(pid: int) -> set[int]:
    rows = [tuple(map(int, line.split())) for line in subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines()]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, parent in rows if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_no_worker_outlives_a_killed_run(tmp_path):
    """SIGKILL of ``infdepth validate --workers 2`` mid-run: its worker processes exit too."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "infdepth.cli", "validate", "--suite", "smoke", "--claims",
         "hw_phase", "--workers", "2", "--out", str(tmp_path / "res"), "--no-figs"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(_descendants(proc.pid)) < 2:
            time.sleep(0.3)
        time.sleep(2)                                         # workers busy with points
        workers = _descendants(proc.pid)
        assert len(workers) >= 2, "the run never started its workers"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.3)
    left = [p for p in workers if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"worker processes {left} outlived the killed run"


def test_the_memory_a_point_may_use_follows_where_it_runs(monkeypatch):
    monkeypatch.setattr(scheduler, "local_cores", lambda: 4)
    assert SchedulerSpec.from_options(1).worker_memory_bytes() is None       # this machine
    assert SchedulerSpec.from_options(4).worker_memory_bytes() is None
    slurm = SchedulerSpec.from_options(1, None, SlurmSpec(cores=4, memory="16GB"))
    assert slurm.worker_memory_bytes() == 4 * 10 ** 9
    assert SchedulerSpec.from_options(1, "tcp://h:1").worker_memory_bytes() == sys.maxsize


_AFTER_CLUSTER = """
import os, sys
def main():
    from infdepth.validation.scheduler import SchedulerSpec, open_client
    before = dict(os.environ)
    with open_client(SchedulerSpec.from_options(workers=2)) as client:
        inside = os.environ.get("OMP_NUM_THREADS")
        assert len(client.scheduler_info()["workers"]) == 2
        saturation = client.cluster.scheduler.WORKER_SATURATION
    import torch
    print(inside, os.environ == before, torch.get_num_threads(), saturation)
if __name__ == "__main__":
    main()
"""


def test_a_local_cluster_leaves_this_process_its_threads(tmp_path):
    """Dask's nannies set OMP_NUM_THREADS=1 (and the like) in the environment of the process
    that starts them; open_client restores it, so a torch imported afterwards (the points too
    large to share the machine run here after the cluster) gets the threads it would get in a
    fresh process. Its scheduler gives a worker a task only when the worker is free."""
    script = tmp_path / "after_cluster.py"
    script.write_text(_AFTER_CLUSTER)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    fresh = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                           capture_output=True, text=True, env=env, timeout=120)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=150)
    assert out.returncode == 0, out.stderr[-2000:]
    inside, restored, threads, saturation = out.stdout.split()
    assert restored == "True"
    assert int(threads) == int(fresh.stdout)
    assert float(saturation) == 1.0
