"""Memory and work estimates of experiment points, and the refusal of a sweep before any work
(validation/memory_estimate.py, numerics/footprint.py; docs/design.md "Sizes a run refuses").

Calibration: every claim's estimate :meth:`Claim.memory_bytes` of a small real point lies within
``[LOW, HIGH]`` = [0.8, 4] times the peak resident memory measured while computing it, from
scratch, in a fresh interpreter (``tests/validation/memory_cases.py``; measured 1.0-1.4 when the
constants were set). ``init_kernel_depth`` allocates kilobytes at any depth: its estimate (the
per-point overhead alone) must cover the measurement and not grow with L.
"""

import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infdepth.cli import main
from infdepth.errors import UsageError
from infdepth.numerics import footprint as fp
from infdepth.run_fields import RunFields
from infdepth.validation import memory_estimate as me
from infdepth.validation.claims import CLAIM_IDS, Overrides, get_claim
from infdepth.validation.claims.base import POINT_OVERHEAD

LOW, HIGH = 0.8, 4.0
CASES_FILE = Path(__file__).with_name("memory_cases.py")


def _cases_module():
    spec = importlib.util.spec_from_file_location("memory_cases", CASES_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CASES = _cases_module().cases()


@pytest.fixture(scope="module")
def measured():
    """``{case: peak bytes}``: the cases split between two fresh interpreters that run at once
    (each measures its own peak; together about 8 s on two cores, 14 s in one)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pytest.skip("peak memory cannot be reset here (/proc/self/clear_refs)")
    names = list(CASES)
    procs = [subprocess.Popen([sys.executable, str(CASES_FILE), *names[i::2]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    out = {}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-2000:]
        out.update({k: v[0] for k, v in json.loads(stdout.strip().splitlines()[-1]).items()})
    assert set(out) == set(names)
    return out


def test_every_claim_has_a_calibration_case():
    assert {cid for cid, _, _ in CASES.values()} == set(CLAIM_IDS)


@pytest.mark.parametrize("name", [n for n in CASES if n != "init_kernel_depth"])
def test_estimate_within_factor_of_measured_peak(name, measured):
    cid, _, point = CASES[name]
    est, peak = get_claim(cid).memory_bytes(point), measured[name]
    assert peak > 32 * 2 ** 20, f"{name}: the case is too small to measure ({peak} bytes)"
    assert LOW <= est / peak <= HIGH, (name, est / 2 ** 20, peak / 2 ** 20)


def test_kernel_recursion_estimate_covers_it_at_any_depth(measured):
    from infdepth.validation.claims.init_kernel_depth import KernelDepthPoint
    claim = get_claim("init_kernel_depth")
    assert measured["init_kernel_depth"] <= claim.memory_bytes(CASES["init_kernel_depth"][2])
    small, huge = (KernelDepthPoint(activation="relu", L=L) for L in (4, 10 ** 9))
    assert claim.memory_bytes(small) == claim.memory_bytes(huge) < POINT_OVERHEAD + 2 ** 20
    assert claim.work_steps(huge) == 10 ** 9


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_smoke_points_fit_a_small_machine(cid):
    """Every claim estimates every point of every suite; the smoke suite (CI) needs under
    2 GiB a point and stays far under the step limit."""
    claim = get_claim(cid)
    for suite in ("smoke", "standard", "full"):
        for p in me.claim_points(claim, suite, Overrides(), RunFields()):
            assert claim.memory_bytes(p) > POINT_OVERHEAD and claim.work_steps(p) >= 1
    pts = me.claim_points(claim, "smoke", Overrides(), RunFields())
    me.check_points_fit(claim, pts, limit_bytes=2 * 2 ** 30)
    assert max(claim.work_steps(p) for p in pts) < me.MAX_WORK_STEPS / 10


def test_the_runner_hook_on_a_suite():
    """What the runner calls before computing a claim (one line, see memory_estimate)."""
    claim = get_claim("init_width")
    pts = me.claim_points(claim, "smoke", Overrides(), RunFields())
    me.check_points_fit(claim, pts)                                # fits here
    with pytest.raises(UsageError, match=r"^init_width: the point n=4 L=4 n_seeds=10000 "
                                         r"needs about 0\.\d+ GiB of memory, more than the "
                                         r"0\.01 GiB limit;"):
        me.check_points_fit(claim, pts, limit_bytes=2 ** 30 // 100)


def test_refusal_names_claim_sizes_estimate_and_limit(monkeypatch):
    from infdepth.validation.claims.init_coupling_width import CouplingInitPoint
    claim = get_claim("init_coupling_width")
    big = CouplingInitPoint(act="tanh", n=16384, L=64, n_seeds=400, dtype="float32")
    need = claim.memory_bytes(big)
    assert need > 64 * 16384 ** 2 * 4                   # one seed's matrices alone: 69 GB
    monkeypatch.setenv(me.LIMIT_ENV, "64")
    with pytest.raises(UsageError) as exc:
        me.check_points_fit(claim, [big])
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("init_coupling_width: the point n=16384 L=64 n_seeds=400 dtype=float32 "
                          f"needs about {need / 2 ** 30:.3g} GiB of memory, more than the 64 GiB "
                          f"limit ({me.LIMIT_ENV})")
    monkeypatch.setenv(me.LIMIT_ENV, "1e9")
    me.check_points_fit(claim, [big])                   # the override lets it through


def test_a_cuda_point_must_fit_the_gpu(monkeypatch):
    """A point on a CUDA device is also checked against the memory free on the GPU (faked
    here: no GPU is needed); INFDEPTH_MEMORY_LIMIT_GB overrides both."""
    claim = get_claim("init_width")
    pts = me.claim_points(claim, "smoke", Overrides(), RunFields(device="cuda"))
    need = max(claim.memory_bytes(p) for p in pts)
    monkeypatch.delenv(me.LIMIT_ENV, raising=False)
    monkeypatch.setattr(me, "gpu_free_bytes", lambda: need + 1)
    me.check_points_fit(claim, pts, limit_bytes=2 * need)
    monkeypatch.setattr(me, "gpu_free_bytes", lambda: need // 2)
    with pytest.raises(UsageError, match=r"^init_width: the point n=\d+ L=4 n_seeds=\d+ needs "
                                         r"about [\d.]+ GiB of memory, more than the [\d.]+ GiB "
                                         r"free on the GPU; free the GPU"):
        me.check_points_fit(claim, pts, limit_bytes=2 * need)
    cpu_pts = me.claim_points(claim, "smoke", Overrides(), RunFields())
    me.check_points_fit(claim, cpu_pts, limit_bytes=2 * need)      # not on the GPU: not asked
    monkeypatch.setenv(me.LIMIT_ENV, "100")
    me.check_points_fit(claim, pts)


@pytest.mark.parametrize("value", ["lots", "0", "-3", "inf", "nan"])
def test_bad_limit_variable_is_one_line(monkeypatch, value):
    monkeypatch.setenv(me.LIMIT_ENV, value)
    with pytest.raises(UsageError, match=f"^{me.LIMIT_ENV} must be a positive number of GiB, "
                                         f"got '{value}'$"):
        me.memory_limit_bytes()


def test_limit_defaults_to_available_memory(monkeypatch):
    monkeypatch.delenv(me.LIMIT_ENV, raising=False)
    avail = me.available_bytes()
    assert 2 ** 26 < avail < 2 ** 50
    assert abs(me.memory_limit_bytes() - avail) < 2 ** 30        # read twice, a moment apart
    monkeypatch.setenv(me.LIMIT_ENV, "1.5")
    assert me.memory_limit_bytes() == int(1.5 * 2 ** 30)


def test_work_limit_refuses_long_loops():
    from infdepth.validation.claims.init_kernel_depth import KernelDepthPoint
    claim = get_claim("init_kernel_depth")
    me.check_points_fit(claim, [KernelDepthPoint(activation="relu", L=10 ** 6)])
    with pytest.raises(UsageError, match=r"^init_kernel_depth: the point L=100000000 takes about "
                                         r"1e\+08 sequential steps, more than the 1e\+07 a point "
                                         r"may"):
        me.check_points_fit(claim, [KernelDepthPoint(activation="relu", L=10 ** 8)])


@pytest.mark.parametrize("argv,needle", [
    (["--claims", "init_kernel_depth", "--depths", "8", "100000000"],
     "init_kernel_depth: the point L=100000000 takes about 1e+08 sequential steps"),
    (["--depths", "8", "100000000"], "init_kernel_depth: the point L=100000000"),
    (["--widths", "8", "1000000000"],
     "init_width: the point n=1000000000 L=4 n_seeds=2000000000000 needs about"),
    (["--claims", "hw_sqrt_d", "--widths", "4", "4096"], "hw_sqrt_d: the point L=32 M=32 D=4096"),
])
def test_cli_refuses_before_any_work(argv, needle, tmp_path, capsys):
    t0 = time.perf_counter()
    code = main(["validate", *argv, "--out", str(tmp_path / "res"), "--no-figs"])
    seconds = time.perf_counter() - t0
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert err.startswith("infdepth validate: error: ")
    assert seconds < 2.0     # refused from the sizes alone (computing the point takes minutes)
    assert not any((tmp_path / "res" / "points").iterdir())


def test_footprint_sequences():
    a, b = fp.Footprint(100, 40, 3), fp.Footprint(80, 10, 5)
    assert a.then(b) == fp.Footprint(120, 50, 8)
    assert b.then(a) == fp.Footprint(110, 50, 8)
    assert a.repeat(3) == fp.Footprint(100, 40, 9) and a.repeat(0) == fp.Footprint()


def test_draw_cache_budget_bounds_the_cached_draws(monkeypatch):
    """A run's block matrices are kept in the draw cache only when all of them fit its
    budget (numerics.footprint.draws_fit_cache); the input layer and readout draws always."""
    big = dict(rows=6, batch=1, d=4)
    n, L, S = 1024, 16, 64
    mats, uv = L * S * n * n * 8, S * n * 5 * 8
    monkeypatch.setenv("INFDEPTH_DRAW_CACHE_MB", "0")
    off = fp.engine(n, L, S, 3, **big)
    assert off.kept == 0
    monkeypatch.setenv("INFDEPTH_DRAW_CACHE_MB", "1024")          # 8 GiB of blocks: not kept
    on = fp.engine(n, L, S, 3, **big)
    assert on.kept == uv and on.peak == off.peak + uv
    monkeypatch.setenv("INFDEPTH_DRAW_CACHE_MB", str(16 * 1024))  # they fit
    fit = fp.engine(n, L, S, 3, **big)
    assert fit.kept == mats + uv and fit.peak == off.peak + mats + uv


def test_mean_ode_guard_uses_the_same_arithmetic():
    from infdepth.numerics.mean_ode import MeanODEConfig, memory_bytes
    cfg = MeanODEConfig(D=5, Ls=16, P=8192, n_seeds=8, dtype="float32")
    assert memory_bytes(cfg, 10, 5) == fp.mean_ode(8, 16, 8192, 5, N=10, d_out=5, K=cfg.K,
                                                   item=4).peak


def test_estimates_scale_with_the_sizes():
    """The leading terms: matrices ``L S n^2`` (engine), particles ``M`` x depth (NFD), units
    ``S L M D`` (Model B)."""
    e1 = fp.engine(512, 8, 8, 3, rows=6).peak
    e2 = fp.engine(1024, 8, 8, 3, rows=6).peak
    assert 3.5 < e2 / e1 < 4.1
    n1 = fp.nfd_solves(4096, 3, 6, 4, 64, 1).peak
    n2 = fp.nfd_solves(8192, 3, 6, 4, 128, 1).peak
    assert 3.5 < n2 / n1 < 4.1
    h1 = fp.hw_network(8, 64, 256, 5, N=10, d_in=5, d_out=5, K=15).peak
    h2 = fp.hw_network(8, 128, 256, 5, N=10, d_in=5, d_out=5, K=15).peak
    assert 1.9 < h2 / h1 < 2.05
    assert math.isclose(fp.engine(256, 8, 8, 3, rows=6, item=4).kept,
                        fp.engine(256, 8, 8, 3, rows=6).kept)    # draws cached in float64


def test_the_estimate_covers_every_convention_a_claim_runs():
    """claim_points lists the points of each convention run (the runner's plan): under both
    conventions hw_lazy has twice the default's points, each with its convention."""
    from infdepth.run_fields import RunFields
    from infdepth.validation.claims import Overrides, get_claim
    from infdepth.validation.memory_estimate import claim_points
    claim = get_claim("hw_lazy")
    one = claim_points(claim, "smoke", Overrides(), RunFields())
    both = claim_points(claim, "smoke", Overrides(conventions=("default", "authors")),
                        RunFields())
    assert len(both) == 2 * len(one)
    assert sorted({p.convention for p in both}) == ["authors", "default"]
