"""Figure kind ``transfer``: the learning-rate transfer plot (docs/theory.md s5, s8).

One panel per variant: final training loss vs ``log2`` of the base learning rate, one curve per
depth L (colour by depth; seed mean, a learning rate where any seed diverged is drawn as a cross
at the top), the fitted optimum of each curve starred; the panel title gives the measured drift of
``log2 eta*`` per doubling of L with its CI and the verdict. Reads the raw table (``L, log2_eta,
seed, loss``) and the summary table (``size`` = L, ``error`` = fitted ``eta*``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .common import VariantView, fmt_ci, plt, save


def depth_curves(raw) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``[(L, log2_etas, seed-mean loss)]`` from a raw table (inf where any seed diverged)."""
    out = []
    for L, g in raw.groupby("L"):
        t = g.pivot_table(index="seed", columns="log2_eta", values="loss", aggfunc="first")
        a = np.where(np.isnan(t.to_numpy(float)), np.inf, t.to_numpy(float))
        with np.errstate(all="ignore"):
            m = np.where(np.all(np.isfinite(a), axis=0), a.mean(axis=0), np.inf)
        out.append((int(L), t.columns.to_numpy(float), m))
    return out


def plot_transfer(views: Sequence[VariantView], title: str):
    views = [v for v in views if v.raw is not None and not v.raw.empty]
    ncol = min(len(views), 2) or 1
    nrow = max(1, math.ceil(len(views) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.9 * nrow), squeeze=False)
    depths = sorted({int(L) for v in views for L in v.raw["L"].unique()})
    cmap = plt.get_cmap("viridis")

    def colour(L: int):
        return cmap(depths.index(L) / max(1, len(depths) - 1) * 0.9)

    for ax, v in zip(axes.flat, views):
        r = v.record
        optima = {}
        if v.summary is not None:
            optima = {int(s): e for s, e in zip(v.summary["size"], v.summary["error"])
                      if np.isfinite(e) and e > 0}
        curves = depth_curves(v.raw)
        lo, top = np.inf, 0.0
        for L, g, m in curves:
            fin = np.isfinite(m)
            ax.plot(g[fin], m[fin], "-o", ms=2.5, lw=1.2, color=colour(L), label=f"L={L}")
            if fin.any():
                lo, top = min(lo, float(m[fin].min())), max(top, float(m[fin].max()))
                if L in optima:
                    xo = math.log2(optima[L])
                    yo = float(np.exp(np.interp(xo, g[fin], np.log(m[fin]))))
                    ax.plot([xo], [yo], "*", ms=11, color=colour(L), mec="k", mew=0.6)
        ymax = min(top, 1e3) * 2 if top > 0 else 1.0
        for L, g, m in curves:
            bad = ~np.isfinite(m)
            if bad.any():
                ax.plot(g[bad], np.full(int(bad.sum()), ymax / 1.4), "x", ms=4, color=colour(L))
        ax.set_yscale("log")
        if np.isfinite(lo):
            ax.set_ylim(lo / 2, ymax)
        ax.set_xlabel("log2 learning rate eta")
        ax.set_ylabel("training loss after K steps")
        ax.legend(fontsize=7, ncol=2, title="star: fitted optimum, x: diverged",
                  title_fontsize=7)
        drift = "n/a" if r.get("measured") is None else f"{r['measured']:+.2f}"
        ax.set_title(f"{v.label}: {r['status']}\ndrift {drift} {fmt_ci(r)} log2/doubling",
                     fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(views):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def make(spec, views: Sequence[VariantView], out_dir: Path) -> list[Path]:
    if not any(v.raw is not None and not v.raw.empty for v in views):
        return []
    return save(plot_transfer(views, spec.title), out_dir, spec.stem)
