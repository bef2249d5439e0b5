"""The kernel ODE at init (docs/theory.md s3) against closed forms and a scalar reduction, from the
problems registry (tests/problems.py)."""

import pytest

from problems import ExactProblem, params


@pytest.mark.parametrize("problem", params(ExactProblem, "numerics.kernel_ode"))
def test_closed_forms(problem):
    problem.check()
