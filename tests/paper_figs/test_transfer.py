"""Figure kind ``transfer`` (paper_figs/transfer.py): loss vs learning rate per depth, from a
synthetic raw table (parabolas in log2 eta, a divergent learning rate) and its optima."""

import numpy as np
import pandas as pd

from infdepth.paper_figs import transfer
from infdepth.paper_figs.common import VariantView

GRID = np.arange(0.0, 4.01, 0.5)


def _view(label, drift=0.0):
    rows = []
    for L in (2, 4, 8):
        x0 = 2.0 + drift * np.log2(L)
        for s in range(2):
            for x in GRID:
                loss = np.inf if x >= 3.5 else float(np.exp(0.3 * (x - x0) ** 2) * (1 + 0.01 * s))
                rows.append((L, x, s, loss))
    raw = pd.DataFrame(rows, columns=["L", "log2_eta", "seed", "loss"])
    summary = pd.DataFrame({"size": [2.0, 4.0, 8.0],
                            "error": [2 ** (2.0 + drift * np.log2(L)) for L in (2, 4, 8)]})
    rec = {"variant": label, "status": "confirmed", "measured": drift, "ci_low": drift - 0.1,
           "ci_high": drift + 0.1}
    return VariantView(rec, summary, raw)


def test_depth_curves_mark_divergence():
    curves = transfer.depth_curves(_view("one_layer/depth_mup").raw)
    assert [L for L, _, _ in curves] == [2, 4, 8]
    L, g, m = curves[0]
    np.testing.assert_array_equal(g, GRID)
    assert np.all(np.isinf(m[g >= 3.5])) and np.argmin(m) == list(GRID).index(2.0)


def test_draws_png_and_pdf(tmp_path, spec, png_and_pdf):
    views = [_view("one_layer/depth_mup"), _view("two_layer/depth_mup", drift=0.3)]
    paths = transfer.make(spec("transfer", "transfer"), views, tmp_path)
    png_and_pdf(paths, tmp_path, "transfer")
    assert transfer.make(spec("transfer"), [VariantView({}, None, None)], tmp_path) == []
