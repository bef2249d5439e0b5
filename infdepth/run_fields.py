"""The run fields every experiment point shares (docs/theory.md s9): which seeds, where, how.

An experiment point is a frozen, hashable config whose hash keys its stored table; every point
class of every claim derives from :class:`RunFields`, so the fields below are declared once. They
are keyword-only, so a subclass keeps its own positional fields first.

A field added to a point class later, whose default is what every existing point computed, is
declared with :func:`hashed_when_set`: it enters the point's canonical config (and so its hash,
:func:`~infdepth.validation.results_store.config_hash`) only when it differs from its default,
so the stored points keep their hashes and stay valid, while points of any other value hash
apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: dataclass field metadata key of :func:`hashed_when_set`
HASHED_WHEN_SET = "infdepth.hashed_when_set"

DEVICES: tuple[str, ...] = ("cpu", "cuda")
DTYPES: tuple[str, ...] = ("float64", "float32")


@dataclass(frozen=True, kw_only=True)
class RunFields:
    """``base_seed``: the seed family (seed ``i`` of a point is stream index ``i`` under it);
    ``device``: ``cpu`` | ``cuda``; ``dtype``: ``float64`` (rate studies) | ``float32``."""

    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"

    def run_fields(self) -> dict[str, object]:
        """The :class:`RunFields` part of this point as keyword arguments (to build another
        point on the same run settings)."""
        return {f.name: getattr(self, f.name) for f in fields(RunFields)}

    @property
    def torch_dtype(self):
        """The ``torch.dtype`` of :attr:`dtype` (imports torch lazily)."""
        import torch
        return getattr(torch, self.dtype)


def hashed_when_set(default: Any) -> Any:
    """A dataclass field with ``default`` that enters the canonical config of its point (and its
    hash) only when its value is not ``default`` (module docstring)."""
    return field(default=default, metadata={HASHED_WHEN_SET: True})
