"""``infdepth transfer``: the depth transfer check of the learning rate for a user's model factory
from the command line (docs/user_models.md "Depth transfer check").

    infdepth transfer --model my_models.py:make --data my_models.py:data \\
        --preset completep sp --depths 2 4 8 16 --width 64 --log2-lrs -4 4 0.5 \\
        --steps 10 --seeds 4 --optimizer sgd --out results/transfer

``--model FILE.py:FUNCTION`` names ``FUNCTION(depth, width) -> nn.Module``; ``--data
FILE.py:FUNCTION`` names ``FUNCTION() -> (X, y)`` (default: ``infdepth.examples.vector_task``
with ``--n-examples`` examples of input size ``--d-in``). Learning rates: ``--lrs`` (a list) or
``--log2-lrs LO HI STEP`` (``2**x`` on a uniform grid; default ``-4 4 0.5``); with several
``--preset`` s every one runs on the same grid and gets its own panel and verdict row. Writes
``transfer.parquet`` (the tidy table), ``optima.parquet`` (the optimum per depth),
``drift.parquet`` and ``drift.txt`` (the verdict table) and ``transfer.png``/``transfer.pdf``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .coordcheck_cli import add_model_arguments
from .errors import InfdepthError


def add_parser(sub) -> argparse.ArgumentParser:
    c = sub.add_parser("transfer", help="depth transfer check of the learning rate of a model "
                                        "factory (FILE.py:FUNCTION(depth, width))")
    add_model_arguments(c)
    c.add_argument("--n-examples", type=int, default=32, help="examples of the default data")
    c.add_argument("--preset", nargs="+", default=["completep"],
                   help="one or more parameterizations (e.g. completep sp)")
    c.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8, 16])
    c.add_argument("--width", type=int, default=64)
    g = c.add_mutually_exclusive_group()
    g.add_argument("--lrs", type=float, nargs="+", help="base learning rates (ascending)")
    g.add_argument("--log2-lrs", type=float, nargs=3, metavar=("LO", "HI", "STEP"),
                   help="2**x for x from LO to HI in steps of STEP (default -4 4 0.5)")
    c.add_argument("--steps", type=int, default=10)
    c.add_argument("--seeds", type=int, default=3)
    c.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    c.add_argument("--batching", choices=["full", "sgd"], default="full")
    c.add_argument("--base-width", type=float, default=1)
    c.add_argument("--base-depth", type=float, default=1)
    c.add_argument("--noise-floor", type=float, default=2.0, metavar="FACTOR",
                   help="leave out a depth whose eta* is below FACTOR bootstrap standard errors "
                        "(default 2, the claim's; 0 fits every depth)")
    c.add_argument("--out", required=True)
    c.set_defaults(func=run)
    return c


def run(args) -> int:
    import pandas as pd

    from .atomic_io import atomic_write, atomic_write_text
    from .coordcheck_cli import _load, load_data
    from .paper_figs.common import save
    from .user_sweep_checks import check_work, count, positive, sizes
    from .depth_transfer_check import (format_drift, log2_grid, lr_optima,
                                       plot_transfer_check, transfer_check, transfer_drift)

    if not str(args.out).strip():
        raise InfdepthError("--out: empty folder name")
    depths = sorted(sizes("--depths", args.depths, distinct=3))
    width = count("--width", args.width, 1)
    steps, seeds = count("--steps", args.steps, 1), count("--seeds", args.seeds, 1)
    count("--n-examples", args.n_examples, 1)
    for name, v in (("--base-width", args.base_width), ("--base-depth", args.base_depth)):
        positive(name, v)
    if not (math.isfinite(args.noise_floor) and args.noise_floor >= 0):
        raise InfdepthError(f"--noise-floor must be a finite number >= 0, got "
                            f"{args.noise_floor}")
    try:
        lrs = sorted(args.lrs) if args.lrs else log2_grid(*(args.log2_lrs or (-4.0, 4.0, 0.5)))
    except (ValueError, OverflowError) as exc:
        raise InfdepthError(f"--log2-lrs: {exc}") from None
    for v in lrs:
        positive("--lrs", v)
    if len(set(lrs)) != len(lrs):
        raise InfdepthError(f"--lrs must be different values, got {' '.join(map(str, lrs))}")
    check_work(depths, [width], runs=seeds * len(lrs) * len(args.preset), steps=steps)
    make = _load(args.model)
    data = load_data(args, make, depths, [width], n_examples=args.n_examples)
    frames = []
    for name in args.preset:
        frames.append(transfer_check(make, depths, data, width=width, lrs=lrs,
                                     steps=steps, seeds=seeds, preset=name,
                                     optimizer=args.optimizer, batching=args.batching,
                                     base_width=args.base_width, base_depth=args.base_depth))
    df = pd.concat(frames, ignore_index=True)
    df.attrs = {k: v for k, v in frames[0].attrs.items() if k != "parameterization"}
    optima = lr_optima(df)
    drift = transfer_drift(df, noise_floor_factor=args.noise_floor, optima=optima)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "transfer.parquet", df.to_parquet)
    atomic_write(out / "optima.parquet", optima.to_parquet)
    tab = drift.copy()
    for col in ("depths", "eta_opt", "used"):
        tab[col] = tab[col].map(list)
    atomic_write(out / "drift.parquet", tab.to_parquet)
    text = format_drift(drift)
    atomic_write_text(out / "drift.txt", text + "\n")
    save(plot_transfer_check(df, drift, optima=optima), out, "transfer")
    print(text)
    return 0

