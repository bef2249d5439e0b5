"""A claim never draws the same random matrix twice (infdepth.seeding's draw cache, README): the
whole sweep of each claim that draws (every claim but init_kernel_depth), run serially through the runner on a tiny suite, generates
every key ``(stream, base seed, seed index, shape[s])`` once. Claims that share points
(twolayer_collapse and twolayer_correction) run together."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infdepth import seeding
from infdepth.validation.claims import get_claim
from infdepth.validation.results_store import ResultsStore
from infdepth.validation.runner import run_claim


def _tiny(cid: str):
    """A tiny version of the claim's smoke suite (same variants, same kinds of points)."""
    c = get_claim(cid)
    s = c.suites["smoke"]
    if cid == "init_coupling_width":
        return replace(s, depths=(2,), widths=(8, 16, 32), seeds=3)
    if cid in ("train_coupling_depth", "gia_restoration"):
        return replace(s, n=16, depths=(2, 4, 8), seeds=2, K=2)
    if cid in ("twolayer_collapse", "twolayer_correction"):
        return replace(s, n=16, depths=(4, 8, 16), seeds=2, K=2)
    if cid == "depth_hp_transfer":
        return replace(s, n=8, n_train=16, K=2, depths=(2, 4), seeds=2,
                       log2_etas=(0.0, 1.0, 2.0))
    if cid == "nfd_depth_error":
        return replace(s, K=2, depths=(2, 4), particles=64, particle_seeds=2, n=16, net_seeds=2,
                       ref_depth=8)
    if cid == "init_width":
        return replace(s, L=2, widths=(4, 8, 16), seeds_per_width=2)
    if cid == "hw_rate_lm":
        from infdepth.validation.claims.hw_rate_lm import BiasSweep
        return replace(s, seeds=2, L_sweep=(2, 4, 8), M_fixed=4, LM_sweep=(2, 4, 8),
                       M_sweep=(2, 4, 8), L_fixed=4, L_ref=8, M_ref=8,
                       ode={"Ls": 4, "P": 64}, bias={"linear": BiasSweep((2, 4), 8, 4)})
    if cid == "hw_sqrt_d":
        return replace(s, seeds=2, L=4, M=4, D_sweep=(2, 4, 8))
    if cid == "hw_lazy":
        return replace(s, seeds=2, L=4, M=4, alphas=(1.0, 2.0, 4.0))
    if cid == "hw_phase":
        return replace(s, seeds=2, m=(2, 4), scale=(-1.0,), lr=(0.5, 1.0))
    raise KeyError(cid)


def _clear_caches():
    """Forget every in-process cache that could hide a draw (the draw cache, the cached
    references, Euler schemes, NFD solves and network trainings)."""
    from infdepth.numerics import hw_bias, hw_reference
    from infdepth.validation.claims import nfd_depth_error
    seeding.clear_draw_cache()
    nfd_depth_error._train_network.cache_clear()
    nfd_depth_error._solve.cache_clear()
    for f in (hw_reference._exact, hw_reference._mean_ode, hw_reference._coupled,
              hw_bias._exact_final):
        f.cache_clear()


GROUPS = [("init_coupling_width",), ("train_coupling_depth",), ("gia_restoration",),
          ("twolayer_collapse", "twolayer_correction"), ("depth_hp_transfer",), ("init_width",),
          ("nfd_depth_error",),
          ("hw_rate_lm",), ("hw_sqrt_d",), ("hw_lazy",), ("hw_phase",)]


@pytest.mark.parametrize("group", GROUPS, ids=["+".join(g) for g in GROUPS])
def test_a_sweep_draws_every_matrix_once(group, tmp_path, monkeypatch):
    monkeypatch.delenv(seeding.DRAW_CACHE_ENV, raising=False)
    # the joint fits' bootstrap refits (400 per model) draw nothing through infdepth.seeding
    # and were most of this test's time on two-seed points: 20 refits here
    from infdepth.validation import multiterm
    fit_model = multiterm.fit_model
    monkeypatch.setattr(multiterm, "fit_model",
                        lambda *a, **k: fit_model(*a, **{**k, "n_boot": 20}))
    for cid in group:
        monkeypatch.setitem(type(get_claim(cid)).suites, "smoke", _tiny(cid))
    _clear_caches()
    store = ResultsStore(tmp_path)
    try:
        with seeding.record_draws() as log:
            for cid in group:
                recs = run_claim(get_claim(cid), "smoke", store, workers=1)
                assert recs, cid
    finally:
        seeding.clear_draw_cache()
    assert log, f"{group} drew nothing through infdepth.seeding"
    twice = {k: n for k, n in log.items() if n > 1}
    assert max(log.values()) == 1, (f"{group}: {len(twice)} of {len(log)} keys drawn more "
                                    f"than once: {sorted(twice.items(), key=str)[:12]}")
