"""Tests of the results store (validation/results_store.py, docs/design.md "Results store")."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from infdepth.validation.results_store import (
    ResultsStore,
    ResultsStoreError,
    canonical_config,
    config_hash,
)
from infdepth.run_fields import hashed_when_set


class Act(enum.Enum):
    RELU = "relu"
    TANH = "tanh"


@dataclass(frozen=True)
class Inner:
    lr: float = 0.1
    act: Act = Act.RELU


@dataclass(frozen=True)
class Point:
    model: str = "A1"
    L: int = 8
    n: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)
    inner: Inner = field(default_factory=Inner)
    dtype: str = "float64"


@dataclass(frozen=True)
class OtherPoint(Point):
    """Same fields as :class:`Point`, different class."""


def tidy_frame(rows=5):
    return pd.DataFrame({
        "size": np.arange(rows, dtype=np.int64) * 2 + 4,
        "error": np.linspace(0.1, 0.5, rows),
        "stat": ["mean"] * rows,
        "ok": [True, False] * (rows // 2) + [True] * (rows % 2),
        "seed": np.arange(rows, dtype=np.int32),
        "err32": np.ones(rows, dtype=np.float32),
    })


# -- config_hash ------------------------------------------------------------------------------
def test_config_hash_format_and_sensitivity():
    h = config_hash(Point())
    assert len(h) == 16 and all(c in "0123456789abcdef" for c in h)
    assert config_hash(Point()) == h
    assert config_hash(Point(L=16)) != h
    assert config_hash(Point(inner=Inner(lr=0.1000001))) != h
    assert config_hash(Point(inner=Inner(act=Act.TANH))) != h
    assert config_hash(Point(seeds=(0, 1))) != h
    assert config_hash(OtherPoint()) != h  # class name is part of the key
    assert config_hash({"L": 1}) != config_hash({"L": 1.0})
    assert config_hash({"L": True}) != config_hash({"L": 1})
    assert config_hash(float("nan")) != config_hash(float("inf"))


@dataclass(frozen=True)
class LaterPoint(Point):
    """:class:`Point` with a field added later, hashed only when set."""

    convention: str = hashed_when_set("default")


def test_a_field_hashed_when_set_leaves_the_default_hash_alone(tmp_path):
    """At its default the field is not in the canonical config (the point hashes as it did
    before the field existed); at any other value it is, and the points are stored apart."""
    def body(c):
        return {k: v for k, v in c.items() if k != "__class__"}
    assert body(canonical_config(LaterPoint())) == body(canonical_config(Point()))
    assert canonical_config(LaterPoint(convention="authors"))["convention"] == "authors"
    assert config_hash(LaterPoint(convention="authors")) != config_hash(LaterPoint())
    store = ResultsStore(tmp_path / "r")
    store.put(LaterPoint(), tidy_frame(2))
    store.put(LaterPoint(convention="authors"), tidy_frame(3))
    assert len(store.get(LaterPoint())) == 2
    assert len(store.get(LaterPoint(convention="authors"))) == 3


def test_config_hash_ignores_dict_key_order():
    a = {"L": 8, "n": 64, "opts": {"x": 1, "y": [1, 2]}}
    b = {"opts": {"y": [1, 2], "x": 1}, "n": 64, "L": 8}
    assert config_hash(a) == config_hash(b)
    assert config_hash({1: "a", 2: "b"}) == config_hash({2: "b", 1: "a"})


def test_config_hash_stable_across_processes():
    # A fresh interpreter (different hash randomization) must give the same key; the literal
    # pins the canonical form so an accidental format change is noticed.
    cfg = {"model": "A1", "L": 8, "lr": 0.1, "seeds": (0, 1), "flag": None}
    code = (
        "from infdepth.validation.results_store import config_hash;"
        "print(config_hash({'seeds': (0, 1), 'lr': 0.1, 'flag': None, 'L': 8, 'model': 'A1'}))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.strip()
    assert out == config_hash(cfg)
    import hashlib
    canon = '{"L":8,"flag":null,"lr":0.1,"model":"A1","seeds":[0,1]}'
    assert config_hash(cfg) == hashlib.sha256(canon.encode()).hexdigest()[:16]


def test_config_hash_supports_numpy_scalars_and_sympy():
    sp = pytest.importorskip("sympy")
    assert config_hash({"L": np.int64(8)}) == config_hash({"L": 8})
    assert config_hash({"x": np.float64(0.5)}) == config_hash({"x": 0.5})
    n, L = sp.symbols("n L", positive=True)
    e1 = n ** sp.Rational(-1, 2) * L ** -1
    e2 = L ** -1 * n ** sp.Rational(-1, 2)
    assert config_hash({"mult": e1}) == config_hash({"mult": e2})
    assert config_hash({"mult": e1}) != config_hash({"mult": n ** sp.Rational(-1, 2)})


def test_config_hash_of_parameterization_presets():
    from infdepth.theory.parameterization import PRESET_NAMES, preset

    objs = [preset(name) for name in PRESET_NAMES]
    assert len({config_hash(p) for p in objs}) == len(objs)
    assert config_hash(preset(PRESET_NAMES[0])) == config_hash(preset(PRESET_NAMES[0]))
    canon = canonical_config(objs[0])
    assert canon["__class__"] == "Parameterization"
    json.dumps(canon, allow_nan=False)


def test_config_hash_rejects_unsupported_types():
    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque"):
        config_hash({"x": Opaque()})
    with pytest.raises(TypeError, match="ndarray"):
        config_hash(np.arange(3))
    with pytest.raises(TypeError, match="set"):
        config_hash({1, 2})


# -- store ------------------------------------------------------------------------------------
def test_put_get_round_trip_preserves_dtypes(tmp_path):
    store = ResultsStore(tmp_path / "results")
    cfg = Point()
    df = tidy_frame()
    assert not store.has(cfg) and store.get(cfg) is None
    key = store.put(cfg, df, meta={"claim": "init_width", "seconds": 1.5})
    assert key == config_hash(cfg)
    assert store.has(cfg)
    back = store.get(cfg)
    pd.testing.assert_frame_equal(back, df)
    assert back["size"].dtype == np.int64
    assert back["seed"].dtype == np.int32
    assert back["error"].dtype == np.float64
    assert back["err32"].dtype == np.float32
    assert back["ok"].dtype == np.bool_
    assert back["stat"].dtype == df["stat"].dtype
    assert back["stat"].tolist() == ["mean"] * 5

    [entry] = store.entries()
    assert entry["hash"] == key
    assert entry["file"] == f"points/init_width/{key}.parquet" and entry["claim"] == "init_width"
    assert entry["rows"] == 5
    assert entry["meta"] == {"claim": "init_width", "seconds": 1.5}
    assert entry["config"] == canonical_config(cfg)
    assert entry["config"]["inner"]["act"] == {"__enum__": "Act.RELU"}
    assert "T" in entry["written"]
    assert (tmp_path / "results" / entry["file"]).is_file()
    index = json.loads((tmp_path / "results" / "index.json").read_text())
    assert set(index) == {key}


def test_a_point_file_carries_its_config_and_provenance(tmp_path):
    """The file alone says what it is: config columns beside the numbers, the hash, the
    canonical config and the provenance in its metadata."""
    import pyarrow.parquet as pq

    from infdepth.provenance import package_versions
    store = ResultsStore(tmp_path)
    cfg = Point(L=16)
    store.get_or_compute(cfg, tidy_frame, meta={"claim": "c"})
    path = store.path_for(cfg)
    raw = pd.read_parquet(path)
    assert {"L", "n", "model", "dtype", "error"} <= set(raw.columns)
    assert raw["L"].tolist() == [16] * 5 and raw["dtype"].tolist() == ["float64"] * 5
    meta = json.loads(pq.read_schema(path).metadata[b"infdepth"])
    assert meta["hash"] == config_hash(cfg) and meta["config"] == canonical_config(cfg)
    prov = meta["provenance"]
    assert prov["versions"] == package_versions() and prov["versions"]["pandas"] == pd.__version__
    assert prov["dtype"] == "float64" and prov["device"] == "cpu" and prov["host"]
    assert prov["seconds"] >= 0 and prov["commit"]
    assert list(store.get(cfg).columns) == list(tidy_frame().columns)  # config not mixed in


def test_reading_a_claim_folder_returns_every_column(tmp_path):
    """Points of one claim with different columns: ``pd.read_parquet`` on the folder returns
    the union (the folder's schema file is read first), one row per stored row."""
    store = ResultsStore(tmp_path)
    store.put(Point(L=4), pd.DataFrame({"err": [0.5, 0.25]}), meta={"claim": "c"})
    store.put(OtherPoint(L=8), pd.DataFrame({"err": [0.1], "extra": ["x"]}), meta={"claim": "c"})
    store.put({"w": 1}, pd.DataFrame({"err": [9.0], "count": [3]}), meta={"claim": "c"})
    df = pd.read_parquet(tmp_path / "points" / "c")
    assert len(df) == 4 and {"err", "extra", "count", "L", "w"} <= set(df.columns)
    assert sorted(df["err"]) == [0.1, 0.25, 0.5, 9.0]
    assert set(df["L"].dropna()) == {4, 8}


def test_a_file_of_another_point_is_never_used(tmp_path):
    """A valid point file of another config copied in place of this one's (a bad merge) is
    kept aside as .foreign and the point recomputed; a plain get refuses it in one line."""
    store = ResultsStore(tmp_path)
    store.put(Point(L=4), pd.DataFrame({"err": [4.0]}))
    store.put(Point(L=8), pd.DataFrame({"err": [8.0]}))
    p4, p8 = store.path_for(Point(L=4)), store.path_for(Point(L=8))
    p8.write_bytes(p4.read_bytes())
    with pytest.raises(ResultsStoreError, match="holds another point") as info:
        store.get(Point(L=8))
    assert "\n" not in str(info.value)
    with pytest.warns(UserWarning, match="another point.*kept as .*foreign"):
        df = store.get_or_compute(Point(L=8), lambda: pd.DataFrame({"err": [8.5]}))
    assert df["err"].tolist() == [8.5]
    assert p8.with_name(p8.name + ".foreign").is_file()
    # a plain Parquet file without infdepth metadata (an older layout) is not trusted either
    pd.DataFrame({"err": [1.0]}).to_parquet(p4)
    with pytest.warns(UserWarning, match="no infdepth metadata"):
        assert store.get_or_repair(Point(L=4)) is None


def test_rerun_does_not_recompute(tmp_path):
    calls = []

    def compute(L):
        def fn():
            calls.append(L)
            return pd.DataFrame({"L": [L], "err": [1.0 / L]})
        return fn

    store = ResultsStore(tmp_path)
    first = [store.get_or_compute(Point(L=L), compute(L)) for L in (4, 8, 16)]
    assert calls == [4, 8, 16]
    # Fresh store object on the same folder (a rerun): nothing recomputed, same frames.
    store2 = ResultsStore(tmp_path)
    again = [store2.get_or_compute(Point(L=L), compute(L)) for L in (4, 8, 16)]
    assert calls == [4, 8, 16]
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a, b)
    # A new point is computed once.
    store2.get_or_compute(Point(L=32), compute(32))
    store2.get_or_compute(Point(L=32), compute(32))
    assert calls == [4, 8, 16, 32]
    assert len(store2.entries()) == 4


