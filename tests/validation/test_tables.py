"""Tidy per-claim tables (validation/tables.py, docs/theory.md s9): file names, config columns,
the raw table of a variant and the summary of its evaluation, through the results store."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from infdepth.run_fields import RunFields
from infdepth.theory.parameterization import preset
from infdepth.validation.measurements import Evaluation
from infdepth.validation.results_store import ResultsStore
from infdepth.validation.tables import (config_columns, raw_table, slug, summary_table,
                                        table_path)


@dataclass(frozen=True)
class Point(RunFields):
    L: int
    inputs: tuple[tuple[float, ...], ...] = ((1.0, 0.0), (0.0, 1.0))
    gamma: float | None = None
    seed: int = -1                       # a config field the frame also has: the frame's wins


def test_slug_and_paths():
    assert slug("tanh/output") == "tanh-output"
    assert slug("du/gamma=0.5") == "du-gamma=0.5"
    assert slug("a b/c") == "a-b-c" and slug("//") == "default"
    assert table_path("hw_lazy", "tanh/movement") == "tables/hw_lazy/tanh-movement.parquet"
    assert table_path("hw_lazy", "tanh/movement", summary=True) == \
        "tables/hw_lazy/tanh-movement.summary.parquet"


def test_config_columns():
    cols = config_columns(Point(L=4, base_seed=2))
    assert cols["L"] == 4 and cols["base_seed"] == 2 and cols["gamma"] is None
    assert json.loads(cols["inputs"]) == [[1.0, 0.0], [0.0, 1.0]]
    assert set(cols) == {"L", "inputs", "gamma", "seed", "base_seed", "device", "dtype"}

    @dataclass(frozen=True)
    class WithParam(RunFields):
        p: object
    assert config_columns(WithParam(p=preset("depth_mup")))["p"] == "depth_mup"


def test_raw_table_of_a_variant():
    pts = [Point(L=L) for L in (4, 8)]
    frames = [pd.DataFrame({"seed": [0, 1], "err": [1.0 / L, 2.0 / L]}) for L in (4, 8)]
    t = raw_table("tanh/output", "primary", pts, frames, sizes=[4.0, 8.0])
    assert len(t) == 4 and list(t["seed"]) == [0, 1, 0, 1]          # the frame's own seed
    assert list(t["L"]) == [4, 4, 8, 8] and list(t["point"]) == [0, 0, 1, 1]
    assert list(t["size"]) == [4.0, 4.0, 8.0, 8.0]
    assert set(t["variant"]) == {"tanh/output"} and set(t["role"]) == {"primary"}
    no_size = raw_table("map", "exploratory", pts, frames, sizes=None)
    assert "size" not in no_size and set(no_size["role"]) == {"exploratory"}
    empty = raw_table("x", "primary", [], [], sizes=None)
    assert empty.empty


def test_summary_table_of_a_rate_and_a_map():
    ev = Evaluation(slope=-1.0, intercept=0.0, ci_low=-1.1, ci_high=-0.9, status="confirmed",
                    method="bootstrap", sizes=(4.0, 8.0, 16.0), errors=(0.25, 0.125, 0.0625),
                    stderr=(0.01, 0.01, 0.01), used=(True, True, False), pairwise=(-1.0, -1.0))
    s = summary_table(ev)
    assert list(s.columns) == ["size", "error", "stderr", "used", "pairwise"]
    assert list(s["used"]) == [True, True, False] and math.isnan(s["pairwise"].iloc[-1])
    cells = Evaluation(slope=-1.0, intercept=math.nan, ci_low=-1.0, ci_high=-1.0,
                       status="confirmed", method="regime map", kind="map",
                       table=({"s": -1.0, "regime": "maximal", "extra": {"a": 1}},
                              {"s": -0.5, "regime": "lazy", "extra": {"a": 2}}))
    m = summary_table(cells)
    assert list(m["regime"]) == ["maximal", "lazy"] and json.loads(m["extra"][1]) == {"a": 2}


def test_tables_round_trip_through_the_store(tmp_path):
    store = ResultsStore(tmp_path)
    pts = [Point(L=L) for L in (4, 8)]
    frames = [pd.DataFrame({"seed": [0, 1], "err": np.array([1.0, 2.0]) / L}) for L in (4, 8)]
    raw = raw_table("tanh/output", "primary", pts, frames, sizes=[4.0, 8.0])
    path = store.put_table(table_path("c", "tanh/output"), raw)
    assert path == store.root / "tables" / "c" / "tanh-output.parquet" and path.exists()
    back = store.get_table(table_path("c", "tanh/output"))
    pd.testing.assert_frame_equal(back, raw)
    assert store.get_table(table_path("c", "other")) is None


@pytest.mark.parametrize("bad", ["../x.parquet", "/abs.parquet", "points/x.parquet",
                                 "tables/x.csv"])
def test_store_keeps_tables_inside_the_results_folder(tmp_path, bad):
    with pytest.raises(ValueError, match="invalid table path"):
        ResultsStore(tmp_path).put_table(bad, pd.DataFrame({"a": [1]}))
