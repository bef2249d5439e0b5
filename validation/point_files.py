"""The file of one experiment point (docs/design.md "Results store"): its table, its config
and its provenance in one Parquet file that needs nothing else to be understood.

A point file holds

* the point's computed table (the columns the claim's ``compute`` returned, its index kept),
* the point's config as extra columns (:func:`~infdepth.validation.tables.config_columns`;
  a field the table already has stays the table's), so that reading a folder of point files
  with ``pd.read_parquet`` gives a tidy table with the config beside the numbers,
* Parquet key-value metadata ``infdepth``: JSON ``{"format", "hash", "config" (canonical),
  "columns" (the computed table's), "meta", "written", "provenance"}``.

:func:`read_point` checks the stored hash and canonical config against the point asked for, so
a file of another point put in its place (a copy, a bad merge of results folders) is never used
as this point's result.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infdepth.atomic_io import atomic_write
from infdepth.errors import InfdepthError
from infdepth.lazy import lazy

pd = lazy("pandas")  # imported on first use (infdepth.lazy)
pa = lazy("pyarrow")
pq = lazy("pyarrow.parquet")

__all__ = ["FORMAT", "META_KEY", "PointFileError", "ForeignPointError", "write_point",
           "read_point", "read_point_meta", "read_point_footer"]

FORMAT = 2
META_KEY = b"infdepth"


class PointFileError(InfdepthError):
    """A point file cannot be read (truncated, damaged, not Parquet)."""


class ForeignPointError(PointFileError):
    """A readable point file that is not the point asked for (another config's table, or a
    file without infdepth metadata)."""


def _config_columns(point: Any) -> dict[str, Any]:
    """A dataclass config's fields (or a dict config's string keys) as columns."""
    import dataclasses

    from .tables import cell, config_columns  # one flattening of a config into columns
    if dataclasses.is_dataclass(point):
        return config_columns(point)
    if isinstance(point, dict):
        return {k: cell(v) for k, v in point.items() if isinstance(k, str)}
    return {}


def write_point(path: Path, point: Any, key: str, canonical: Any, df: "pd.DataFrame",
                meta: dict[str, Any] | None, provenance: dict[str, Any]) -> "pa.Schema":
    """Write the point file at ``path`` atomically; return its Arrow schema (no metadata)."""
    full = df.copy()
    for name, value in _config_columns(point).items():
        if name not in full.columns:
            full[name] = value
    record = {"format": FORMAT, "hash": key, "config": canonical,
              "columns": [str(c) for c in df.columns], "meta": meta,
              "written": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
              "provenance": provenance}
    text = json.dumps(record, sort_keys=True, allow_nan=False)  # validated before any write
    table = pa.Table.from_pandas(full)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           META_KEY: text.encode("utf-8")})
    atomic_write(path, lambda f: pq.write_table(table, f))
    return table.schema.remove_metadata()


def read_point_meta(path: Path) -> dict[str, Any]:
    """The ``infdepth`` metadata of a point file (footer only); :class:`PointFileError` if the
    file is damaged, :class:`ForeignPointError` if it has no such metadata."""
    return read_point_footer(path)[0]


def read_point_footer(path: Path) -> tuple[dict[str, Any], int]:
    """``(metadata, rows)`` of a point file from one read of its footer (errors as
    :func:`read_point_meta`)."""
    try:
        footer = pq.read_metadata(path)
        schema = footer.schema.to_arrow_schema()
    except FileNotFoundError:
        raise
    except Exception as e:  # pyarrow raises its own error types for a damaged file
        raise PointFileError(f"cannot read results point '{path}': {e}") from None
    return _parse_meta(path, schema), int(footer.num_rows)


def _parse_meta(path: Path, schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise ForeignPointError(f"results point '{path}' carries no infdepth metadata (a file "
                                "of an older layout or not written by infdepth)")
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise PointFileError(f"results point '{path}' has unreadable metadata") from None


def read_point(path: Path, key: str, canonical: Any) -> tuple["pd.DataFrame", dict[str, Any]]:
    """The computed table stored at ``path`` and its metadata, after checking that the file is
    the point whose hash is ``key`` and canonical config ``canonical``."""
    meta = read_point_meta(path)
    if meta.get("hash") != key or meta.get("config") != canonical:
        raise ForeignPointError(
            f"results point '{path}' holds another point (stored hash {meta.get('hash')!r}, "
            f"expected {key!r})")
    try:
        df = pd.read_parquet(path, columns=list(meta["columns"]))
    except Exception as e:
        raise PointFileError(f"cannot read results point '{path}': {e}") from None
    return df, meta
