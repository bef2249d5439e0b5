"""Results store: one self-describing Parquet file per experiment point (docs/design.md).

Layout under the results folder ``root``::

    points/<claim>/<hash>.parquet   one experiment point: its table, its config as columns, and
                                    metadata (hash, canonical config, provenance), see
                                    :mod:`~infdepth.validation.point_files`
    points/<claim>/0-schema.parquet an empty table with the union of the folder's columns, so
                                    ``pd.read_parquet('points/<claim>')`` returns every column
    index.json                      {hash: {"file", "claim", "rows", "config", "written",
                                    "meta", "provenance"}}, rebuilt from the point files
                                    whenever it is missing, damaged or out of date
    <name>.json                     small JSON artifacts (e.g. verdicts.json), see ``put_json``
    tables/...                      the tidy per-claim tables (``put_table``)

The key of a point is :func:`config_hash` of its frozen config (docs/design.md "Core
contracts": same config, same numbers). The point files are the record: each is written
atomically (:mod:`infdepth.atomic_io`) by whichever process computed it, so many writers (jobs
on a cluster sharing a filesystem, two ``infdepth validate`` runs) can share one folder without
a manifest to contend for or lose; the index is only a cache of the files' metadata. Read-merge-
write updates (the folder schema, the index, ``verdicts.json``) run under an exclusive
``flock`` on a lock file in ``.locks/`` (where ``fcntl`` exists). A point file is checked
against the config asked for: an unreadable file is kept aside as ``<hash>.parquet.corrupt``, a
file of another point as ``<hash>.parquet.foreign``, and the point recomputed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import math
import os
import re
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from infdepth.lazy import lazy
from infdepth.atomic_io import TMP_PREFIX, atomic_write
from infdepth.errors import InfdepthError
from infdepth.run_fields import HASHED_WHEN_SET

from .point_files import (ForeignPointError, PointFileError, read_point, read_point_footer,
                          write_point)

try:  # POSIX only; without it updates are still atomic but not serialized.
    import fcntl as _fcntl
except ImportError:  # pragma: no cover
    _fcntl = None

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

__all__ = ["ResultsStore", "ResultsStoreError", "canonical_config", "config_hash"]

INDEX_NAME = "index.json"
POINTS_DIR = "points"
LOCKS_DIR = ".locks"
SCHEMA_FILE = "0-schema.parquet"  # sorts before every <hash>.parquet: read first by pyarrow
DEFAULT_GROUP = "other"
_POINT_NAME = re.compile(r"^[0-9a-f]{16}\.parquet$")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ResultsStoreError(InfdepthError):
    """The results folder cannot be used (unwritable path, corrupt manifest or point file)."""


# --------------------------------------------------------------------------------------------
# canonical form and hash of a config
# --------------------------------------------------------------------------------------------
def canonical_config(config: Any) -> Any:
    """JSON-able canonical form of a config (the thing :func:`config_hash` hashes).

    * dataclass instance -> ``{"__class__": qualified class name, <field>: canonical(value)...}``
      (every field, recursively; nested dataclasses keep their class names), except a field
      declared with :func:`infdepth.run_fields.hashed_when_set` while it holds its default,
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
            value = getattr(obj, f.name)
            if f.metadata.get(HASHED_WHEN_SET) and value == f.default:
                continue
            out[f.name] = _canon(value, f"{where}.{f.name}")
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




