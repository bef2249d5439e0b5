"""Figure for ``init_kernel_depth``: output-kernel error of the depth-L recursion vs L, per
activation, against the kernel ODE (THEORY.md s3). Run: python -m infdepth.paper_figs.init_kernel_depth [RESULTS]"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "init_kernel_depth"
TITLE = "[NFD] init: depth-L kernel recursion vs kernel ODE (claimed O(1/L))"


def make(records, out_dir):
    return plot_rates(records, TITLE, out_dir, CLAIM)


if __name__ == "__main__":
    main_for(CLAIM)
