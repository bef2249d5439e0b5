"""Figure for ``hw_lazy`` (THEORY.md s6, s8). Run: python -m infdepth.paper_figs.hw_lazy [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "hw_lazy"
TITLE = "[HW] lazy regime: parameter movement and output change vs alpha"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel="error (see legend per variant)")


if __name__ == "__main__":
    main_for(CLAIM)
