"""Figures for ``hw_rate_lm`` (THEORY.md s6, s8). Run: python -m infdepth.paper_figs.hw_rate_lm [RESULTS]

Two figures, because the variants carry two claimed slopes and :func:`plot_rates` draws one
claimed reference line per figure: ``hw_rate_lm`` (the L- and M-sweeps, claimed -1/2) and
``hw_rate_lm_bias`` (the Euler-bias variants ``*/bias``, claimed -1 in L at large M).
"""

from __future__ import annotations

from .rate_plot import plot_rates
from .registry import main_for

CLAIM = "hw_rate_lm"
TITLE = "[HW] output error to the Neural Mean ODE after K steps vs L and vs M"
BIAS_TITLE = "[HW] Euler bias of the Mean ODE at large M: seed-mean error vs L"


def is_bias(record) -> bool:
    return record["variant"].endswith("/bias")


def make(records, out_dir):
    rate = [r for r in records if not is_bias(r)]
    bias = [r for r in records if is_bias(r)]
    paths = []
    if rate:
        paths += plot_rates(rate, TITLE, out_dir, CLAIM, ylabel="error (see legend per variant)")
    if bias:
        paths += plot_rates(bias, BIAS_TITLE, out_dir, f"{CLAIM}_bias",
                            ylabel="rms of the seed-mean signed error (linear: vs exact Mean ODE; "
                                   "tanh: Cauchy L vs 2L)")
    return paths


if __name__ == "__main__":
    main_for(CLAIM)
