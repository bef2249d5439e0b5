"""Checks of a sweep over a user's model before any work (infdepth/user_sweep_checks.py): the
parameter count on the meta device against the real model's, the memory and work refusals, and
the command lines' one-line errors for what used to end in tracebacks or run for hours."""

from __future__ import annotations

import math

import pytest
import torch

from infdepth.cli import main
from infdepth.errors import UsageError
from infdepth.examples import MLPResNet, PreLNTransformer
from infdepth.grids import MAX_GRID_POINTS, uniform_grid
from infdepth.depth_transfer_check import log2_grid
from infdepth import user_sweep_checks as checks

MODELS = "docs/examples/coordcheck_models.py"


@pytest.mark.parametrize("make", [lambda L, n: MLPResNet(4, n, L, act="tanh"),
                                  lambda L, n: PreLNTransformer(4, n, L, heads=2, expansion=2)])
def test_meta_parameter_count_is_the_real_models(make):
    real = sum(p.numel() for p in make(3, 16).parameters())
    assert checks.parameter_count(make, 3, 16) == real
    assert checks.parameter_count(make, 8, 10 ** 9) > 10 ** 18       # nothing allocated


def test_a_factory_that_cannot_be_built_on_meta_is_not_estimated():
    def make(L, n):
        torch.ones(2).sum().item()          # needs real data: fails on the meta device
        return MLPResNet(4, n, L)
    assert checks.parameter_count(make, 2, 8) is None
    assert checks.check_fits(make, [2], [8], optimizer="sgd", data_numbers=0) is None


def test_memory_estimate_and_refusal():
    make = lambda L, n: MLPResNet(4, n, L)     # noqa: E731
    params = sum(p.numel() for p in make(8, 32).parameters())
    want = 8 * (checks.COPIES_SGD * params + 100)
    assert checks.check_fits(make, [2, 8], [32], optimizer="sgd", data_numbers=100,
                             limit_bytes=want) == want
    adam = 8 * (checks.COPIES_ADAM * params + 100)
    with pytest.raises(UsageError, match=r"the model at depth 8, width 32 \(.* parameters\) "
                                         r"and the data \(100 numbers\) need about"):
        checks.check_fits(make, [2, 8], [32], optimizer="adam", data_numbers=100,
                          limit_bytes=adam - 1)


def test_work_count_by_hand():
    assert checks.check_work([2, 4, 8], [16, 32], runs=3, steps=4) == 2 * 3 * 5 * 14
    with pytest.raises(UsageError, match=r"about 1\.4e\+08 block-steps"):
        checks.check_work([2, 4, 8], [16], runs=10 ** 6, steps=9)


def test_the_smallest_model_must_run_on_the_data():
    X = torch.zeros(16, 5, dtype=torch.float64)
    checks.runs_on(lambda L, n: MLPResNet(5, n, L), 2, 8, X)
    with pytest.raises(UsageError, match=r"the model at depth 2, width 8 fails on the data "
                                         r"\(X of shape \(16, 5\).*RuntimeError: mat1"):
        checks.runs_on(lambda L, n: MLPResNet(4, n, L), 2, 8, X)


@pytest.mark.parametrize("argv, message", [
    (["--depths", "4", "8"], "a slope needs at least 3 different depths (or 3 widths), got "
                             "depths 4 8 and widths 64"),
    (["--depths", "2", "0", "8"], "--depths must be integers >= 1, got 0"),
    (["--depths", "2", "4", "100000000"], "block-steps"),
    (["--widths", "1000000000"], "parameters) and the data"),
    (["--steps", "100000000000"], "block-steps"),
    (["--steps", "0"], "--steps must be an integer >= 1, got 0"),
    (["--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
    (["--lr", "nan"], "--lr must be a positive finite number, got nan"),
    (["--base-width", "-1"], "--base-width must be a positive finite number, got -1.0"),
    (["--d-in", "1000000000000"], "the data (1.6e+13 numbers) need about"),
    (["--d-in", "5"], "fails on the data (X of shape (16, 5); --d-in sets"),
])
def test_coordcheck_refuses_before_any_work(argv, message, tmp_path, capsys):
    out = tmp_path / "cc"
    argv = ["coordcheck", "--model", f"{MODELS}:mlp", "--preset", "depth_mup", "--depths",
            "2", "4", "8", "--widths", "64", "--out", str(out), *argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--lrs", "-1", "1", "2"], "--lrs must be a positive finite number, got -1.0"),
    (["--lrs", "0.1", "0.1", "0.2"], "--lrs must be different values"),
    (["--log2-lrs", "-4", "1000000000", "0.5"], f"more than the {MAX_GRID_POINTS} allowed"),
    (["--log2-lrs", "-4", "2000", "1"], "2**x is a positive finite number for x in"),
    (["--noise-floor", "nan"], "--noise-floor must be a finite number >= 0, got nan"),
    (["--depths", "2", "4", "4"], "--depths: give at least 3 different values"),
    (["--width", "1000000000"], "parameters) and the data"),
    (["--n-examples", "0"], "--n-examples must be an integer >= 1, got 0"),
])
def test_transfer_refuses_before_any_work(argv, message, tmp_path, capsys):
    out = tmp_path / "tr"
    base = ["transfer", "--model", f"{MODELS}:mlp", "--depths", "2", "4", "8", "--width", "8",
            "--steps", "2", "--seeds", "2", "--out", str(out)]
    assert main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert not out.exists()


def test_grids_are_bounded_and_finite():
    assert len(uniform_grid(0.0, MAX_GRID_POINTS - 1.0, 1.0)) == MAX_GRID_POINTS
    with pytest.raises(ValueError, match="a grid of 10001 points"):
        uniform_grid(0.0, float(MAX_GRID_POINTS), 1.0)
    with pytest.raises(ValueError, match="finite lo, hi and step"):
        uniform_grid(0.0, math.inf, 1.0)
    assert log2_grid(-1074, -1074, 1) == [2.0 ** -1074]
    with pytest.raises(ValueError, match=r"x from -4\.0 to 1024\.0"):
        log2_grid(-4, 1024, 4)
