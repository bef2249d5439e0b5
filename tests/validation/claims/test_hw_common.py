"""What the [HW] claims share (validation/claims/hw_common.py): a point's data and
``HWConfig``, and the reference it reaches (the numerics' references of
:mod:`infdepth.numerics.hw_reference`)."""

import math

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
    spec = hr.ReferenceSpec("mean_ode", Ls=4, P=256, max_memory_gb=math.inf)
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


# -- named conventions (docs/theory.md s6 "The authors' own setting") --------------------------

def _hw_claims():
    from infdepth.validation.claims import get_claim
    return [get_claim(c) for c in ("hw_rate_lm", "hw_sqrt_d", "hw_lazy", "hw_phase")]


def _points(claim, suite, overrides):
    sweep = claim.sweep(suite)
    return {v.label: claim.points(v, sweep, overrides, RunFields())
            for v in claim.suite_variants(sweep, overrides)}


#: hashes of the first point of some smoke variants, computed before points had a convention:
#: the stored default results stay valid
HASHES_BEFORE_CONVENTIONS = {
    ("hw_rate_lm", "linear/L"): "d30193d023c35d61", ("hw_rate_lm", "tanh/L"): "6086757a8519ac26",
    ("hw_rate_lm", "linear/bias"): "1f87cb6681be3330",
    ("hw_rate_lm", "control/wrong_limit"): "acf46874fb7d1619",
    ("hw_sqrt_d", "linear/embedding"): "d262792f685edde2",
    ("hw_lazy", "tanh/movement"): "9b0feff14d174dc4",
    ("hw_lazy", "control/hw_mlu_rate"): "f3c1d75b26d80ca3",
    ("hw_phase", "maximal/movement"): "3d12c6e47e8da1ea",
}


def test_default_points_keep_their_hashes_and_authors_points_hash_apart():
    from infdepth.validation.claims import Overrides, get_claim
    from infdepth.validation.results_store import canonical_config, config_hash
    for (cid, label), key in HASHES_BEFORE_CONVENTIONS.items():
        claim = get_claim(cid)
        p = _points(claim, "smoke", Overrides())[label][0]
        assert p.convention == "default" and config_hash(p) == key, (cid, label)
        assert "convention" not in canonical_config(p)
        (auth,) = claim.convention_runs(Overrides(conventions=("authors",)))
        q = _points(claim, "smoke", auth)[label][0]
        assert q.convention == "authors" and canonical_config(q)["convention"] == "authors"
        assert config_hash(q) != key


def test_authors_points_change_only_the_convention_eta_and_k():
    """Every smoke point of every [HW] claim under "authors" is the default's point with the
    convention, eta = 1 (hw_phase: eta0; the hw_lazy control: 1/alpha_max^2, its rule on the
    base rate) and K = 15 -- same sizes, seeds, sweeps, variants."""
    from dataclasses import replace

    from infdepth.validation.claims import Overrides
    for claim in _hw_claims():
        (auth,) = claim.convention_runs(Overrides(conventions=("authors",)))
        default, authors = _points(claim, "smoke", Overrides()), _points(claim, "smoke", auth)
        assert list(default) == list(authors)
        for label, pts in default.items():
            assert len(pts) == len(authors[label])
            for p, q in zip(pts, authors[label]):
                rate = "eta0" if claim.id == "hw_phase" else "eta"
                expected = 1.0 / 8.0 ** 2 if label == "control/hw_mlu_rate" else 1.0
                assert (getattr(q, rate), q.K, q.convention) == (expected, 15, "authors")
                assert replace(q, convention="default", K=p.K,
                               **{rate: getattr(p, rate)}) == p, (claim.id, label)


def test_authors_point_is_computed_against_the_authors_limit():
    """A linear point under "authors": its errors are those of the authors' network against the
    exact Mean ODE of the authors' convention (K records each)."""
    from infdepth.numerics.mean_ode_linear import solve_mean_ode_linear
    from infdepth.numerics.hidden_width import init_weights, train_hw
    p = hc.HWPoint(act="linear", D=5, L=4, M=4, K=3, eta=1.0, n_seeds=2, convention="authors")
    cfg = p.config()
    assert cfg.convention == "authors"
    X, Y = p.data()
    w = init_weights(cfg, 5, 5)
    ref = solve_mean_ode_linear(w["W_in"], w["W_out"], X, Y, eta_u=1.0, eta_v=1.0, K=3,
                                convention="authors")
    f = train_hw(cfg, X, Y).f.numpy()
    assert f.shape[1] == ref["f"].shape[1] == 3
    expected = np.sqrt(((f[:, -1] - ref["f"][:, -1]) ** 2).reshape(2, -1).mean(1))
    np.testing.assert_allclose(RATE.compute(p)["out_err"], expected, rtol=1e-12)


@pytest.mark.parametrize("cid", ["hw_rate_lm", "hw_sqrt_d"])
def test_mean_ode_references_are_checked_by_the_sweep_not_the_solver(cid):
    """The Mean-ODE reference of every point of every suite runs without the solver's own
    8 GiB cap (the `full` suite's largest need about 22 GiB), and the point's footprint, which
    the sweep checks before any work, covers the solver's estimate of that solve."""
    from infdepth.numerics import mean_ode
    from infdepth.validation.claims import Overrides, get_claim
    from infdepth.validation.memory_estimate import claim_points
    claim = get_claim(cid)
    largest = 0
    for suite in ("smoke", "standard", "full", "gpu"):
        for p in claim_points(claim, suite, Overrides(), RunFields()):
            if not isinstance(p, hc.HWODEPoint):
                continue
            spec = hc.reference_spec(p)
            assert spec.max_memory_gb == math.inf
            X, Y = p.data()
            solve = mean_ode.memory_bytes(hr.mean_ode_config(spec, p.config()), X.shape[0],
                                          Y.shape[1])
            assert claim.memory_bytes(p) >= solve
            largest = max(largest, solve)
    if cid == "hw_rate_lm":
        assert largest > 8 * 2 ** 30        # what the solver's default cap refused


def test_reference_spec_caps_the_mean_ode_solve():
    X, Y = hw_data()
    cfg = HWConfig(act="tanh", D=5, L=2, M=2, K=1, eta=0.5, n_seeds=1)
    with pytest.raises(ValueError, match="exceeds max_memory_gb=1e-06"):
        hr.reference_trajectories(hr.ReferenceSpec("mean_ode", Ls=2, P=64, max_memory_gb=1e-6),
                                  cfg, X, Y)
