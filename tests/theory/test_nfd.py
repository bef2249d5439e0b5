"""The NFD terms derived in SymPy (theory/nfd.py, docs/theory.md s3) and their generated code
(theory/generated/nfd_terms.py)."""

from __future__ import annotations

import pytest
import torch

from infdepth.theory import codegen
from infdepth.theory.generated import nfd_terms
from infdepth.theory.nfd import TERM_NAMES, derive_terms


def test_derived_terms_match_theory_s3():
    terms = {t.name: t for t in derive_terms()}
    assert tuple(terms) == TERM_NAMES
    b, e, c, q, ch, xx = 1.3, 0.7, 0.4, 0.9, -0.25, 0.6
    assert nfd_terms.forward_diffusion(b, c) == pytest.approx(b ** 2 * c)
    assert nfd_terms.forward_drift_coefficient(e, b, ch, c) == pytest.approx(-e * b ** 2 * ch * c)
    assert nfd_terms.backward_diffusion(b, q) == pytest.approx(b ** 2 * q)
    assert nfd_terms.backward_drift_coefficient(e, b, ch, q) == pytest.approx(-e * b ** 2 * ch * q)
    assert nfd_terms.backward_gamma_coefficient(b, 0.3) == pytest.approx(b ** 2 * 0.3)
    assert nfd_terms.forward_gamma_coefficient(b, 0.3) == pytest.approx(b ** 2 * 0.3)
    assert nfd_terms.input_layer_coefficient(e, ch, xx) == pytest.approx(-e * ch * xx)
    assert nfd_terms.readout_coefficient(e, ch) == pytest.approx(-e * ch)
    # plain arithmetic: works on torch tensors
    t = nfd_terms.forward_drift_coefficient(e, b, torch.tensor([1.0, 2.0]), torch.tensor(0.5))
    assert isinstance(t, torch.Tensor) and t.shape == (2,)


def test_generated_module_registered_and_fresh():
    assert any(m.name == "nfd_terms" for m in codegen.GENERATED_MODULES)
    assert codegen.derive(check=True).up_to_date
