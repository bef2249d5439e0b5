"""The runner (validation/runner.py) calls the claim protocol and nothing else: points -> stored
tables (computed once, reused on a rerun) -> measure -> evaluate against claimed -> verdict
records, tidy tables and ``verdicts.json``. End to end on a tiny fake claim defined here, whose
points are exact power laws of known slope."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples
from infdepth.run_fields import RunFields, hashed_when_set
from infdepth.validation.claims import (Claim, Claimed, Derived, FigureSpec, Overrides,
                                        Variant)
from infdepth.validation.claims.base import size_sweep
from infdepth.validation.measurements import MapCell, MapSummary, RateMeasurement, RegimeMap
from infdepth.validation.results_store import ResultsStore
from infdepth.validation.runner import (VERDICTS_FILE, VerdictRecord, check_request,
                                        load_verdicts, run, run_claim, save_verdicts)
from infdepth.validation.tables import table_path


@dataclass(frozen=True)
class FakeSweep:
    depths: tuple[int, ...]
    seeds: int


@dataclass(frozen=True)
class SlopeVariant(Variant):
    """``slope``: the power law the points follow; ``reading="map"``: a one-cell regime map."""

    slope: float
    reading: str = "rate"

    @property
    def label(self) -> str:
        return "map" if self.reading == "map" else f"slope={self.slope:g}"


@dataclass(frozen=True)
class FakePoint(RunFields):
    L: int
    slope: float
    n_seeds: int


class FakeClaim(Claim):
    id = "fake_claim"
    source = "NFD"
    statement = "an error of known slope"
    quantity = "synthetic error vs L"
    claimed_slope = -1.0
    claimed_text = "-1 in L"
    suites = {"smoke": FakeSweep((4, 8, 16, 32), 16), "standard": FakeSweep((4, 8, 16), 8),
              "full": FakeSweep((4, 8, 16, 32, 64), 16)}
    primary = SlopeVariant(-1.0)
    after_data = {"slope=-0.5": "a negative control added after the first run"}
    figures = (FigureSpec("rate", "fake", "fake claim"),)

    def __init__(self):
        self.computed: Counter = Counter()

    def variants(self, sweep, overrides):
        return (SlopeVariant(-1.0), SlopeVariant(-0.5), SlopeVariant(-1.0, "map"))

    def points(self, variant, sweep, overrides, run):
        return [FakePoint(L=L, slope=variant.slope, n_seeds=sweep.seeds, **run.run_fields())
                for L in size_sweep(overrides.depths, sweep.depths)]

    def compute(self, p):
        self.computed[p] += 1
        (a,) = power_law_samples([p.L], p.slope, p.n_seeds, noise=0.05,
                                 rng_seed=p.base_seed * 1000 + p.L)
        return pd.DataFrame({"seed": np.arange(p.n_seeds), "err": a})

    def measure(self, variant, points, frames):
        m = RateMeasurement([p.L for p in points], [f["err"].to_numpy() for f in frames], None,
                            "depth L", f"synthetic error (slope {variant.slope:g})",
                            column="err", notes=("a measurement note",))
        if variant.reading != "map":
            return m
        cell = MapCell({"x": 0.0}, {"err": m}, {"derived_regime": "decaying"})
        return RegimeMap([cell], 0.15, classify=lambda s: "decaying" if s["err"] == "-" else "?",
                         summarize=lambda rows: MapSummary(
                             "confirmed" if rows[0]["regime"] == "decaying" else "refuted",
                             rows[0]["err_slope"], -1.2, -0.8, ("a map note",)),
                         size_label="depth L", error_label="map")

    def derived(self, variant):
        return Derived(-1.0, "the fake claim's derivation: slope -1 in L")


@pytest.fixture
def claim():
    return FakeClaim()


@pytest.fixture
def store(tmp_path):
    return ResultsStore(tmp_path / "results")


def test_records_carry_claimed_derived_measured_and_role(claim, store):
    recs = run_claim(claim, "smoke", store)
    assert [r.variant for r in recs] == ["slope=-1", "slope=-0.5", "map"]
    one, half, m = recs
    assert (one.id, one.source, one.statement) == ("fake_claim", "NFD", claim.statement)
    assert one.role == "primary" and half.role == m.role == "exploratory"
    assert one.claimed == -1.0 and one.claimed_text == "-1 in L" and one.tolerance == 0.15
    assert one.derived == -1.0 and one.derived_text.startswith("the fake claim's derivation")
    assert one.measured == pytest.approx(-1.0, abs=0.03) and one.ci_low < -1.0 < one.ci_high
    assert one.status == "confirmed" and one.kind == "rate" and one.method == "boot_t"
    assert one.sizes == [4.0, 8.0, 16.0, 32.0] and len(one.pairwise) == 3
    assert one.seed_column == "err" and one.size_label == "depth L"
    assert "a measurement note" in one.notes and one.seconds >= 0
    # the negative control is refuted, and says it was added after data were seen
    assert half.measured == pytest.approx(-0.5, abs=0.03) and half.status == "refuted"
    assert half.notes[-1] == ("exploratory, added after data were seen: a negative control "
                              "added after the first run")
    # a regime map: its own status, value and range, one row per cell
    assert m.kind == "map" and m.status == "confirmed" and (m.ci_low, m.ci_high) == (-1.2, -0.8)
    assert m.method == "regime map" and m.notes == ["a map note"]
    assert [r["regime"] for r in m.table] == ["decaying"] and "signs" not in m.table[0]
    assert m.table[0]["derived_regime"] == "decaying" and m.table[0]["err_sign"] == "-"


def test_points_are_computed_once_and_reused(claim, store):
    run_claim(claim, "smoke", store)
    # slope=-1 and map share their points: computed once each
    assert sum(claim.computed.values()) == 8 and set(claim.computed.values()) == {1}
    assert len(store.entries()) == 8
    first = {e["file"]: e["written"] for e in store.entries()}
    again = run_claim(claim, "smoke", store)                 # a rerun computes nothing
    assert sum(claim.computed.values()) == 8
    assert {e["file"]: e["written"] for e in store.entries()} == first
    assert again[0].measured == run_claim(claim, "smoke", store)[0].measured


def test_progress_reports_every_point(claim, store):
    """Points per claim and over all claims (each distinct point once), then the variants
    measured; a rerun starts at the finished count."""
    calls = []
    run_claim(claim, "smoke", store, progress=lambda *a: calls.append(a))
    by_label: dict[str, list] = {}
    for label, done, total in calls:
        by_label.setdefault(label, []).append((done, total))
    assert list(by_label) == ["fake_claim", "all points", "measuring"]
    assert by_label["fake_claim"] == [(i, 8) for i in range(9)]   # 8 distinct points
    assert by_label["all points"] == [(i, 8) for i in range(9)]
    assert by_label["measuring"] == [(i, 3) for i in range(1, 4)]
    calls.clear()
    run_claim(claim, "smoke", store, progress=lambda *a: calls.append(a))
    assert calls[:2] == [("fake_claim", 8, 8), ("all points", 8, 8)]


def test_run_fields_and_overrides_reach_the_points(claim, store):
    recs = run_claim(claim, "smoke", store, run=RunFields(base_seed=3),
                     overrides=Overrides(depths=(2, 4, 8)))
    assert recs[0].sizes == [2.0, 4.0, 8.0]
    assert {p.base_seed for p in claim.computed} == {3}


def test_tables_written_per_variant(claim, store):
    run_claim(claim, "smoke", store)
    raw = store.get_table(table_path("fake_claim", "slope=-1"))
    assert len(raw) == 4 * 16
    assert {"seed", "err", "L", "slope", "n_seeds", "base_seed", "device", "dtype", "size",
            "point", "variant", "role"} <= set(raw.columns)
    assert set(raw["variant"]) == {"slope=-1"} and set(raw["role"]) == {"primary"}
    assert list(raw.drop_duplicates("point")["size"]) == [4.0, 8.0, 16.0, 32.0]
    summ = store.get_table(table_path("fake_claim", "slope=-1", summary=True))
    assert list(summ.columns) == ["size", "error", "stderr", "used", "pairwise"]
    assert summ["used"].all() and math.isnan(summ["pairwise"].iloc[-1])
    cells = store.get_table(table_path("fake_claim", "map", summary=True))
    assert list(cells["regime"]) == ["decaying"] and "size" not in store.get_table(
        table_path("fake_claim", "map")).columns


def test_save_and_load_verdicts_merge_by_claim(claim, store):
    recs = run_claim(claim, "smoke", store)
    other = VerdictRecord(id="init_kernel_depth", variant="relu", source="NFD", statement="s",
                          claimed=-1.0, claimed_text="-1", derived=-1.0, derived_text="d",
                          measured=-1.0, ci_low=-1.1, ci_high=-0.9, status="confirmed",
                          tolerance=0.15, suite="smoke", role="primary")
    save_verdicts(store, recs)
    save_verdicts(store, [other])
    rows = store.get_json(VERDICTS_FILE)
    # catalog order first; a claim outside the catalog after it
    assert [r["id"] for r in rows] == ["init_kernel_depth"] + ["fake_claim"] * 3
    save_verdicts(store, recs[:1])                          # a rerun replaces all its rows
    back = load_verdicts(store)
    assert [(r.id, r.variant) for r in back] == [("init_kernel_depth", "relu"),
                                                 ("fake_claim", "slope=-1")]
    # a run of selected variants (--variants) replaces only those rows
    save_verdicts(store, recs)
    changed = dataclasses.replace(recs[1], measured=-7.0)
    save_verdicts(store, [changed], selected=True)
    by = {(r.id, r.variant): r for r in load_verdicts(store)}
    assert list(by) == [("init_kernel_depth", "relu")] + [("fake_claim", r.variant)
                                                         for r in recs]
    assert by[("fake_claim", recs[1].variant)].measured == -7.0
    assert by[("fake_claim", recs[0].variant)].measured == recs[0].measured
    save_verdicts(store, recs[:1])                          # back to the state read below
    back = load_verdicts(store)
    assert back[1] == VerdictRecord(**recs[0].to_dict())
    assert back[1].summary() == {k: getattr(recs[0], k) for k in
                                 ("id", "variant", "role", "claimed", "derived", "measured",
                                  "ci_low", "ci_high", "status", "status_derived", "settled",
                                  "advice")}


def test_records_are_json_safe(claim, store):
    """Non-finite numbers become null in verdicts.json (a refused fit has no slope)."""
    recs = run_claim(claim, "smoke", store, overrides=Overrides(depths=(4, 8)))
    r = recs[0]
    d = r.to_dict()
    assert all(x is None or math.isfinite(x) for x in d["pairwise"] + d["errors"])
    save_verdicts(store, recs)
    assert store.get_json(VERDICTS_FILE)[0]["variant"] == "slope=-1"


def test_check_request_and_run_validate_names(store):
    assert check_request(None, "smoke")[0] == "init_kernel_depth"
    assert check_request(["hw_phase"], "full") == ("hw_phase",)
    with pytest.raises(ValueError, match="unknown suite 'huge'; allowed: smoke, standard, full"):
        check_request(None, "huge")
    with pytest.raises(ValueError, match="unknown claim 'nope'"):
        run(["nope"], "smoke", store)
    assert store.get_json(VERDICTS_FILE) is None              # nothing run, nothing saved


def test_run_saves_the_verdicts_of_a_real_claim(store):
    recs = run(["init_kernel_depth"], "smoke", store,
               overrides=Overrides(activations=("relu",), depths=(4, 8, 16)))
    assert [(r.id, r.variant, r.role) for r in recs] == [
        ("init_kernel_depth", "relu", "primary"),
        ("init_kernel_depth", "control/short_horizon", "control")]
    assert [r.variant for r in load_verdicts(store)] == ["relu", "control/short_horizon"]


def test_workers_compute_the_same_tables(tmp_path):
    """``workers > 1`` computes points in worker processes: same stored frames, same records."""
    from infdepth.validation.claims import get_claim
    ov = Overrides(activations=("tanh",), depths=(4, 8, 16))
    c = get_claim("init_kernel_depth")
    serial = run_claim(c, "smoke", ResultsStore(tmp_path / "a"), overrides=ov)
    par_store = ResultsStore(tmp_path / "b")
    parallel = run_claim(c, "smoke", par_store, overrides=ov, workers=2)

    def strip(r: VerdictRecord) -> dict[str, Any]:
        d = r.to_dict()
        d.pop("seconds")
        return d
    assert [strip(r) for r in parallel] == [strip(r) for r in serial]
    pd.testing.assert_frame_equal(par_store.get_table(table_path(c.id, "tanh")),
                                  ResultsStore(tmp_path / "a").get_table(table_path(c.id, "tanh")))
    assert len(par_store.entries()) == 6              # tanh and the control, 3 depths each


def test_claimed_of_a_qualitative_claim_has_no_band():
    class Qualitative(FakeClaim):
        claimed_slope = None
    c = Qualitative().claimed(SlopeVariant(-1.0))
    assert c.slope is None and all(math.isnan(x) for x in c.band)
    assert FakeClaim().claimed(SlopeVariant(-1.0)) == Claimed(-1.0, (-1.15, -0.85), "-1 in L")


def test_a_corrupt_verdicts_file_does_not_cost_the_run(claim, store):
    """A damaged verdicts.json is kept aside and this run's rows written (it used to crash
    after every point was computed, losing the run's verdicts)."""
    (store.root / VERDICTS_FILE).write_text('[{"id": "init_width", "vari')
    recs = run_claim(claim, "smoke", store)
    with pytest.warns(UserWarning, match="verdicts.json.corrupt"):
        save_verdicts(store, recs)
    assert [r.variant for r in load_verdicts(store)] == ["slope=-1", "slope=-0.5", "map"]
    assert (store.root / "verdicts.json.corrupt").read_text().startswith('[{"id"')
    (store.root / VERDICTS_FILE).write_text('{"id": "valid JSON, not a list of rows"}')
    with pytest.warns(UserWarning, match="malformed; kept as"):
        save_verdicts(store, recs[:1])
    assert [r.variant for r in load_verdicts(store)] == ["slope=-1"]


