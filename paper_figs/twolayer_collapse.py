"""Figure for ``twolayer_collapse`` (THEORY.md s5, s8). Run: python -m infdepth.paper_figs.twolayer_collapse [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "twolayer_collapse"
TITLE = "[NFD] two-layer blocks, depth-muP: first-layer feature update vs depth (claimed L^-1/2)"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel='rms change of the first internal layer')


if __name__ == "__main__":
    main_for(CLAIM)
