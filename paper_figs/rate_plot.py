"""Shared log-log rate figure: error vs size per variant, fitted line, claimed-slope reference.

Reads verdict records (``verdicts.json`` rows) only -- plotting is separate from measuring.
Points excluded from the fit (noise floor, divergence) are drawn hollow; error bars are the
bootstrap standard errors. The claimed slope is drawn as a dashed reference line anchored at
the largest fitted point of the first variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def save(fig: plt.Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def plot_rates(records: Sequence[dict[str, Any]], title: str, out_dir: Path, stem: str,
               ylabel: str | None = None) -> list[Path]:
    """One figure, one curve per variant record; returns the PNG and PDF paths.

    The y label is the records' common error label, else ``ylabel`` (variants measuring
    different quantities), wrapped to the axis height.
    """
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    anchor = None
    for i, r in enumerate(records):
        sizes = np.asarray(r["sizes"], dtype=float)
        if sizes.size == 0:
            continue
        errors = np.array([np.nan if e is None else e for e in r["errors"]], dtype=float)
        stderr = np.array([0.0 if e is None else e for e in r["stderr"]], dtype=float)
        used = np.asarray(r["used"], dtype=bool)
        color = f"C{i}"
        label = f"{r['variant']}: slope {_fmt(r['measured'])}"
        if r["ci_low"] is not None:
            label += f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
        label += f" ({r['status']})"
        ax.errorbar(sizes[used], errors[used], yerr=stderr[used], fmt="o", color=color,
                    ms=4, capsize=2, label=label)
        if (~used).any():
            ax.plot(sizes[~used], errors[~used], "o", mfc="none", color=color, ms=5)
        if r["measured"] is not None and r["intercept"] is not None and used.any():
            xs = np.geomspace(sizes[used].min(), sizes[used].max(), 50)
            ax.plot(xs, np.exp(r["intercept"]) * xs ** r["measured"], "-", color=color, lw=1)
            if anchor is None:
                anchor = (sizes[used].max(), errors[used][-1], sizes[used].min())
    claimed = records[0]["claimed"] if records else None
    if claimed is not None and anchor is not None:
        x1, y1, x0 = anchor
        xs = np.geomspace(x0, x1, 50)
        ax.plot(xs, y1 * (xs / x1) ** claimed, "k--", lw=1,
                label=f"claimed slope {claimed:+g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    if records:
        import textwrap
        sizes_lbl = list(dict.fromkeys(r.get("size_label") or "size" for r in records
                                       if r.get("sizes")))
        ax.set_xlabel(" / ".join(sizes_lbl) if sizes_lbl else "size")
        labels = {r.get("error_label") or "error" for r in records}
        label = labels.pop() if len(labels) == 1 else (ylabel or "measured quantity (see legend)")
        ax.set_ylabel(textwrap.fill(label, 48), fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return save(fig, out_dir, stem)
