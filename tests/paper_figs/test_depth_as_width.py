"""Figure kind ``depth_as_width`` (paper_figs/depth_as_width.py): sweeps in L, in M and along
L = M against L*M, read from the raw tables' L, M columns (the sweep's own size is the one that
varies)."""

import numpy as np
import pandas as pd

from infdepth.paper_figs import depth_as_width as daw
from infdepth.paper_figs.common import VariantView


def _view(label, L, M, err):
    raw = pd.DataFrame({"L": np.repeat(L, 2), "M": np.repeat(M, 2),
                        "point": np.repeat(np.arange(len(L)), 2), "seed": [0, 1] * len(L)})
    return VariantView({"variant": label}, pd.DataFrame({"error": err}), raw)


def test_hidden_width_curve_names_the_swept_size():
    lm, err, what = daw.hidden_width_curve(_view("linear/L", [2, 4, 8], [16] * 3,
                                                 [0.1, 0.07, 0.05]))
    assert list(lm) == [32, 64, 128] and list(err) == [0.1, 0.07, 0.05] and what == "L (M=16)"
    assert daw.hidden_width_curve(_view("linear/M", [16] * 2, [4, 8], [1, 1]))[2] == "M (L=16)"
    assert daw.hidden_width_curve(_view("tanh/LM", [4, 8], [4, 8], [1, 1]))[2] == "L = M"


def test_draws_png_and_pdf(tmp_path, spec, png_and_pdf):
    views = [_view("linear/L", [2, 4, 8], [16] * 3, [0.1, 0.07, 0.05]),
             _view("tanh/M", [16] * 3, [2, 4, 8], [0.1, 0.07, 0.05]),
             _view("linear/LM", [2, 4, 8], [2, 4, 8], [0.2, 0.1, 0.05])]
    paths = daw.make(spec("depth_as_width", "daw"), views, tmp_path)
    png_and_pdf(paths, tmp_path, "daw")
    # views without the L, M columns are skipped; none left: no figure
    bare = VariantView({"variant": "x"}, pd.DataFrame({"error": [1.0]}),
                       pd.DataFrame({"seed": [0]}))
    assert daw.make(spec("depth_as_width"), [bare], tmp_path / "none") == []
