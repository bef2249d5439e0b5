"""Figure for ``hw_rate_lm`` (THEORY.md s6, s8). Run: python -m infdepth.paper_figs.hw_rate_lm [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "hw_rate_lm"
TITLE = "[HW] output error to the Neural Mean ODE after K steps vs L and vs M"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel="error (see legend per variant)")


if __name__ == "__main__":
    main_for(CLAIM)
