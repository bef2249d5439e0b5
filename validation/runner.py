"""Run claims: sweep points (cached in the results store), evaluate, write verdicts and tables.

For each requested claim (``validation/claims/<id>.py``), each named convention it runs under
(:meth:`~infdepth.validation.claims.base.Claim.convention_runs`; docs/theory.md s6 "The authors'
own setting") and each variant its suite reports (docs/theory.md s8, s9), the runner calls the
claim protocol and nothing else:

1. ``claim.points(variant, sweep, overrides, run)`` lists the sweep's frozen point configs;
2. each point is computed once by ``claim.compute`` and stored
   (:meth:`ResultsStore.get_or_compute`): a rerun reuses finished points, an interrupted sweep
   resumes; the pending points of all requested claims are computed at once, serially or on a
   Dask cluster (:mod:`~infdepth.validation.sweep`, :mod:`~infdepth.validation.scheduler`);
3. ``claim.measure`` turns the points' tables into a measurement, whose ``evaluate`` fits it and
   compares it with ``claim.claimed(variant)``; ``claim.derived(variant)`` asks the theory layer;
4. the variant's tidy tables are written (:mod:`infdepth.validation.tables`) and every verdict is
   merged into ``verdicts.json`` (atomically, under a lock).

A variant run under a convention other than ``"default"`` carries it in its verdict row
(``convention``) and in its label (``linear/L/authors``,
:func:`~infdepth.validation.claims.base.convention_label`), so its tables, figures and report
rows never mix with the default's.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from infdepth.numerics.hw_conventions import CONVENTION_NAMES, DEFAULT
from infdepth.run_fields import RunFields

from .claims import CLAIM_IDS, GPU_SUITE, RUN_SUITES, Claim, Overrides, get_claim
from .claims.base import convention_label
from .measurements import DecisionFields, Evaluation, RateMeasurement
from .results_store import ResultsStore, ResultsStoreError, config_hash
from .memory_estimate import check_points_fit, describe_sizes
from .scheduler import SchedulerSpec, open_client
from .sweep import PointTask, run_tasks
from .tables import raw_table, summary_table, table_path

VERDICTS_FILE = "verdicts.json"
ALL_POINTS = "all points"
MEASURING = "measuring"
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
    #: the named convention of the variant's points (docs/theory.md s6)
    convention: str = DEFAULT

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


def check_request(claims: Iterable[str] | None, suite: str,
                  device: str | None = None) -> tuple[str, ...]:
    """Validate claim ids and suite name (and, when given, that the ``gpu`` suite runs on
    ``cuda``); return the claim ids to run (default: all)."""
    if suite not in RUN_SUITES:
        raise ValueError(f"unknown suite {suite!r}; allowed: {', '.join(RUN_SUITES)}")
    if suite == GPU_SUITE and device is not None and device != "cuda":
        raise ValueError(f"suite 'gpu' is sized for a CUDA device, got --device {device}; "
                         "allowed: --device cuda (on a CPU use --suite full)")
    ids = tuple(claims) if claims else CLAIM_IDS
    for cid in ids:
        get_claim(cid)
    return ids


def selected_claims(ids: Sequence[str], suite: str, overrides: Overrides) -> tuple[str, ...]:
    """The claims of ``ids`` that keep at least one variant under ``overrides.variants``
    (``--variants``); ``ValueError`` naming the patterns and the labels they could match when
    no variant of any requested claim matches."""
    def labels(claim: Claim, o: Overrides) -> list[str]:
        sweep = claim.sweep(suite)
        return [v.label for c in claim.convention_runs(o) for v in claim.suite_variants(sweep, c)]

    keep = tuple(cid for cid in ids if labels(get_claim(cid), overrides))
    if not keep:
        every = [lb for cid in ids for lb in labels(get_claim(cid), replace(overrides,
                                                                             variants=None))]
        raise ValueError(f"--variants {' '.join(overrides.variants or ())} matches no variant of "
                         f"the requested claims in suite {suite!r}; allowed labels: "
                         f"{', '.join(dict.fromkeys(every))}")
    return keep


def derived_band(claim: Claim, exponent: float | None) -> tuple[float, float] | None:
    """The band around the derived exponent (the claim's tolerance); ``None`` without one."""
    if exponent is None or not math.isfinite(exponent):
        return None
    return (exponent - claim.tolerance, exponent + claim.tolerance)


def _record(claim: Claim, variant, suite: str, ev: Evaluation, seconds: float,
            run: RunFields = RunFields(), convention: str = DEFAULT) -> VerdictRecord:
    claimed = claim.claimed(variant)
    der = claim.derived(variant)
    notes = list(ev.notes)
    if variant.label in claim.after_data:
        notes.append(f"exploratory, added after data were seen: {claim.after_data[variant.label]}")
    return VerdictRecord(
        id=claim.id, variant=convention_label(variant.label, convention), source=claim.source,
        statement=claim.statement, convention=convention,
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


@dataclass
class _VariantPlan:
    claim: Claim
    variant: Any
    points: list[Any]
    keys: list[str]
    convention: str = DEFAULT

    @property
    def label(self) -> str:
        return convention_label(self.variant.label, self.convention)


def _plan(claim: Claim, suite: str, overrides: Overrides, run: RunFields) -> list[_VariantPlan]:
    return [_VariantPlan(claim, variant, pts, [config_hash(p) for p in pts], o.convention)
            for o, variant, pts in claim.suite_points(suite, overrides, run)]


def run_claims(claims: Sequence[Claim], suite: str, store: ResultsStore, *,
               run: RunFields = RunFields(), workers: int = 1,
               scheduler: SchedulerSpec | None = None, overrides: Overrides = Overrides(),
               progress: Progress | None = None) -> list[VerdictRecord]:
    """Run every variant of ``claims``: compute all their pending points at once (serially,
    or on the Dask cluster of ``scheduler``; default: serial for one worker, a local cluster
    of ``workers`` processes otherwise), then measure each variant, write its tables and
    return its verdict records.

    ``progress(label, done, total)`` reports points per claim (label = claim id), over all
    claims (label ``all points``) and the variants measured (label ``measuring``).
    """
    spec = scheduler or SchedulerSpec.from_options(workers)
    plans = [vp for claim in claims for vp in _plan(claim, suite, overrides, run)]
    # every distinct point once: its first (claim, variant) owns it
    owner: dict[str, tuple[Claim, Any]] = {}
    for vp in plans:
        for key, pt in zip(vp.keys, vp.points):
            owner.setdefault(key, (vp.claim, pt))
    claim_keys: dict[str, set[str]] = {}
    for vp in plans:
        claim_keys.setdefault(vp.claim.id, set()).update(vp.keys)
    stored: dict[str, Any] = {}          # finished points' tables, read once for measuring
    pending = []
    for key, (c, pt) in owner.items():
        df = store.get_or_repair(pt)
        if df is None:
            pending.append(PointTask(c.id, key, pt, c.affinity(pt)))
        else:
            stored[key] = df
    by_claim: dict[str, list[Any]] = {}
    for t in pending:
        by_claim.setdefault(t.claim, []).append(t.point)
    for c in claims:  # refuse what cannot fit before any work (this machine or a SLURM job)
        if c.id in by_claim:
            check_points_fit(c, by_claim[c.id], spec.worker_memory_bytes())
    todo = {t.key for t in pending}
    done = {cid: len(keys - todo) for cid, keys in claim_keys.items()}
    totals = {cid: len(keys) for cid, keys in claim_keys.items()}
    n_done, n_all = sum(1 for k in owner if k not in todo), len(owner)

    def report(cid: str | None) -> None:
        if progress is None:
            return
        if cid is not None:
            progress(cid, done[cid], totals[cid])
        progress(ALL_POINTS, n_done, n_all)

    for cid in claim_keys:
        report(cid)
    seconds: dict[str, float] = {}

    measured: dict[int, Any] = {}     # plan index -> Dask future of its measurement
    client: Any = None                # the cluster's client while one is open

    def on_table(task: PointTask, df: Any) -> None:
        stored[task.key] = df

    def on_done(task: PointTask, secs: float) -> None:
        nonlocal n_done
        seconds[task.key] = secs
        n_done += 1
        for cid, keys in claim_keys.items():
            if task.key in keys:
                done[cid] += 1
                report(cid)
                if client is not None and done[cid] == totals[cid]:
                    measure_finished()

    def measure_finished() -> None:
        """Send every variant whose points are all finished to be measured on the cluster,
        beside the points still running (ahead of the points still queued: a long
        measurement does not wait for the end)."""
        for i, vp in enumerate(plans):
            if i not in measured and _in_catalog(vp.claim) and all(k in stored for k in vp.keys):
                tables = client.scatter([stored[k] for k in vp.keys], hash=False)
                measured[i] = client.submit(_measure_on_worker, vp.claim.id, vp.variant,
                                            vp.points, tables, priority=1,  # before points
                                            key=f"measure-{vp.claim.id}-{i}", pure=False)

    results: dict[int, Any] = {}
    if pending:
        shared, alone = _split_by_memory(pending, spec, lambda t: owner[t.key][0])
        compute = lambda t: owner[t.key][0].compute(t.point)      # noqa: E731
        with open_client(spec) as client:
            if client is not None:
                measure_finished()
            run_tasks(shared, store, client, on_done=on_done, on_table=on_table,
                      compute=compute)
            for i, fut in measured.items():
                try:
                    results[i] = fut.result()
                except Exception:   # lost with its worker: measured here below (a genuine
                    pass            # error in the measurement is raised there again)
        client = None
        if alone:   # points too large to share the machine: one at a time, in this process
            run_tasks(alone, store, None, on_done=on_done, on_table=on_table, compute=compute)
    records = []
    charged: set[str] = set()
    for i, vp in enumerate(plans):       # every point is in ``stored`` now
        claim, variant, pts = vp.claim, vp.variant, vp.points
        frames = [stored[k] for k in vp.keys]
        if i in results:
            ev, sizes, measure_s = results[i]
        else:
            ev, sizes, measure_s = measure_variant(claim, variant, pts, frames)
        store.put_table(table_path(claim.id, vp.label),
                        raw_table(vp.label, claim.role(variant), pts, frames, sizes))
        store.put_table(table_path(claim.id, vp.label, summary=True), summary_table(ev))
        own = set(vp.keys) - charged
        charged |= own
        secs = measure_s + sum(seconds.get(k, 0.0) for k in own)
        records.append(_record(claim, variant, suite, ev, secs, run, vp.convention))
        if progress:
            progress(MEASURING, i + 1, len(plans))
    return records


def _split_by_memory(pending: Sequence[PointTask], spec: SchedulerSpec,
                     claim_of: Callable[[PointTask], Claim]
                     ) -> tuple[list[PointTask], list[PointTask]]:
    """``(shared, alone)``: on a local cluster of N workers, the points whose memory estimate
    exceeds 1/N of this machine's memory less the workers' draw caches (each may hold its
    budget of earlier points' draws, which a point's estimate does not count) are computed
    after the cluster has finished and closed, one at a time in this process (the serial
    path's numbers), so that two large points never run at once (two workers each taking a
    large point of the standard suite ran this 24 GiB machine out of memory). The rest of a
    large point's affinity group stays on the cluster (the large point recomputes what it
    shares with them here; the group's other points keep sharing it there). Elsewhere every
    point is shared."""
    if spec.kind != "local" or spec.workers < 2:
        return list(pending), []
    from .memory_estimate import memory_limit_bytes
    from .scheduler import worker_cache_bytes
    caches = spec.workers * worker_cache_bytes(spec.workers)
    share = (memory_limit_bytes() - caches) // spec.workers
    big = {t.key for t in pending if claim_of(t).memory_bytes(t.point) > share}
    return [t for t in pending if t.key not in big], [t for t in pending if t.key in big]


def measure_variant(claim: Claim, variant: Any, points: Sequence[Any], frames: Sequence[Any]
                    ) -> tuple[Evaluation, Any, float]:
    """Measure one variant from its points' tables and evaluate it against the claimed and the
    derived exponent: ``(evaluation, sizes, seconds)``. NumPy's products run on one BLAS
    thread, so a verdict does not depend on the threads of the process that measures it (the
    serial run and a one-threaded cluster worker give the same bits; the tall products of the
    bootstrap are also faster on one thread). Freed memory is kept for reuse meanwhile
    (:func:`infdepth.malloc_reuse.reuse_freed_memory`)."""
    from threadpoolctl import threadpool_limits

    from infdepth.malloc_reuse import reuse_freed_memory
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"), reuse_freed_memory():
        m = claim.measure(variant, points, frames)
        ev = m.evaluate(claim.claimed(variant),
                        derived_band(claim, claim.derived(variant).exponent))
    sizes = m.sizes if isinstance(m, RateMeasurement) else None
    return ev, sizes, time.perf_counter() - t0


def _measure_on_worker(claim_id: str, variant: Any, points: Sequence[Any],
                       frames: Sequence[Any]) -> tuple[Evaluation, Any, float]:
    """:func:`measure_variant` on a Dask worker (the claim looked up by id)."""
    return measure_variant(get_claim(claim_id), variant, points, frames)


def _in_catalog(claim: Claim) -> bool:
    """Whether a worker can look ``claim`` up by id (a claim built in a test cannot)."""
    try:
        return type(get_claim(claim.id)) is type(claim)
    except (KeyError, ValueError):
        return False


def run_claim(claim: Claim, suite: str, store: ResultsStore, **kwargs: Any
              ) -> list[VerdictRecord]:
    """:func:`run_claims` of one claim."""
    return run_claims([claim], suite, store, **kwargs)


def save_verdicts(store: ResultsStore, records: list[VerdictRecord], *,
                  selected: bool = False) -> None:
    """Merge ``records`` into ``verdicts.json`` (a rerun of a claim under a convention replaces
    all its rows of that convention; rows without one are ``"default"``'s), read-merge-write
    under the file's lock, so concurrent runs into one folder lose no rows; a damaged file is
    kept aside as ``verdicts.json.corrupt`` and the new rows written. ``selected``: the run
    covered only some variants (``--variants``), so it replaces just the rows of those
    variants and keeps the claim's others."""
    order = {cid: i for i, cid in enumerate(CLAIM_IDS)}
    conv_order = {c: i for i, c in enumerate(CONVENTION_NAMES)}

    def key(r: dict[str, Any]) -> tuple:
        k = (r["id"], r.get("convention", DEFAULT))
        return k + (r["variant"],) if selected else k

    new = [r.to_dict() for r in records]
    rerun = {key(d) for d in new}

    def merge(old: Any) -> list[dict[str, Any]]:
        if selected:        # each rerun row takes its old row's place, once
            fresh = {key(d): d for d in new}
            rows = []
            for r in old or []:
                if key(r) not in rerun:
                    rows.append(r)
                elif key(r) in fresh:
                    rows.append(fresh.pop(key(r)))
            rows += list(fresh.values())
        else:
            rows = [r for r in old or [] if key(r) not in rerun] + new
        rows.sort(key=lambda r: (order.get(r["id"], len(order)),
                                 conv_order.get(r.get("convention", DEFAULT), len(conv_order))))
        return rows
    store.update_json(VERDICTS_FILE, merge, valid=verdict_rows_valid)


#: the fields every stored verdict row has (what report and figures read first)
_ROW_KEYS = ("id", "variant", "status")


def verdict_rows_valid(rows: Any) -> bool:
    """Whether ``rows`` (parsed ``verdicts.json``) is a list of verdict rows."""
    return isinstance(rows, list) and all(
        isinstance(r, dict) and all(isinstance(r.get(k), str) for k in _ROW_KEYS) for r in rows)


def stored_verdict_rows(store: ResultsStore) -> list[dict[str, Any]]:
    """The rows of ``verdicts.json`` (``[]`` when there is none); a damaged or malformed file
    raises :class:`ResultsStoreError` in one line."""
    rows = store.get_json(VERDICTS_FILE)
    if rows is None:
        return []
    if not verdict_rows_valid(rows):
        raise ResultsStoreError(f"results file '{store.root / VERDICTS_FILE}' is malformed "
                                "(expected a list of verdict rows); rerun 'infdepth validate' "
                                "to rewrite it")
    return rows


def load_verdicts(store: ResultsStore) -> list[VerdictRecord]:
    return [VerdictRecord(**r) for r in stored_verdict_rows(store)]


def run(claims: Iterable[str] | None, suite: str, store: ResultsStore, *,
        run: RunFields = RunFields(), workers: int = 1, scheduler: SchedulerSpec | None = None,
        overrides: Overrides = Overrides(), progress: Progress | None = None
        ) -> list[VerdictRecord]:
    """Run the requested claims (default: all), save their verdicts, refresh the index."""
    ids = check_request(claims, suite, run.device)
    records = run_claims([get_claim(cid) for cid in ids], suite, store, run=run,
                         workers=workers, scheduler=scheduler, overrides=overrides,
                         progress=progress)
    save_verdicts(store, records, selected=overrides.variants is not None)
    store.write_index()
    return records


def plan_table(claims: Iterable[str], suite: str, store: ResultsStore | None = None, *,
               overrides: Overrides = Overrides(), run: RunFields = RunFields()):
    """What :func:`run` would compute, without computing anything (``infdepth validate
    --dry-run``): one row per claim with ``claim``, ``sweep`` (the sweep the suite runs; for
    ``gpu``, ``full`` or ``standard``), ``variants``, ``points`` (distinct points),
    ``stored`` (their files already in ``store``, not yet checked), ``largest`` (the sizes of
    the point with the largest memory estimate) and ``largest_gib`` (that estimate, GiB,
    :meth:`Claim.memory_bytes`). A point two claims share counts in both rows;
    ``df.attrs["distinct_points"]`` counts it once."""
    import pandas as pd

    from .claims.base import gpu_sweep_name
    rows = []
    distinct: set[str] = set()
    stored = store.stored_keys() if store is not None else set()
    for cid in claims:
        claim = get_claim(cid)
        plans = _plan(claim, suite, overrides, run)
        points = {k: p for vp in plans for k, p in zip(vp.keys, vp.points)}
        distinct.update(points)
        need = {k: claim.memory_bytes(p) for k, p in points.items()}
        top = max(need, key=need.get) if need else None
        rows.append({"claim": cid,
                     "sweep": gpu_sweep_name(claim) if suite == GPU_SUITE else suite,
                     "variants": len(plans), "points": len(points),
                     "stored": len(points.keys() & stored),
                     "largest": describe_sizes(points[top]) if top else "",
                     "largest_gib": need[top] / 2 ** 30 if top else 0.0})
    df = pd.DataFrame(rows, columns=["claim", "sweep", "variants", "points", "stored",
                                     "largest", "largest_gib"])
    df.attrs["distinct_points"] = len(distinct)
    return df
