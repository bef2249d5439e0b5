"""The named conventions of the [HW] network (numerics/hw_conventions.py, docs/theory.md s6 "The
authors' own setting"): what each one sets, and bad names. How the network and its limits use
them: test_hidden_width.py, test_mean_ode.py, test_mean_ode_linear.py."""

from __future__ import annotations

import math

import pytest

from infdepth.numerics.hw_conventions import CONVENTION_NAMES, check_convention, convention


def test_the_two_conventions():
    d, a = convention("default"), convention("authors")
    assert CONVENTION_NAMES == ("default", "authors")
    # loss normalizer: N, or N d_out; W_out std: 1, or sqrt(d_out); records: K + 1, or K
    assert (d.loss_count(10, 5), d.w_out_std(5), d.recorded_steps(15)) == (10, 1.0, 16)
    assert (a.loss_count(10, 5), a.w_out_std(5), a.recorded_steps(15)) == (50, math.sqrt(5), 15)
    assert (a.eta, a.K) == (1.0, 15) and (d.eta, d.K) == (None, None)
    assert d.recorded_steps(0) == 1


@pytest.mark.parametrize("bad", ["paper", "Authors", "", None, 1])
def test_bad_name_is_one_line_naming_it_and_the_allowed(bad):
    with pytest.raises(ValueError) as e:
        check_convention(bad)
    msg = str(e.value)
    assert "\n" not in msg and repr(bad) in msg and "allowed: default, authors" in msg


def test_authors_needs_a_step_to_record():
    with pytest.raises(ValueError, match="K must be a positive integer under convention "
                                         "'authors'"):
        convention("authors").recorded_steps(0)
