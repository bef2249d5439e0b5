"""``infdepth coordcheck``: a depth coord check of a user's model factory from the command line.

    infdepth coordcheck --model my_models.py:make --preset completep --depths 2 4 8 16 32 \\
        --widths 64 --steps 3 --seeds 4 --optimizer sgd --lr 0.1 --data my_models.py:data \\
        --out results/coordcheck

``--model FILE.py:FUNCTION`` names ``FUNCTION(depth, width) -> nn.Module``; ``--data
FILE.py:FUNCTION`` names ``FUNCTION() -> (X, y)`` (default: ``infdepth.examples.vector_task``
with the model's input size from ``--d-in``). Writes ``coord_check.parquet`` (the tidy table),
``slopes.parquet`` and ``slopes.txt`` (the verdict table) and ``coord_check.png|pdf``, each
atomically; bad input is one line (:class:`~infdepth.errors.InfdepthError`, exit 2).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from .errors import InfdepthError


def _load(spec: str):
    """``FUNCTION`` of ``FILE.py:FUNCTION``; one-line errors for a bad spec, file or name."""
    path, _, func = spec.rpartition(":")
    if not path or not func:
        raise InfdepthError(f"expected FILE.py:FUNCTION, got {spec!r}")
    if not Path(path).is_file():
        raise InfdepthError(f"no such file: {path}")
    mod_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    if mod_spec is None or mod_spec.loader is None:
        raise InfdepthError(f"cannot load {path} as a Python module")
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    if not callable(getattr(mod, func, None)):
        raise InfdepthError(f"{path} defines no function {func!r}")
    return getattr(mod, func)


def load_data(args, make, depths, widths, *, n_examples: int):
    """The sweep's ``(X, y)``: ``--data``'s, or the default task of ``n_examples`` examples of
    input size ``--d-in``; checked before any training (:mod:`infdepth.user_sweep_checks`):
    the largest model and the data fit in memory, and the smallest model runs on the data."""
    from .examples import vector_task
    from .user_sweep_checks import check_fits, count, runs_on
    if args.data:
        X, y = _load(args.data)()
        numbers = X.numel() + y.numel()
    else:
        d_in = count("--d-in", args.d_in, 1)
        numbers = n_examples * (d_in + 1)           # counted before it is built
    check_fits(make, depths, widths, optimizer=args.optimizer, data_numbers=numbers)
    if not args.data:
        X, y = vector_task(n_examples, d_in)
    runs_on(make, min(depths), min(widths), X)
    return X, y


def add_model_arguments(c: argparse.ArgumentParser) -> None:
    """``--model``, ``--data`` and ``--d-in``: the user's model factory and task (shared by
    ``coordcheck`` and ``transfer``)."""
    c.add_argument("--model", required=True, help="FILE.py:FUNCTION(depth, width) -> nn.Module")
    c.add_argument("--data", default=None, help="FILE.py:FUNCTION() -> (X, y)")
    c.add_argument("--d-in", type=int, default=4, help="input size of the default data")


def add_parser(sub) -> argparse.ArgumentParser:
    c = sub.add_parser("coordcheck", help="depth coord check of a model factory "
                                          "(FILE.py:FUNCTION(depth, width))")
    add_model_arguments(c)
    c.add_argument("--preset", default="completep")
    c.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    c.add_argument("--widths", type=int, nargs="+", default=[64])
    c.add_argument("--steps", type=int, default=3)
    c.add_argument("--seeds", type=int, default=4)
    c.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    c.add_argument("--lr", type=float, default=0.1)
    c.add_argument("--base-width", type=float, default=1)
    c.add_argument("--base-depth", type=float, default=1)
    c.add_argument("--out", required=True)
    c.set_defaults(func=run)
    return c


def run(args) -> int:
    from .atomic_io import atomic_write, atomic_write_text
    from .depth_coord_check import coord_check, coord_slopes, format_slopes
    from .coord_check_plot import plot_coord_check
    from .paper_figs.common import save
    from .user_sweep_checks import check_work, count, positive, sizes

    if not str(args.out).strip():
        raise InfdepthError("--out: empty folder name")
    depths, widths = sizes("--depths", args.depths), sizes("--widths", args.widths)
    if len(set(depths)) < 3 and len(set(widths)) < 3:
        raise InfdepthError(f"--depths/--widths: a slope needs at least 3 different depths "
                            f"(or 3 widths), got depths {' '.join(map(str, depths))} and "
                            f"widths {' '.join(map(str, widths))}")
    steps, seeds = count("--steps", args.steps, 1), count("--seeds", args.seeds, 1)
    for name, v in (("--lr", args.lr), ("--base-width", args.base_width),
                    ("--base-depth", args.base_depth)):
        positive(name, v)
    check_work(depths, widths, runs=seeds, steps=steps)
    make = _load(args.model)
    data = load_data(args, make, depths, widths, n_examples=16)
    df = coord_check(make, depths, widths, data, steps=steps, seeds=seeds,
                     preset=args.preset, optimizer=args.optimizer, lr=args.lr,
                     base_width=args.base_width, base_depth=args.base_depth)
    tab = coord_slopes(df)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.attrs.pop("_preset", None)
    atomic_write(out / "coord_check.parquet", df.to_parquet)
    atomic_write(out / "slopes.parquet", tab.drop(columns=["sizes", "values"]).to_parquet)
    text = format_slopes(tab)
    atomic_write_text(out / "slopes.txt", text + "\n")
    save(plot_coord_check(df, tab), out, "coord_check")
    print(text)
    return 0

