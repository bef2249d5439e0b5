"""What the [HW] claims share (validation/claims/hw_common.py): a point's data and
``HWConfig``, and the reference it reaches (the numerics' references of
:mod:`infdepth.numerics.hw_reference`)."""

import numpy as np
import pytest
import torch

from infdepth.numerics import hw_reference as hr
from infdepth.numerics.hidden_width import HWConfig, hw_data
from infdepth.run_fields import RunFields
from infdepth.validation.claims import hw_common as hc
from infdepth.validation.claims.hw_rate_lm import CLAIM as RATE

torch.set_num_threads(1)


def test_tanh_point_reaches_the_mean_ode_solver_reference():
    """An ``HWODEPoint`` names the particle Mean-ODE reference; its config is the network's;
    computing it gives the numerics' errors to that reference."""
    X, Y = hw_data()
    cfg = HWConfig(act="tanh", D=5, L=8, M=8, K=3, eta=0.5, n_seeds=2)
    spec = hr.ReferenceSpec("mean_ode", Ls=4, P=256)
    r, f_ref, h_ref = hr.train_against_reference(spec, cfg, X, Y)
    row = hr.errors_to_reference(r, f_ref, h_ref, Y)
    p = hc.HWODEPoint(act="tanh", D=5, L=8, M=8, K=3, eta=0.5, n_seeds=2, ref_Ls=4, ref_P=256)
    assert hc.reference_spec(p) == spec and p.config() == cfg
    np.testing.assert_array_equal(RATE.compute(p)["out_err"], row["out_err"])
    assert "Mean-ODE solver (Ls=4, P=256)" == hc.reference_text(p)


def test_linear_and_coupled_points_name_their_references():
    lin = hc.HWPoint(act="linear", D=5, L=4, M=4, K=2, eta=0.2, n_seeds=2)
    assert hc.reference_spec(lin) == hr.ReferenceSpec("exact")
    assert hc.reference_text(lin) == "exact Mean ODE"
    cpl = hc.HWPoint(act="tanh", D=5, L=4, M=4, K=2, eta=0.5, n_seeds=2, L_ref=16, M_ref=8)
    assert hc.reference_spec(cpl) == hr.ReferenceSpec("coupled", L_ref=16, M_ref=8)


def test_error_points_per_reference(monkeypatch):
    lin = hc.error_points("linear", [(4, 16), (8, 16)], D=5, seeds=3, run=RunFields(), ode={})
    assert [type(p) for p in lin] == [hc.HWPoint] * 2 and lin[0].eta == 0.2
    ode = hc.error_points("tanh", [(4, 16)], D=5, seeds=3, run=RunFields(),
                          ode={"Ls": 8, "P": 512})
    assert isinstance(ode[0], hc.HWODEPoint) and (ode[0].ref_Ls, ode[0].ref_P) == (8, 512)
    monkeypatch.setattr(hc, "TANH_REFERENCE", "coupled")
    cpl = hc.error_points("tanh", [(4, 16), (6, 8)], D=5, seeds=3, run=RunFields(), ode={},
                          coupled=(16, 8))
    # L_ref covers every depth of the sweep (lcm), M_ref every width
    assert {(p.L_ref, p.M_ref) for p in cpl} == {(48, 16)}


def test_phase_point_config_reads_its_properties():
    from infdepth.validation.claims.hw_phase import HWPhasePoint
    p = HWPhasePoint(scale_exponent=-0.5, lr_exponent=1.0, L=4, M=4, n_seeds=3)
    c = p.config()
    assert (c.alpha, c.eta, c.L, c.n_seeds, c.act) == (p.alpha, p.eta, 4, 3, "tanh")
    assert p.alpha == pytest.approx(16 ** 0.5)


def test_point_data_follow_dtype():
    p = hc.HWPoint(act="linear", D=5, L=4, M=4, K=2, eta=0.2, n_seeds=2, dtype="float32")
    X, Y = p.data()
    assert X.dtype == torch.float32 and X.shape == (10, 5) and Y.shape == (10, 5)
    X64, _ = hc.HWPoint(act="linear", D=5, L=4, M=4, K=2, eta=0.2, n_seeds=2).data()
    torch.testing.assert_close(X.double(), X64, rtol=1e-6, atol=1e-7)