class ResultsStore:
    """Self-describing point files plus an index under ``root`` (module docstring).

    ``root`` is created if needed; a path that cannot be created or written raises
    :class:`ResultsStoreError` naming it.
    """

    _thread_lock = threading.Lock()

    def __init__(self, root: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.root = Path(root)
        self.points_dir = self.root / POINTS_DIR
        self.index_path = self.root / INDEX_NAME
        self.read_only = read_only
        if read_only:
            return
        try:
            self.points_dir.mkdir(parents=True, exist_ok=True)
            (self.root / LOCKS_DIR).mkdir(exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX + "probe.", dir=self.points_dir)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            reason = e.strerror or type(e).__name__
            if isinstance(e, FileExistsError):
                reason = "exists and is not a directory"
            raise ResultsStoreError(f"cannot write to results folder '{self.root}': {reason}") \
                from None

    @classmethod
    def reader(cls, root: str | os.PathLike[str]) -> "ResultsStore":
        """The store of an existing results folder, for reading only (the folder may be
        read-only, e.g. a colleague's on a shared filesystem): nothing is created or written,
        and a missing or stale index is rebuilt in memory only. Writing through it is a
        mistake of the caller (it is not guarded)."""
        return cls(root, read_only=True)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    # -- locks ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Exclusive lock ``name`` across threads and processes (``flock`` on
        ``.locks/<name>.lock``): for read-merge-write updates of shared files."""
        with self._thread_lock:
            if _fcntl is None:  # pragma: no cover
                yield
                return
            with open(self.root / LOCKS_DIR / f"{name}.lock", "a+") as fh:
                _fcntl.flock(fh.fileno(), _fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    _fcntl.flock(fh.fileno(), _fcntl.LOCK_UN)

    # -- points -----------------------------------------------------------------------------
    @staticmethod
    def _group(meta: dict[str, Any] | None) -> str:
        group = str((meta or {}).get("claim") or DEFAULT_GROUP)
        if not _GROUP_NAME.match(group):
            raise ValueError(f"invalid point group {group!r}: letters, digits, '_', '.', '-'")
        return group

    def _point_files(self) -> list[Path]:
        return sorted(p for p in self.points_dir.glob("*/*.parquet") if _POINT_NAME.match(p.name))

    def path_for(self, config: Any, group: str | None = None) -> Path:
        """Path of the point file of ``config``: the existing file in any group folder, else
        where ``put`` with ``group`` (a claim id) would write it."""
        key = config_hash(config)
        if group is not None:
            own = self.points_dir / group / f"{key}.parquet"
            if own.is_file():
                return own
        found = sorted(self.points_dir.glob(f"*/{key}.parquet"))
        if found:
            return found[0]
        return self.points_dir / (group or DEFAULT_GROUP) / f"{key}.parquet"

    def has(self, config: Any) -> bool:
        """Whether a file for the point ``config`` is on disk (not yet checked)."""
        return self.path_for(config).is_file()

    def get(self, config: Any) -> pd.DataFrame | None:
        """The stored table of ``config``, or ``None`` if the point is not finished; a damaged
        file or one holding another point raises :class:`ResultsStoreError`."""
        try:
            return self._read(config)
        except PointFileError as e:
            raise ResultsStoreError(f"{e}; delete it to recompute the point") from None

    def get_or_repair(self, config: Any) -> pd.DataFrame | None:
        """:meth:`get`, except that a file that holds no usable result -- unreadable (a
        truncated write of an older version, a damaged disk) or another point's table (a bad
        copy or merge) -- is kept aside as ``<hash>.parquet.corrupt`` or ``.foreign`` with a
        warning, and ``None`` returned so that the point is recomputed."""
        try:
            return self._read(config)
        except PointFileError as e:
            path = self.path_for(config)
            kind = "foreign" if isinstance(e, ForeignPointError) else "corrupt"
            aside = path.with_name(f"{path.name}.{kind}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, aside)
            warnings.warn(f"{e}; kept as '{aside.name}' and recomputed", stacklevel=2)
            return None

    def _read(self, config: Any) -> pd.DataFrame | None:
        """The checked table of ``config`` (``None`` when there is no file)."""
        try:
            df, _ = read_point(self.path_for(config), config_hash(config),
                               canonical_config(config))
        except FileNotFoundError:
            return None
        return df

    def put(self, config: Any, df: pd.DataFrame, meta: dict[str, Any] | None = None,
            provenance: dict[str, Any] | None = None) -> str:
        """Store ``df`` as the table of ``config`` (atomically) in the folder of
        ``meta["claim"]``; return the config hash. ``meta`` (JSON-able) and ``provenance``
        (:func:`infdepth.provenance.provenance`; computed here when not given) are kept in
        the file's metadata. An existing file of the same config is replaced."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"put expects a pandas DataFrame, got {type(df).__name__}")
        key = config_hash(config)
        canonical = canonical_config(config)
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"meta must be JSON-serializable (no NaN): {e}") from None
        group = self._group(meta)
        path = self.path_for(config, group)
        path.parent.mkdir(parents=True, exist_ok=True)
        if provenance is None:
            from infdepth.provenance import provenance as _prov
            provenance = _prov(config)
        schema = write_point(path, config, key, canonical, df, meta, provenance)
        self._merge_schema(path.parent, schema)
        return key

    def _merge_schema(self, folder: Path, schema: Any) -> None:
        """Widen ``folder/0-schema.parquet`` (an empty table) to the union of its columns."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        target = folder / SCHEMA_FILE
        with self.lock(f"schema-{folder.name}"):
            try:
                old = pq.read_schema(target).remove_metadata()
            except FileNotFoundError:
                old = None
            except Exception:  # damaged: rebuilt from this file, widened by later ones
                old = None
            try:
                union = schema if old is None else pa.unify_schemas(
                    [old, schema], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                warnings.warn(f"point columns of '{folder}' have conflicting types ({e}); "
                              f"'{SCHEMA_FILE}' keeps the first", stacklevel=3)
                return
            if old is not None and union.equals(old):
                return
            atomic_write(target, lambda f: pq.write_table(union.empty_table(), f))

    def get_or_compute(self, config: Any, fn: Callable[[], pd.DataFrame],
                       meta: dict[str, Any] | None = None) -> pd.DataFrame:
        """The stored table of ``config``; if absent (or kept aside by :meth:`get_or_repair`),
        ``fn()`` is computed, stored with its wall time, and returned. The returned frame is
        always the one read back from disk, so a first run and a rerun give identical frames.
        """
        df = self.get_or_repair(config)
        if df is not None:
            return df
        from infdepth.provenance import provenance
        t0 = time.perf_counter()
        out = fn()
        self.put(config, out, meta, provenance(config, time.perf_counter() - t0))
        back = self.get(config)
        assert back is not None
        return back

    # -- index ------------------------------------------------------------------------------
    def _scan(self) -> dict[str, dict[str, Any]]:
        index: dict[str, dict[str, Any]] = {}
        for path in self._point_files():
            try:
                meta, rows = read_point_footer(path)
            except (PointFileError, FileNotFoundError):
                continue  # repaired when the point is next asked for
            rel = path.relative_to(self.root).as_posix()
            index[path.stem] = {"file": rel, "claim": path.parent.name, "rows": rows,
                                "config": meta.get("config"), "written": meta.get("written"),
                                "meta": meta.get("meta"), "provenance": meta.get("provenance")}
        return index

    def _read_index(self) -> dict[str, dict[str, Any]] | None:
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            return None
        return data

    def write_index(self) -> dict[str, dict[str, Any]]:
        """Rebuild ``index.json`` from the point files (under the index lock) and return it."""
        with self.lock("index"):
            index = self._scan()
            text = json.dumps(index, indent=1, sort_keys=True, allow_nan=False) + "\n"
            atomic_write(self.index_path, lambda f: f.write(text), mode="w")
        return index

    def index(self) -> dict[str, dict[str, Any]]:
        """``index.json``, rebuilt first when it is missing, damaged (not JSON, not a mapping of
        entries, reset to ``{}``) or does not list exactly the point files on disk (in memory
        only for a :meth:`reader`)."""
        index = self._read_index()
        on_disk = {p.relative_to(self.root).as_posix() for p in self._point_files()}
        if index is None or {e.get("file") for e in index.values()} != on_disk:
            index = self._scan() if self.read_only else self.write_index()
        return index

    def stored_keys(self) -> set[str]:
        """Config hashes of the point files on disk (their names; the files are not read)."""
        return {p.stem for p in self._point_files()}

    def unlisted_files(self, index: dict[str, dict[str, Any]]) -> list[Path]:
        """Point files on disk that ``index`` does not list: those a rebuilt index left out
        because they cannot be read (truncated, or not point files)."""
        listed = {e.get("file") for e in index.values()}
        return [p for p in self._point_files()
                if p.relative_to(self.root).as_posix() not in listed]

    def entries(self) -> list[dict[str, Any]]:
        """Index rows, oldest first: each ``{"hash", "file", "claim", "rows", "config",
        "written", "meta", "provenance"}``."""
        rows = [{"hash": h, **e} for h, e in self.index().items()]
        rows.sort(key=lambda r: (str(r.get("written", "")), r["hash"]))
        return rows

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
        path = self._table_path(relpath)
        try:
            return pd.read_parquet(path)
        except FileNotFoundError:
            return None
        except Exception as e:  # pyarrow raises its own error types for a damaged file
            raise ResultsStoreError(f"cannot read table '{path}': {e}; rerun 'infdepth "
                                    "validate' to rewrite it") from None

    # -- small JSON artifacts ---------------------------------------------------------------
    def _json_path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"invalid artifact name {name!r}: use a plain file name like "
                             "'verdicts.json'")
        if not name.endswith(".json"):
            name += ".json"
        if name == INDEX_NAME:
            raise ValueError(f"{INDEX_NAME!r} is reserved for the results index")
        return self.root / name

    def put_json(self, name: str, obj: Any) -> Path:
        """Write a small JSON artifact ``root/<name>`` atomically (``.json`` appended if
        missing). ``obj`` must be strict JSON (NaN not allowed: use ``None``)."""
        path = self._json_path(name)
        text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
        atomic_write(path, lambda f: f.write(text), mode="w")
        return path

    def get_json(self, name: str) -> Any | None:
        """The JSON artifact ``name``, or ``None`` if it does not exist; a damaged file raises
        :class:`ResultsStoreError`."""
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

    def update_json(self, name: str, merge: Callable[[Any | None], Any],
                    valid: Callable[[Any], bool] = lambda obj: True) -> Any:
        """Read-merge-write ``root/<name>`` under its lock: ``merge(old)`` returns the new
        content. A damaged file (not JSON, or ``valid(old)`` false) is kept aside as
        ``<name>.corrupt`` (with a warning) and ``merge(None)`` written, so the caller's new
        rows are never lost to an old bad file."""
        path = self._json_path(name)
        with self.lock(f"json-{path.stem}"):
            try:
                old = self.get_json(name)
                if old is not None and not valid(old):
                    raise ResultsStoreError(f"results file '{path}' is malformed")
            except ResultsStoreError as e:
                aside = path.with_name(path.name + ".corrupt")
                os.replace(path, aside)
                warnings.warn(f"{e}; kept as '{aside.name}' and rewritten", stacklevel=2)
                old = None
            new = merge(old)
            self.put_json(name, new)
        return new
