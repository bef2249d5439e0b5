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


def test_nothing_is_written_into_the_folders(tmp_path):
    """A folder without an index (and without the lock folder, as a copy made by hand) is
    read as it is: compared from its point files, left unchanged."""
    import shutil
    a, b = _stores(tmp_path)
    for store in (a, b):
        store.index_path.unlink(missing_ok=True)
        shutil.rmtree(store.root / ".locks", ignore_errors=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    df = compare_points(str(a.root), str(b.root))
    assert df.matched.sum() == 3 and compare_verdicts(str(a.root), str(b.root)).empty
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


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


def test_output_into_a_closed_pipe_is_quiet(tmp_path):
    """`infdepth compare A B | true`: the reader is gone before the table (a stand-in
    comparison of 3000 claims on two empty folders, more than a pipe holds) is written: no
    traceback, exit 141 (rich's own handling would exit 1)."""
    import subprocess
    import sys
    for name in ("a", "b"):
        (tmp_path / name / "points").mkdir(parents=True)
    code = ("import sys, pandas as pd, infdepth.validation.compare as m; "
            "from infdepth.cli import main; "
            "m.compare_points = lambda a, b, i: pd.DataFrame([dict(claim=f'c{k}', matched=1, "
            "identical=1, max_rel_diff=0.0, column='', nonfinite_mismatch=0, only_a=0, "
            "only_b=0) for k in range(3000)]); "
            f"sys.exit(main(['compare', {str(tmp_path / 'a')!r}, {str(tmp_path / 'b')!r}]))")
    out = subprocess.run(f"{sys.executable} -c \"{code}\" | true; exit ${{PIPESTATUS[0]}}",
                         shell=True, executable="/bin/bash", capture_output=True, text=True,
                         timeout=120)
    assert "Traceback" not in out.stderr and out.returncode == 141, out.stderr


def _pair(tmp_path, da, db):
    a, b = ResultsStore(tmp_path / "a"), ResultsStore(tmp_path / "b")
    a.put(P(1), da, meta={"claim": "c"})
    b.put(P(1, "cuda"), db, meta={"claim": "c"})
    return compare_points(a, b).iloc[0]


@pytest.mark.parametrize("change, column", [
    (lambda d: d.assign(act=["relu", "tanh", "tanh"]), "(act)"),           # other text
    (lambda d: d.drop(columns=["y"]), "(columns)"),
    (lambda d: d.assign(z=1.0), "(columns)"),
    (lambda d: d.iloc[:2], "(row count)"),
])
def test_differences_that_are_not_numeric_are_infinite(tmp_path, change, column):
    r = _pair(tmp_path, _table(), change(_table()))
    assert (r.identical, r.max_rel_diff, r.column) == (0, np.inf, column)


def test_non_finite_entries_must_match_exactly(tmp_path):
    r = _pair(tmp_path, _table(last=np.inf), _table(last=-np.inf))
    assert (r.nonfinite_mismatch, r.max_rel_diff) == (1, 0.0)


def test_timing_columns_do_not_count(tmp_path):
    t = _table()
    r = _pair(tmp_path, t, t.assign(seconds=[9.0, 9.0, 9.0]))
    assert r.identical == 1


def test_two_points_of_one_folder_matching_one_config_are_refused(tmp_path):
    a = ResultsStore(tmp_path / "a")
    a.put(P(1), _table(), meta={"claim": "c"})
    a.put(P(1, "cuda"), _table(), meta={"claim": "c"})
    with pytest.raises(UsageError, match=r"holds 1 point\(s\) that differ from another only "
                                         r"in the ignored fields \(device\)"):
        compare_points(a, a)


def test_unreadable_point_file_and_misspelt_field_are_one_line(tmp_path, capsys):
    a, b = _stores(tmp_path)
    assert main(["compare", str(a.root), str(b.root), "--ignore", "devcie"]) == 2
    assert "--ignore: no point has the field(s) devcie; fields: device, n" in \
        capsys.readouterr().err
    b.index()                                    # an index.json that lists every file
    for f in (b.root / "points" / "c1").glob("*.parquet"):
        f.write_bytes(f.read_bytes()[:100])                  # truncated
    for _ in range(2):                           # read through the index, then rebuilt
        assert main(["compare", str(a.root), str(b.root)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot be read" in err
        b.index_path.unlink(missing_ok=True)


def test_json_is_strict_and_check_verdicts_sets_the_exit_status(tmp_path):
    a, b = ResultsStore(tmp_path / "a"), ResultsStore(tmp_path / "b")
    a.put(P(1), _table(), meta={"claim": "c"})
    b.put(P(1, "cuda"), _table().iloc[:2], meta={"claim": "c"})       # infinite difference
    _verdicts(a, [{"id": "c", "variant": "v", "status": "confirmed"}])
    _verdicts(b, [{"id": "c", "variant": "v", "status": "confirmed"}])
    out = tmp_path / "cmp.json"
    assert main(["compare", str(a.root), str(b.root), "--json", str(out),
                 "--check-verdicts"]) == 0
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert data["points"][0]["max_rel_diff"] is None
    _verdicts(b, [{"id": "c", "variant": "v", "status": "refuted"}])
    assert main(["compare", str(a.root), str(b.root), "--check-verdicts"]) == 1
    assert main(["compare", str(a.root), str(b.root)]) == 0
