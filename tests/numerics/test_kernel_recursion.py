"""The depth-L kernel recursion at init (docs/theory.md s3): closed forms (linear compound growth,
relu's geometric diagonals) and first-order convergence to the kernel ODE, from the problems
registry (tests/problems.py); input checks."""

import pytest

from infdepth.numerics.inputs import input_covariance
from infdepth.numerics.kernel_recursion import depth_recursion
from problems import ExactProblem, OrderProblem, params

SIGMA0 = input_covariance()


@pytest.mark.parametrize("problem", params(ExactProblem, "numerics.kernel_recursion")
                         + params(OrderProblem, "numerics.kernel_recursion"))
def test_closed_forms_and_first_order_convergence(problem):
    problem.check()


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_depth(bad):
    with pytest.raises(ValueError, match="depth L must be a positive integer"):
        depth_recursion("relu", SIGMA0, bad)


def test_bad_readout():
    with pytest.raises(ValueError, match="allowed: phi, linear"):
        depth_recursion("relu", SIGMA0, 4, readout="softmax")
