"""Figure kind ``phase_map`` (paper_figs/phase_map.py): the derived and measured regime maps from
a synthetic per-cell table (as the runner stores a regime map's summary)."""

import pandas as pd

from infdepth.paper_figs import phase_map
from infdepth.paper_figs.common import VariantView


def _cells():
    rows = []
    for s, q, reg, dreg in ((-1.0, 1.0, "maximal", "maximal"), (-1.0, 0.5, "trivial", "trivial"),
                            (-0.5, 1.0, "unstable", "unstable"), (-0.5, 0.5, "lazy", "trivial")):
        rows.append({"scale_exponent": s, "lr_exponent": q, "regime": reg,
                     "derived_regime": dreg, "movement_slope": 0.01,
                     "output_change_slope": -0.02 if reg != "unstable" else None,
                     "movement_diverged": False, "output_change_diverged": reg == "unstable",
                     "derived_movement": 0.0, "derived_output_change": -0.5, "may_be_maximal":
                     reg == "maximal"})
    return pd.DataFrame(rows)


def test_draws_png_and_pdf(tmp_path, spec, png_and_pdf):
    views = [VariantView({"variant": "map", "error_label": "after K steps"}, _cells(), None),
             VariantView({"variant": "map/step1", "error_label": "after 1 step"}, _cells(),
                         None)]
    paths = phase_map.make(spec("phase_map", "phase"), views, tmp_path)
    png_and_pdf(paths, tmp_path, "phase")


def test_panels_and_no_map(tmp_path, spec):
    fig = phase_map.plot_phase_maps([("derived", _cells(), True), ("measured", _cells(), False)],
                                    "t")
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "measured"
    rate_like = VariantView({"variant": "maximal/output"}, pd.DataFrame({"size": [1.0]}), None)
    assert phase_map.make(spec("phase_map"), [rate_like], tmp_path) == []