def test_concurrent_verdict_writers_lose_no_row(tmp_path):
    """Four processes each merge 10 claims' rows into one verdicts.json at once."""
    code = (
        "import sys\n"
        "from infdepth.validation.results_store import ResultsStore\n"
        "from infdepth.validation.runner import VerdictRecord, save_verdicts\n"
        "s, w = ResultsStore(sys.argv[1]), int(sys.argv[2])\n"
        "for i in range(10):\n"
        "    save_verdicts(s, [VerdictRecord(id=f'c{w}-{i}', variant='v', source='NFD',\n"
        "        statement='s', claimed=None, claimed_text='', derived=None, derived_text='',\n"
        "        measured=None, ci_low=None, ci_high=None, status='inconclusive',\n"
        "        tolerance=0.15, suite='smoke')])\n")
    import subprocess
    import sys
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(w)])
             for w in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    rows = ResultsStore(tmp_path).get_json(VERDICTS_FILE)
    assert sorted(r["id"] for r in rows) == sorted(f"c{w}-{i}" for w in range(4)
                                                   for i in range(10))


def test_two_validate_runs_into_one_folder_lose_nothing(tmp_path):
    """Two ``infdepth validate`` processes writing one results folder at once (different
    claims, and one point set shared by both): every verdict row and every point is there."""
    import subprocess
    import sys
    out = tmp_path / "res"
    common = ["--suite", "smoke", "--out", str(out), "--no-figs", "--depths", "4", "8", "16",
              "--widths", "8", "16", "32"]
    runs = [["--claims", "init_kernel_depth", "--activations", "relu"],
            ["--claims", "init_kernel_depth", "init_coupling_width", "--activations", "relu"]]
    procs = [subprocess.Popen([sys.executable, "-m", "infdepth.cli", "validate", *common, *r],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for r in runs]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()
    store = ResultsStore(out)
    rows = store.get_json(VERDICTS_FILE)
    assert {r["id"] for r in rows} == {"init_kernel_depth", "init_coupling_width"}
    from infdepth.validation.claims import get_claim
    want = set()
    for cid in ("init_kernel_depth", "init_coupling_width"):
        c = get_claim(cid)
        ov = Overrides(activations=("relu",), depths=(4, 8, 16), widths=(8, 16, 32))
        sw = c.sweep("smoke")
        for v in c.suite_variants(sw, ov):
            want |= {p for p in c.points(v, sw, ov, RunFields())}
    from infdepth.validation.results_store import config_hash
    assert {e["hash"] for e in store.entries()} == {config_hash(p) for p in want}
    assert all(store.get(p) is not None for p in want)


@pytest.mark.slow
def test_the_smoke_suite_on_two_workers_stores_the_serial_bits(tmp_path):
    """``infdepth validate --suite smoke --workers 2`` stores every point bit for bit as the
    serial run does, and the verdict table is the same (all but the timings)."""
    a, b = ResultsStore(tmp_path / "serial"), ResultsStore(tmp_path / "workers")
    serial = run(None, "smoke", a)
    parallel = run(None, "smoke", b, workers=2)
    ea, eb = {e["hash"]: e for e in a.entries()}, {e["hash"]: e for e in b.entries()}
    assert set(ea) == set(eb)
    for key, entry in ea.items():
        pd.testing.assert_frame_equal(pd.read_parquet(a.root / entry["file"]),
                                      pd.read_parquet(b.root / eb[key]["file"]),
                                      check_exact=True)

    def strip(r: VerdictRecord) -> dict[str, Any]:
        d = r.to_dict()
        d.pop("seconds")
        return d
    assert [strip(r) for r in parallel] == [strip(r) for r in serial]


def test_catalog_claims_are_measured_on_workers_and_test_claims_here():
    """A worker looks a claim up by id: a catalog claim can be measured there, a claim built in
    a test (not in the catalog) is measured in the process that holds it."""
    from infdepth.validation.claims import get_claim
    from infdepth.validation.runner import _in_catalog
    assert _in_catalog(get_claim("init_width"))
    assert not _in_catalog(FakeClaim())


# -- named conventions (docs/theory.md s6 "The authors' own setting") --------------------------

@dataclass(frozen=True)
class ConventionPoint(FakePoint):
    convention: str = hashed_when_set("default")


class ConventionClaim(FakeClaim):
    """The fake claim with points that carry a named convention (both implemented)."""

    conventions = ("default", "authors")

    def points(self, variant, sweep, overrides, run):
        return [ConventionPoint(L=p.L, slope=p.slope, n_seeds=p.n_seeds,
                                convention=overrides.convention, **run.run_fields())
                for p in super().points(variant, sweep, overrides, run)]


def test_each_convention_runs_apart_and_is_named_in_its_rows(store):
    claim = ConventionClaim()
    both = Overrides(conventions=("default", "authors"))
    recs = run_claim(claim, "smoke", store, overrides=both)
    labels = [r.variant for r in recs]
    assert labels == ["slope=-1", "slope=-0.5", "map", "slope=-1/authors",
                      "slope=-0.5/authors", "map/authors"]
    assert [r.convention for r in recs] == ["default"] * 3 + ["authors"] * 3
    assert [r.role for r in recs] == ["primary", "exploratory", "exploratory"] * 2
    assert any("added after data" in n for n in recs[4].notes)
    assert {p.convention for p in claim.computed} == {"default", "authors"}
    assert len(claim.computed) == 2 * 2 * 4 and set(claim.computed.values()) == {1}  # apart
    raw = store.get_table(table_path("fake_claim", "slope=-1/authors"))
    assert set(raw["convention"]) == {"authors"} and set(raw["variant"]) == {"slope=-1/authors"}
    save_verdicts(store, recs)
    save_verdicts(store, run_claim(claim, "smoke", store))      # a default rerun keeps authors'
    assert [r.variant for r in load_verdicts(store)] == labels


def test_a_claim_without_the_convention_runs_the_default(claim, store):
    authors = Overrides(conventions=("authors",))
    assert claim.ignores_conventions(authors) == ("authors",)
    recs = run_claim(claim, "smoke", store, overrides=authors)
    assert [r.variant for r in recs] == ["slope=-1", "slope=-0.5", "map"]
    assert {r.convention for r in recs} == {"default"}
    assert ConventionClaim().ignores_conventions(authors) == ()


def test_points_too_large_to_share_the_machine_run_alone_after_the_cluster(monkeypatch):
    """On a local cluster of N workers a point estimated above 1/N of the memory less the
    workers' draw caches is computed alone afterwards (the rest of its affinity group stays on
    the cluster); a SLURM or serial run splits nothing."""
    from infdepth.validation import memory_estimate
    from infdepth.validation.runner import _split_by_memory
    from infdepth.validation.scheduler import SchedulerSpec
    from infdepth.validation.sweep import PointTask

    class Sized:
        def memory_bytes(self, p):
            return p
    GB = 2 ** 30
    monkeypatch.setattr(memory_estimate, "memory_limit_bytes", lambda: 20 * GB)
    monkeypatch.setenv("INFDEPTH_DRAW_CACHE_MB", "1024")    # share: (20 - 2 x 1) / 2 = 9 GB
    tasks = [PointTask("a", "k1", 2 * GB), PointTask("a", "k2", 12 * GB),
             PointTask("b", "k3", 1 * GB, group="g"), PointTask("b", "k4", 11 * GB, group="g"),
             PointTask("b", "k5", 1 * GB, group="h"), PointTask("a", "k6", 9 * GB),
             PointTask("a", "k7", 9 * GB + 1)]
    shared, alone = _split_by_memory(tasks, SchedulerSpec.from_options(workers=2),
                                     lambda t: Sized())
    assert [t.key for t in alone] == ["k2", "k4", "k7"]
    assert [t.key for t in shared] == ["k1", "k3", "k5", "k6"]
    shared, alone = _split_by_memory(tasks, SchedulerSpec.from_options(workers=1),
                                     lambda t: Sized())
    assert alone == [] and shared == tasks


def test_plan_counts_points_without_computing_them(tmp_path):
    """plan_table (validate --dry-run): per claim the sweep, the distinct points (against the
    runner's own plan), how many are stored, the largest point's estimate; nothing is
    computed or written."""
    from infdepth.validation.claims import get_claim
    from infdepth.validation.memory_estimate import claim_points
    from infdepth.validation.runner import plan_table
    ids = ["init_kernel_depth", "twolayer_collapse"]
    df = plan_table(ids, "smoke").set_index("claim")
    for cid in ids:
        pts = claim_points(get_claim(cid), "smoke", Overrides(), RunFields())
        assert df.loc[cid, "points"] == len(pts) and df.loc[cid, "stored"] == 0
        assert df.loc[cid, "largest_gib"] * 2 ** 30 == pytest.approx(
            max(get_claim(cid).memory_bytes(p) for p in pts))
    assert df.attrs["distinct_points"] == sum(df.points)
    gpu = plan_table(["train_coupling_depth", "hw_lazy"], "gpu",
                     run=RunFields(device="cuda")).set_index("claim")
    assert gpu.sweep.to_dict() == {"train_coupling_depth": "standard", "hw_lazy": "full"}
    store = ResultsStore(tmp_path / "r")
    run(["init_kernel_depth"], "smoke", store)
    after = plan_table(ids, "smoke", ResultsStore.reader(store.root)).set_index("claim")
    assert after.loc["init_kernel_depth", "stored"] == df.loc["init_kernel_depth", "points"]
    assert after.loc["twolayer_collapse", "stored"] == 0
