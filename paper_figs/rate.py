"""Figure kind ``rate``: measured error vs size on log-log axes, one curve per variant, with the
fitted line, per-seed values, and the claimed and derived slopes as reference lines
(docs/theory.md s9); the legend gives each variant's slope, interval and both statuses.

Reads each variant's summary table (``size, error, stderr, used``) and, when the measurement
names a per-seed column, the raw table for a faint per-seed scatter. Points excluded from the fit
(noise floor, divergence) are hollow; error bars are the bootstrap standard errors of the
statistic. Reference lines are anchored at the largest fitted point of the first variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .common import VariantView, fmt_ci, fmt_slope, plt, save, with_summary, wrap


def plot_rate(views: Sequence[VariantView], title: str, ylabel: str | None = None):
    """The figure (matplotlib ``Figure``) of :func:`make`, for use in notebooks."""
    fig, ax = plt.subplots(figsize=(5.8, 4.3))
    anchor = None
    for i, v in enumerate(views):
        s = v.summary
        if s is None or s.empty:
            continue
        r, color = v.record, f"C{i}"
        sizes, errors = s["size"].to_numpy(float), s["error"].to_numpy(float)
        stderr = np.nan_to_num(s["stderr"].to_numpy(float))
        used = s["used"].to_numpy(bool)
        col = r.get("seed_column")
        if col and v.raw is not None and col in v.raw.columns and "size" in v.raw.columns:
            vals = v.raw[col].to_numpy(float)
            ok = np.isfinite(vals) & (vals > 0)
            ax.plot(v.raw["size"].to_numpy(float)[ok], vals[ok], ".", color=color, ms=2,
                    alpha=0.25)
        label = (f"{v.label}: slope {fmt_slope(r['measured'])} {fmt_ci(r)}\n  vs claimed: "
                 f"{r['status']}; vs derived: {r.get('status_derived', 'n/a')}")
        ax.errorbar(sizes[used], errors[used], yerr=stderr[used], fmt="o", color=color, ms=4,
                    capsize=2, label=label)
        if (~used).any():
            ax.plot(sizes[~used], errors[~used], "o", mfc="none", color=color, ms=5)
        if r["measured"] is not None and r.get("intercept") is not None and used.any():
            xs = np.geomspace(sizes[used].min(), sizes[used].max(), 50)
            ax.plot(xs, np.exp(r["intercept"]) * xs ** r["measured"], "-", color=color, lw=1)
            if anchor is None:
                anchor = (sizes[used].max(), errors[used][-1], sizes[used].min())
    if anchor is not None and views:
        x1, y1, x0 = anchor
        xs = np.geomspace(x0, x1, 50)
        r0 = views[0].record
        claimed, derived = r0.get("claimed"), r0.get("derived")
        if claimed is not None:
            ax.plot(xs, y1 * (xs / x1) ** claimed, "k--", lw=1,
                    label=f"claimed slope {claimed:+g}")
        if derived is not None and (claimed is None or abs(derived - claimed) > 1e-9):
            ax.plot(xs, y1 * (xs / x1) ** derived, "k:", lw=1.2,
                    label=f"derived slope {derived:+.3g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    recs = [v.record for v in views]
    size_labels = list(dict.fromkeys(r.get("size_label") or "size" for r in recs))
    ax.set_xlabel(" / ".join(size_labels) if size_labels else "size")
    labels = {r.get("error_label") or "error" for r in recs}
    label = labels.pop() if len(labels) == 1 else (ylabel or "measured quantity (see legend)")
    ax.set_ylabel(wrap(label), fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.plot([], [], " ", label="error bars: standard error of the statistic (seed bootstrap);"
                               "\nhollow: left out of the fit (noise floor, divergence)")
    ax.legend(fontsize=6.5, loc="best")
    return fig


def make(spec, views: Sequence[VariantView], out_dir: Path) -> list[Path]:
    views = with_summary(views, "size")
    if not views:
        return []
    return save(plot_rate(views, spec.title, spec.ylabel), out_dir, spec.stem)
