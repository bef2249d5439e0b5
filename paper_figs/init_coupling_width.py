"""Figure for ``init_coupling_width`` (THEORY.md s4, s8). Run: python -m infdepth.paper_figs.init_coupling_width [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "init_coupling_width"
TITLE = "[NFD] weight-reuse coupling at init vs width (claimed O(1/n), flat in L)"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel='coupling at init: rms, or relative effect on E|g_0|^2')


if __name__ == "__main__":
    main_for(CLAIM)
