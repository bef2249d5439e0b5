"""Figure for ``gia_restoration`` (THEORY.md s4, s8). Run: python -m infdepth.paper_figs.gia_restoration [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "gia_restoration"
TITLE = "[NFD] reused vs independent backward weights: loss-curve gap vs depth"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM)


if __name__ == "__main__":
    main_for(CLAIM)
