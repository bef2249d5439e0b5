"""Run claims: sweep points (cached in the results store), evaluate, write verdicts and tables.

For each requested claim (``validation/claims/<id>.py``) and each variant its suite reports
(docs/theory.md s8, s9), the runner calls the claim protocol and nothing else:

1. ``claim.points(variant, sweep, overrides, run)`` lists the sweep's frozen point configs;
2. each point is computed once by ``claim.compute`` and stored
   (:meth:`ResultsStore.get_or_compute`): a rerun reuses finished points, an interrupted sweep
   resumes;
3. ``claim.measure`` turns the points' tables into a measurement, whose ``evaluate`` fits it and
   compares it with ``claim.claimed(variant)``; ``claim.derived(variant)`` asks the theory layer;
4. the variant's tidy tables are written (:mod:`infdepth.validation.tables`) and every verdict is
   merged into ``verdicts.json`` (atomically).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from infdepth.run_fields import RunFields

from .claims import CLAIM_IDS, SUITE_NAMES, Claim, Overrides, get_claim
from .measurements import DecisionFields, Evaluation, RateMeasurement
from .results_store import ResultsStore
from .tables import raw_table, summary_table, table_path

VERDICTS_FILE = "verdicts.json"
Progress = Callable[[str, int, int], None]


@dataclass
class VerdictRecord(DecisionFields):
    """One row of the verdict table: claimed vs derived vs measured (docs/theory.md s8)."""

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
    band: list[float | None] = field(default_factory=list)
    role: str = "exploratory"
    kind: str = "rate"
    seed_column: str | None = None
    interval: str = ""
    seeds: int = 0
    snr: list[float | None] = field(default_factory=list)
    reference_error: list[float | None] = field(default_factory=list)
    tail_slope: float | None = None
    tail_ci: list[float | None] = field(default_factory=list)
    half_slope: float | None = None
    device: str = "cpu"
    dtype: str = "float64"
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
    #: per-cell rows of a regime map
    table: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The public JSON row of ``infdepth validate --json``."""
        return {k: getattr(self, k) for k in
                ("id", "variant", "role", "claimed", "derived", "measured", "ci_low", "ci_high",
                 "status", "status_derived", "settled", "advice")}


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _band_end(x: float) -> float | None:
    """A band end as JSON; ``None`` means unbounded."""
    x = float(x)
    return x if math.isfinite(x) else None


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return _num(obj)
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def check_request(claims: Iterable[str] | None, suite: str) -> tuple[str, ...]:
    """Validate claim ids and suite name; return the claim ids to run (default: all)."""
    if suite not in SUITE_NAMES:
        raise ValueError(f"unknown suite {suite!r}; allowed: {', '.join(SUITE_NAMES)}")
    ids = tuple(claims) if claims else CLAIM_IDS
    for cid in ids:
        get_claim(cid)
    return ids


def _compute_point(claim_id: str, point: Any):
    import torch  # each worker process keeps to one thread
    torch.set_num_threads(1)
    return get_claim(claim_id).compute(point)


def derived_band(claim: Claim, exponent: float | None) -> tuple[float, float] | None:
    """The band around the derived exponent (the claim's tolerance); ``None`` without one."""
    if exponent is None or not math.isfinite(exponent):
        return None
    return (exponent - claim.tolerance, exponent + claim.tolerance)


