"""Figures for ``hw_phase`` (THEORY.md s6, s7, s8): the derived and the measured regime maps
(after the first step and after K steps) of the [HW] 2LP ResNet over (residual-scale exponent s,
LR exponent q of LM), side by side, and the
movement / output change vs LM at the claimed point ``sqrt(D)/(LM)`` (flat reference).

Cells: colour = regime; text = exponents in LM of the unit movement (top) and of the output
change (bottom) -- derived by the exponent calculus (left), fitted slopes (right). A red frame
marks a cell whose measured regime differs from the derived one; the star marks ``hw_mlu``.

Run: python -m infdepth.paper_figs.hw_phase [RESULTS]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle

from .rate_plot import plot_rates, plt, save
from .registry import main_for

CLAIM = "hw_phase"
REGIMES = ("maximal", "lazy", "trivial", "unstable", "inconclusive")
COLORS = ("#a1d99b", "#fdd49e", "#9ecae1", "#fc9272", "#d9d9d9")


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


def draw_maps(tables: list[tuple[str, list[dict]]], out_dir: Path, stem: str = "hw_phase"
              ) -> list[Path]:
    """The derived map and one measured map per ``(title, table)`` (the ``map*`` records'
    per-cell tables, same grid)."""
    first = tables[0][1]
    s_vals = sorted({r["scale_exponent"] for r in first})
    q_vals = sorted({r["lr_exponent"] for r in first})
    cmap = ListedColormap(COLORS)
    panels = [("derived (exponent calculus)", first, True)] + [(t, tab, False)
                                                               for t, tab in tables]
    fig, axes = plt.subplots(len(panels), 1, figsize=(2.0 + 0.8 * len(q_vals),
                                                      0.6 + (0.9 + 0.5 * len(s_vals)) * len(panels)),
                             squeeze=False)
    for ax, (title, table, is_derived) in zip(axes[:, 0], panels):
        img = np.full((len(s_vals), len(q_vals)), np.nan)
        for r in table:
            y, x = s_vals.index(r["scale_exponent"]), q_vals.index(r["lr_exponent"])
            regime = r["derived_regime"] if is_derived else r["regime"]
            img[y, x] = REGIMES.index(regime)
            if is_derived:
                text = f"{r['derived_movement']:+g}\n{r['derived_output_change']:+g}"
            else:
                text = f"{_fmt(r['movement_slope'])}\n{_fmt(r['output_change_slope'])}"
                if r["movement_diverged"] or r["output_change_diverged"]:
                    text = "diverged"
                if regime != r["derived_regime"]:
                    ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec="red",
                                           lw=1.5))
            ax.text(x, y, text, ha="center", va="center", fontsize=6)
        ax.imshow(img, cmap=cmap, vmin=0, vmax=len(REGIMES) - 1, origin="lower", aspect="auto")
        ax.set_xticks(range(len(q_vals)), [f"{q:g}" for q in q_vals], fontsize=7)
        ax.set_yticks(range(len(s_vals)), [f"{s:g}" for s in s_vals], fontsize=7)
        ax.set_xlabel("LR exponent q (raw LR D (LM)^q)", fontsize=8)
        ax.set_ylabel("scale exponent s", fontsize=8)
        ax.set_title(title, fontsize=9)
        if -1.0 in s_vals and 1.0 in q_vals:
            ax.plot(q_vals.index(1.0) + 0.36, s_vals.index(-1.0) + 0.3, "k*", ms=8)
    fig.legend(handles=[Patch(color=c, label=r) for c, r in zip(COLORS, REGIMES)],
               loc="lower center", ncol=len(REGIMES), fontsize=8)
    fig.suptitle("[HW] 2LP phase map over residual scale sqrt(D) (LM)^s and raw LR D (LM)^q: "
                 "exponents in LM of unit movement (top) and output change (bottom)\n"
                 "star = sqrt(D)/(LM) with LR D·LM; red frame = measured regime differs from "
                 "derived", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    return save(fig, Path(out_dir), stem)


_MAP_TITLES = {"map/step1": "measured, after the first step", "map": "measured, after K steps"}


def make(records, out_dir):
    out_dir = Path(out_dir)
    paths: list[Path] = []
    by_variant = {r["variant"]: r for r in records if r.get("table")}
    tables = [(title, by_variant[v]["table"]) for v, title in _MAP_TITLES.items()
              if v in by_variant]
    if tables:
        paths += draw_maps(tables, out_dir)
    curves = [r for r in records if r["variant"].startswith("maximal/") and r["sizes"]]
    if curves:
        paths += plot_rates(curves, "[HW] at sqrt(D)/(LM): movement and output change vs LM",
                            out_dir, "hw_phase_maximal",
                            ylabel="median movement / output change (see legend)")
    return paths


if __name__ == "__main__":
    main_for(CLAIM)
