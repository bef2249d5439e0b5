"""hw_phase at its disputed cell: longer sweeps in LM and more GD steps (docs/claims/hw_phase.md,
"The disputed cell").

The exponent calculus puts the cell ``(s, q) = (-0.75, +0.75)`` (residual scale
``sqrt(D) (LM)^-0.75``, raw rate ``D (LM)^0.75``) in the unstable regime: the one-step function
change grows like ``(LM)^(1/4)`` while the unit movement stays Theta(1). The standard suite (LM up to 4096, K = 15) measured it maximal.
This script measures that one cell with the claim's own points, computation and regime rule
(``hw_phase``'s ``map`` reading) at L = M = m up to 512 (LM up to 262144) and K = 15, 30, 60
steps, 16 seeds, and prints the cell's slopes and regime per K, after K steps and after the
first step. The per-seed table is written to ``hw_phase_disputed_cell.parquet``.

    python docs/examples/hw_phase_disputed_cell.py [--m 8 16 ... 512] [--K 15 30 60]
"""

from __future__ import annotations

import argparse

import pandas as pd

from infdepth.validation.claims import get_claim
from infdepth.validation.claims.hw_phase import HWPhasePoint, PhaseVariant

CELL = (-0.75, 0.75)


def measure_cell(m_values, K: int, seeds: int):
    """The cell's points at every m for ``K`` steps, their tables, and the ``map`` and
    ``map/step1`` readings of the cell (one summary row each)."""
    claim = get_claim("hw_phase")
    points = [HWPhasePoint(scale_exponent=CELL[0], lr_exponent=CELL[1], L=m, M=m,
                           n_seeds=seeds, K=K) for m in m_values]
    frames = [claim.compute(p) for p in points]
    rows = []
    for variant in (PhaseVariant("map", "K"), PhaseVariant("map", "step1")):
        ev = claim.measure(variant, points, frames).evaluate(claim.claimed(variant), None)
        (cell,) = ev.table
        rows.append({"K": K, "horizon": variant.label, **dict(cell)})
    table = pd.concat([f.assign(m=p.L, LM=p.LM, K=K) for p, f in zip(points, frames)],
                      ignore_index=True)
    return table, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256, 512])
    ap.add_argument("--K", type=int, nargs="+", default=[15, 30, 60])
    ap.add_argument("--seeds", type=int, default=16)
    args = ap.parse_args()
    tables, summary = [], []
    for K in args.K:
        t, rows = measure_cell(args.m, K, args.seeds)
        tables.append(t)
        summary += rows
    pd.concat(tables, ignore_index=True).to_parquet("hw_phase_disputed_cell.parquet")
    cols = ["K", "horizon", "regime", "derived_regime", "movement_slope", "movement_ci",
            "output_change_slope", "output_change_ci", "output_init_slope"]
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.precision", 3):
        print(pd.DataFrame(summary)[cols].to_string(index=False))
        nonfinite = pd.concat(tables).groupby(["K", "m"])["movement"].apply(
            lambda s: int((~s.map(pd.notna) | s.isin([float("inf")])).sum()))
        print("\nnon-finite movement (divergent seeds) per K and m:")
        print(nonfinite.unstack("m").to_string())


if __name__ == "__main__":
    main()