def test_interrupted_sweep_resumes(tmp_path):
    store = ResultsStore(tmp_path)
    calls = []

    def fn_for(L):
        def fn():
            calls.append(L)
            if L == 16 and calls.count(16) == 1:
                raise KeyboardInterrupt  # the sweep is interrupted while computing L=16
            return pd.DataFrame({"L": [L]})
        return fn

    with pytest.raises(KeyboardInterrupt):
        for L in (4, 8, 16, 32):
            store.get_or_compute(Point(L=L), fn_for(L))
    assert not store.has(Point(L=16))
    for L in (4, 8, 16, 32):
        store.get_or_compute(Point(L=L), fn_for(L))
    assert calls == [4, 8, 16, 16, 32]
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("damage", ["missing", "reset", "truncated", "not a mapping", "stale"])
def test_the_index_is_rebuilt_from_the_point_files(tmp_path, damage):
    """The index is a cache of the files' metadata: missing, reset to {}, corrupt, or listing
    other files than those on disk, it is rebuilt, and no point is recomputed."""
    store = ResultsStore(tmp_path)
    for L in (4, 8):
        store.put(Point(L=L), pd.DataFrame({"x": [L]}), meta={"claim": "c"})
    store.write_index()
    index_file = tmp_path / "index.json"
    if damage == "missing":
        index_file.unlink()
    elif damage == "reset":
        index_file.write_text("{}")
    elif damage == "truncated":
        index_file.write_text(index_file.read_text()[:30])
    elif damage == "not a mapping":
        index_file.write_text("[1, 2]")
    else:
        store.put(Point(L=16), pd.DataFrame({"x": [16]}), meta={"claim": "c"})
    calls = []
    store.get_or_compute(Point(L=4), lambda: calls.append(1) or pd.DataFrame({"x": [2]}))
    assert calls == []
    want = {config_hash(Point(L=L)) for L in ((4, 8, 16) if damage == "stale" else (4, 8))}
    assert {e["hash"] for e in store.entries()} == want
    assert set(json.loads(index_file.read_text())) == want


