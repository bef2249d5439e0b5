"""Checks of a sweep over a user's model factory before any work (``infdepth coordcheck``,
``infdepth transfer``; docs/user_models.md, docs/design.md "Sizes a run refuses").

A request is refused with one line (:class:`~infdepth.errors.UsageError`, exit 2) naming the
bad value and what is allowed when

* a size, count or rate is out of range (:func:`sizes`, :func:`count`, :func:`positive`);
* the largest model does not fit in memory: its parameters are counted on the ``meta`` device
  (``make(depth, width)`` built without allocating anything), and the run holds each about
  :data:`COPIES_SGD` times (weights, gradients, the initial weights and the last update kept
  for the statistics, in float64) or :data:`COPIES_ADAM` times under Adam (its two moments);
  plus the data. Against ``INFDEPTH_MEMORY_LIMIT_GB`` or the memory available now
  (:func:`infdepth.validation.memory_estimate.memory_limit_bytes`). A factory that cannot be
  built on the ``meta`` device is not estimated;
* the sweep takes more than :data:`~infdepth.validation.memory_estimate.MAX_WORK_STEPS`
  block-steps (``sum over widths and depths of runs x (steps + 1) x depth``, each a forward
  and backward pass through one block: hours of training);
* the smallest model fails on the data (:func:`runs_on`): a model whose input size is not the
  data's (``--d-in``) ends in one line naming both, not in a traceback from inside the sweep.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from .errors import UsageError

__all__ = ["COPIES_SGD", "COPIES_ADAM", "sizes", "count", "positive", "parameter_count",
           "check_fits", "check_work", "runs_on"]

#: float64 copies of the parameters one run holds under SGD (module docstring)
COPIES_SGD = 4
#: ... and under Adam (its first and second moments besides)
COPIES_ADAM = 6


def sizes(name: str, values: Sequence[int], *, at_least: int = 1, distinct: int = 1) -> list[int]:
    """``values`` as ints, each ``>= at_least``, with at least ``distinct`` different ones."""
    vals = list(values)
    for v in vals:
        if isinstance(v, bool) or int(v) != v or v < at_least:
            raise UsageError(f"{name} must be integers >= {at_least}, got {v}")
    if len(set(vals)) < distinct:
        raise UsageError(f"{name}: give at least {distinct} different values (a slope needs "
                         f"{distinct} points), got {' '.join(map(str, vals))}")
    return [int(v) for v in vals]


def count(name: str, value: int, at_least: int) -> int:
    """An integer option ``>= at_least``."""
    if isinstance(value, bool) or int(value) != value or value < at_least:
        raise UsageError(f"{name} must be an integer >= {at_least}, got {value}")
    return int(value)


def positive(name: str, value: float) -> float:
    """A positive finite number."""
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def parameter_count(make: Callable[[int, int], object], depth: int, width: int) -> int | None:
    """Parameters of ``make(depth, width)``, built on the ``meta`` device (no memory); ``None``
    when the factory cannot be built there."""
    import torch
    try:
        with torch.device("meta"):
            model = make(int(depth), int(width))
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:       # a factory that allocates on a device of its own: not estimated
        return None


def check_fits(make: Callable[[int, int], object], depths: Sequence[int],
               widths: Sequence[int], *, optimizer: str, data_numbers: int,
               limit_bytes: int | None = None) -> int | None:
    """Refuse a sweep whose largest model does not fit (module docstring); returns the
    estimate in bytes (``None`` if the factory could not be counted)."""
    from .validation.memory_estimate import LIMIT_ENV, memory_limit_bytes
    L, n = max(depths), max(widths)
    params = parameter_count(make, L, n)
    if params is None:
        return None
    copies = COPIES_ADAM if optimizer == "adam" else COPIES_SGD
    need = 8 * (copies * params + data_numbers)
    limit = memory_limit_bytes() if limit_bytes is None else int(limit_bytes)
    if need > limit:
        raise UsageError(f"the model at depth {L}, width {n} ({params:.3g} parameters) and "
                         f"the data ({data_numbers:.3g} numbers) need about "
                         f"{need / 2 ** 30:.3g} GiB of memory, more than the "
                         f"{limit / 2 ** 30:.3g} GiB allowed here; use smaller --depths/"
                         f"--widths/--d-in or set {LIMIT_ENV}")
    return need


def check_work(depths: Sequence[int], widths: Sequence[int], *, runs: int, steps: int) -> int:
    """Refuse a sweep of more than ``MAX_WORK_STEPS`` block-steps; returns its count."""
    from .validation.memory_estimate import MAX_WORK_STEPS
    work = len(widths) * runs * (steps + 1) * sum(depths)
    if work > MAX_WORK_STEPS:
        raise UsageError(f"the sweep takes about {work:.3g} block-steps (widths x runs x "
                         f"(steps + 1) x sum of depths), more than the {MAX_WORK_STEPS:.0e} a "
                         f"run may (hours of training); use fewer --steps, --seeds or smaller "
                         f"--depths")
    return work


def runs_on(make: Callable[[int, int], object], depth: int, width: int, X) -> None:
    """Build ``make(depth, width)`` in float64 and run it on one example of ``X``: a failure
    (e.g. an input size other than the data's) is one line naming the shapes and the error."""
    import torch
    try:
        model = make(int(depth), int(width)).to(torch.float64)
        with torch.no_grad():
            model(X[:1].to(torch.float64))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"the model at depth {depth}, width {width} fails on the data (X of "
                         f"shape {tuple(X.shape)}; --d-in sets the default data's input "
                         f"size): {type(exc).__name__}: {first}") from None
