"""The figure-kind registry and ``make_figures`` (paper_figs/registry.py): every kind a claim may
name is registered; every claim's figures are drawn from a results folder's tables."""

import pytest

from infdepth.paper_figs import KINDS, make_figures
from infdepth.paper_figs.registry import views_of
from infdepth.validation.claims.base import FIGURE_KINDS
from infdepth.validation.results_store import ResultsStore
from infdepth.validation.tables import table_path


def test_every_figure_kind_is_registered():
    assert set(KINDS) == set(FIGURE_KINDS)
    assert all(callable(f) for f in KINDS.values())


def test_make_figures_reads_the_stored_tables(tmp_path, rate_views):
    """init_kernel_depth's one rate figure, drawn from tables put in a results folder."""
    store = ResultsStore(tmp_path / "res")
    rows = []
    for i, act in enumerate(("relu", "tanh")):
        v = rate_views(act, -1.0, rng_seed=i)
        rec = {**v.record, "id": "init_kernel_depth"}
        store.put_table(table_path("init_kernel_depth", act, summary=True), v.summary)
        store.put_table(table_path("init_kernel_depth", act), v.raw)
        rows.append(rec)
    views = views_of(store, rows)
    assert [v.label for v in views] == ["relu", "tanh"] and views[0].raw is not None
    out = make_figures(store, rows)
    assert sorted(p.name for p in out["init_kernel_depth"]) == ["init_kernel_depth.pdf",
                                                                  "init_kernel_depth.png"]
    assert all(p.parent == store.root / "figures" for p in out["init_kernel_depth"])


def test_make_figures_on_unknown_claim(tmp_path):
    with pytest.raises(ValueError, match="unknown claim 'nope'"):
        make_figures(ResultsStore(tmp_path), [{"id": "nope", "variant": "x"}])


def test_each_convention_gets_its_own_figures(tmp_path, rate_views):
    """Rows of hw_lazy under "default" and under "authors" (labels ``.../authors``): one figure
    per convention, the authors' stem suffixed; a figure's ``select`` sees the label without the
    suffix, so the authors' rows land in the same kind of figure as the default's."""
    from infdepth.paper_figs.registry import convention_spec
    from infdepth.validation.claims import get_claim
    store = ResultsStore(tmp_path / "res")
    rows = []
    for i, (label, conv) in enumerate((("tanh/movement", "default"),
                                       ("tanh/movement/authors", "authors"))):
        v = rate_views(label, -1.0, rng_seed=i)
        store.put_table(table_path("hw_lazy", label, summary=True), v.summary)
        store.put_table(table_path("hw_lazy", label), v.raw)
        rows.append({**v.record, "id": "hw_lazy", "variant": label, "convention": conv})
    names = sorted(p.name for p in make_figures(store, rows)["hw_lazy"])
    assert names == ["hw_lazy-authors.pdf", "hw_lazy-authors.png", "hw_lazy.pdf", "hw_lazy.png"]
    spec = get_claim("hw_rate_lm").figures[1]                    # the bias figure
    assert spec.wants("linear/bias/authors") and not spec.wants("linear/L/authors")
    assert convention_spec(spec, "default") is spec
    assert convention_spec(spec, "authors").stem == "hw_rate_lm_bias-authors"
