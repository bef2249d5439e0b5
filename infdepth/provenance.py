"""Provenance of a computed point (docs/design.md "Results store"): which code, where, how long.

Every point file carries :func:`provenance` in its metadata, so a results folder assembled from
many jobs on many hosts still says, per point, which commit and package versions produced it, on
which host and device, in which dtype and how long it took.
"""

from __future__ import annotations

import functools
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["code_version", "package_versions", "provenance"]

_PACKAGES = ("infdepth", "torch", "numpy", "scipy", "pandas", "pyarrow", "sympy")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the source tree (``+dirty`` when it has uncommitted changes), or
    ``unknown`` outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Installed versions of the packages a point's numbers depend on."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        try:
            import torch
            return torch.cuda.get_device_name(torch.device(device))
        except Exception:  # pragma: no cover - no CUDA
            return device
    return device


def provenance(point: Any, seconds: float | None = None) -> dict[str, Any]:
    """The provenance record of ``point`` computed here in ``seconds`` of wall time (``None``:
    not timed)."""
    device = str(getattr(point, "device", "cpu"))
    return {"commit": code_version(), "versions": package_versions(),
            "host": socket.gethostname(), "device": device, "device_name": _device_name(device),
            "dtype": str(getattr(point, "dtype", "float64")), "seconds": None if seconds is None else float(seconds)}
