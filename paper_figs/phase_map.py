"""Figure kind ``phase_map``: the derived regime map beside the measured ones (docs/theory.md
s6, s7), read from the per-cell summary tables of a claim's map variants.

Cells: colour = regime; text = exponents of the two quantities in the swept size (top: unit
movement, bottom: output change) -- derived by the exponent calculus in the first panel, fitted
slopes in the measured ones. A red frame marks a cell whose measured regime differs from the
derived one; the star marks the cell the claim singles out (``scale_exponent = -1``,
``lr_exponent = 1``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle

from .common import VariantView, plt, save, with_summary

REGIMES = ("maximal", "lazy", "trivial", "unstable", "inconclusive")
COLORS = ("#a1d99b", "#fdd49e", "#9ecae1", "#fc9272", "#d9d9d9")
STAR = (-1.0, 1.0)


def _fmt(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.2f}"


def plot_phase_maps(panels: Sequence[tuple[str, "object", bool]], title: str):
    """``panels``: ``(title, cells frame, is_derived)``; every frame holds the same grid."""
    first = panels[0][1]
    s_vals = sorted(first["scale_exponent"].unique())
    q_vals = sorted(first["lr_exponent"].unique())
    cmap = ListedColormap(COLORS)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(2.0 + 0.8 * len(q_vals),
                                      0.6 + (0.9 + 0.5 * len(s_vals)) * len(panels)))
    for ax, (name, cells, is_derived) in zip(axes[:, 0], panels):
        img = np.full((len(s_vals), len(q_vals)), np.nan)
        for r in cells.itertuples():
            y, x = s_vals.index(r.scale_exponent), q_vals.index(r.lr_exponent)
            regime = r.derived_regime if is_derived else r.regime
            img[y, x] = REGIMES.index(regime)
            if is_derived:
                text = f"{r.derived_movement:+g}\n{r.derived_output_change:+g}"
            else:
                text = f"{_fmt(r.movement_slope)}\n{_fmt(r.output_change_slope)}"
                if r.movement_diverged or r.output_change_diverged:
                    text = "diverged"
                if regime != r.derived_regime:
                    ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec="red",
                                           lw=1.5))
            ax.text(x, y, text, ha="center", va="center", fontsize=6)
        ax.imshow(img, cmap=cmap, vmin=0, vmax=len(REGIMES) - 1, origin="lower", aspect="auto")
        ax.set_xticks(range(len(q_vals)), [f"{q:g}" for q in q_vals], fontsize=7)
        ax.set_yticks(range(len(s_vals)), [f"{s:g}" for s in s_vals], fontsize=7)
        ax.set_xlabel("LR exponent q (raw LR D (LM)^q)", fontsize=8)
        ax.set_ylabel("scale exponent s", fontsize=8)
        ax.set_title(name, fontsize=9)
        if STAR[0] in s_vals and STAR[1] in q_vals:
            ax.plot(q_vals.index(STAR[1]) + 0.36, s_vals.index(STAR[0]) + 0.3, "k*", ms=8)
    fig.legend(handles=[Patch(color=c, label=r) for c, r in zip(COLORS, REGIMES)],
               loc="lower center", ncol=len(REGIMES), fontsize=8)
    fig.suptitle(title + "\nexponents in LM of unit movement (top) and output change (bottom); "
                 "star = sqrt(D)/(LM) with LR D·LM; red frame = measured regime differs from "
                 "derived", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.93))
    return fig


def make(spec, views: Sequence[VariantView], out_dir: Path) -> list[Path]:
    maps = with_summary(views, "regime")
    if not maps:
        return []
    panels = [("derived (exponent calculus)", maps[0].summary, True)]
    panels += [(f"measured ({v.label}): {v.record.get('error_label') or ''}", v.summary, False)
               for v in maps]
    return save(plot_phase_maps(panels, spec.title), out_dir, spec.stem)
