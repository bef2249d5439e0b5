"""Run claims: sweep points (cached in the results store), fit rates, form verdicts.

For each requested claim and each of its variants (THEORY.md s8, s9):

1. the experiment module lists the sweep's points (frozen configs);
2. each point is computed once and stored (``ResultsStore.get_or_compute``): a rerun reuses
   finished points and an interrupted sweep resumes;
3. the measurement is fitted on log-log axes (:func:`rate_fit.fit_rate`) and compared with the
   claimed slope (:func:`rate_fit.verdict`), next to the exponent derived by ``theory``;
4. every verdict is written to ``verdicts.json`` in the results folder (atomically, merged with
   verdicts of earlier runs of other claims).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from .claims import CLAIM_IDS, Claim, get_claim, implemented_claims
from .experiments import SUITE_NAMES, Overrides, load
from .rate_fit import band_verdict, fit_rate, verdict
from .results_store import ResultsStore

VERDICTS_FILE = "verdicts.json"


@dataclass
class VerdictRecord:
    """One row of the verdict table: claimed vs derived vs measured (THEORY.md s8)."""

    id: str
    variant: str
    source: str
    statement: str
    claimed: float | None
    claimed_text: str
    derived: float | None
    derived_text: str
    measured: float | None
    ci_low: float | None
    ci_high: float | None
    status: str
    tolerance: float
    suite: str
    size_label: str = ""
    error_label: str = ""
    sizes: list[float] = field(default_factory=list)
    errors: list[float | None] = field(default_factory=list)
    stderr: list[float | None] = field(default_factory=list)
    used: list[bool] = field(default_factory=list)
    pairwise: list[float | None] = field(default_factory=list)
    intercept: float | None = None
    method: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: per-cell rows for claims whose measurement is a map, not one curve (``hw_phase``)
    table: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The public JSON row of ``infdepth validate --json``."""
        return {k: getattr(self, k) for k in
                ("id", "variant", "claimed", "derived", "measured", "ci_low", "ci_high",
                 "status")}


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def check_request(claims: Iterable[str] | None, suite: str) -> tuple[str, ...]:
    """Validate claim ids and suite name; return the claim ids to run (default: implemented)."""
    if suite not in SUITE_NAMES:
        raise ValueError(f"unknown suite {suite!r}; allowed: {', '.join(SUITE_NAMES)}")
    ids = tuple(claims) if claims else implemented_claims()
    for cid in ids:
        get_claim(cid)
    return ids


def _compute_point(module_name: str, point: Any):
    import torch  # each worker process keeps to one thread per process
    torch.set_num_threads(1)
    return load(module_name).compute(point)


