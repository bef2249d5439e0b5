"""Heavy modules imported on first use (docs/design.md, "A fast command line").

``pd = lazy("pandas")`` binds a stand-in that imports pandas the first time one of its
attributes is read (``pd.DataFrame``), so a module whose functions use pandas can be imported --
for its ids, statements and sweeps, as ``infdepth validate --list`` does -- without importing
pandas, scipy, sympy or torch. Nothing is put in ``sys.modules`` before the real import.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["LazyModule", "lazy"]


class LazyModule:
    """The module ``name``, imported when an attribute is first read."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        module = self._module
        if module is None:
            module = importlib.import_module(self._name)
            self._module = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy(name: str) -> LazyModule:
    """A stand-in for ``import name`` that imports it on first attribute access."""
    return LazyModule(name)
