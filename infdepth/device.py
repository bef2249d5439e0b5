"""Device and dtype choice shared by the CLI and numerics (docs/design.md, core). Checking a
device imports torch only to ask for CUDA, so ``--device cpu`` and a bad name are checked at
once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

from infdepth.lazy import lazy
from infdepth.validators import choice

torch = lazy("torch")  # imported on first use (infdepth.lazy)

T = TypeVar("T")
R = TypeVar("R")

DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")


def check_device(name: str) -> str:
    """``name`` if it is ``cpu``, or ``cuda`` with a GPU torch can use; else a clear error."""
    choice("device", name, DEVICES)
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch.cuda.is_available() is False; "
                         "allowed here: cpu")
    return name


def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda`` as a ``torch.device`` (:func:`check_device`)."""
    return torch.device(check_device(name))


def resolve_dtype(name: str) -> torch.dtype:
    """``float32`` or ``float64`` as a ``torch.dtype``."""
    return getattr(torch, choice("dtype", name, DTYPES))


class torch_threads:
    """Context manager: run a block with ``k`` intra-op torch threads, then restore.

    Work made of many small tensor operations (the NFD particle solver) gains nothing from
    intra-op threads and loses badly to oversubscription on a loaded 2-core machine (measured:
    1.6 s single-threaded vs 6-28 s with two threads while another process was busy).
    """

    def __init__(self, k: int = 1):
        self.k = k

    def __enter__(self):
        self.saved = torch.get_num_threads()
        torch.set_num_threads(self.k)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)
        return False


def thread_map(fn: Callable[[T], R], items: Iterable[T], lanes: int) -> list[R]:
    """``[fn(x) for x in items]``, on ``lanes`` threads when that is more than one and there is
    more than one item (in order either way). For independent pieces of work whose torch
    operations release the GIL (seeds drawn or solved side by side, chunks of seeds): the
    caller gives each thread one intra-op thread (:class:`torch_threads`) where the pieces
    would otherwise fight over the cores."""
    items = list(items)
    lanes = min(int(lanes), len(items))
    if lanes <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(lanes) as pool:
        return list(pool.map(fn, items))