def run_claim(claim: Claim, suite: str, store: ResultsStore, *, device: str = "cpu",
              workers: int = 1, overrides: Overrides = Overrides(), progress: Callable[[str, int, int], None] | None = None
              ) -> list[VerdictRecord]:
    """Run every variant of one implemented claim and return its verdict records."""
    mod = load(claim.experiment)
    records = []
    for variant in mod.variants(suite, overrides):
        t0 = time.perf_counter()
        pts = mod.points(variant, suite, overrides, device=device)
        label = f"{claim.id} [{variant}]"
        frames: list[Any] = [store.get(p) for p in pts]
        todo = [i for i, f in enumerate(frames) if f is None]
        done = len(pts) - len(todo)
        if progress:
            progress(label, done, len(pts))
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futs = {i: pool.submit(_compute_point, claim.experiment, pts[i]) for i in todo}
                for i in todo:
                    store.put(pts[i], futs[i].result(), meta={"claim": claim.id,
                                                              "variant": variant})
                    frames[i] = store.get(pts[i])
                    done += 1
                    if progress:
                        progress(label, done, len(pts))
        else:
            for i in todo:
                frames[i] = store.get_or_compute(
                    pts[i], lambda p=pts[i]: mod.compute(p),
                    meta={"claim": claim.id, "variant": variant})
                done += 1
                if progress:
                    progress(label, done, len(pts))
        m = mod.measurement(variant, pts, frames)
        # an experiment may supply its own fit (same contract: a RateFit), e.g. to add notes
        fit = (mod.fit(variant, pts, frames) if hasattr(mod, "fit")
               else fit_rate(m.sizes, m.samples, m.statistic, paired=m.paired))
        der = mod.derived(variant)
        claimed, claimed_text = claim.claimed, claim.claimed_text
        if hasattr(mod, "claimed"):
            cl = mod.claimed(variant)
            claimed, claimed_text = cl.slope, cl.text
            status = band_verdict(fit, *cl.band)
        else:
            status = verdict(claim.claimed, fit, claim.tolerance)
        # a fit hook may carry its own verdict and per-cell table (a regime map, not a slope)
        status = getattr(fit, "status", None) or status
        records.append(VerdictRecord(
            id=claim.id, variant=variant, source=claim.source, statement=claim.statement,
            claimed=claimed, claimed_text=claimed_text,
            derived=_num(der.exponent), derived_text=der.text,
            measured=_num(fit.slope), ci_low=_num(fit.ci_low), ci_high=_num(fit.ci_high),
            status=status, tolerance=claim.tolerance, suite=suite,
            size_label=m.size_label, error_label=m.error_label,
            sizes=[float(s) for s in fit.sizes], errors=[_num(e) for e in fit.errors],
            stderr=[_num(e) for e in fit.stderr], used=[bool(u) for u in fit.used],
            pairwise=[_num(p) for p in fit.pairwise], intercept=_num(fit.intercept),
            method=fit.method, notes=list(fit.notes), seconds=time.perf_counter() - t0,
            table=[dict(r) for r in getattr(fit, "table", ())]))
    return records


def not_implemented_record(claim: Claim, suite: str) -> VerdictRecord:
    return VerdictRecord(id=claim.id, variant="-", source=claim.source,
                         statement=claim.statement, claimed=claim.claimed,
                         claimed_text=claim.claimed_text, derived=None, derived_text="",
                         measured=None, ci_low=None, ci_high=None, status="not implemented",
                         tolerance=claim.tolerance, suite=suite,
                         notes=[f"not implemented yet (planned in {claim.planned_in})"])


def save_verdicts(store: ResultsStore, records: list[VerdictRecord]) -> None:
    """Merge ``records`` into ``verdicts.json`` (replacing rows of the same id and variant)."""
    old = store.get_json(VERDICTS_FILE) or []
    new_keys = {(r.id, r.variant) for r in records}
    rerun_ids = {k[0] for k in new_keys}
    keep = [r for r in old if r["id"] not in rerun_ids]  # a rerun replaces all its variants
    rows = keep + [r.to_dict() for r in records]
    order = {cid: i for i, cid in enumerate(CLAIM_IDS)}
    rows.sort(key=lambda r: order.get(r["id"], len(order)))
    store.put_json(VERDICTS_FILE, rows)


def load_verdicts(store: ResultsStore) -> list[VerdictRecord]:
    return [VerdictRecord(**r) for r in (store.get_json(VERDICTS_FILE) or [])]


def run(claims: Iterable[str] | None, suite: str, store: ResultsStore, *, device: str = "cpu",
        workers: int = 1, overrides: Overrides = Overrides(), progress: Callable[[str, int, int], None] | None = None
        ) -> list[VerdictRecord]:
    """Run the requested claims (default: all implemented) and save their verdicts."""
    records: list[VerdictRecord] = []
    for cid in check_request(claims, suite):
        claim = get_claim(cid)
        if not claim.implemented:
            records.append(not_implemented_record(claim, suite))
            continue
        records.extend(run_claim(claim, suite, store, device=device, workers=workers,
                                 overrides=overrides, progress=progress))
    save_verdicts(store, records)
    return records
