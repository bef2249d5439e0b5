"""The "derived" column (docs/theory.md s7, s8): each claim asks the theory layer about its typed
variants (theory knows no claim ids). Expected exponents are the hand-counted values of
docs/theory.md; ``None`` = no finite exponent (the quantity does not decay)."""

import math

import pytest

from infdepth.validation.claims import CLAIM_IDS, SUITE_NAMES, Overrides, get_claim


def variant(cid: str, label: str):
    """The variant of claim ``cid`` labelled ``label`` in any of its suites."""
    c = get_claim(cid)
    for suite in SUITE_NAMES:
        for v in c.variants(c.sweep(suite), Overrides()):
            if v.label == label:
                return v
    raise LookupError(f"{cid} has no variant {label!r}")


#: claim, variant label, derived exponent, a phrase its explanation must contain
CASES = [
    ("init_kernel_depth", "tanh", -1.0, "Euler on F(q) = E[tanh(u)^2]"),
    ("init_kernel_depth", "relu", -1.0, "Euler on F(q) = q/2"),
    ("init_width", "tanh/output", -1.0, "delta method"),
    ("init_coupling_width", "rms/L4", -0.5, "slope -1/2 in n for the rms"),
    ("init_coupling_width", "moment/L4", -1.0, "(the rms reading gives -1/2)"),
    ("nfd_depth_error", "depth/covariance", -1.0, "weak order 1"),
    ("nfd_depth_error", "network/covariance", -1.0, "vs the covariance NFD"),
    ("nfd_depth_error", "network/gia", 0.0, "(does not converge)"),
    ("train_coupling_depth", "a/forward", 0.0, "level (a) = (b) + (c): slope 0 in L"),
    ("train_coupling_depth", "b/forward", 0.0, "level (b): slope 0"),
    ("train_coupling_depth", "c/backward", 0.0, "level (c): slope 0"),
    ("gia_restoration", "depth_mup", None, "Theta(1), does not decay"),
    ("gia_restoration", "mup", None, "[mup]"),
    ("gia_restoration", "sp", None, "[sp]"),
    ("twolayer_collapse", "weight", -0.5, "internal_update"),
    ("twolayer_collapse", "total", 0.0, "total change of u"),
    ("twolayer_correction", "du/gamma=0.5", 0.0, "[gamma=0.5] internal_update"),
    ("twolayer_correction", "dh/gamma=0.5", 0.5, "[gamma=0.5] rms Delta h_L"),
    ("twolayer_correction", "du/gamma=0.25", -0.25, "[gamma=0.25]"),
    ("depth_hp_transfer", "one_layer/depth_mup", 0.0, "one-step updates are linear in eta"),
    ("depth_hp_transfer", "two_layer/depth_mup_corrected", -0.5,
     "[two_layer_corrected, depth_mup_corrected]"),
    ("hw_rate_lm", "linear/L", -0.5, "slope -1/2 in L at fixed M"),
    ("hw_rate_lm", "linear/M", -0.5, "in M at fixed L while the noise dominates"),
    ("hw_rate_lm", "linear/LM", -0.5, "both are powers of LM"),
    ("hw_rate_lm", "linear/bias", -1.0, "Euler bias of the Mean ODE"),
    ("hw_rate_lm", "tanh/bias", -1.0, "Cauchy difference"),
    ("hw_sqrt_d", "linear/embedding", 0.5, "slope 1/2 in D per embedding coordinate"),
    ("hw_lazy", "tanh/movement", -1.0, "slope -1 in alpha"),
    ("hw_lazy", "tanh/output", 0.0, "slope 0 in alpha"),
    ("hw_phase", "map", -1.0, "only at residual scale sqrt(D) (LM)^-1"),
    ("hw_phase", "maximal/movement", 0.0, "regime maximal"),
]


@pytest.mark.parametrize("cid, label, value, phrase", CASES,
                         ids=[f"{c}:{v}" for c, v, _, _ in CASES])
def test_derived_exponent(cid, label, value, phrase):
    d = get_claim(cid).derived(variant(cid, label))
    if value is None:
        assert d.exponent is None
    else:
        assert d.exponent == pytest.approx(value, abs=1e-12)
    assert isinstance(d.text, str) and len(d.text) > 20
    assert phrase in d.text, d.text


def test_every_claim_is_covered():
    assert {c for c, *_ in CASES} == set(CLAIM_IDS)


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_derived_is_finite_or_none_and_statistic_twins_agree(cid):
    """A ``/mean`` twin reads the same quantity as its median variant: same derivation."""
    c = get_claim(cid)
    seen = {}
    for suite in SUITE_NAMES:
        for v in c.variants(c.sweep(suite), Overrides()):
            seen.setdefault(v.label, v)
    for label, v in seen.items():
        d = c.derived(v)
        assert d.exponent is None or math.isfinite(d.exponent), (label, d)
        if label.endswith("/mean"):
            assert d == c.derived(seen[label[:-len("/mean")]])
