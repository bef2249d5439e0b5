"""Data flows one way (README): theory -> theory/generated -> numerics -> validation. The theory
layer imports nothing from ``infdepth.numerics`` or ``infdepth.validation`` and knows no claim
ids (a claim asks theory about a typed model and parameterization; docs/theory.md s7, s8)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import infdepth.theory
from infdepth.theory.parameterization import PRESET_NAMES
from infdepth.validation.claims import CLAIM_IDS

THEORY = Path(infdepth.theory.__file__).resolve().parent
SOURCES = sorted(THEORY.rglob("*.py"))
FORBIDDEN = ("numerics", "validation", "paper_figs")


def _package(path: Path) -> list[str]:
    """``infdepth.theory[.generated]`` parts of a theory source file."""
    return ["infdepth", "theory", *path.parent.relative_to(THEORY).parts]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Absolute names of every module a source file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(path)[:len(_package(path)) - node.level + 1]
            else:
                base = []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def _forbidden(name: str) -> bool:
    parts = name.split(".")
    return (parts[0] in FORBIDDEN
            or (parts[0] == "infdepth" and len(parts) > 1 and parts[1] in FORBIDDEN))


def test_the_scan_sees_the_theory_files_and_resolves_relative_imports():
    names = {p.name for p in SOURCES}
    assert {"exponent_calculus.py", "truncation.py", "parameterization.py",
            "gaussian_kernels.py"} <= names
    mods = {m for _, m in imported_modules(THEORY / "exponent_calculus.py")}
    assert "infdepth.theory.exponents_a1" in mods            # from .exponents_a1 import ...
    assert _forbidden("infdepth.numerics.engine") and _forbidden("infdepth.validation")
    assert not _forbidden("infdepth.theory.symbols") and not _forbidden("numpy")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(THEORY)))
def test_theory_imports_no_numerics_or_validation(path):
    bad = [(line, m) for line, m in imported_modules(path) if _forbidden(m)]
    assert not bad, f"{path.name} imports {bad}"


#: claim ids that are not also the names of parameterization presets (``hw_lazy`` is both)
CLAIM_ONLY_IDS = tuple(c for c in CLAIM_IDS if c not in PRESET_NAMES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(THEORY)))
def test_theory_names_no_claim_id(path):
    text = path.read_text()
    found = [c for c in CLAIM_ONLY_IDS
             if re.search(rf"(?<![A-Za-z0-9_]){re.escape(c)}(?![A-Za-z0-9_])", text)]
    assert not found, f"{path.name} names claim ids {found}"


def test_claim_only_ids():
    assert "hw_lazy" not in CLAIM_ONLY_IDS and "init_kernel_depth" in CLAIM_ONLY_IDS
    assert len(CLAIM_ONLY_IDS) == len(CLAIM_IDS) - 1
