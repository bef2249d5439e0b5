"""The claims catalog (docs/theory.md s8): the 13 claims in order, each module on the claim
contract (validation/claims/base.py)."""

import dataclasses
import importlib
import re

import pytest

from helpers import variant_labels
from infdepth.run_fields import RunFields
from infdepth.validation.claims import (CLAIM_IDS, SUITE_NAMES, Claim, Claimed, Derived,
                                        FigureSpec, Overrides, Variant, all_claims, get_claim)

CATALOG_IDS = ["init_kernel_depth", "init_width", "init_coupling_width", "nfd_depth_error",
              "train_coupling_depth", "gia_restoration", "twolayer_collapse",
              "twolayer_correction", "depth_hp_transfer", "hw_rate_lm", "hw_sqrt_d", "hw_lazy",
              "hw_phase"]


def test_all_thirteen_claims_listed_in_order():
    assert list(CLAIM_IDS) == CATALOG_IDS
    assert [c.id for c in all_claims()] == CATALOG_IDS


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_module_exports_its_claim(cid):
    mod = importlib.import_module(f"infdepth.validation.claims.{cid}")
    assert isinstance(mod.CLAIM, Claim) and mod.CLAIM.id == cid
    assert get_claim(cid) is mod.CLAIM
    c = mod.CLAIM
    assert c.source in ("NFD", "HW") and c.statement and c.quantity and c.claimed_text
    assert c.tolerance > 0
    assert isinstance(c.primary, Variant) and dataclasses.is_dataclass(c.primary)
    assert c.role(c.primary) == "primary"
    assert isinstance(c.claimed(c.primary), Claimed)


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_suites_variants_and_primary(cid):
    c = get_claim(cid)
    assert tuple(c.suites) == SUITE_NAMES
    for suite in SUITE_NAMES:
        labels = variant_labels(c, suite)
        assert labels, (cid, suite)
        assert len(labels) == len(set(labels)), (cid, suite, labels)
    assert c.primary.label in variant_labels(c, "standard")
    assert c.primary in c.variants(c.sweep("standard"), Overrides())


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_smoke_points_are_frozen_hashable_run_fields(cid):
    c = get_claim(cid)
    sweep = c.sweep("smoke")
    for v in c.variants(sweep, Overrides()):
        pts = c.points(v, sweep, Overrides(), RunFields())
        assert len(pts) >= 3, (cid, v.label, len(pts))
        for p in pts:
            assert isinstance(p, RunFields) and type(p) is not RunFields, (cid, v.label)
            assert dataclasses.is_dataclass(p) and type(p).__dataclass_params__.frozen
            hash(p)
        with pytest.raises(dataclasses.FrozenInstanceError):
            pts[0].base_seed = 1


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_figure_kinds_exist_and_after_data_names_real_variants(cid):
    from infdepth.paper_figs.registry import KINDS
    c = get_claim(cid)
    assert c.figures, cid
    for spec in c.figures:
        assert isinstance(spec, FigureSpec) and spec.kind in KINDS
    stems = [spec.stem for spec in c.figures]
    assert len(stems) == len(set(stems))
    every = {label for suite in SUITE_NAMES for label in variant_labels(c, suite)}
    assert set(c.after_data) <= every, (cid, set(c.after_data) - every)
    assert c.primary.label not in c.after_data


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_every_variant_has_a_derived_row(cid):
    """The runner writes claimed and derived for every variant a suite reports."""
    c = get_claim(cid)
    for suite in ("smoke", "standard"):
        for v in c.variants(c.sweep(suite), Overrides()):
            d = c.derived(v)
            assert isinstance(d, Derived) and isinstance(d.text, str) and len(d.text) > 20
            assert isinstance(c.claimed(v), Claimed)


def test_figure_spec_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown figure kind 'pie'; allowed: rate"):
        FigureSpec("pie", "x", "y")


def test_unknown_claim_message():
    with pytest.raises(ValueError, match=re.escape("unknown claim 'nope'; allowed: "
                                                   "init_kernel_depth, init_width")):
        get_claim("nope")
    with pytest.raises(ValueError, match="unknown suite 'huge'; allowed: smoke, standard, full"):
        get_claim("init_width").sweep("huge")


def test_overrides_of_a_fixed_size():
    """A fixed-size sweep takes the largest of ``--depths`` / ``--widths``, else its own size."""
    o = Overrides(depths=(2, 8), widths=(16, 64))
    assert (o.depth(4), o.width(32)) == (8, 64)
    assert (Overrides().depth(4), Overrides().width(32)) == (4, 32)


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_gpu_suite_fits_one_gpu_and_is_the_full_sweep_where_that_fits(cid):
    """The ``gpu`` suite runs a claim's full sweep when its largest point fits 64 GiB, else the
    standard sweep; either way every point's estimate fits (one 80 GB GPU)."""
    from infdepth.run_fields import RunFields
    from infdepth.validation.claims import GPU_SUITE
    from infdepth.validation.claims.base import GPU_SUITE_MEMORY
    from infdepth.validation.memory_estimate import claim_points
    c = get_claim(cid)
    peak = {s: max(c.memory_bytes(p) for p in claim_points(c, s, Overrides(),
                                                           RunFields(device="cuda")))
            for s in ("full", GPU_SUITE)}
    assert peak[GPU_SUITE] <= GPU_SUITE_MEMORY
    want = "full" if peak["full"] <= GPU_SUITE_MEMORY else "standard"
    assert c.sweep(GPU_SUITE) is c.sweep(want)


def test_conventions_the_claims_implement_and_run():
    """The [HW] claims implement "default" and "authors"; the others only the default, which
    they run instead of a convention they do not implement. Requested conventions are checked
    (one line naming the bad one) and put in catalog order."""
    from infdepth.validation.claims import check_overrides
    hw = {"hw_rate_lm", "hw_sqrt_d", "hw_lazy", "hw_phase"}
    both = check_overrides(Overrides(conventions=("authors", "default", "authors")))
    assert both.conventions == ("default", "authors") and both.convention == "default"
    assert Overrides().convention == "default"
    for claim in all_claims():
        runs = [o.conventions for o in claim.convention_runs(both)]
        if claim.id in hw:
            assert claim.conventions == ("default", "authors")
            assert runs == [("default",), ("authors",)]
        else:
            assert claim.conventions == ("default",) and runs == [("default",)]
            assert claim.ignores_conventions(both) == ("authors",)
    with pytest.raises(ValueError) as e:
        check_overrides(Overrides(conventions=("paper",)))
    assert str(e.value) == "unknown convention 'paper'; allowed: default, authors"
