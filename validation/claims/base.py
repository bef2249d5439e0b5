"""The claim contract (docs/theory.md s8, s9): one module under ``validation/claims/`` defines
one claim completely by subclassing :class:`Claim`.

A claim declares its id, source and statement; its typed variants (frozen dataclasses deriving
from :class:`Variant`, one of them :attr:`Claim.primary`, the others exploratory); its suites
as typed sweep specs; and implements

    variants(sweep, overrides)             -> the variants a suite reports
    points(variant, sweep, overrides, run) -> frozen point configs (pure: same config, same numbers)
    compute(point)                         -> tidy DataFrame (calls ``infdepth.numerics`` only)
    measure(variant, points, frames)       -> a RateMeasurement or a RegimeMap
    claimed(variant)                       -> Claimed (default: the claim row's slope +- tolerance)
    derived(variant)                       -> Derived (asks ``infdepth.theory`` about a typed model
                                              and parameterization; theory knows no claim ids)
    figures                                -> figure specs naming a figure kind of ``paper_figs``
    footprint(point)                       -> Footprint: peak memory and sequential steps of
                                              ``compute(point)`` from its sizes, whence
                                              ``memory_bytes(point)`` and ``work_steps(point)``
                                              (checked before any work:
                                              :mod:`infdepth.validation.memory_estimate`)

The runner (:mod:`infdepth.validation.runner`) calls exactly this protocol for every claim, once
per named convention the claim runs under (:meth:`Claim.convention_runs`; only the [HW] claims
implement a convention besides ``"default"``, docs/theory.md s6 "The authors' own setting").
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, Sequence

from infdepth.numerics.hw_conventions import CONVENTION_NAMES, DEFAULT, check_convention
from infdepth.run_fields import RunFields
from infdepth.validators import choice

from ..measurements import Claimed, RateMeasurement, RegimeMap

if TYPE_CHECKING:  # pandas is imported by the claims' compute, not by the protocol
    import pandas as pd

    from infdepth.numerics.footprint import Footprint

__all__ = ["Claim", "Variant", "ControlVariant", "Claimed", "Derived", "FigureSpec", "Overrides",
           "check_overrides", "SUITE_NAMES", "GPU_SUITE", "GPU_SUITE_MEMORY", "RUN_SUITES",
           "TOLERANCE", "FIGURE_KINDS", "gpu_sweep_name", "convention_label", "base_label"]

#: the suites every claim defines: smoke (CI sanity), standard (the default), full
SUITE_NAMES: tuple[str, ...] = ("smoke", "standard", "full")
#: the suite for one CUDA device (docs/claims/README.md "Suites"), run with ``--device cuda``:
#: each claim's own ``gpu`` sweep where it defines one, else its ``full`` sweep when every point
#: of it is estimated to fit :data:`GPU_SUITE_MEMORY`, else its ``standard`` sweep
GPU_SUITE = "gpu"
#: the memory one point of the ``gpu`` suite may take: 64 GiB, so that it fits an 80 GB GPU
GPU_SUITE_MEMORY = 64 * 2 ** 30
#: every suite name ``infdepth validate --suite`` accepts
RUN_SUITES: tuple[str, ...] = SUITE_NAMES + (GPU_SUITE,)
#: default half-width of the band of slopes around a claimed slope (docs/theory.md s9)
TOLERANCE = 0.15
#: bytes a point's computation allocates besides its footprint's tensors (interpreter frames,
#: the table's construction, BLAS workspaces), added to every memory estimate
POINT_OVERHEAD = 16 * 2 ** 20
#: the figure kinds of ``infdepth.paper_figs`` a claim can name
FIGURE_KINDS: tuple[str, ...] = ("rate", "phase_map", "regime_map", "transfer",
                                 "depth_as_width")


@dataclass(frozen=True)
class Variant:
    """Base of a claim's typed variants. Subclasses are frozen dataclasses whose fields say what
    the variant changes; :attr:`label` is its name in tables, figures and ``verdicts.json``.

    A subclass declares the values its fields may take in :attr:`allowed` (field -> allowed
    values), checked on construction (``ValueError`` naming the claim, the field, the bad value
    and the allowed ones); a subclass with further checks extends ``__post_init__``."""

    #: field name -> the values it may take
    allowed: ClassVar[Mapping[str, Iterable[str]]] = {}

    @property
    def claim(self) -> str:
        """The id of the claim the variant belongs to: the name of the module that defines it
        (``validation/claims/<id>.py``)."""
        return type(self).__module__.rpartition(".")[2]

    def __post_init__(self):
        for name, values in self.allowed.items():
            choice(f"{self.claim} {name}", getattr(self, name), values)

    @property
    def label(self) -> str:
        """The field values joined with "/" (a subclass with a special label overrides it)."""
        return "/".join(str(getattr(self, f.name)) for f in fields(self))


@dataclass(frozen=True)
class ControlVariant(Variant):
    """A negative control (docs/theory.md s9), labelled ``control/<name>``. A claim uses it as it
    is, or subclasses it to add the fields its control needs (and the names it allows)."""

    name: str

    @property
    def label(self) -> str:
        return f"control/{self.name}"


@dataclass(frozen=True)
class Derived:
    """The exponent the theory layer derives for a variant and a one-line account of how
    (``exponent=None``: no finite exponent, e.g. a quantity that does not decay)."""

    exponent: float | None
    text: str


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a claim: a figure ``kind`` of ``infdepth.paper_figs``, the file ``stem``,
    a ``title``, which variant labels it draws (``select``; ``None`` = all) and a y label for
    figures whose variants measure different quantities."""

    kind: str
    stem: str
    title: str
    select: Callable[[str], bool] | None = None
    ylabel: str | None = None

    def __post_init__(self):
        if self.kind not in FIGURE_KINDS:
            raise ValueError(f"unknown figure kind {self.kind!r}; allowed: "
                             f"{', '.join(FIGURE_KINDS)}")

    def wants(self, label: str) -> bool:
        """Whether the figure draws the variant labelled ``label`` (a convention suffix,
        :func:`convention_label`, is not part of what ``select`` sees)."""
        return self.select is None or bool(self.select(base_label(label)))


