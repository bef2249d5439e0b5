"""Results store: one Parquet table per experiment point plus a JSON manifest (docs/design.md).

Layout under the results folder ``root``::

    manifest.json          {hash: {"config", "file", "rows", "written", "meta"}}
    points/<hash>.parquet  the tidy table of one experiment point
    <name>.json            small JSON artifacts (e.g. verdicts.json), see ``put_json``

The key of a point is :func:`config_hash` of its frozen config (docs/design.md "Core
contracts": same config, same numbers). Every file is written atomically -- to a temporary file in the same
folder, flushed and fsync'ed, then ``os.replace``'d over the target -- so readers only ever see
complete files, a rerun reuses finished points, and an interrupted sweep resumes because each
finished point is already on disk. Manifest updates are read-modify-write under an exclusive
``flock`` on ``.manifest.lock`` (where ``fcntl`` exists) so parallel workers do not lose entries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import math
import os
import tempfile
import threading
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from infdepth.lazy import lazy
from infdepth.atomic_io import TMP_PREFIX, atomic_write
from infdepth.errors import InfdepthError

try:  # POSIX only; without it manifest updates are still atomic but not serialized.
    import fcntl as _fcntl
except ImportError:  # pragma: no cover
    _fcntl = None

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

__all__ = ["ResultsStore", "ResultsStoreError", "canonical_config", "config_hash"]

MANIFEST_NAME = "manifest.json"
POINTS_DIR = "points"
_LOCK_NAME = ".manifest.lock"


class ResultsStoreError(InfdepthError):
    """The results folder cannot be used (unwritable path, corrupt manifest or point file)."""


# --------------------------------------------------------------------------------------------
# canonical form and hash of a config
# --------------------------------------------------------------------------------------------
def canonical_config(config: Any) -> Any:
    """JSON-able canonical form of a config (the thing :func:`config_hash` hashes).

    * dataclass instance -> ``{"__class__": qualified class name, <field>: canonical(value)...}``
      (every field, recursively; nested dataclasses keep their class names),
    * dict -> dict with string keys (sorted when serialized); a dict with non-string keys ->
      ``{"__items__": [[key, value], ...]}`` sorted by the canonical JSON of the key,
    * tuple / list -> list, enum -> ``{"__enum__": "Class.MEMBER"}``,
    * str, int, bool, None as themselves; finite floats as themselves (serialized via ``repr``),
      non-finite floats -> ``{"__float__": "nan" | "inf" | "-inf"}``,
    * numpy scalars via ``.item()``; SymPy expressions -> ``{"__sympy__": srepr(expr)}`` (the
      parameterizations of docs/theory.md s7 hold SymPy monomials).

    Anything else raises ``TypeError`` naming the type.
    """
    return _canon(config, "config")


def _canon(obj: Any, where: str) -> Any:
    if obj is None or isinstance(obj, str) and not isinstance(obj, enum.Enum):
        return obj
    if isinstance(obj, enum.Enum):
        return {"__enum__": f"{type(obj).__qualname__}.{obj.name}"}
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        x = float(obj)
        return x if math.isfinite(x) else {"__float__": repr(x)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"__class__": type(obj).__qualname__}
        for f in dataclasses.fields(obj):
            out[f.name] = _canon(getattr(obj, f.name), f"{where}.{f.name}")
        return out
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not isinstance(k, enum.Enum) for k in obj):
            return {k: _canon(v, f"{where}[{k!r}]") for k, v in obj.items()}
        items = [[_canon(k, f"{where} key"), _canon(v, f"{where}[{k!r}]")] for k, v in obj.items()]
        items.sort(key=lambda kv: _dumps(kv[0]))
        return {"__items__": items}
    if isinstance(obj, (tuple, list)):
        return [_canon(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    mod = type(obj).__module__ or ""
    if mod.split(".")[0] == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _canon(obj.item(), where)
    if mod.split(".")[0] == "sympy":
        import sympy

        if isinstance(obj, sympy.Basic):
            return {"__sympy__": sympy.srepr(obj)}
    raise TypeError(
        f"cannot hash {where}: unsupported type {type(obj).__module__}.{type(obj).__qualname__} "
        "(use dataclasses, dicts, tuples/lists, str, int, float, bool, None or enums)"
    )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def config_hash(config: Any) -> str:
    """Stable 16-hex-character key: sha256 of the canonical JSON of ``config``.

    Independent of dict key order and of the process (no ``hash()`` randomization); distinct for
    configs whose canonical forms differ (including the dataclass class name).
    """
    return hashlib.sha256(_dumps(canonical_config(config)).encode("utf-8")).hexdigest()[:16]


def _read_parquet(path: Path, what: str, remedy: str) -> pd.DataFrame | None:
    """The Parquet table at ``path``, ``None`` if there is none; a damaged file raises
    :class:`ResultsStoreError` naming ``what`` it is and the ``remedy``."""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        return None
    except Exception as e:  # pyarrow raises its own error types for a damaged file
        raise ResultsStoreError(f"cannot read {what} '{path}': {e}; {remedy}") from None


class ResultsStore:
    """Parquet tables plus a JSON manifest under ``root`` (docs/design.md "Results store").

    ``root`` is created if needed; a path that cannot be created or written raises
    :class:`ResultsStoreError` naming it. A point's Parquet file is the record that it is
    finished (it is written before the manifest), so ``has``/``get`` look at the file and
    ``get_or_compute`` repairs a manifest entry lost to a crash between the two writes.
    """

    _thread_lock = threading.Lock()

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.points_dir = self.root / POINTS_DIR
        self.manifest_path = self.root / MANIFEST_NAME
        try:
            self.points_dir.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX + "probe.", dir=self.points_dir)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            reason = e.strerror or type(e).__name__
            if isinstance(e, FileExistsError):
                reason = "exists and is not a directory"
            raise ResultsStoreError(f"cannot write to results folder '{self.root}': {reason}") \
                from None
        self._read_manifest()  # fail early on a corrupt manifest

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    # -- manifest ---------------------------------------------------------------------------
    def _read_manifest(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ResultsStoreError(
                f"cannot read results manifest '{self.manifest_path}': {e.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ResultsStoreError(
                f"results manifest '{self.manifest_path}' is corrupt (invalid JSON: {e.msg} at "
                f"line {e.lineno} column {e.colno}); repair or delete it -- the point files "
                f"under '{self.points_dir}' are intact"
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ResultsStoreError(
                f"results manifest '{self.manifest_path}' is corrupt: expected an object "
                "mapping config hashes to entries"
            )
        return data

    @contextlib.contextmanager
    def _manifest_lock(self) -> Iterator[None]:
        with self._thread_lock:
            if _fcntl is None:  # pragma: no cover
                yield
                return
            with open(self.root / _LOCK_NAME, "a+") as lock:
                _fcntl.flock(lock.fileno(), _fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    _fcntl.flock(lock.fileno(), _fcntl.LOCK_UN)

    def _update_manifest(self, key: str, entry: dict[str, Any]) -> None:
        with self._manifest_lock():
            manifest = self._read_manifest()
            manifest[key] = entry
            text = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False) + "\n"
            atomic_write(self.manifest_path, lambda f: f.write(text), mode="w")

    def entries(self) -> list[dict[str, Any]]:
        """Manifest rows, oldest first: each ``{"hash", "config", "file", "rows", "written",
        "meta"}``."""
        rows = [{"hash": h, **e} for h, e in self._read_manifest().items()]
        rows.sort(key=lambda r: (str(r.get("written", "")), r["hash"]))
        return rows

    # -- points -----------------------------------------------------------------------------
    def path_for(self, config: Any) -> Path:
        """Path of the Parquet file of ``config`` (whether or not it exists)."""
        return self.points_dir / f"{config_hash(config)}.parquet"

    def has(self, config: Any) -> bool:
        """Whether the point ``config`` is finished (its table is on disk)."""
        return self.path_for(config).is_file()

    def get(self, config: Any) -> pd.DataFrame | None:
        """The stored table of ``config``, or ``None`` if the point is not finished."""
        return _read_parquet(self.path_for(config), "results point",
                             "delete it to recompute the point")

    def get_or_repair(self, config: Any) -> pd.DataFrame | None:
        """:meth:`get`, except that an unreadable point file (a truncated write of an older
        version, a damaged disk) -- which holds no result -- is kept aside as
        ``<hash>.parquet.corrupt`` with a warning, and ``None`` returned so the point is
        recomputed."""
        try:
            return self.get(config)
        except ResultsStoreError:
            bad = self.path_for(config)
            aside = bad.with_name(bad.name + ".corrupt")
            os.replace(bad, aside)
            warnings.warn(f"results point '{bad}' was unreadable; kept as '{aside.name}' and "
                          f"recomputed", stacklevel=2)
            return None

    def put(self, config: Any, df: pd.DataFrame, meta: dict[str, Any] | None = None) -> str:
        """Store ``df`` as the table of ``config`` (atomically) and record it in the manifest.

        ``meta`` (JSON-able, e.g. wall time, device, package version) is kept in the manifest.
        Returns the config hash. An existing table of the same config is replaced.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"put expects a pandas DataFrame, got {type(df).__name__}")
        key = config_hash(config)
        path = self.points_dir / f"{key}.parquet"
        entry = {
            "config": canonical_config(config),
            "file": f"{POINTS_DIR}/{key}.parquet",
            "rows": int(len(df)),
            "written": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "meta": meta,
        }
        try:
            json.dumps(entry, allow_nan=False)  # validate before touching the disk
        except (TypeError, ValueError) as e:
            raise TypeError(f"meta must be JSON-serializable (no NaN): {e}") from None
        atomic_write(path, lambda f: df.to_parquet(f))
        self._update_manifest(key, entry)
        return key

    def get_or_compute(self, config: Any, fn: Callable[[], pd.DataFrame],
                       meta: dict[str, Any] | None = None) -> pd.DataFrame:
        """The stored table of ``config``; if absent, ``fn()`` is computed, stored, and returned.
        An unreadable point file is kept aside as ``<hash>.parquet.corrupt`` (with a warning)
        and the point recomputed.

        The returned frame is always the one read back from disk, so a first run and a rerun
        give identical frames.
        """
        df = self.get_or_repair(config)
        if df is not None:
            key = config_hash(config)
            if key not in self._read_manifest():  # crash between table and manifest writes
                self._update_manifest(key, {
                    "config": canonical_config(config),
                    "file": f"{POINTS_DIR}/{key}.parquet",
                    "rows": int(len(df)),
                    "written": datetime.fromtimestamp(
                        self.path_for(config).stat().st_mtime, timezone.utc
                    ).isoformat(timespec="microseconds"),
                    "meta": meta,
                })
            return df
        self.put(config, fn(), meta)
        out = self.get(config)
        assert out is not None
        return out

    # -- tables of analysis (tidy per-claim tables, written atomically) ---------------------
    def _table_path(self, relpath: str) -> Path:
        parts = Path(relpath).parts
        if (not relpath.endswith(".parquet") or Path(relpath).is_absolute()
                or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
                or parts[0] == POINTS_DIR):
            raise ValueError(f"invalid table path {relpath!r}: use a relative path like "
                             "'tables/<claim>/<variant>.parquet'")
        return self.root / relpath

    def put_table(self, relpath: str, df: pd.DataFrame) -> Path:
        """Write ``df`` to ``root/relpath`` (a ``.parquet`` path outside ``points/``)
        atomically, creating folders as needed."""
        path = self._table_path(relpath)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: df.to_parquet(f, index=False))
        return path

    def get_table(self, relpath: str) -> pd.DataFrame | None:
        """The table at ``root/relpath``, or ``None`` if it does not exist."""
        return _read_parquet(self._table_path(relpath), "table",
                             "rerun 'infdepth validate' to rewrite it")

    # -- small JSON artifacts ---------------------------------------------------------------
    def _json_path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"invalid artifact name {name!r}: use a plain file name like "
                             "'verdicts.json'")
        if not name.endswith(".json"):
            name += ".json"
        if name == MANIFEST_NAME:
            raise ValueError(f"{MANIFEST_NAME!r} is reserved for the results manifest")
        return self.root / name

    def put_json(self, name: str, obj: Any) -> Path:
        """Write a small JSON artifact ``root/<name>`` atomically (``.json`` appended if
        missing). ``obj`` must be strict JSON (NaN not allowed: use ``None``)."""
        path = self._json_path(name)
        text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
        atomic_write(path, lambda f: f.write(text), mode="w")
        return path

    def get_json(self, name: str) -> Any | None:
        """The JSON artifact ``name``, or ``None`` if it does not exist."""
        path = self._json_path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ResultsStoreError(
                f"results file '{path}' is corrupt (invalid JSON: {e.msg} at line {e.lineno})"
            ) from None
