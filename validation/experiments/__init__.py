"""One module per implemented claim. Each module provides

    SUITES                      suite name -> sweep settings
    variants(suite, overrides)  the variants reported for the claim (e.g. activations)
    points(variant, suite, overrides, device, dtype) -> list of frozen, hashable point configs
    compute(point)              -> tidy pandas DataFrame (pure: same config, same numbers)
    measurement(variant, points, frames) -> Measurement (what the rate fitter consumes)
    derived(variant)            -> Derived (exponent from the theory layer, with its reasoning)

The runner (:mod:`infdepth.validation.runner`) caches ``compute`` in the results store keyed by
the point's config hash, fits the measurement and forms the verdict.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Sequence

import numpy as np

SUITE_NAMES = ("smoke", "standard", "full")


@dataclass(frozen=True)
class Overrides:
    """User overrides of a suite's sweep (``infdepth validate --activations/--depths/--widths``).

    ``None`` keeps the suite's setting. Values are validated by :func:`check_overrides`.
    """

    activations: tuple[str, ...] | None = None
    depths: tuple[int, ...] | None = None
    widths: tuple[int, ...] | None = None

    def activation(self, default: str) -> str:
        """The activation of a single-activation sweep: the first selected, else ``default``."""
        return self.activations[0] if self.activations else default

    def width(self, default: int) -> int:
        """The width of a fixed-width sweep: the largest of ``--widths``, else ``default``."""
        return self.widths[-1] if self.widths else default

    def filter_activations(self, variants: tuple[str, ...]) -> tuple[str, ...]:
        """Keep the variants whose activation (text before any '/') is selected."""
        if self.activations is None:
            return variants
        return tuple(v for v in variants if v.split("/")[0] in self.activations)


def check_overrides(o: Overrides) -> Overrides:
    """Raise ``ValueError`` naming the bad value and the allowed range."""
    from infdepth.theory.gaussian_expectations import ACTIVATIONS
    for a in o.activations or ():
        if a not in ACTIVATIONS:
            raise ValueError(f"unknown activation {a!r}; allowed: {', '.join(ACTIVATIONS)}")
    for name, vals in (("depth", o.depths), ("width", o.widths)):
        for v in vals or ():
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if vals is not None and len(set(vals)) < 2:
            raise ValueError(f"a {name} sweep needs at least 2 distinct values, got {list(vals)}")
    return Overrides(activations=o.activations,
                     depths=tuple(sorted(set(int(v) for v in o.depths))) if o.depths else None,
                     widths=tuple(sorted(set(int(v) for v in o.widths))) if o.widths else None)


@dataclass(frozen=True)
class Measurement:
    """Inputs of :func:`infdepth.validation.rate_fit.fit_rate` plus plot labels."""

    sizes: Sequence[float]
    samples: list[np.ndarray]
    statistic: Callable[[np.ndarray], float] | None
    size_label: str
    error_label: str
    paired: bool = False


@dataclass(frozen=True)
class Claimed:
    """What the paper claims for one variant, when it differs from the claim row: a slope
    (or ``None`` for a qualitative claim), the band of slopes that counts as agreement, and
    the text shown in the table. Optional module hook ``claimed(variant) -> Claimed``."""

    slope: float | None
    band: tuple[float, float]
    text: str


@dataclass(frozen=True)
class Derived:
    """The exponent derived by the theory layer and a one-line account of how."""

    exponent: float | None
    text: str


def load(module_name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{module_name}")