def test_many_puts_leave_no_temp_files_and_a_valid_manifest(tmp_path):
    store = ResultsStore(tmp_path)
    for i in range(40):
        store.put({"i": i}, pd.DataFrame({"i": [i] * 3}), meta={"i": i})
    store.put({"i": 0}, pd.DataFrame({"i": [7]}))  # overwrite keeps one entry
    store.write_index()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks", "index.json", "points"]
    files = list((tmp_path / "points" / "other").iterdir())
    assert all(p.name.endswith(".parquet") for p in files)
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index) == 40 == len(files) - 1                   # and the folder's schema file
    assert store.get({"i": 0})["i"].tolist() == [7]
    assert index[config_hash({"i": 0})]["rows"] == 1


def test_failed_write_leaves_no_temp_file(tmp_path):
    store = ResultsStore(tmp_path)
    bad = pd.DataFrame({"obj": [object()]})  # not Parquet-serializable
    with pytest.raises(Exception):
        store.put({"bad": 1}, bad)
    assert not store.has({"bad": 1})
    assert not list((tmp_path / "points").rglob("*.parquet*"))
    assert not list((tmp_path / "points").rglob(".tmp-*"))
    assert store.entries() == []
    with pytest.raises(TypeError, match="JSON"):
        store.put({"x": 1}, pd.DataFrame({"a": [1]}), meta={"t": object()})
    assert not store.has({"x": 1})


