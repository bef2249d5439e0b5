"""The run fields every experiment point shares (docs/theory.md s9): which seeds, where, how.

An experiment point is a frozen, hashable config whose hash keys its stored table; every point
class of every claim derives from :class:`RunFields`, so the fields below are declared once. They
are keyword-only, so a subclass keeps its own positional fields first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

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
