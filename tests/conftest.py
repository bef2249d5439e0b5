"""Shared pytest fixtures: the device every numerics test can run on (cpu always; cuda only
where a GPU is present -- skipped cleanly otherwise), ``one_thread`` (torch on one thread for the
duration of a test), and the test helper modules.

The tests mirror the source tree (``tests/infdepth/``, ``tests/theory/``, ...) and run with
``--import-mode=importlib`` (pyproject), so no test folder goes on ``sys.path``: on it,
``tests/infdepth/`` would shadow the ``infdepth`` package. ``import helpers`` and ``import
problems`` resolve to ``tests/helpers.py`` and ``tests/problems.py`` through a finder for exactly
those two names.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TEST_MODULES = ("helpers", "problems")   # tests/helpers.py, tests/problems.py


class _TestModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the shared test modules of :data:`TEST_MODULES` by name, and nothing else."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in TEST_MODULES:
            return importlib.util.spec_from_file_location(fullname, HERE / f"{fullname}.py")
        return None


if not any(isinstance(f, _TestModuleFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _TestModuleFinder())


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request) -> str:
    """``"cpu"``, and ``"cuda"`` when a GPU is present (marked ``gpu``; skipped without one)."""
    if request.param == "cuda" and not _cuda_available():
        pytest.skip("no CUDA device")
    return request.param


@pytest.fixture
def one_thread():
    """torch on one thread during the test (small per-block tensors: one thread is faster than two
    oversubscribed ones); the previous thread count afterwards."""
    import torch
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip cleanly on machines without CUDA."""
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
