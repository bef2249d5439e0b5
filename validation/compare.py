"""Compare two results folders point by point and verdict by verdict (docs/design.md, "Numerics
rules"): a CUDA run against a CPU run, one machine against another, a commit against the one
before it.

Points are matched by their config without the ``ignore`` fields (default ``device``: the same
point computed on two devices). Per claim, :func:`compare_points` gives the points matched, how
many tables are bit for bit identical, and the largest relative difference

    max over rows of |a - b| / max over rows of |a|      (finite entries, per numeric column)

with the column where it occurs (tables equal but for the ignored fields' own columns count as
identical); a table where a value is finite in one folder and not in the
other counts as a non-finite mismatch (a run that blew up in one of them). Timing columns are
skipped. :func:`compare_verdicts` pairs the verdict rows by (claim, variant, convention) and
compares their status. Both return tidy DataFrames; ``infdepth compare`` prints them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from infdepth.errors import UsageError

from .results_store import ResultsStore

__all__ = ["TIMING_COLUMNS", "open_existing", "compare_points", "compare_verdicts"]

#: columns that hold wall times, not results
TIMING_COLUMNS = frozenset({"seconds", "wall_s"})


def open_existing(path: str | Path, what: str = "results folder") -> ResultsStore:
    """The results store at ``path``, which must be an existing folder of point files (a
    missing or empty folder is bad input: one line)."""
    root = Path(path)
    if not str(path).strip() or not root.is_dir():
        raise UsageError(f"{what} '{path}' does not exist")
    if not (root / "points").is_dir():
        raise UsageError(f"{what} '{path}' holds no results (no points/ folder); give a folder "
                         "written by 'infdepth validate --out'")
    return ResultsStore(root)


def _store(x: ResultsStore | str | Path) -> ResultsStore:
    return x if isinstance(x, ResultsStore) else open_existing(x)


def _matched(store: ResultsStore, ignore: Iterable[str]) -> dict[str, tuple[str, Path]]:
    drop = set(ignore)
    out: dict[str, tuple[str, Path]] = {}
    for entry in store.index().values():
        cfg = {k: v for k, v in (entry.get("config") or {}).items() if k not in drop}
        out[json.dumps(cfg, sort_keys=True)] = (entry["claim"], store.root / entry["file"])
    return out


def _numeric(df: pd.DataFrame, col: str) -> bool:
    dt = df[col].dtype
    return (col not in TIMING_COLUMNS and pd.api.types.is_numeric_dtype(dt)
            and not pd.api.types.is_bool_dtype(dt))


def _table_difference(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, str, bool]:
    """(largest relative difference, its column, whether finiteness differs somewhere)."""
    worst, where, nonfinite = 0.0, "", False
    if len(a) != len(b):
        return float("inf"), "(row count)", False
    for col in b.columns:
        if col not in a.columns or not _numeric(a, col) or not _numeric(b, col):
            continue
        x, y = a[col].to_numpy(float), b[col].to_numpy(float)
        fa, fb = np.isfinite(x), np.isfinite(y)
        if (fa != fb).any():
            nonfinite = True
        both = fa & fb
        if not both.any():
            continue
        scale = np.abs(x[both]).max()
        diff = np.abs(x[both] - y[both]).max()
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
        if rel > worst:
            worst, where = float(rel), col
    return worst, where, nonfinite


def compare_points(a: ResultsStore | str | Path, b: ResultsStore | str | Path,
                   ignore: Iterable[str] = ("device",)) -> pd.DataFrame:
    """One row per claim: ``claim``, ``matched``, ``identical``, ``max_rel_diff``,
    ``column``, ``nonfinite_mismatch`` (tables), ``only_a``, ``only_b`` (points found in one
    folder only); module docstring. ``a``, ``b``: results stores or their folders."""
    a, b, ignore = _store(a), _store(b), tuple(ignore)
    ka, kb = _matched(a, ignore), _matched(b, ignore)
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
        # a point's table carries its config as columns: the ignored fields differ by design
        da, db = (pd.read_parquet(p).drop(columns=list(ignore), errors="ignore")
                  for p in (ka[key][1], path_b))
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


def compare_verdicts(a: ResultsStore | str | Path, b: ResultsStore | str | Path
                     ) -> pd.DataFrame:
    """One row per verdict row of either folder: ``claim``, ``variant``, ``convention``,
    ``status_a``, ``status_b`` (empty where a folder has no such row), ``same``."""
    from .runner import stored_verdict_rows
    a, b = _store(a), _store(b)

    def rows(store: ResultsStore) -> dict[tuple[str, str, str], str]:
        return {(r["id"], r["variant"], r.get("convention", "default")): r["status"]
                for r in stored_verdict_rows(store)}
    va, vb = rows(a), rows(b)
    keys = list(va) + [k for k in vb if k not in va]
    return pd.DataFrame([{"claim": k[0], "variant": k[1], "convention": k[2],
                          "status_a": va.get(k, ""), "status_b": vb.get(k, ""),
                          "same": va.get(k) == vb.get(k)} for k in keys],
                        columns=["claim", "variant", "convention", "status_a", "status_b",
                                 "same"])
