"""The moment system of the linear [HW] Mean ODE, derived symbolically
(theory/mean_ode_linear.py, docs/theory.md s6)."""

from infdepth.theory.mean_ode_linear import propagator_form, verify_moment_update


def test_moment_update_derivation_symbolic():
    assert verify_moment_update(2, 3)
    assert propagator_form(2)
