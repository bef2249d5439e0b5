"""Figure for ``depth_hp_transfer`` (THEORY.md s5, s8): the learning-rate transfer plot.

One panel per variant: final training loss vs ``log2`` of the base learning rate, one curve per
depth L (colour by depth), the fitted optimum of each curve marked; the panel title gives the
measured drift of ``log2 eta*`` per doubling of L with its CI and the verdict.

The verdict rows (``verdicts.json``) hold the fitted optima (``sizes`` = depths, ``errors`` =
``eta*``); the loss curves themselves are read from the results store that holds the figure
folder (``<results>/figures`` -> ``<results>``): the points of each row are rebuilt from the
experiment module for the row's suite and depths and looked up by config hash. If a curve is
missing from the store, the panel shows ``log2 eta*`` vs ``log2 L`` from the row alone.

Run: ``python -m infdepth.paper_figs.depth_hp_transfer [RESULTS]``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .rate_plot import save
from .registry import main_for

CLAIM = "depth_hp_transfer"
TITLE = "[NFD] learning-rate transfer across depth (digits, full-batch GD)"


def _curves(record: dict[str, Any], root: Path):
    """``[(L, log2_etas, mean_loss)]`` for the row's points found in the store, else None."""
    try:
        from infdepth.validation.experiments import Overrides
        from infdepth.validation.experiments import depth_hp_transfer as exp
        from infdepth.validation.results_store import ResultsStore
    except ImportError:  # pragma: no cover
        return None
    if not (root / "manifest.json").exists():
        return None
    store = ResultsStore(root)
    depths = tuple(int(s) for s in record["sizes"])
    ov = Overrides(depths=depths if len(set(depths)) >= 2 else None)
    for device in ("cpu", "cuda"):
        try:
            pts = exp.points(record["variant"], record["suite"], ov, device=device)
        except (ValueError, KeyError):
            return None
        frames = [store.get(p) for p in pts]
        if all(f is not None for f in frames):
            out = []
            for p, f in zip(pts, frames):
                g, a = exp.seed_curves(f)
                out.append((p.L, g, exp.mean_curve(a)))
            return out
    return None


def _fmt_ci(r: dict[str, Any]) -> str:
    if r.get("measured") is None:
        return "drift n/a"
    s = f"drift {r['measured']:+.2f}"
    if r.get("ci_low") is not None and r.get("ci_high") is not None:
        s += f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
    return s + " log2/doubling"


def make(records: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    root = out_dir.parent
    recs = [r for r in records if r.get("sizes")]
    ncol = min(len(recs), 2) or 1
    nrow = max(1, math.ceil(len(recs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.9 * nrow), squeeze=False)
    all_depths = sorted({int(s) for r in recs for s in r["sizes"]})
    cmap = plt.get_cmap("viridis")

    def colour(L: int):
        if len(all_depths) < 2:
            return cmap(0.0)
        return cmap(all_depths.index(L) / (len(all_depths) - 1) * 0.9)

    for ax, r in zip(axes.flat, recs):
        sizes = [int(s) for s in r["sizes"]]
        opt = [None if e is None else math.log2(e) for e in r["errors"]]
        curves = _curves(r, root)
        if curves:
            lo = np.inf
            for (L, g, m), xo in zip(curves, opt):
                fin = np.isfinite(m)
                ax.plot(g[fin], m[fin], "-o", ms=2.5, lw=1.2, color=colour(L), label=f"L={L}")
                if fin.any():
                    lo = min(lo, float(m[fin].min()))
                if xo is not None and fin.any():
                    yo = float(np.exp(np.interp(xo, g[fin], np.log(m[fin]))))
                    ax.plot([xo], [yo], "*", ms=11, color=colour(L), mec="k", mew=0.6)
            ax.set_yscale("log")
            top = max(float(np.nanmax(np.where(np.isfinite(m), m, np.nan))) for _, _, m in curves
                      if np.isfinite(m).any())
            ymax = min(top, 1e3) * 2
            ax.set_ylim(lo / 2 if np.isfinite(lo) else None, ymax)
            for L, g, m in curves:  # divergent learning rates: crosses at the top of the panel
                bad = ~np.isfinite(m)
                if bad.any():
                    ax.plot(g[bad], np.full(int(bad.sum()), ymax / 1.4), "x", ms=4,
                            color=colour(L))
            ax.set_xlabel("log2 learning rate eta")
            ax.set_ylabel("training loss after K steps")
            ax.legend(fontsize=7, ncol=2, title="star: fitted optimum, x: diverged", title_fontsize=7)
        else:
            ok = [(L, x) for L, x in zip(sizes, opt) if x is not None]
            if ok:
                ax.plot([math.log2(L) for L, _ in ok], [x for _, x in ok], "o-")
            ax.set_xlabel("log2 depth L")
            ax.set_ylabel("log2 optimal LR (curves not in store)")
        ax.set_title(f"{r['variant']}: {r['status']}\n{_fmt_ci(r)}", fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(recs):]:
        ax.axis("off")
    fig.suptitle(TITLE, fontsize=10)
    fig.tight_layout()
    return save(fig, out_dir, CLAIM)


if __name__ == "__main__":
    main_for(CLAIM)