@dataclass(frozen=True)
class Overrides:
    """User overrides of a suite's sweep (``infdepth validate --activations/--depths/--widths``)
    and the named conventions to run under (``--conventions``; docs/theory.md s6 "The authors'
    own setting"); ``None`` keeps the suite's setting (the ``"default"`` convention). Build
    through :func:`check_overrides`."""

    activations: tuple[str, ...] | None = None
    depths: tuple[int, ...] | None = None
    widths: tuple[int, ...] | None = None
    conventions: tuple[str, ...] | None = None
    #: shell-style patterns (``fnmatch``) on variant labels; ``None``: every variant
    variants: tuple[str, ...] | None = None

    @property
    def convention(self) -> str:
        """The convention of a claim's points: the first of ``conventions``, else
        ``"default"`` (the runner passes one at a time, :meth:`Claim.convention_runs`)."""
        return self.conventions[0] if self.conventions else DEFAULT

    def activation(self, default: str) -> str:
        """The activation of a single-activation sweep: the first selected, else ``default``."""
        return self.activations[0] if self.activations else default

    def width(self, default: int) -> int:
        """The width of a fixed-width sweep: the largest of ``--widths``, else ``default``."""
        return self.widths[-1] if self.widths else default

    def depth(self, default: int) -> int:
        """The depth of a fixed-depth sweep: the largest of ``--depths``, else ``default``."""
        return self.depths[-1] if self.depths else default

    def selects(self, label: str) -> bool:
        """Whether ``--variants`` selects the variant labelled ``label`` (none given: all)."""
        return self.variants is None or any(fnmatchcase(label, p) for p in self.variants)

    def keeps(self, activation: str) -> bool:
        """Whether a variant of this activation is selected (no ``--activations``: all)."""
        return self.activations is None or activation in self.activations


def check_overrides(o: Overrides) -> Overrides:
    """Validated, sorted overrides; ``ValueError`` naming the bad value and the allowed range."""
    from infdepth.validators import positive_int
    from infdepth.theory.activation_names import ACTIVATIONS
    for a in o.activations or ():
        if a not in ACTIVATIONS:
            raise ValueError(f"unknown activation {a!r}; allowed: {', '.join(ACTIVATIONS)}")
    for name, vals in (("depth", o.depths), ("width", o.widths)):
        for v in vals or ():
            positive_int(name, v)
        if vals is not None and len(set(vals)) < 2:
            raise ValueError(f"a {name} sweep needs at least 2 distinct values, got {list(vals)}")
    for c in o.conventions or ():
        check_convention(c)
    for p in o.variants or ():
        if not isinstance(p, str) or not p.strip():
            raise ValueError(f"a variant pattern must be a non-empty label or shell-style "
                             f"pattern such as '*/sgd', got {p!r}")
    return Overrides(variants=tuple(o.variants) if o.variants else None,
                     activations=o.activations,
                     depths=tuple(sorted(set(int(v) for v in o.depths))) if o.depths else None,
                     widths=tuple(sorted(set(int(v) for v in o.widths))) if o.widths else None,
                     conventions=(tuple(c for c in CONVENTION_NAMES if c in o.conventions)
                                  if o.conventions else None))


