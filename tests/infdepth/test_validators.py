"""Shared argument checks (infdepth/validators.py): accepted values and message formats."""

import math

import numpy as np
import pytest

from infdepth import validators as v


def _msg(fn, *args, **kw) -> str:
    with pytest.raises(ValueError) as exc:
        fn(*args, **kw)
    return str(exc.value)


def test_integers():
    assert v.positive_int("n", 3) == 3 and v.positive_int("n", np.int64(3)) == 3
    assert v.nonneg_int("K", 0) == 0 and v.int_at_least("K", 5, 2) == 5
    assert _msg(v.positive_int, "n", 0) == "n must be a positive integer, got 0"
    assert _msg(v.positive_int, "n", True) == "n must be a positive integer, got True"
    assert _msg(v.positive_int, "n", 2.0) == "n must be a positive integer, got 2.0"
    assert _msg(v.positive_int, "n", "2") == "n must be a positive integer, got '2'"
    assert _msg(v.nonneg_int, "seed", -1) == "seed must be a non-negative integer, got -1"
    assert _msg(v.int_at_least, "K", 1, 2) == "K must be an integer >= 2, got 1"


def test_integral_values():
    assert v.positive_int("depth L", 4.0, integral=True) == 4
    assert type(v.positive_int("depth L", np.float64(4.0), integral=True)) is int
    for bad in (4.5, math.nan, math.inf, "4", None, True, 0.0):
        assert _msg(v.positive_int, "depth L", bad, integral=True) == \
            f"depth L must be a positive integer, got {bad!r}"


def test_choice():
    assert v.choice("mode", "a", ("a", "b")) == "a"
    assert v.choice("dtype", "float32", {"float32": 1, "float64": 2}) == "float32"
    assert _msg(v.choice, "backward mode", "x", ("reused", "independent")) == \
        "unknown backward mode 'x'; allowed: reused, independent"


def test_numbers():
    assert v.finite_number("x", -2.5) == -2.5
    assert v.positive_number("alpha", np.float32(0.5)) == np.float32(0.5)
    assert v.positive_number("alpha", math.inf) == math.inf
    assert v.nonneg_number("eta", 0) == 0
    assert _msg(v.finite_number, "x", math.nan) == "x must be a finite number, got nan"
    assert _msg(v.positive_number, "alpha", 0) == "alpha must be positive, got 0"
    assert _msg(v.positive_number, "beta", math.inf, finite=True) == \
        "beta must be a finite positive number, got inf"
    assert _msg(v.nonneg_number, "eta", -1.0) == "eta must be non-negative, got -1.0"
    assert _msg(v.nonneg_number, "eta", math.nan, finite=True) == \
        "eta must be a finite non-negative number, got nan"
    assert _msg(v.nonneg_number, "eta", "1") == "eta must be non-negative, got '1'"


def test_users_keep_their_messages():
    from infdepth.device import resolve_dtype
    from infdepth.numerics.engine import A1Config
    from infdepth.numerics.kernel_recursion import check_depth
    assert _msg(A1Config, n=0, L=2, K=1) == "n must be a positive integer, got 0"
    assert _msg(A1Config, n=4, L=2, K=1, eta=math.inf) == \
        "eta must be a finite non-negative number, got inf"
    assert _msg(A1Config, n=4, L=2, K=1, mode="x") == \
        "unknown backward mode 'x'; allowed: reused, independent, coupling_removed"
    assert _msg(check_depth, 0) == "depth L must be a positive integer, got 0"
    assert check_depth(np.int32(3)) == 3
    assert _msg(resolve_dtype, "float16") == "unknown dtype 'float16'; allowed: float32, float64"
