"""Figure for ``train_coupling_depth`` (THEORY.md s4, s8). Run: python -m infdepth.paper_figs.train_coupling_depth [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "train_coupling_depth"
TITLE = "[NFD] accumulated reused-weight coupling after training vs depth (claimed O(L^-2))"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM, ylabel='accumulated coupling (rms)')


if __name__ == "__main__":
    main_for(CLAIM)
