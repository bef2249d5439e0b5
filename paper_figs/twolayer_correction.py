"""Figure for ``twolayer_correction`` (THEORY.md s5, s8). Run: python -m infdepth.paper_figs.twolayer_correction [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "twolayer_correction"
TITLE = "[NFD] two-layer blocks with depth-aware LR correction: updates vs depth (claimed flat)"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel="rms change after K steps: du = first layer's own update, dh = residual stream at L")


if __name__ == "__main__":
    main_for(CLAIM)
