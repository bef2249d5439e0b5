"""The depth transfer check (infdepth/depth_transfer_check.py): the tidy frame, divergence, the drift
estimator on synthetic curves of known drift, the figure and the CLI module, and one small real
run on the MLP ResNet example (slow)."""

import math

import numpy as np
import pandas as pd
import pytest

from infdepth.examples import MLPResNet, vector_task
from infdepth.depth_transfer_check import (COLUMNS, NOTE_SEP, format_drift, log2_grid, lr_optima,
                                     plot_transfer_check, transfer_check, transfer_drift)


def _mlp(L, n):
    return MLPResNet(3, n, L)


def test_tidy_frame_shape_and_columns(one_thread):
    lrs = log2_grid(-2, 0, 1)
    df = transfer_check(_mlp, [2, 4, 8], vector_task(8, 3), width=8, lrs=lrs, steps=2,
                        seeds=2, preset="completep")
    assert tuple(df.columns) == COLUMNS
    assert len(df) == 3 * 3 * 2 * (2 + 1)
    assert sorted(df["step"].unique()) == [0, 1, 2]
    assert np.allclose(sorted(df["lr"].unique()), [0.25, 0.5, 1.0])
    assert np.allclose(df["log2_lr"], np.log2(df["lr"]))
    assert df.attrs["parameterization"] == "completep" and df.attrs["two_layer"] is True
    assert not df["diverged"].any() and (df["diverged_step"] == -1).all()
    # a seed's initial weights are the same at every learning rate: same loss at step 0
    s0 = df[df["step"] == 0].groupby(["depth", "seed"])["loss"].nunique()
    assert (s0 == 1).all()
    with pytest.raises(ValueError):
        transfer_check(_mlp, [2], vector_task(8, 3), width=8, lrs=[1.0, 0.5])


def test_divergent_runs_recorded_and_excluded(one_thread):
    df = transfer_check(_mlp, [2, 4, 8], vector_task(8, 3), width=8,
                        lrs=[0.125, 0.5, 2.0 ** 12], steps=3, seeds=2, preset="sp")
    div = df[df["diverged"]]
    assert len(div) and (div["lr"] == 2.0 ** 12).all()
    for _, run in div.groupby(["depth", "seed"]):
        k = int(run["diverged_step"].iloc[0])
        loss = run.sort_values("step")["loss"].to_numpy()
        assert np.all(np.isfinite(loss[:k])) and not np.isfinite(loss[k])
        assert np.all(np.isnan(loss[k + 1:]))
    opt = lr_optima(df)
    hit = opt[opt["depth"].isin(div["depth"].unique())]
    assert (hit["excluded_lrs"] == 1).all() and hit["note"].str.contains("2\\^12").all()
    assert (opt["log2_lr_opt"] < 12).all()


def _synthetic(drift, depths=(2, 4, 8, 16, 32), seeds=6, cliff=None, rng=0):
    """A tidy frame whose loss is ``exp(0.4 (x - x*(L) - e_s)^2)`` in ``x = log2 lr`` with
    ``x*(L) = 1 + drift log2 L`` and a per-seed offset ``e_s`` (sd 0.15, shared across depths:
    paired seeds) times small multiplicative noise; ``cliff``: runs with ``x > x*(L) + cliff``
    diverge (NaN loss)."""
    g = np.random.default_rng(rng)
    grid = np.arange(-8.0, 6.01, 0.5)
    off = g.normal(0, 0.15, seeds)
    rows = []
    for L in depths:
        xs = 1.0 + drift * math.log2(L)
        for s in range(seeds):
            for x in grid:
                loss = math.exp(0.4 * (x - xs - off[s]) ** 2) * (1 + 0.02 * g.normal())
                bad = cliff is not None and x > xs + cliff
                rows.append(("fake", "sgd", L, 16, 2.0 ** x, x, s, 10, math.nan if bad else loss,
                             bad, 10 if bad else -1))
    return pd.DataFrame(rows, columns=list(COLUMNS))


@pytest.mark.parametrize("drift", [-1.0, 0.0, 0.5])
def test_recovers_known_drift_within_its_interval(drift):
    tab = transfer_drift(_synthetic(drift))
    r = tab.iloc[0]
    assert r["ci_low"] <= drift <= r["ci_high"]
    assert r["ci_high"] - r["ci_low"] < 0.3
    assert r["reading"] == {-1.0: "drifts down", 0.0: "transfers", 0.5: "drifts up"}[drift]
    assert r["status"] == ("confirmed" if drift == 0.0 else "refuted")
    assert r["depths"] == (2, 4, 8, 16, 32) and len(r["eta_opt"]) == 5


