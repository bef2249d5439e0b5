"""Tiny synthetic tables for the figure kinds: the frames the runner writes
(:mod:`infdepth.validation.tables`), built from known power laws without running a claim."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from helpers import power_law_samples
from infdepth.paper_figs.common import VariantView
from infdepth.run_fields import RunFields
from infdepth.validation.claims import FigureSpec
from infdepth.validation.measurements import Claimed, RateMeasurement
from infdepth.validation.tables import raw_table, summary_table


@dataclass(frozen=True)
class TinyPoint(RunFields):
    L: int
    M: int = 4


def rate_view(label: str, slope: float, sizes=(4, 8, 16, 32), role="primary", *, M=None,
              seeds=6, rng_seed=0) -> VariantView:
    """A rate variant as the runner stores it: per-seed ``err`` of known slope over ``sizes``
    (depths L; ``M`` fixed, or ``M = L`` when ``M == "L"``), its summary and verdict row."""
    samples = power_law_samples(sizes, slope, seeds, noise=0.05, rng_seed=rng_seed)
    m = RateMeasurement(sizes, samples, None, "depth L", "error (synthetic)", column="err")
    ev = m.evaluate(Claimed.around(slope, 0.15, f"{slope:+g} in L"))
    pts = [TinyPoint(L=L, M=L if M == "L" else (M or 4)) for L in sizes]
    frames = [pd.DataFrame({"seed": np.arange(seeds), "err": a}) for a in samples]
    record = {"id": "synthetic", "variant": label, "role": role, "claimed": slope,
              "derived": slope, "measured": ev.slope, "ci_low": ev.ci_low,
              "ci_high": ev.ci_high, "status": ev.status, "intercept": ev.intercept,
              "size_label": ev.size_label, "error_label": ev.error_label,
              "seed_column": ev.seed_column}
    return VariantView(record, summary_table(ev), raw_table(label, role, pts, frames, sizes))


@pytest.fixture
def spec():
    def make(kind: str, stem: str = "fig") -> FigureSpec:
        return FigureSpec(kind, stem, f"synthetic {kind}", ylabel="error")
    return make


def assert_png_and_pdf(paths, out_dir, stem):
    assert sorted(p.name for p in paths) == [f"{stem}.pdf", f"{stem}.png"]
    for p in paths:
        assert p.parent == out_dir and p.is_file() and p.stat().st_size > 1000, p


@pytest.fixture
def png_and_pdf():
    return assert_png_and_pdf


@pytest.fixture
def rate_views():
    return rate_view
