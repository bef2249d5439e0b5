"""The claims registry lists THEORY.md s8's 13 claims; implemented ones have full experiments."""

import pytest

from infdepth.validation.claims import CLAIM_IDS, get_claim, implemented_claims
from infdepth.validation.experiments import SUITE_NAMES, load

THEORY_IDS = ["init_kernel_depth", "init_width", "init_coupling_width", "nfd_depth_error",
              "train_coupling_depth", "gia_restoration", "twolayer_collapse",
              "twolayer_correction", "depth_hp_transfer", "hw_rate_lm", "hw_sqrt_d", "hw_lazy",
              "hw_phase"]


def test_all_thirteen_claims_listed_in_order():
    assert list(CLAIM_IDS) == THEORY_IDS


def test_unimplemented_claims_say_where_they_are_planned():
    for cid in CLAIM_IDS:
        c = get_claim(cid)
        assert c.implemented or c.planned_in.startswith("issue")


@pytest.mark.parametrize("cid", implemented_claims())
def test_implemented_experiment_has_contract(cid):
    mod = load(get_claim(cid).experiment)
    for name in ("variants", "points", "compute", "measurement", "derived", "SUITES"):
        assert hasattr(mod, name), name
    for suite in SUITE_NAMES:
        vs = mod.variants(suite)
        assert vs
        pts = mod.points(vs[0], suite)
        assert len(pts) >= 3
        hash(pts[0])  # frozen, hashable configs


def test_unknown_claim_message():
    with pytest.raises(ValueError, match="unknown claim 'nope'; allowed: init_kernel_depth"):
        get_claim("nope")
