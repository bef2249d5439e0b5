"""``infdepth bench``: time the training engine against plain torch.nn + autograd (bench.py).

Wiring (in ``infdepth/cli.py``)::

    from infdepth.numerics.bench_cli import add_bench_parser, cmd_bench
    add_bench_parser(sub)            # in _parser(); handler: {"bench": cmd_bench, ...}

``cmd_bench`` prints a small table and returns 0; 1 if the plain and engine trajectories
disagree beyond the tolerance; 2 on bad input (one line on stderr naming the value), including
sizes whose estimated memory exceeds the memory available (or ``INFDEPTH_MEMORY_LIMIT_GB``; on
CUDA also the memory free on the GPU), refused before anything is allocated.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``bench`` sub-command to an argparse ``subparsers`` object."""
    b = subparsers.add_parser("bench", help="time the engine against plain torch.nn + autograd")
    b.add_argument("--n", type=int, default=256, help="width (default 256)")
    b.add_argument("--L", type=int, default=16, help="number of blocks (default 16)")
    b.add_argument("--K", type=int, default=10, help="SGD steps (default 10)")
    b.add_argument("--seeds", type=int, default=8, help="ensemble size (default 8)")
    b.add_argument("--act", default="tanh", help="relu | tanh | erf | linear (default tanh)")
    b.add_argument("--device", default="cpu", help="cpu | cuda (default cpu)")
    b.add_argument("--dtype", default="float64", help="float32 | float64 (default float64)")
    b.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    b.add_argument("--n-train", type=int, default=4, help="training inputs (default 4)")
    b.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's choice); on a small shared "
                        "machine --threads 1 gives far steadier ratios")
    b.add_argument("--json", dest="json_path", metavar="PATH",
                   help="also write the full result as JSON to PATH")
    return b


def _fmt_rate(x: float) -> str:
    return f"{x / 1e9:.2f} GFLOP/s"


def print_result(res: dict) -> None:
    """Small rich table of a :func:`~.bench.run_bench` result."""
    from rich.console import Console
    from rich.table import Table

    c = res["config"]
    t = Table(title=f"infdepth bench: n={c['n']} L={c['L']} K={c['K']} seeds={c['seeds']} "
                    f"act={c['act']} {c['dtype']} {c['device']}")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column("target / note")
    chk = res["check"]
    ok = "[green]match[/green]" if chk["passed"] else "[red]MISMATCH[/red]"
    t.add_row("trajectory max rel diff", f"{chk['max_rel_diff']:.1e}",
              f"{ok} (tol {chk['tolerance']:.0e})")
    t.add_row("engine time (median)", f"{res['engine_s'] * 1e3:.1f} ms", "")
    t.add_row("plain time (median)", f"{res['plain_s'] * 1e3:.1f} ms", "per-seed torch.nn")
    tg = res["targets"]
    t.add_row("ratio plain / engine", f"{res['ratio']:.2f}x",
              f">= {tg['ratio']:g}x  (repeats: "
              + ", ".join(f"{r:.2f}" for r in res["ratios"]) + ")")
    t.add_row("engine FLOP/s", _fmt_rate(res["engine_flops_per_s"]),
              f"{res['flops']['total'] / 1e9:.3f} GFLOP per run")
    for s in res["matmul"]["shapes"]:
        t.add_row(f"matmul {tuple(s['a'])} x {tuple(s['b'])}", _fmt_rate(s["flops_per_s"]),
                  f"{s['flops_share']:.0%} of the FLOPs")
    t.add_row("fraction of matmul", f"{res['fraction_of_matmul']:.2f}",
              f">= {tg['fraction_of_matmul']:g}")
    st = res["stream"]
    t.add_row("streaming bandwidth (sum)", f"{st['bandwidth_bytes_per_s'] / 1e9:.2f} GB/s",
              f"floor {st['floor_s'] * 1e3:.1f} ms: {st['bytes'] / 1e9:.3f} GB of weights read")
    t.add_row("fraction of streaming floor", f"{res['fraction_of_floor']:.2f}",
              f">= {tg['fraction_of_floor']:g}  (repeats: "
              + ", ".join(f"{r:.2f}" for r in res["floor_fractions"]) + ")")
    t.add_row("  the bare matmuls' fraction", f"{res['matmul_fraction_of_floor']:.2f}",
              "the engine's FLOPs at the matmul rate: what the products alone allow")
    console = Console()
    if not console.is_terminal:
        console = Console(width=110)
    console.print(t)


def _check_memory(args, need: int, device: str) -> None:
    """Refuse a benchmark whose estimated peak ``need`` exceeds the memory allowed here (the
    limit of ``infdepth validate``: ``INFDEPTH_MEMORY_LIMIT_GB`` or the memory available) or,
    on CUDA and unless that variable is set, the memory free on the GPU; one line naming the
    sizes, the estimate and the limit."""
    import os

    from infdepth.errors import UsageError
    from infdepth.validation.memory_estimate import (LIMIT_ENV, gpu_free_bytes,
                                                     memory_limit_bytes)
    limits = [(memory_limit_bytes(), "allowed here")]
    if device == "cuda" and not os.environ.get(LIMIT_ENV, "").strip():
        limits.append((gpu_free_bytes(), "free on the GPU"))
    for limit, what in limits:
        if need > limit:
            raise UsageError(f"n={args.n} L={args.L} K={args.K} seeds={args.seeds} needs about "
                             f"{need / 2 ** 30:.3g} GiB of memory, more than the "
                             f"{limit / 2 ** 30:.3g} GiB {what}; use a smaller --n, --L or "
                             f"--seeds")


def cmd_bench(args) -> int:
    """Run the benchmark for parsed ``args`` (see :func:`add_bench_parser`)."""
    from infdepth.errors import UsageError

    from .bench import run_bench

    json_path = Path(args.json_path) if getattr(args, "json_path", None) else None
    try:
        if json_path is not None and not json_path.parent.exists():
            raise ValueError(f"--json: folder '{json_path.parent}' does not exist")
        res = run_bench(n=args.n, L=args.L, K=args.K, seeds=args.seeds, act=args.act,
                        device=args.device, dtype=args.dtype, repeats=args.repeats,
                        n_train=getattr(args, "n_train", 4),
                        threads=getattr(args, "threads", None),
                        check_memory=lambda need, device: _check_memory(args, need, device))
    except (ValueError, UsageError) as exc:
        print(f"infdepth bench: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print_result(res)
    if json_path is not None:
        try:
            json_path.write_text(json.dumps(res, indent=2) + "\n")
        except OSError as exc:
            print(f"infdepth bench: error: --json: cannot write '{json_path}': {exc.strerror}",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"wrote {json_path}")
    if not res["check"]["passed"]:
        print("infdepth bench: engine and plain trajectories differ beyond the tolerance",
              file=sys.stderr)
        return EXIT_MISMATCH
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m infdepth.numerics.bench_cli``) until cli.py wires it."""
    p = argparse.ArgumentParser(prog="infdepth")
    sub = p.add_subparsers(dest="command", required=True)
    add_bench_parser(sub)
    return cmd_bench(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
