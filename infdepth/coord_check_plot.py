"""Figures of a depth coord check; they only read the tidy frames of
:func:`infdepth.depth_coord_check.coord_check` and :func:`~infdepth.depth_coord_check.coord_slopes`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from infdepth.theory.coord_exponents import STATS

from .depth_coord_check import per_block_means
from .param.roles import STREAM_WRITERS


def _series(df: pd.DataFrame, over: str, fixed: str) -> pd.DataFrame:
    """Seed-mean of the block-mean statistic (``own`` of stream writers: ``own_sum``)."""
    d = per_block_means(df)
    writers = d["role"].isin(STREAM_WRITERS)
    d = d[~((d["stat"] == "own") & writers)]
    d.loc[d["stat"] == "own_sum", "stat"] = "own"
    at = d[fixed].max()
    d = d[d[fixed] == at]
    return d.groupby([over, "step", "pattern", "stat"], as_index=False)["value"].mean()


def plot_coord_check(df: pd.DataFrame, slopes: pd.DataFrame | None = None, *, over: str = "depth",
                     steps=None):
    """mup-style panels: rows ``act, delta, own``, columns the recorded steps (at most 4), one
    line per module pattern over ``over`` (``"depth"`` at the largest width, or ``"width"`` at
    the largest depth), log-log. With ``slopes`` the legend carries each module's measured
    slope and derived exponent. Returns the matplotlib figure."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fixed = "width" if over == "depth" else "depth"
    s = _series(df, over, fixed)
    all_steps = sorted(s["step"].unique())
    steps = list(steps) if steps is not None else all_steps[-4:] if len(all_steps) > 4 else all_steps
    fig, axes = plt.subplots(len(STATS), len(steps), figsize=(3.2 * len(steps), 2.6 * len(STATS)),
                             squeeze=False, sharex=True)
    label_of = {}
    if slopes is not None and len(slopes):
        sym = "L" if over == "depth" else "n"
        for r in slopes[slopes["over"] == sym].itertuples():
            label_of.setdefault((r.pattern, r.stat),
                                f"{r.pattern}: {r.slope:+.2f} (derived {r.derived_text})")
    for i, stat in enumerate(STATS):
        for j, k in enumerate(steps):
            ax = axes[i][j]
            sub = s[(s["stat"] == stat) & (s["step"] == k)]
            for pat, g in sub.groupby("pattern"):
                g = g.sort_values(over)
                if (g["value"] > 0).any():
                    ax.plot(g[over], g["value"].clip(lower=np.finfo(float).tiny), marker="o",
                            ms=3, label=label_of.get((pat, stat), pat))
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            if i == 0:
                ax.set_title(f"step {k}")
            if j == 0:
                ax.set_ylabel(f"rms {stat}")
            if i == len(STATS) - 1:
                ax.set_xlabel(over)
            if j == len(steps) - 1:
                ax.legend(fontsize=6, loc="best")
    title = df.attrs.get("parameterization", "")
    fig.suptitle(f"coord check over {over}: {title}, {df.attrs.get('optimizer', '')}")
    fig.tight_layout()
    return fig
