"""What every figure kind shares: the matplotlib backend, the view of one variant's tables, and
saving PNG + PDF."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from infdepth.atomic_io import atomic_write  # noqa: E402

__all__ = ["plt", "VariantView", "with_summary", "save", "fmt_slope", "fmt_ci", "wrap"]


@dataclass(frozen=True)
class VariantView:
    """One variant as the figures see it: its verdict row, its summary table (per size, or per
    cell of a map) and its raw table (per point and seed, config as columns); a table is
    ``None`` when the results folder does not hold it."""

    record: dict[str, Any]
    summary: pd.DataFrame | None
    raw: pd.DataFrame | None

    @property
    def label(self) -> str:
        return self.record["variant"]


def with_summary(views, column: str) -> list[VariantView]:
    """The views whose summary table exists, is not empty and holds ``column``."""
    return [v for v in views if v.summary is not None and not v.summary.empty
            and column in v.summary.columns]


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    """Write ``<stem>.png`` (150 dpi) and ``<stem>.pdf`` under ``out_dir`` atomically
    (:func:`infdepth.atomic_io.atomic_write`); close the figure."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    try:    # atomically: a failed write (a full disk) leaves no truncated figure
        atomic_write(paths[0], lambda f: fig.savefig(f, format="png", dpi=150,
                                                     bbox_inches="tight"))
        atomic_write(paths[1], lambda f: fig.savefig(f, format="pdf", bbox_inches="tight"))
    finally:
        plt.close(fig)
    return paths


def fmt_slope(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.3f}"


def fmt_ci(record: dict[str, Any], digits: int = 2) -> str:
    lo, hi = record.get("ci_low"), record.get("ci_high")
    if lo is None or hi is None:
        return ""
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"


def wrap(text: str, width: int = 48) -> str:
    return textwrap.fill(text, width)
