"""Figure for ``init_width``: relative bias of seed-averaged statistics vs width n at fixed L
(THEORY.md s3, s9). Run: python -m infdepth.paper_figs.init_width [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "init_width"
TITLE = "[NFD] init: finite-width bias vs width (claimed O(1/n))"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM)


if __name__ == "__main__":
    main_for(CLAIM)
