"""Figure for ``hw_sqrt_d`` (THEORY.md s6, s8). Run: python -m infdepth.paper_figs.hw_sqrt_d [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "hw_sqrt_d"
TITLE = "[HW] per-coordinate embedding error vs embedding dimension D at fixed LM"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel="error (see legend per variant)")


if __name__ == "__main__":
    main_for(CLAIM)