def test_drift_with_divergent_learning_rates_is_noted():
    """lr* ~ 1/L with every LR above lr* * 2^1.5 divergent: the optimum still comes from the
    finite part of each curve and the notes name the excluded learning rates."""
    df = _synthetic(-1.0, cliff=1.5)
    r = transfer_drift(df).iloc[0]
    assert r["ci_low"] <= -1.0 <= r["ci_high"]
    notes = r["notes"].split(NOTE_SEP)
    assert sum("learning rates excluded" in n for n in notes) == 5
    opt = lr_optima(df)
    assert (opt["flag"] == "ok").all() and (opt["excluded_lrs"] > 0).all()
    assert "drifts down" in format_drift(transfer_drift(df))


def test_one_seed_diverging_excludes_the_learning_rate():
    df = _synthetic(0.0, depths=(2, 4, 8), seeds=3)
    best = df[(df["depth"] == 4) & (df["seed"] == 0)].sort_values("loss").iloc[0]["log2_lr"]
    m = (df["depth"] == 4) & (df["seed"] == 0) & (df["log2_lr"] == best)
    df.loc[m, ["loss", "diverged", "diverged_step"]] = [np.inf, True, 3]
    o = lr_optima(df).set_index("depth").loc[4]
    assert o["excluded_lrs"] == 1 and o["diverged_runs"] == 1
    assert f"2^{best:g}" in o["note"]
    assert o["flag"] in ("cliff", "ok") and o["log2_lr_opt"] != best


def test_figure_reads_the_frames(tmp_path):
    df = pd.concat([_synthetic(0.0, depths=(2, 4, 8), seeds=3),
                    _synthetic(-1.0, depths=(2, 4, 8), seeds=3).assign(parameterization="sp")],
                   ignore_index=True)
    fig = plot_transfer_check(df, transfer_drift(df))
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(titles) == 2 and "fake/sgd" in titles[0] and "drift" in titles[1]
    from infdepth.paper_figs.common import save
    paths = save(fig, tmp_path, "transfer")
    assert all(p.stat().st_size > 0 for p in paths)


def test_cli_writes_tables_and_figure(tmp_path, one_thread):
    from infdepth.cli import main
    f = tmp_path / "m.py"
    f.write_text("from infdepth.examples import MLPResNet, vector_task\n"
                 "def make(depth, width):\n    return MLPResNet(3, width, depth)\n"
                 "def data():\n    return vector_task(8, 3)\n")
    out = tmp_path / "out"
    assert main(["transfer", "--model", f"{f}:make", "--data", f"{f}:data", "--preset",
                 "completep", "sp", "--depths", "2", "4", "8", "--width", "8", "--log2-lrs",
                 "-2", "0", "1", "--steps", "2", "--seeds", "2", "--out", str(out)]) == 0
    df = pd.read_parquet(out / "transfer.parquet")
    assert set(df["parameterization"]) == {"completep", "sp"} and len(df) == 2 * 3 * 3 * 2 * 3
    tab = pd.read_parquet(out / "drift.parquet")
    assert {"drift", "ci_low", "ci_high", "status", "derived", "reading"} <= set(tab.columns)
    assert len(pd.read_parquet(out / "optima.parquet")) == 2 * 3
    assert (out / "drift.txt").read_text().startswith("parameterization")
    assert (out / "transfer.png").stat().st_size > 0 and (out / "transfer.pdf").exists()
    assert main(["transfer", "--model", f"{f}:make", "--depths", "2", "4", "--out",
                 str(out)]) == 2


@pytest.mark.slow
def test_mlp_resnet_completep_vs_sp(one_thread, capsys):
    """Small real run (width 32, depths 2..16, 3 seeds, 10 full-batch SGD steps, base LR
    2^-4..2^4), printed with the claim's noise floor and without it. Asserted: one row per
    preset, an optimum at every depth, and that sp's fitted optimum is lower at L=16 than at
    L=2 (the direction the calculus derives, -3.5 per doubling); no verdict is asserted."""
    dfs = [transfer_check(_mlp, [2, 4, 8, 16], vector_task(32, 3), width=32,
                          lrs=log2_grid(-4, 4, 1), steps=10, seeds=3, preset=p)
           for p in ("completep", "sp")]
    df = pd.concat(dfs, ignore_index=True)
    tabs = [transfer_drift(df, two_layer=True, noise_floor_factor=f) for f in (2.0, 0.0)]
    with capsys.disabled():
        for f, t in zip((2.0, 0.0), tabs):
            print(f"\nnoise floor factor {f:g}:\n" + format_drift(t))
    tab = tabs[0].set_index("parameterization")
    assert list(tab.index) == ["completep", "sp"]
    assert all(np.isfinite(v).all() for v in tab["eta_opt"])
    assert tab.loc["sp", "eta_opt"][-1] < tab.loc["sp", "eta_opt"][0]
