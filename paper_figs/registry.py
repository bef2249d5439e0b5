"""Which figure script draws which claim, and the entry point that draws them all."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

FIGURE_MODULES: dict[str, str] = {
    "init_kernel_depth": "init_kernel_depth",
    "init_width": "init_width",
    "init_coupling_width": "init_coupling_width",
    "train_coupling_depth": "train_coupling_depth",
    "gia_restoration": "gia_restoration",
    "nfd_depth_error": "nfd_depth_error",
    "twolayer_collapse": "twolayer_collapse",
    "twolayer_correction": "twolayer_correction",
    "depth_hp_transfer": "depth_hp_transfer",
    "hw_rate_lm": "hw_rate_lm",
    "hw_sqrt_d": "hw_sqrt_d",
    "hw_lazy": "hw_lazy",
    "hw_phase": "hw_phase",
}


#: Derived (theory-only) figures drawn next to a claim's own figure when that claim has results.
THEORY_FIGURES: dict[str, str] = {
    "twolayer_collapse": "twolayer_regime_map",
}
#: Extra figures drawn from a claim's verdict rows (same ``make(records, out_dir)`` contract).
EXTRA_FIGURES: dict[str, str] = {
    "hw_rate_lm": "hw_depth_as_width",
}


def make_figures(verdicts: list[dict[str, Any]], out_dir: Path) -> dict[str, list[Path]]:
    """Draw the figure of every claim present in ``verdicts`` (plus its theory figure, if any);
    returns claim -> paths."""
    out: dict[str, list[Path]] = {}
    for claim, module in THEORY_FIGURES.items():
        if any(r["id"] == claim for r in verdicts):
            mod = importlib.import_module(f"infdepth.paper_figs.{module}")
            out.setdefault(claim, []).extend(mod.make(out_dir))
    for claim, module in FIGURE_MODULES.items():
        rows = [r for r in verdicts if r["id"] == claim and (r["sizes"] or r.get("table"))]
        if rows:
            mod = importlib.import_module(f"infdepth.paper_figs.{module}")
            out[claim] = mod.make(rows, out_dir) + out.get(claim, [])
            if claim in EXTRA_FIGURES:
                extra = importlib.import_module(f"infdepth.paper_figs.{EXTRA_FIGURES[claim]}")
                out[claim] += extra.make(rows, out_dir)
    return out


def main_for(claim: str) -> None:
    """``python -m infdepth.paper_figs.<claim> [RESULTS_DIR]``: redraw one claim's figure."""
    from infdepth.validation.results_store import ResultsStore
    from infdepth.validation.runner import VERDICTS_FILE

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    rows = [r for r in (ResultsStore(root).get_json(VERDICTS_FILE) or []) if r["id"] == claim]
    if not rows:
        sys.exit(f"no stored results for claim {claim!r} in {root}; run 'infdepth validate' first")
    mod = importlib.import_module(f"infdepth.paper_figs.{FIGURE_MODULES[claim]}")
    for p in mod.make(rows, root / "figures"):
        print(p)
