"""Figure for ``nfd_depth_error`` (THEORY.md s4, s8). Run: python -m infdepth.paper_figs.nfd_depth_error [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "nfd_depth_error"
TITLE = "[NFD] trained network and NFD depth-L vs limit (claimed O(1/L))"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel='output error (depth: NFD Cauchy difference; network: engine vs NFD)')


if __name__ == "__main__":
    main_for(CLAIM)
