"""Command line: ``infdepth derive | validate | figs | report | compare | calibrate | bench |
coordcheck | transfer`` (docs/design.md).

Bad input gives one line on stderr naming the value and what is allowed, and exit status 2.
``validate`` exits 0 whatever the verdicts are; non-zero only when it could not run.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

from infdepth.atomic_io import atomic_write_text
from infdepth.errors import InfdepthError, UsageError
from infdepth.validators import positive_int

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="infdepth", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("derive", help="regenerate theory/generated (or --check it is fresh)")
    d.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if any generated file is stale")

    v = sub.add_parser("validate", help="run claims, fit rates, print the verdict table")
    v.add_argument("--suite", default="standard", help="smoke | standard | full | gpu "
                   "(default: standard)")
    v.add_argument("--claims", nargs="+", metavar="ID", help="claim ids (default: all "
                   "implemented); see 'infdepth validate --list'")
    v.add_argument("--list", action="store_true", help="list the claims and exit")
    v.add_argument("--device", default="cpu", help="cpu | cuda (default: cpu)")
    v.add_argument("--workers", type=int, default=1, help="worker processes: 1 computes in "
                   "this process (the default), N > 1 starts a local Dask cluster of N "
                   "single-threaded workers")
    v.add_argument("--scheduler", metavar="ADDR", help="serial | local | a Dask scheduler "
                   "address such as tcp://host:8786 (an existing cluster)")
    s = v.add_argument_group("SLURM (through dask-jobqueue)")
    s.add_argument("--slurm", action="store_true", help="compute on SLURM jobs of Dask workers")
    s.add_argument("--slurm-cores", type=int, default=4, metavar="C",
                   help="workers (cores) per job (default 4)")
    s.add_argument("--slurm-memory", default="16GB", metavar="MEM",
                   help="memory per job (default 16GB)")
    s.add_argument("--slurm-walltime", default="02:00:00", metavar="HH:MM:SS",
                   help="wall time per job (default 02:00:00)")
    s.add_argument("--slurm-queue", metavar="PARTITION", help="partition (default: the site's)")
    s.add_argument("--slurm-account", metavar="ACCOUNT", help="account to charge")
    s.add_argument("--slurm-jobs", type=int, default=1, metavar="J",
                   help="jobs at once (default 1); with --slurm-adaptive the most jobs")
    s.add_argument("--slurm-adaptive", action="store_true",
                   help="scale between 0 and --slurm-jobs jobs as the pending points need")
    s.add_argument("--slurm-extra", nargs="+", default=[], metavar="DIRECTIVE",
                   help="extra #SBATCH directives, e.g. --gres=gpu:1")
    s.add_argument("--slurm-job-script", action="store_true",
                   help="print the job script the SLURM options give, and exit")
    v.add_argument("--out", default="results", help="results folder (default: ./results)")
    v.add_argument("--json", dest="json_path", metavar="PATH",
                   help="also write the verdict table as JSON to PATH")
    v.add_argument("--activations", nargs="+", metavar="ACT",
                   help="restrict to these activations (relu tanh erf linear)")
    v.add_argument("--depths", nargs="+", type=int, metavar="L",
                   help="override the depth sweep (positive integers)")
    v.add_argument("--widths", nargs="+", type=int, metavar="N",
                   help="override the width sweep (positive integers)")
    v.add_argument("--conventions", nargs="+", metavar="NAME",
                   help="run the [HW] claims under these named conventions: default, authors "
                        "(the [HW] authors' own setting, docs/theory.md s6); other claims run "
                        "under the default (default: default)")
    v.add_argument("--variants", nargs="+", metavar="PATTERN",
                   help="run only the variants whose label matches one of these shell-style "
                        "patterns, e.g. 'one_layer/*' or '*/sgd' (default: every variant)")
    v.add_argument("--no-figs", action="store_true", help="skip drawing figures")
    v.add_argument("--dry-run", action="store_true",
                   help="compute nothing: per claim, the sweep, points (and how many are "
                   "stored in --out) and the largest point's memory estimate; needs no GPU "
                   "for --device cuda")

    f = sub.add_parser("figs", help="draw figures from stored results")
    f.add_argument("--out", default="results", help="results folder (default: ./results)")

    r = sub.add_parser("report", help="write report.md and report.html from stored results")
    r.add_argument("--out", default="results", help="results folder (default: ./results)")
    r.add_argument("--docs", metavar="DIR", help="also rewrite the results block of the claim "
                   "pages in DIR (e.g. docs/claims) from these verdicts")

    m = sub.add_parser("compare", help="compare two results folders point by point and verdict "
                       "by verdict (e.g. a CUDA run against a CPU run)")
    m.add_argument("a", metavar="A", help="results folder A (the reference)")
    m.add_argument("b", metavar="B", help="results folder B")
    m.add_argument("--ignore", nargs="*", default=["device"], metavar="FIELD",
                   help="config fields left out when matching points (default: device)")
    m.add_argument("--json", dest="json_path", metavar="PATH",
                   help="also write both tables as JSON to PATH (an infinite difference as "
                   "null)")
    m.add_argument("--check-verdicts", action="store_true",
                   help="exit 1 unless every verdict row is in both folders with the same "
                   "status (the point differences are reported, not judged)")

    c = sub.add_parser("calibrate", help="coverage and verdict error rates of the fitting "
                       "pipeline on synthetic problems of known truth")
    c.add_argument("--reps", type=int, default=1000, help="replications per problem and seed "
                   "count (default 1000: coverage to about +-0.7%%)")
    c.add_argument("--seeds", nargs="+", type=int, metavar="S", help="seed counts "
                   "(default 4 8 16 32)")
    c.add_argument("--problems", nargs="+", metavar="NAME", help="problems (default: all)")
    c.add_argument("--out", default="results", help="results folder for calibration.parquet "
                   "(default: ./results)")

    from infdepth.numerics.bench_cli import add_bench_parser
    add_bench_parser(sub)
    from infdepth.coordcheck_cli import add_parser as add_coordcheck_parser
    from infdepth.transfer_cli import add_parser as add_transfer_parser
    add_coordcheck_parser(sub)
    add_transfer_parser(sub)
    return p


def _out_folder(out: str) -> Path:
    """The ``--out`` folder (an empty name is bad input)."""
    if not out.strip():
        raise UsageError("--out: empty folder name; give a results folder (default: ./results)")
    return Path(out)


def _open_store(out: str):
    folder = _out_folder(out)
    from infdepth.validation.results_store import ResultsStore, ResultsStoreError
    try:
        return ResultsStore(folder)
    except ResultsStoreError as exc:
        raise UsageError(str(exc)) from None


def _cmd_derive(args) -> int:
    from infdepth.theory.codegen import derive
    res = derive(check=args.check)
    if args.check:
        if res.stale:
            for path in res.stale:
                print(f"stale: {path}", file=sys.stderr)
            print("generated code is stale; run 'infdepth derive'", file=sys.stderr)
            return 1
        print("generated code is up to date")
        return 0
    for path in res.written:
        print(f"wrote {path}")
    if not res.written:
        print("generated code was already up to date")
    return 0


def _print_table(records) -> None:
    from rich.markup import escape
    from rich.table import Table

    from infdepth.validation.report import HEADER, flagged_controls, table_rows
    table = Table(title="infdepth verdicts")
    for h in HEADER:
        table.add_column(h)
    colors = {"confirmed": "green", "refuted": "red", "inconclusive": "yellow",
              "inconclusive (noise-limited)": "yellow", "not settled (pre-asymptotic)": "blue"}

    def paint(text: str) -> str:
        c = colors.get(text)
        return f"[{c}]{escape(text)}[/{c}]" if c else escape(text)

    rows = [r.to_dict() for r in records]
    for row in table_rows(rows):
        table.add_row(*map(escape, row[:-2]), paint(row[-2]), paint(row[-1]))
    console = _console()
    console.print(table)
    err = _console(stderr=True)
    for r in records:
        for note in ([r.reason] if r.reason else []) + ([f"to decide it: {r.advice}"]
                                                        if r.advice else []) + r.notes:
            err.print(escape(f"{r.id} [{r.variant}]: {note}"), style="dim")
    flagged = flagged_controls(rows)
    if flagged:
        console.print(f"[red]FLAGGED: {len(flagged)} negative control(s) came out confirmed: "
                      + escape(", ".join(f"{r['id']} [{r['variant']}]" for r in flagged))
                      + "[/red]")


def _cmd_validate(args) -> int:
    from infdepth.validation.claims import CLAIM_IDS, Overrides, check_overrides, get_claim
    from infdepth.validation.runner import check_request, run

    if args.list:
        for cid in CLAIM_IDS:
            c = get_claim(cid)
            print(f"{c.id:22s} [{c.source}] {c.claimed_text:38s} primary: {c.primary.label}")
        return 0
    from infdepth.device import check_device
    from infdepth.run_fields import RunFields
    try:
        ids = check_request(args.claims, args.suite, args.device)
        if not args.dry_run:
            check_device(args.device)
        overrides = check_overrides(Overrides(
            activations=tuple(args.activations) if args.activations else None,
            depths=tuple(args.depths) if args.depths else None,
            widths=tuple(args.widths) if args.widths else None,
            conventions=tuple(args.conventions) if args.conventions else None,
            variants=tuple(args.variants) if args.variants else None))
        if overrides.variants is not None:
            from infdepth.validation.runner import selected_claims
            ids = selected_claims(ids, args.suite, overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _note_ignored_conventions(ids, overrides)
    scheduler = _scheduler_spec(args)
    if args.slurm_job_script:
        from infdepth.validation.scheduler import slurm_cluster
        with slurm_cluster(scheduler.slurm) as cluster:
            print(cluster.job_script())
        return 0
    if args.dry_run:
        return _dry_run(ids, args, overrides, scheduler)
    json_path = _json_target(args.json_path) if args.json_path is not None else None
    store = _open_store(args.out)
    from infdepth.validation.memory_estimate import check_request_fits   # before any work
    check_request_fits(ids, args.suite, overrides, RunFields(device=args.device),
                       limit_bytes=scheduler.worker_memory_bytes())

    from infdepth.progress_display import progress_display
    with progress_display() as progress:
        records = run(ids, args.suite, store, run=RunFields(device=args.device),
                      scheduler=scheduler, overrides=overrides, progress=progress)
    _print_table(records)
    if not args.no_figs:
        _draw(store)
    if json_path is not None:
        try:
            atomic_write_text(json_path, json.dumps([r.summary() for r in records], indent=2)
                              + "\n")
        except OSError as exc:
            raise UsageError(f"--json: cannot write '{json_path}': {exc.strerror}") from None
    print(f"results in {store.root}")
    return 0


def _dry_run(ids, args, overrides, scheduler) -> int:
    """``validate --dry-run``: the plan of the request (:func:`plan_table`), nothing computed
    and nothing written (a results folder that does not exist is not created)."""
    from rich.table import Table

    from infdepth.run_fields import RunFields
    from infdepth.validation.memory_estimate import memory_limit_bytes
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import plan_table
    folder = _out_folder(args.out)
    store = ResultsStore.reader(folder) if folder.is_dir() else None
    df = plan_table(ids, args.suite, store, overrides=overrides,
                    run=RunFields(device=args.device))
    t = Table(title=f"infdepth validate --suite {args.suite} --device {args.device}: plan "
                    "(nothing computed)")
    for col in ("claim", "sweep", "variants", "points", "stored", "largest point",
                "its memory (GiB)"):
        t.add_column(col, justify="left" if col in ("claim", "sweep", "largest point")
                     else "right")
    for r in df.itertuples(index=False):
        t.add_row(r.claim, r.sweep, str(r.variants), str(r.points), str(r.stored), r.largest,
                  f"{r.largest_gib:.3g}")
    _console().print(t)
    limit = scheduler.worker_memory_bytes()
    limit_gib = (limit if limit is not None else memory_limit_bytes()) / 2 ** 30
    over = df[df.largest_gib > limit_gib]
    print(f"{df.attrs['distinct_points']} distinct points ({int(df.points.sum())} counted per "
          f"claim, {int(df.stored.sum())} of those stored in '{args.out}'); "
          f"largest estimate {df.largest_gib.max():.3g} GiB against {limit_gib:.3g} GiB here"
          + (f" (refused here: {', '.join(over.claim)})" if len(over) else ""))
    return 0


def _note_ignored_conventions(ids, overrides) -> None:
    """One line on stderr naming the requested claims that implement none of the requested
    conventions besides the default (they run under the default)."""
    from infdepth.validation.claims import get_claim
    ignored = {}
    for cid in ids:
        for c in get_claim(cid).ignores_conventions(overrides):
            ignored.setdefault(c, []).append(cid)
    for c, cids in ignored.items():
        print(f"note: --conventions {c} applies to the [HW] claims only; {', '.join(cids)} "
              "run under the default convention", file=sys.stderr)


def _scheduler_spec(args):
    """The :class:`SchedulerSpec` of the validate options (bad values: one line, exit 2)."""
    from infdepth.validation.scheduler import SchedulerSpec, SlurmSpec
    try:
        positive_int("--workers", args.workers)
        slurm = None
        if args.slurm or args.slurm_job_script:
            slurm = SlurmSpec(cores=args.slurm_cores, memory=args.slurm_memory,
                              walltime=args.slurm_walltime, queue=args.slurm_queue,
                              account=args.slurm_account, jobs=args.slurm_jobs,
                              adaptive=args.slurm_adaptive, extra=tuple(args.slurm_extra))
        return SchedulerSpec.from_options(args.workers, args.scheduler, slurm)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _json_target(path: str) -> Path:
    """The ``--json`` path, checked before any work: its folder exists, is a folder and is
    writable, and the path itself is not a folder."""
    p = Path(path)
    if not path.strip():
        raise UsageError("--json: empty path; give a file path such as verdicts.json")
    parent = p.parent
    if not parent.exists():
        raise UsageError(f"--json: folder '{parent}' does not exist")
    if not parent.is_dir():
        raise UsageError(f"--json: '{parent}' is a file, not a folder")
    if p.is_dir():
        raise UsageError(f"--json: '{p}' is a folder; give a file path")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--json: folder '{parent}' is not writable")
    return p


def _draw(store) -> dict:
    from infdepth.paper_figs.registry import make_figures
    from infdepth.validation.runner import stored_verdict_rows
    return make_figures(store, stored_verdict_rows(store))


def _stored_verdicts(store):
    from infdepth.validation.runner import stored_verdict_rows
    rows = stored_verdict_rows(store)
    if not rows:
        raise UsageError(f"no verdicts in '{store.root}'; run 'infdepth validate --out "
                         f"{store.root}' first")
    return rows


def _cmd_figs(args) -> int:
    store = _open_store(args.out)
    _stored_verdicts(store)
    for claim, paths in _draw(store).items():
        for p in paths:
            print(p)
    return 0


def _cmd_report(args) -> int:
    from infdepth.validation.report import write_report
    store = _open_store(args.out)
    rows = _stored_verdicts(store)
    if args.docs is not None and not Path(args.docs).is_dir():
        raise UsageError(f"--docs: folder '{args.docs}' does not exist")
    md, html_path = write_report(rows, _draw(store), store.root,
                                 calibration=store.get_table("calibration.parquet"))
    print(md)
    print(html_path)
    if args.docs is not None:
        from infdepth.validation.claim_docs import update_claim_pages
        for page in update_claim_pages(rows, Path(args.docs)):
            print(page)
    return 0


def _console(stderr: bool = False):
    """A rich console on standard output (or error), 140 columns wide when that is not a
    terminal (a log or a pipe: wide enough for the tables), whose broken pipe (output into
    ``| head``) raises ``BrokenPipeError``, handled in :func:`main`, instead of rich's own exit
    with status 1."""
    from rich.console import Console

    class _PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    console = _PipeConsole(stderr=stderr)
    return console if console.is_terminal else _PipeConsole(stderr=stderr, width=140)


def _cmd_compare(args) -> int:
    import math

    from rich.table import Table

    from infdepth.validation.compare import (agree, compare_points, compare_verdicts,
                                             open_existing)
    json_path = _json_target(args.json_path) if args.json_path is not None else None
    a, b = open_existing(args.a, "results folder A"), open_existing(args.b, "results folder B")
    pts, ver = compare_points(a, b, args.ignore), compare_verdicts(a, b)
    t = Table(title=f"points of B ({b.root}) against A ({a.root})")
    for col in ("claim", "matched", "identical", "max rel diff", "column", "non-finite in one",
                "only A", "only B"):
        t.add_column(col, justify="left" if col in ("claim", "column") else "right")
    for r in pts.itertuples(index=False):
        t.add_row(r.claim, str(r.matched), str(r.identical), f"{r.max_rel_diff:.2e}", r.column,
                  str(r.nonfinite_mismatch), str(r.only_a), str(r.only_b))
    _console().print(t)
    paired = ver[(ver.status_a != "") & (ver.status_b != "")]
    print(f"verdict rows: {len(paired)} in both, {int(paired.same.sum())} with the same status, "
          f"{int((ver.status_b == '').sum())} only in A, {int((ver.status_a == '').sum())} only "
          "in B")
    for r in paired[~paired.same].itertuples(index=False):
        print(f"  {r.claim} [{r.variant}] ({r.convention}): {r.status_a} -> {r.status_b}")
    if json_path is not None:
        records = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in row.items()} for row in pts.to_dict(orient="records")]
        text = json.dumps({"points": records, "verdicts": ver.to_dict(orient="records")},
                          indent=2, allow_nan=False) + "\n"
        try:
            atomic_write_text(json_path, text)
        except OSError as exc:
            raise UsageError(f"--json: cannot write '{json_path}': {exc.strerror}") from None
    if args.check_verdicts and not agree(ver):
        print("the verdicts differ (--check-verdicts)", file=sys.stderr)
        return 1
    return 0


#: the largest seed count ``infdepth calibrate`` takes: one replication at 10^6 seeds peaks at
#: about 4 GB and takes over 20 s (measured; 10^5 seeds: 0.6 GB, 3.8 s)
MAX_CALIBRATION_SEEDS = 10 ** 6


def _cmd_calibrate(args) -> int:
    from infdepth.validation.calibration import (MAX_FALSE_REFUTATION, PROBLEMS, SEED_COUNTS,
                                                 TARGET_COVERAGE, calibrate, calibration_table)
    from infdepth.validation.memory_estimate import MAX_WORK_STEPS
    names = {p.name: p for p in PROBLEMS}
    for name in args.problems or ():
        if name not in names:
            raise UsageError(f"unknown problem {name!r}; allowed: {', '.join(names)}")
    seeds = tuple(args.seeds or SEED_COUNTS)
    for S in seeds:
        if not 4 <= S <= MAX_CALIBRATION_SEEDS:
            raise UsageError(f"--seeds must be integers from 4 to {MAX_CALIBRATION_SEEDS}, "
                             f"got {S}")
    if args.reps < 10:
        raise UsageError(f"--reps must be an integer >= 10, got {args.reps}")
    problems = [names[n] for n in args.problems] if args.problems else list(PROBLEMS)
    total = len(problems) * len(seeds) * args.reps
    if total > MAX_WORK_STEPS:
        raise UsageError(f"--reps {args.reps}: {len(problems)} problem(s) x {len(seeds)} seed "
                         f"count(s) x {args.reps} replications = {total:.3g} fits, more than "
                         f"the {MAX_WORK_STEPS:.0e} a run may (hours of fitting); use fewer "
                         f"--reps, --seeds or --problems")
    store = _open_store(args.out)
    from infdepth.progress_display import progress_display
    with progress_display() as report:
        count = 0

        def progress(label: str, done: int, total_: int) -> None:
            nonlocal count
            count += 1
            report("calibration", count, total)

        df = calibrate(problems, seeds, args.reps, progress=progress)
    path = store.put_table("calibration.parquet", df)
    print(calibration_table(df))
    bad = df[~(df["coverage_ok"] & df["refutation_ok"])]
    lo, hi = TARGET_COVERAGE
    print(f"targets: coverage in [{lo:.2f}, {hi:.2f}], false refutation <= "
          f"{MAX_FALSE_REFUTATION:.2f}: "
          + ("all met" if bad.empty else f"{len(bad)} row(s) miss them (marked)"))
    print(path)
    return 0


def _cmd_bench(args) -> int:
    from infdepth.numerics.bench_cli import cmd_bench     # imports torch: only when asked
    return cmd_bench(args)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``infdepth <command>: error: ...``, exit 2)
    instead of a usage block."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


#: write failures reported in one line (a full disk or quota, a read-only or forbidden folder)
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"derive": _cmd_derive, "validate": _cmd_validate, "figs": _cmd_figs,
               "calibrate": _cmd_calibrate,
               "report": _cmd_report, "compare": _cmd_compare, "bench": _cmd_bench,
               "coordcheck": lambda a: a.func(a), "transfer": lambda a: a.func(a)}[args.command]
    try:
        return handler(args)
    except InfdepthError as exc:          # bad input or a damaged results folder: one line
        print(f"infdepth {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; finished points are kept and a rerun resumes", file=sys.stderr)
        return 130
    except RuntimeError as exc:     # torch.OutOfMemoryError (torch is not imported here), or
        # a CUDA library's allocation failure reported as a plain RuntimeError
        if type(exc).__name__ != "OutOfMemoryError" and "out of memory" not in str(exc):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        print(f"infdepth {args.command}: error: out of GPU memory ({first.split('. GPU')[0]}); "
              "other processes may hold the GPU's memory; finished points are kept and a rerun "
              "resumes", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:     # output piped into a reader that stopped (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"infdepth {args.command}: error: cannot write{where}: {exc.strerror}; files "
              "already written are complete and a rerun resumes", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
