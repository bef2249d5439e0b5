"""Compare two results folders point by point and verdict by verdict (docs/design.md, "Numerics
rules"): a CUDA run against a CPU run, one machine against another, a commit against the one
before it.

Points are matched by their config without the ``ignore`` fields (default ``device``: the same
point computed on two devices). Per claim, :func:`compare_points` gives the points matched, how
many tables are bit for bit identical, and the largest relative difference

    max over rows of |a - b| / max over rows of |a|      (finite entries, per numeric column)

with the column where it occurs (tables equal but for the ignored fields' own columns and the
timing columns count as identical); a difference that is not numeric (other rows or columns,
another type, other text) is infinite and named in parentheses; a table whose non-finite entries
differ (finite in one folder, or inf against nan) counts as a non-finite mismatch (a run that
blew up in one of them). :func:`compare_verdicts` pairs the verdict rows by (claim, variant,
convention) and compares their status. Both return tidy DataFrames; ``infdepth compare`` prints
them, and with ``--check-verdicts`` exits 1 unless the verdicts agree (:func:`agree`). Nothing
is written into either folder: a missing or stale index is rebuilt in memory from the point
files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from infdepth.errors import UsageError

from infdepth.numerics.hw_conventions import DEFAULT

from .results_store import POINTS_DIR, ResultsStore

__all__ = ["TIMING_COLUMNS", "open_existing", "compare_points", "compare_verdicts", "agree"]

#: columns that hold wall times, not results
TIMING_COLUMNS = frozenset({"seconds", "wall_s"})


def open_existing(path: str | Path, what: str = "results folder") -> ResultsStore:
    """The results store at ``path`` for reading only (:meth:`ResultsStore.reader`: nothing is
    written there, so a read-only folder does), which must be an existing folder of point
    files (a missing or empty folder is bad input: one line)."""
    root = Path(path)
    if not str(path).strip() or not root.is_dir():
        raise UsageError(f"{what} '{path}' does not exist")
    if not (root / POINTS_DIR).is_dir():
        raise UsageError(f"{what} '{path}' holds no results (no points/ folder); give a folder "
                         "written by 'infdepth validate --out'")
    return ResultsStore.reader(root)


def _store(x: ResultsStore | str | Path) -> ResultsStore:
    return x if isinstance(x, ResultsStore) else open_existing(x)


def _matched(store: ResultsStore, index: dict[str, dict[str, Any]], ignore: Iterable[str]
             ) -> dict[str, tuple[str, Path]]:
    """Point files of ``store`` (its ``index``) by their config without the ``ignore`` fields;
    two points of one folder that differ only in those fields are bad input (one line): which
    of them to compare?"""
    drop = set(ignore)
    out: dict[str, tuple[str, Path]] = {}
    clashes = 0
    bad = store.unlisted_files(index)
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise UsageError(f"point file '{bad[0]}'{more} cannot be read (truncated, or not a "
                         "point file); run 'infdepth validate' on its folder again to "
                         "recompute it")
    for entry in index.values():
        cfg = {k: v for k, v in (entry.get("config") or {}).items() if k not in drop}
        key = json.dumps(cfg, sort_keys=True)
        clashes += key in out
        out[key] = (entry["claim"], store.root / entry["file"])
    if clashes:
        raise UsageError(f"results folder '{store.root}' holds {clashes} point(s) that differ "
                         f"from another only in the ignored fields ({', '.join(sorted(drop))}); "
                         "compare folders computed on one device each, or ignore fewer fields")
    return out


def _fields(index: dict[str, dict[str, Any]]) -> set[str]:
    return {k for e in index.values() for k in (e.get("config") or {}) if not k.startswith("__")}


def _read(path: Path, ignore: tuple[str, ...]) -> pd.DataFrame:
    """A point's table without the ignored fields' own columns (a point's table carries its
    config as columns: those differ by design) and without its timing columns."""
    try:
        df = pd.read_parquet(path)
    except Exception as exc:                 # truncated or foreign file: one line
        raise UsageError(f"point file '{path}' cannot be read ({type(exc).__name__}); run "
                         "'infdepth validate' on its folder again to recompute it") from None
    return df.drop(columns=[c for c in df.columns if c in ignore or c in TIMING_COLUMNS])


def _numeric(df: pd.DataFrame, col: str) -> bool:
    dt = df[col].dtype
    return pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)


def _table_difference(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, str, bool]:
    """(largest relative difference, its column, whether the non-finite entries differ
    somewhere) of two tables that are not equal. A difference that is not numeric -- other
    rows or columns, another type, other text or flags -- is infinite, named in parentheses."""
    if len(a) != len(b):
        return math.inf, "(row count)", False
    if list(a.columns) != list(b.columns):
        return math.inf, "(columns)", False
    worst, where, nonfinite = 0.0, "", False
    for col in b.columns:
        if not (_numeric(a, col) and _numeric(b, col)):
            if a[col].dtype != b[col].dtype or not a[col].equals(b[col]):
                return math.inf, f"({col})", nonfinite
            continue
        x, y = a[col].to_numpy(float), b[col].to_numpy(float)
        fa, fb = np.isfinite(x), np.isfinite(y)
        # non-finite entries must match exactly: nan with nan, +inf with +inf
        odd = ~(fa & fb)
        if (fa != fb).any() or not np.array_equal(x[odd], y[odd], equal_nan=True):
            nonfinite = True
        both = fa & fb
        if not both.any():
            continue
        scale = np.abs(x[both]).max()
        diff = np.abs(x[both] - y[both]).max()
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
        if rel > worst:
            worst, where = float(rel), col
    return worst, where, nonfinite


def compare_points(a: ResultsStore | str | Path, b: ResultsStore | str | Path,
                   ignore: Iterable[str] = ("device",)) -> pd.DataFrame:
    """One row per claim: ``claim``, ``matched``, ``identical``, ``max_rel_diff``,
    ``column``, ``nonfinite_mismatch`` (tables), ``only_a``, ``only_b`` (points found in one
    folder only); module docstring. ``a``, ``b``: results stores or their folders. An ignored
    field that no point of either folder has is bad input (a misspelt name would otherwise
    match nothing silently)."""
    a, b, ignore = _store(a), _store(b), tuple(ignore)
    ia, ib = a.index(), b.index()          # read once (rebuilt from the files if need be)
    known = _fields(ia) | _fields(ib)
    unknown = [f for f in ignore if f not in known]
    if unknown and known:
        raise UsageError(f"--ignore: no point has the field(s) {', '.join(unknown)}; "
                         f"fields: {', '.join(sorted(known))}")
    ka, kb = _matched(a, ia, ignore), _matched(b, ib, ignore)
    rows: dict[str, dict[str, Any]] = {}

    def row(claim: str) -> dict[str, Any]:
        return rows.setdefault(claim, {"claim": claim, "matched": 0, "identical": 0,
                                       "max_rel_diff": 0.0, "column": "",
                                       "nonfinite_mismatch": 0, "only_a": 0, "only_b": 0})
    for key, (claim, path_b) in kb.items():
        r = row(claim)
        if key not in ka:
            r["only_b"] += 1
            continue
        da, db = _read(ka[key][1], ignore), _read(path_b, ignore)
        r["matched"] += 1
        if da.equals(db):
            r["identical"] += 1
            continue
        rel, col, nonfinite = _table_difference(da, db)
        r["nonfinite_mismatch"] += int(nonfinite)
        if rel > r["max_rel_diff"]:
            r["max_rel_diff"], r["column"] = rel, col
    for key, (claim, _) in ka.items():
        if key not in kb:
            row(claim)["only_a"] += 1
    return pd.DataFrame(sorted(rows.values(), key=lambda r: r["claim"]),
                        columns=["claim", "matched", "identical", "max_rel_diff", "column",
                                 "nonfinite_mismatch", "only_a", "only_b"])


def agree(verdicts: pd.DataFrame) -> bool:
    """Whether two folders agree on their verdicts: every verdict row in both with the same
    status (``infdepth compare --check-verdicts``; the point differences are reported, not
    judged: runs that blow up differ at O(1) under any change of rounding)."""
    return bool(len(verdicts)) and bool(verdicts["same"].all())


def compare_verdicts(a: ResultsStore | str | Path, b: ResultsStore | str | Path
                     ) -> pd.DataFrame:
    """One row per verdict row of either folder: ``claim``, ``variant``, ``convention``,
    ``status_a``, ``status_b`` (empty where a folder has no such row), ``same``."""
    from .runner import stored_verdict_rows
    a, b = _store(a), _store(b)

    def rows(store: ResultsStore) -> dict[tuple[str, str, str], str]:
        return {(r["id"], r["variant"], r.get("convention", DEFAULT)): r["status"]
                for r in stored_verdict_rows(store)}
    va, vb = rows(a), rows(b)
    keys = list(va) + [k for k in vb if k not in va]
    return pd.DataFrame([{"claim": k[0], "variant": k[1], "convention": k[2],
                          "status_a": va.get(k, ""), "status_b": vb.get(k, ""),
                          "same": va.get(k) == vb.get(k)} for k in keys],
                        columns=["claim", "variant", "convention", "status_a", "status_b",
                                 "same"])