def convention_label(label: str, convention: str) -> str:
    """A variant's label in the verdict table, its tables and figures under ``convention``:
    ``label`` for the default, else ``label/<convention>`` (e.g. ``linear/L/authors``)."""
    return label if convention == DEFAULT else f"{label}/{convention}"


def base_label(label: str) -> str:
    """``label`` without the suffix :func:`convention_label` adds."""
    for c in CONVENTION_NAMES:
        if c != DEFAULT and label.endswith(f"/{c}"):
            return label[:-len(c) - 1]
    return label


class Claim(ABC):
    """One claim of docs/theory.md s8 (see the module docstring for the protocol)."""

    #: claim id, its source ("NFD" or "HW"), the statement, what is measured, the size swept
    id: ClassVar[str]
    source: ClassVar[str]
    statement: ClassVar[str]
    quantity: ClassVar[str]
    #: the claim row's slope (None for a qualitative claim), its text and tolerance band
    claimed_slope: ClassVar[float | None]
    claimed_text: ClassVar[str]
    tolerance: ClassVar[float] = TOLERANCE
    #: suite name -> the claim's typed sweep spec
    suites: ClassVar[Mapping[str, Any]]
    #: the variant declared as the test of the claim before any data were seen
    primary: ClassVar[Variant]
    #: negative controls (docs/theory.md s9): variants that must come out refuted against the
    #: claim's band, declared with the claim and run in every suite
    controls: ClassVar[tuple[Variant, ...]] = ()
    #: variant label -> why it is exploratory when it was added after data were seen
    after_data: ClassVar[Mapping[str, str]] = {}
    #: the named conventions the claim's points implement (docs/theory.md s6 "The authors' own
    #: setting"): only ``"default"`` unless the claim's points carry a ``convention``
    conventions: ClassVar[tuple[str, ...]] = (DEFAULT,)
    figures: ClassVar[tuple[FigureSpec, ...]] = ()

    # -- the protocol -----------------------------------------------------------------------
    @abstractmethod
    def variants(self, sweep: Any, overrides: Overrides) -> tuple[Variant, ...]:
        """The variants a suite (its sweep spec) reports, under the user's overrides."""

    @abstractmethod
    def points(self, variant: Variant, sweep: Any, overrides: Overrides,
               run: RunFields) -> list[RunFields]:
        """The variant's experiment points (frozen configs deriving from ``RunFields``)."""

    @abstractmethod
    def compute(self, point: RunFields) -> pd.DataFrame:
        """The tidy table of one point (pure: same config, same numbers)."""

    @abstractmethod
    def measure(self, variant: Variant, points: Sequence[RunFields],
                frames: Sequence[pd.DataFrame]) -> RateMeasurement | RegimeMap:
        """What the variant measures on its points' tables."""

    @abstractmethod
    def derived(self, variant: Variant) -> Derived:
        """The exponent the theory layer derives for the variant."""

    def affinity(self, point: RunFields) -> Any:
        """Points with the same non-``None`` affinity share an expensive in-process cache (a
        reference solution, say) and are computed one after the other on one worker, so a
        cluster does not solve it once per worker; ``None`` (the default): no sharing."""
        return None

    def footprint(self, point: RunFields) -> Footprint:
        """Peak and kept memory and sequential steps of ``compute(point)``, from the point's
        sizes alone (sums of :mod:`infdepth.numerics.footprint`); every claim implements it."""
        raise NotImplementedError(f"claim {self.id} does not estimate its points' footprint")

    def memory_bytes(self, point: RunFields) -> int:
        """Estimated peak memory (bytes) of ``compute(point)``: the footprint's peak plus
        :data:`POINT_OVERHEAD`. An upper bound within a small factor (measured per claim in
        ``tests/validation/test_memory_estimate.py``)."""
        return int(self.footprint(point).peak) + POINT_OVERHEAD

    def work_steps(self, point: RunFields) -> int:
        """Sequential steps of ``compute(point)`` (Python-level loop iterations: a block of a
        pass, a seed's draw, a step of a solver), from the footprint."""
        return int(self.footprint(point).steps)

    def claimed(self, variant: Variant) -> Claimed:
        """The claim row's slope +- tolerance (claims with per-variant claims override). A
        qualitative claim that does not override this has no band: always inconclusive."""
        if self.claimed_slope is None:
            return Claimed(None, (math.nan, math.nan), self.claimed_text)
        return Claimed.around(self.claimed_slope, self.tolerance, self.claimed_text)

    # -- helpers shared by every claim ------------------------------------------------------
    def sweep(self, suite: str) -> Any:
        """The typed sweep spec of ``suite`` (:data:`GPU_SUITE`: :func:`gpu_sweep_name`);
        ``ValueError`` naming the allowed suites."""
        if suite == GPU_SUITE and suite not in self.suites:
            suite = gpu_sweep_name(self)
        if suite not in self.suites:
            raise ValueError(f"unknown suite {suite!r}; allowed: "
                             f"{', '.join(tuple(self.suites) + (GPU_SUITE,))}")
        return self.suites[suite]

    def role(self, variant: Variant) -> str:
        """``primary`` for the pre-declared test of the claim, ``control`` for a negative
        control, else ``exploratory``."""
        if variant == self.primary:
            return "primary"
        return "control" if variant in self.controls else "exploratory"

    def convention_runs(self, overrides: Overrides) -> tuple[Overrides, ...]:
        """The overrides of each run of the claim, one convention each: the requested
        conventions (default: ``"default"``) the claim implements, or -- when it implements
        none of them -- the default alone."""
        mine = tuple(c for c in overrides.conventions or (DEFAULT,) if c in self.conventions)
        return tuple(replace(overrides, conventions=(c,)) for c in mine or (DEFAULT,))

    def ignores_conventions(self, overrides: Overrides) -> tuple[str, ...]:
        """The requested conventions the claim does not implement (it runs under the default
        instead of them)."""
        return tuple(c for c in overrides.conventions or () if c not in self.conventions)

    def suite_variants(self, sweep: Any, overrides: Overrides) -> tuple[Variant, ...]:
        """What a suite runs: the claim's variants, then its negative controls; with
        ``--variants``, those whose label matches one of its patterns."""
        own = tuple(self.variants(sweep, overrides))
        every = own + tuple(c for c in self.controls if c not in own)
        return tuple(v for v in every if overrides.selects(v.label))

    def suite_points(self, suite: str, overrides: Overrides, run: RunFields
                     ) -> list[tuple[Overrides, Variant, list[RunFields]]]:
        """Everything a suite computes for the claim: per run of a convention
        (:meth:`convention_runs`) and variant it runs (:meth:`suite_variants`), that run's
        overrides, the variant and its points (the runner's plan and the memory check both
        list points from here)."""
        sweep = self.sweep(suite)
        return [(o, v, list(self.points(v, sweep, o, run)))
                for o in self.convention_runs(overrides) for v in self.suite_variants(sweep, o)]

    def describe(self) -> str:
        return f"[{self.source}] {self.statement}"


def size_sweep(given: Sequence[int] | None, default: Sequence[int]) -> tuple[int, ...]:
    """A sweep's sizes: the user's ``--depths``/``--widths`` if given, else the suite's."""
    return tuple(given) if given else tuple(default)


def gpu_sweep_name(claim: Claim) -> str:
    """Which of ``claim``'s sweeps its :data:`GPU_SUITE` runs: ``full`` when the largest point
    of the full sweep (every variant and control, default overrides, on ``cuda``) is estimated
    (:meth:`Claim.memory_bytes`) to fit :data:`GPU_SUITE_MEMORY`, else ``standard``."""
    return _gpu_sweep_name(type(claim))


@functools.cache
def _gpu_sweep_name(cls: type) -> str:
    from ..memory_estimate import claim_points
    claim = cls()
    peak = max(claim.memory_bytes(p)
               for p in claim_points(claim, "full", Overrides(), RunFields(device="cuda")))
    return "full" if peak <= GPU_SUITE_MEMORY else "standard"
