"""Parameterization presets against hand-counted exponents (docs/theory.md s2, s5, s6, s7)."""

import pytest
import sympy as sp

from infdepth.theory.parameterization import PRESET_NAMES, monomial_exponents, preset
from infdepth.theory.symbols import L, n

HALF = sp.Rational(1, 2)


@pytest.mark.parametrize("name,a,c", [("mup", 0, 0), ("depth_mup", HALF, 0),
                                      ("completep", 1, 1), ("sp", 0, 0)])
def test_block_exponents(name, a, c):
    p = preset(name)
    assert p.exponents("W", "multiplier")["L"] == -a
    assert p.exponents("W", "multiplier")["n"] == -HALF
    assert p.exponents("W", "lr")["L"] == c
    assert p.exponents("W", "lr")["n"] == (0 if name == "sp" else 1)


def test_corrected_first_layer_rate():
    p = preset("depth_mup_corrected", gamma=0.5, L0=4)
    assert p.exponents("W1", "lr") == {"n": 1, "L": HALF, "M": 0, "D": 0, "alpha": 0}
    ev = p.evaluate(n=10, L=16)
    assert ev["W1"]["lr"] == pytest.approx(10 * (16 / 4) ** 0.5)
    assert ev["W2"]["lr"] == pytest.approx(10)


def test_hw_presets():
    mlu = preset("hw_mlu")
    assert mlu.exponents("v", "multiplier") == {"n": 0, "L": -1, "M": -1, "D": 0, "alpha": 0}
    assert mlu.exponents("u", "init_std")["D"] == HALF
    lazy = preset("hw_lazy")
    assert lazy.exponents("v", "multiplier")["alpha"] == 1
    assert lazy.exponents("u", "lr")["alpha"] == -2
    with pytest.raises(ValueError, match="sizes alpha must be given"):
        lazy.evaluate(L=2, M=2, D=2)


def test_all_presets_hashable_and_distinct():
    ps = [preset(nm) for nm in PRESET_NAMES]
    assert len({hash(p) for p in ps}) == len(ps)


def test_monomial_exponents_rejects_sums():
    assert monomial_exponents(3 * n ** 2 / L) == {"n": 2, "L": -1, "M": 0, "D": 0, "alpha": 0}
    with pytest.raises(ValueError, match="not a monomial"):
        monomial_exponents(n + L)


@pytest.mark.parametrize("call,msg", [
    (lambda: preset("xp"), "unknown parameterization 'xp'; allowed: sp, mup"),
    (lambda: preset("depth_mup").evaluate(n=0, L=2), "size n must be positive"),
    (lambda: preset("depth_mup").evaluate(q=3), "unknown size 'q'"),
    (lambda: preset("mup", gamma=1), "bad option for parameterization 'mup'"),
])
def test_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