def test_concurrent_writers_lose_no_point(tmp_path):
    code = (
        "import sys, pandas as pd;"
        "from infdepth.validation.results_store import ResultsStore;"
        "s = ResultsStore(sys.argv[1]); w = int(sys.argv[2]);"
        "[s.put({'w': w, 'i': i}, pd.DataFrame({'i': [i]})) for i in range(15)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(w)])
             for w in range(3)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert len(ResultsStore(tmp_path).entries()) == 45


def test_json_artifacts(tmp_path):
    store = ResultsStore(tmp_path)
    assert store.get_json("verdicts.json") is None
    obj = {"claims": [{"id": "init_width", "status": "confirmed", "ci": [-1.1, -0.9]}]}
    path = store.put_json("verdicts.json", obj)
    assert path == tmp_path / "verdicts.json"
    assert store.get_json("verdicts.json") == obj
    assert store.get_json("verdicts") == obj
    with pytest.raises(ValueError):
        store.put_json("index.json", {})
    with pytest.raises(ValueError):
        store.put_json("../escape.json", {})
    with pytest.raises(ValueError):
        store.put_json("x.json", {"a": float("nan")})
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    (tmp_path / "broken.json").write_text("{oops")
    with pytest.raises(ResultsStoreError, match="broken.json"):
        store.get_json("broken.json")
    # read-merge-write keeps a damaged file aside and writes the merge of nothing
    with pytest.warns(UserWarning, match="kept as 'broken.json.corrupt'"):
        assert store.update_json("broken.json", lambda old: {"old": old}) == {"old": None}
    assert (tmp_path / "broken.json.corrupt").read_text() == "{oops"
    assert store.update_json("broken.json", lambda old: {"old": old}) == {"old": {"old": None}}


def test_unwritable_folder_raises_one_line_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    bad = blocker / "sub"
    with pytest.raises(ResultsStoreError) as info:
        ResultsStore(bad)
    msg = str(info.value)
    assert f"cannot write to results folder '{bad}'" in msg
    assert "\n" not in msg
    assert isinstance(info.value, ValueError)
    with pytest.raises(ResultsStoreError, match="(?i)not a directory"):
        ResultsStore(blocker)


def test_corrupt_point_file_raises_store_error(tmp_path):
    store = ResultsStore(tmp_path)
    store.put({"a": 1}, pd.DataFrame({"a": [1]}))
    store.path_for({"a": 1}).write_bytes(b"garbage")
    with pytest.raises(ResultsStoreError, match="parquet"):
        store.get({"a": 1})


def test_an_unreadable_point_is_kept_aside_and_recomputed(tmp_path):
    store = ResultsStore(tmp_path)
    store.put({"a": 1}, pd.DataFrame({"a": [1]}))
    path = store.path_for({"a": 1})
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])                     # a truncated write
    with pytest.warns(UserWarning, match="cannot read results point.*kept as .*corrupt"):
        df = store.get_or_compute({"a": 1}, lambda: pd.DataFrame({"a": [2]}))
    assert df["a"].tolist() == [2]
    aside = path.with_name(path.name + ".corrupt")
    assert aside.read_bytes() == good[: len(good) // 2]          # nothing is thrown away
    assert store.get({"a": 1})["a"].tolist() == [2]
