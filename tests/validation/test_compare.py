"""Comparing two results folders (validation/compare.py, ``infdepth compare``): points matched
across devices, relative differences and non-finite mismatches against hand-made tables,
verdict statuses, and bad folders refused in one line."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from infdepth.cli import main
from infdepth.errors import UsageError
from infdepth.validation.compare import compare_points, compare_verdicts, open_existing
from infdepth.validation.results_store import ResultsStore


@dataclass(frozen=True)
class P:
    n: int
    device: str = "cpu"


def _table(scale: float = 1.0, last=3.0) -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, -2.0, last], "y": [10.0, 20.0, 30.0 * scale],
                         "seconds": [0.1, 0.2, 0.3 * scale], "act": ["tanh"] * 3})


def _stores(tmp_path):
    a, b = ResultsStore(tmp_path / "a"), ResultsStore(tmp_path / "b")
    a.put(P(1), _table(), meta={"claim": "c1"})
    b.put(P(1, "cuda"), _table(), meta={"claim": "c1"})                  # identical
    a.put(P(2), _table(), meta={"claim": "c1"})
    b.put(P(2, "cuda"), _table(scale=1 + 3e-12), meta={"claim": "c1"})   # y: 9e-11 / 30
    a.put(P(3), _table(), meta={"claim": "c2"})
    b.put(P(3, "cuda"), _table(last=np.inf), meta={"claim": "c2"})       # blew up in B
    a.put(P(4), _table(), meta={"claim": "c2"})                          # only in A
    b.put(P(5, "cuda"), _table(), meta={"claim": "c3"})                  # only in B
    return a, b


def test_points_matched_without_the_device(tmp_path):
    a, b = _stores(tmp_path)
    df = compare_points(a, b).set_index("claim")
    assert list(df.index) == ["c1", "c2", "c3"]
    c1 = df.loc["c1"]
    assert (c1.matched, c1.identical, c1.column, c1.only_a, c1.only_b) == (2, 1, "y", 0, 0)
    assert c1.max_rel_diff == pytest.approx(30 * 3e-12 / 30, rel=1e-3)   # seconds not counted
    c2 = df.loc["c2"]
    assert (c2.matched, c2.identical, c2.nonfinite_mismatch, c2.only_a) == (2 - 1, 0, 1, 1)
    assert c2.max_rel_diff == 0.0             # the finite entries agree
    assert (df.loc["c3"].only_b, df.loc["c3"].matched) == (1, 0)


def test_folders_by_path_through_the_public_api(tmp_path):
    import infdepth as idp
    a, b = _stores(tmp_path)
    df = idp.compare_points(str(a.root), b.root)
    assert df.matched.sum() == 3 and df.identical.sum() == 1


def test_matching_on_every_field_pairs_nothing_across_devices(tmp_path):
    a, b = _stores(tmp_path)
    df = compare_points(a, b, ignore=())
    assert df.matched.sum() == 0 and df.only_a.sum() == 4 and df.only_b.sum() == 4


def _verdicts(store, rows):
    (store.root / "verdicts.json").write_text(json.dumps(rows))


def test_verdict_statuses(tmp_path):
    a, b = _stores(tmp_path)
    _verdicts(a, [{"id": "c1", "variant": "v", "status": "confirmed"},
                  {"id": "c1", "variant": "w", "status": "refuted"},
                  {"id": "c2", "variant": "v", "status": "confirmed"}])
    _verdicts(b, [{"id": "c1", "variant": "v", "status": "confirmed"},
                  {"id": "c1", "variant": "w", "status": "inconclusive (noise-limited)"},
                  {"id": "c3", "variant": "v", "status": "confirmed"}])
    df = compare_verdicts(a, b)
    assert df.same.tolist() == [True, False, False, False]
    assert df.status_b.tolist() == ["confirmed", "inconclusive (noise-limited)", "", "confirmed"]


def test_cli_prints_both_tables_and_writes_json(tmp_path, capsys):
    a, b = _stores(tmp_path)
    _verdicts(a, [{"id": "c1", "variant": "w", "status": "refuted"}])
    _verdicts(b, [{"id": "c1", "variant": "w", "status": "confirmed"}])
    out = tmp_path / "cmp.json"
    assert main(["compare", str(a.root), str(b.root), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "verdict rows: 1 in both, 0 with the same status" in text
    assert "c1 [w] (default): refuted -> confirmed" in text
    data = json.loads(out.read_text())
    assert {r["claim"] for r in data["points"]} == {"c1", "c2", "c3"}


def test_bad_folders_are_one_line(tmp_path, capsys):
    with pytest.raises(UsageError, match="results folder 'nowhere' does not exist"):
        open_existing("nowhere")
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no results (no points/ folder)" in err
    assert not (tmp_path / "empty" / "points").exists()     # nothing created


def test_output_into_a_closed_pipe_is_quiet():
    """`infdepth compare A B | head -2`: the reader stops early; no traceback, exit 141 (a
    stand-in for the command prints a megabyte, more than a pipe holds)."""
    import subprocess
    import sys
    code = ("import sys, infdepth.cli as c; "
            "c._cmd_compare = lambda a: [print('x' * 99) for _ in range(10 ** 4)] and 0; "
            "sys.exit(c.main(['compare', 'A', 'B']))")
    out = subprocess.run(f"{sys.executable} -c \"{code}\" | head -2; exit ${{PIPESTATUS[0]}}",
                         shell=True, executable="/bin/bash", capture_output=True, text=True,
                         timeout=60)
    assert len(out.stdout.splitlines()) == 2
    assert "Traceback" not in out.stderr and out.returncode == 141, out.stderr
