"""Tidy per-claim tables (docs/theory.md s9): what every figure reads.

For each claim and variant the runner writes, under ``<results>/tables/<claim>/``:

* ``<variant>.parquet`` -- the raw table: every point's stored rows (per seed, per step, ...) with
  the point's config as columns (a config field a frame already has stays the frame's), the
  variant label, its role (primary / exploratory) and, for rate measurements, the swept ``size``
  of the point;
* ``<variant>.summary.parquet`` -- the evaluation: per size (``size, error, stderr, used,
  pairwise`` = slope to the next size) for a rate, per cell for a regime map.

Figures are drawn from these frames (plotting only reads them, as measuring only writes them).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any, Sequence

import numpy as np
from infdepth.lazy import lazy

from .measurements import Evaluation

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

TABLES_DIR = "tables"


def slug(label: str) -> str:
    """A file-name form of a variant label (``tanh/output`` -> ``tanh-output``)."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", label).strip("-") or "default"


def table_path(claim_id: str, label: str, summary: bool = False) -> str:
    """Path of a variant's table relative to the results folder."""
    return f"{TABLES_DIR}/{claim_id}/{slug(label)}{'.summary' if summary else ''}.parquet"


def cell(value: Any) -> Any:
    """A config value as a Parquet cell: scalars as they are, everything else as JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value):
        return getattr(value, "name", None) or json.dumps(dataclasses.asdict(value), default=str)
    return json.dumps(value, default=str)


def config_columns(point: Any) -> dict[str, Any]:
    """The fields of a point config as table columns (non-scalars JSON-encoded)."""
    return {f.name: cell(getattr(point, f.name)) for f in dataclasses.fields(point)}


def raw_table(label: str, role: str, points: Sequence[Any], frames: Sequence[pd.DataFrame],
              sizes: Sequence[float] | None) -> pd.DataFrame:
    """The raw table of one variant (module docstring)."""
    parts = []
    with_size = sizes is not None and len(sizes) == len(points)
    for i, (p, f) in enumerate(zip(points, frames)):
        t = f.copy()
        for k, v in config_columns(p).items():
            if k not in t.columns:
                t[k] = v
        if with_size:
            t["size"] = float(sizes[i])
        t["point"] = i
        parts.append(t)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out["variant"] = label
    out["role"] = role
    return out


def summary_table(ev: Evaluation) -> pd.DataFrame:
    """The evaluation as a frame: per size (rate) or per cell (map)."""
    if ev.kind in ("map", "joint"):
        rows = [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()}
                for r in ev.table]
        return pd.DataFrame(rows)
    n = len(ev.sizes)
    pw = list(ev.pairwise) + [math.nan] * (n - len(ev.pairwise))
    return pd.DataFrame({"size": np.asarray(ev.sizes, dtype=float),
                         "error": np.asarray(ev.errors, dtype=float),
                         "stderr": np.asarray(ev.stderr, dtype=float),
                         "used": np.asarray(ev.used, dtype=bool),
                         "pairwise": np.asarray(pw[:n], dtype=float)})
