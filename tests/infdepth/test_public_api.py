"""The curated public API (infdepth/__init__.py): every exported name resolves, ``dir`` lists
them, unknown names raise, and ``import infdepth`` stays cheap (no torch, no subpackage)."""

import subprocess
import sys

import pytest

import infdepth


@pytest.mark.parametrize("name", infdepth.__all__)
def test_every_exported_name_resolves(name):
    value = getattr(infdepth, name)
    assert value is not None
    assert getattr(infdepth, name) is value                 # cached after the first lookup


def test_exports_point_at_the_subpackages():
    from infdepth.numerics.engine import train_a1
    from infdepth.validation.claims import CLAIM_IDS
    from infdepth.validation.rate_fit import fit_rate
    assert infdepth.train_a1 is train_a1 and infdepth.fit_rate is fit_rate
    assert infdepth.CLAIM_IDS is CLAIM_IDS
    assert isinstance(infdepth.__version__, str)


def test_dir_lists_the_public_names():
    assert dir(infdepth) == sorted(infdepth.__all__)
    assert len(set(infdepth.__all__)) == len(infdepth.__all__)
    assert {"derive", "train_a1", "validate", "load_verdicts", "read_table"} <= set(dir(infdepth))


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="module 'infdepth' has no attribute 'nope'"):
        infdepth.nope  # noqa: B018
    assert not hasattr(infdepth, "_private")


def test_import_does_not_import_torch(tmp_path):
    """In a fresh process: ``import infdepth`` loads neither torch nor the numerics; asking for
    a numerics name does."""
    code = ("import sys, infdepth\n"
            "before = {m for m in ('torch', 'infdepth.numerics', 'infdepth.validation', "
            "'infdepth.theory', 'sympy') if m in sys.modules}\n"
            "infdepth.A1Config\n"
            "print(sorted(before), 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "True"], proc.stdout