def _record(claim: Claim, variant, suite: str, ev: Evaluation, seconds: float,
            run: RunFields = RunFields()) -> VerdictRecord:
    claimed = claim.claimed(variant)
    der = claim.derived(variant)
    notes = list(ev.notes)
    if variant.label in claim.after_data:
        notes.append(f"exploratory, added after data were seen: {claim.after_data[variant.label]}")
    return VerdictRecord(
        id=claim.id, variant=variant.label, source=claim.source, statement=claim.statement,
        claimed=claimed.slope, claimed_text=claimed.text, derived=_num(der.exponent),
        derived_text=der.text, measured=_num(ev.slope), ci_low=_num(ev.ci_low),
        ci_high=_num(ev.ci_high), status=ev.status, tolerance=claim.tolerance, suite=suite,
        band=[_band_end(b) for b in claimed.band],
        role=claim.role(variant), kind=ev.kind, seed_column=ev.seed_column,
        size_label=ev.size_label, error_label=ev.error_label, sizes=[float(s) for s in ev.sizes],
        errors=[_num(e) for e in ev.errors], stderr=[_num(e) for e in ev.stderr],
        used=[bool(u) for u in ev.used], pairwise=[_num(p) for p in ev.pairwise],
        intercept=_num(ev.intercept), method=ev.method, notes=notes, seconds=seconds,
        table=[_json_safe(dict(r)) for r in ev.table], status_derived=ev.status_derived,
        reason=ev.reason, reason_derived=ev.reason_derived, advice=ev.advice,
        settled=ev.settled, robust=ev.robust, interval=ev.method, seeds=int(ev.seeds),
        snr=[_num(x) for x in ev.snr], reference_error=[_num(x) for x in ev.reference_error],
        tail_slope=_num(ev.tail_slope), tail_ci=[_num(x) for x in ev.tail_ci],
        half_slope=_num(ev.half_slope), device=run.device, dtype=run.dtype)


def run_claim(claim: Claim, suite: str, store: ResultsStore, *, run: RunFields = RunFields(),
              workers: int = 1, overrides: Overrides = Overrides(),
              progress: Progress | None = None) -> list[VerdictRecord]:
    """Run every variant of one claim; write its tables; return its verdict records."""
    sweep = claim.sweep(suite)
    records = []
    for variant in claim.suite_variants(sweep, overrides):
        t0 = time.perf_counter()
        pts = claim.points(variant, sweep, overrides, run)
        label = f"{claim.id} [{variant.label}]"
        meta = {"claim": claim.id, "variant": variant.label}
        frames: list[Any] = [store.get_or_repair(p) for p in pts]
        todo = [i for i, f in enumerate(frames) if f is None]
        done = len(pts) - len(todo)
        if progress:
            progress(label, done, len(pts))
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futs = {i: pool.submit(_compute_point, claim.id, pts[i]) for i in todo}
                for i in todo:
                    store.put(pts[i], futs[i].result(), meta=meta)
                    frames[i] = store.get(pts[i])
                    done += 1
                    if progress:
                        progress(label, done, len(pts))
        else:
            for i in todo:
                frames[i] = store.get_or_compute(pts[i], lambda p=pts[i]: claim.compute(p),
                                                 meta=meta)
                done += 1
                if progress:
                    progress(label, done, len(pts))
        m = claim.measure(variant, pts, frames)
        ev = m.evaluate(claim.claimed(variant),
                        derived_band(claim, claim.derived(variant).exponent))
        sizes = m.sizes if isinstance(m, RateMeasurement) else None
        store.put_table(table_path(claim.id, variant.label),
                        raw_table(variant.label, claim.role(variant), pts, frames, sizes))
        store.put_table(table_path(claim.id, variant.label, summary=True), summary_table(ev))
        records.append(_record(claim, variant, suite, ev, time.perf_counter() - t0, run))
    return records


def save_verdicts(store: ResultsStore, records: list[VerdictRecord]) -> None:
    """Merge ``records`` into ``verdicts.json`` (a rerun of a claim replaces all its rows)."""
    old = store.get_json(VERDICTS_FILE) or []
    rerun_ids = {r.id for r in records}
    rows = [r for r in old if r["id"] not in rerun_ids] + [r.to_dict() for r in records]
    order = {cid: i for i, cid in enumerate(CLAIM_IDS)}
    rows.sort(key=lambda r: order.get(r["id"], len(order)))
    store.put_json(VERDICTS_FILE, rows)


def load_verdicts(store: ResultsStore) -> list[VerdictRecord]:
    return [VerdictRecord(**r) for r in (store.get_json(VERDICTS_FILE) or [])]


def run(claims: Iterable[str] | None, suite: str, store: ResultsStore, *,
        run: RunFields = RunFields(), workers: int = 1, overrides: Overrides = Overrides(),
        progress: Progress | None = None) -> list[VerdictRecord]:
    """Run the requested claims (default: all) and save their verdicts."""
    records: list[VerdictRecord] = []
    for cid in check_request(claims, suite):
        records.extend(run_claim(get_claim(cid), suite, store, run=run, workers=workers,
                                 overrides=overrides, progress=progress))
    save_verdicts(store, records)
    return records
