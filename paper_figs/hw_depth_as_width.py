"""Figure "depth acts as width" ([HW], THEORY.md s6): the output errors of ``hw_rate_lm``'s
L-sweeps (M fixed), M-sweeps (L fixed) and diagonal sweeps (L = M) against the hidden width L*M. If the error
depends on L and M only through LM (the noise term alpha sqrt(D)/sqrt(LM)), the sweeps fall on
one curve of slope -1/2, drawn as the reference. Median-over-seeds variants only.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .rate_plot import plt, save


def _fixed(label: str, name: str) -> int | None:
    """The fixed size of a sweep from its error label: the *last* ``name=<int>`` (the tanh
    labels first name the coupled reference's L and M)."""
    m = re.findall(rf"\b{name}=(\d+)", label or "")
    return int(m[-1]) if m else None


def make(records, out_dir) -> list[Path]:
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    xs_all, ys_all = [], []
    for i, r in enumerate(x for x in records if not x["variant"].endswith(("/mean", "/bias"))):
        act, axis = r["variant"].split("/")[:2]
        if not r["sizes"]:
            continue
        if axis == "LM":       # the diagonal L = M: sizes are already L*M
            fixed, lm = None, np.asarray(r["sizes"], dtype=float)
        else:
            fixed = _fixed(r.get("error_label", ""), "M" if axis == "L" else "L")
            if fixed is None:
                continue
            lm = np.asarray(r["sizes"], dtype=float) * fixed
        err = np.array([np.nan if e is None else e for e in r["errors"]], dtype=float)
        ax.plot(lm, err, "o-" if act == "linear" else "s--", color=f"C{i}", ms=4,
                label=(f"{act}: sweep L = M" if fixed is None else
                       f"{act}: sweep {axis} ({'M' if axis == 'L' else 'L'}={fixed})"))
        xs_all += list(lm)
        ys_all += list(err)
    if xs_all:
        x0, x1 = min(xs_all), max(xs_all)
        y_mid = np.nanmedian(ys_all)
        xm = np.sqrt(x0 * x1)
        xs = np.geomspace(x0, x1, 20)
        ax.plot(xs, y_mid * (xs / xm) ** -0.5, "k:", lw=1, label="slope -1/2 in LM (claimed)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden width L*M")
    ax.set_ylabel("median output error after K steps")
    ax.set_title("[HW] depth acts as width: error vs L*M", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, Path(out_dir), "hw_depth_as_width")
