"""The coord-check figure reads the tidy frames; the CLI module writes table, verdicts, figure."""

import pandas as pd

from infdepth.depth_coord_check import coord_check, coord_slopes
from infdepth.coord_check_plot import plot_coord_check
from infdepth.examples import ModelA, vector_task


def test_plot_and_cli(tmp_path, one_thread):
    X, y = vector_task(6, 3)
    df = coord_check(lambda L, n: ModelA(3, n, L), [2, 4, 8], [16], (X, y), steps=1, seeds=2,
                     preset="depth_mup", lr=0.2)
    fig = plot_coord_check(df, coord_slopes(df))
    assert len(fig.axes) == 3 * 2
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert any("derived" in t for t in labels)

    from infdepth.cli import main
    f = tmp_path / "m.py"
    f.write_text("from infdepth.examples import ModelA\n"
                 "def make(depth, width):\n    return ModelA(3, width, depth)\n")
    out = tmp_path / "out"
    assert main(["coordcheck", "--model", f"{f}:make", "--d-in", "3", "--preset", "completep",
                 "--depths", "2", "4", "8", "--widths", "16", "--steps", "1", "--seeds", "2",
                 "--out", str(out)]) == 0
    tab = pd.read_parquet(out / "slopes.parquet")
    assert {"slope", "ci_low", "ci_high", "derived", "status"} <= set(tab.columns)
    assert (out / "coord_check.png").stat().st_size > 0
    assert len(pd.read_parquet(out / "coord_check.parquet")) > 0
