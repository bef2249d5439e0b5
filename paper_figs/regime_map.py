"""Figure kind ``regime_map``: the derived regime map of two-layer residual blocks
(docs/theory.md s5, s7), theory only. For branch exponent ``a`` (multiplier ``L^-a``),
first-layer LR exponent ``c1`` and second-layer LR exponent ``c2`` (rates ``eta n L^c``), the
exponent calculus's order of the feature update per layer and its regime (collapsed / maximal /
unstable), for the first internal layer (W1) and the residual stream. Presets are marked:
depth-muP (a=1/2, c1=c2=0), the correction gamma=1/2 (c1=1/2) and CompleteP (a=c1=c2=1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import sympy as sp
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from .common import VariantView, plt, save

GRID = tuple(sp.Rational(k, 4) for k in range(5))
C2_VALUES = (sp.Integer(0), sp.Rational(1, 2), sp.Integer(1))
REGIMES = ("collapsed", "maximal", "unstable")
COLORS = ("#9ecae1", "#a1d99b", "#fc9272")
PRESETS = {"depth-muP": (0.5, 0.0, 0.0), "corrected γ=1/2": (0.5, 0.5, 0.0),
           "CompleteP": (1.0, 1.0, 1.0)}


def regime_frame():
    """The derived map as a tidy frame (one row per a, c1, c2 and layer)."""
    import pandas as pd

    from infdepth.theory.exponents_a2 import a2_regime_map
    return pd.DataFrame(a2_regime_map(GRID, GRID, C2_VALUES))


def plot_regime_map(df, title: str):
    layers = (("W1", "first internal layer (W1)"), ("stream", "residual stream"))
    fig, axes = plt.subplots(len(layers), len(C2_VALUES), figsize=(4.2 * len(C2_VALUES), 7.6),
                             squeeze=False)
    cmap = ListedColormap(COLORS)
    ticks = [float(g) for g in GRID]
    for i, (layer, name) in enumerate(layers):
        for j, c2 in enumerate(C2_VALUES):
            ax = axes[i][j]
            sub = df[(df.layer == layer) & (df.c2 == float(c2))]
            img = np.full((len(GRID), len(GRID)), np.nan)
            for r in sub.itertuples():
                y, x = ticks.index(r.a), ticks.index(r.c1)
                img[y, x] = REGIMES.index(r.regime)
                ax.text(x, y, f"L^{r.exponent_text}", ha="center", va="center", fontsize=7)
            ax.imshow(img, cmap=cmap, vmin=0, vmax=2, origin="lower")
            ax.set_xticks(range(len(GRID)), [str(g) for g in GRID])
            ax.set_yticks(range(len(GRID)), [str(g) for g in GRID])
            ax.set_xlabel("first-layer LR exponent c1")
            ax.set_ylabel("branch exponent a")
            ax.set_title(f"{name}, c2 = {c2}", fontsize=9)
            for pname, (a, c1, pc2) in PRESETS.items():
                if pc2 == float(c2):
                    ax.plot(ticks.index(c1), ticks.index(a), "k*", ms=12, mfc="none")
                    ax.annotate(pname, (ticks.index(c1), ticks.index(a)), xytext=(4, 6),
                                textcoords="offset points", fontsize=7)
    fig.legend(handles=[Patch(color=c, label=r) for c, r in zip(COLORS, REGIMES)],
               loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return fig


def make(spec, views: Sequence[VariantView], out_dir: Path) -> list[Path]:
    return save(plot_regime_map(regime_frame(), spec.title), out_dir, spec.stem)
