"""Coord-check exponents per role (theory/coord_exponents.py) read the calculus's orders."""

import pytest

from infdepth.theory.coord_exponents import coord_exponents, exponent_table
from infdepth.theory.exponent_calculus import derive


def test_completep_every_update_flat():
    for role in ("input", "branch_in", "branch_out", "stream", "readout"):
        e = coord_exponents("completep", role, two_layer=True)
        stat = "delta" if role == "stream" else "own"
        assert e[stat].exponent("L") == 0, (role, stat)


def test_depth_mup_collapse_and_writers():
    assert float(coord_exponents("depth_mup", "branch_in", two_layer=True)["own"]
                 .exponent("L")) == -0.5
    assert coord_exponents("depth_mup", "branch_out", two_layer=True)["own"].exponent("L") == 0
    assert float(coord_exponents("depth_mup", "hidden")["act"].exponent("L")) == -0.5


def test_matches_calculus_quantities():
    r = derive("depth_mup_corrected", "A2")
    e = coord_exponents("depth_mup_corrected", "stream", two_layer=True)
    assert e["delta"].exponent("L") == r.exponent("stream_update", "L")
    assert exponent_table("sp", ("stream",))[1]["exponent_L"] == "7/2"
    with pytest.raises(ValueError, match="role"):
        coord_exponents("sp", "norm")
