"""Figure kind ``regime_map`` (paper_figs/regime_map.py): the derived two-layer regime map,
theory only (no tables needed)."""

from infdepth.paper_figs import regime_map


def test_regime_frame_marks_the_presets():
    df = regime_map.regime_frame()
    assert len(df) == 5 * 5 * 3 * 5                           # (a, c1, c2) x layer
    w1 = df[df.layer == "W1"].set_index(["a", "c1", "c2"])["regime"]
    assert w1[(0.5, 0.0, 0.0)] == "collapsed" and w1[(1.0, 1.0, 1.0)] == "maximal"
    assert set(df.regime) <= set(regime_map.REGIMES)


def test_draws_png_and_pdf(tmp_path, spec, png_and_pdf):
    paths = regime_map.make(spec("regime_map", "regime"), [], tmp_path)
    png_and_pdf(paths, tmp_path, "regime")
