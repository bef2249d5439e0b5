"""Figure kind ``depth_as_width`` ([HW], docs/theory.md s6): the errors of sweeps in L (M fixed),
in M (L fixed) and along the diagonal L = M, drawn against the hidden width L*M. If the error
depends on L and M only through LM (the noise term alpha sqrt(D)/sqrt(LM)), the sweeps fall on
one curve of slope -1/2, drawn as the reference. Reads each variant's raw table (config columns
``L``, ``M``, ``point``) and summary table (per point: ``error``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .common import VariantView, plt, save


def hidden_width_curve(v: VariantView) -> tuple[np.ndarray, np.ndarray, str]:
    """``(L*M, error, sweep text)`` of one variant, from its tables."""
    pts = v.raw.drop_duplicates("point").sort_values("point")
    L, M = pts["L"].to_numpy(float), pts["M"].to_numpy(float)
    err = v.summary["error"].to_numpy(float)
    if np.all(L == M):
        what = "L = M"
    elif np.all(M == M[0]):
        what = f"L (M={int(M[0])})"
    else:
        what = f"M (L={int(L[0])})"
    return L * M, err, what


def plot_depth_as_width(views: Sequence[VariantView], title: str):
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    xs_all, ys_all = [], []
    for i, v in enumerate(views):
        lm, err, what = hidden_width_curve(v)
        act = v.label.split("/")[0]
        ax.plot(lm, err, "o-" if act == "linear" else "s--", color=f"C{i}", ms=4,
                label=f"{act}: sweep {what}")
        xs_all += list(lm)
        ys_all += list(err)
    if xs_all:
        x0, x1 = min(xs_all), max(xs_all)
        xm = np.sqrt(x0 * x1)
        xs = np.geomspace(x0, x1, 20)
        ax.plot(xs, np.nanmedian(ys_all) * (xs / xm) ** -0.5, "k:", lw=1,
                label="slope -1/2 in LM (claimed)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden width L*M")
    ax.set_ylabel("median output error after K steps")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def make(spec, views: Sequence[VariantView], out_dir: Path) -> list[Path]:
    views = [v for v in views if v.raw is not None and v.summary is not None
             and {"L", "M", "point"} <= set(v.raw.columns)]
    if not views:
        return []
    return save(plot_depth_as_width(views, spec.title), out_dir, spec.stem)
