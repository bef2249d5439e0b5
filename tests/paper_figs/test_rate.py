"""Figure kind ``rate`` (paper_figs/rate.py): log-log error vs size from synthetic tables."""

from infdepth.paper_figs import rate


def test_draws_png_and_pdf(tmp_path, spec, rate_views, png_and_pdf):
    views = [rate_views("a", -1.0), rate_views("b", -0.5, role="exploratory", rng_seed=1)]
    paths = rate.make(spec("rate", "rate_fig"), views, tmp_path)
    png_and_pdf(paths, tmp_path, "rate_fig")


def test_figure_content(rate_views):
    fig = rate.plot_rate([rate_views("a", -1.0)], "title", "err")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    (mine,) = [t for t in labels if t.startswith("a: slope ")]
    assert "vs claimed: confirmed" in mine and "claimed slope -1" in labels
    assert any(t.startswith("error bars: standard error") for t in labels)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "depth L"


def test_nothing_to_draw(tmp_path, spec, rate_views):
    v = rate_views("a", -1.0)
    empty = type(v)(v.record, None, None)
    assert rate.make(spec("rate"), [empty], tmp_path) == []
    assert list(tmp_path.iterdir()) == []
