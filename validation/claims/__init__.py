"""The claims catalog (docs/theory.md s8): one module per claim, each defining a
:class:`~infdepth.validation.claims.base.Claim` subclass and exporting its instance as ``CLAIM``.

Adding a claim is one module here (plus its test and its ``docs/claims/<id>.md`` page) and one
entry in :data:`CLAIM_IDS`. Modules are imported on first use, so listing the claims does not
import the numerics.
"""

from __future__ import annotations

import importlib

from .base import (GPU_SUITE, RUN_SUITES, SUITE_NAMES, TOLERANCE, Claim, Claimed, Derived,
                   FigureSpec, Overrides, Variant, check_overrides)

__all__ = ["CLAIM_IDS", "get_claim", "all_claims", "Claim", "Claimed", "Derived", "FigureSpec",
           "Overrides", "Variant", "check_overrides", "SUITE_NAMES", "GPU_SUITE", "RUN_SUITES",
           "TOLERANCE"]

#: claim ids in catalog order; each is the name of its module in this package
CLAIM_IDS: tuple[str, ...] = (
    "init_kernel_depth", "init_width", "init_coupling_width", "nfd_depth_error",
    "train_coupling_depth", "gia_restoration", "twolayer_collapse", "twolayer_correction",
    "depth_hp_transfer", "hw_rate_lm", "hw_sqrt_d", "hw_lazy", "hw_phase",
)


def get_claim(claim_id: str) -> Claim:
    """The claim ``claim_id``; ``ValueError`` naming the known ids otherwise."""
    if claim_id not in CLAIM_IDS:
        raise ValueError(f"unknown claim {claim_id!r}; allowed: {', '.join(CLAIM_IDS)}")
    claim = importlib.import_module(f"{__name__}.{claim_id}").CLAIM
    if claim.id != claim_id:  # pragma: no cover - a wiring error
        raise RuntimeError(f"module {claim_id} defines claim {claim.id!r}")
    return claim


def all_claims() -> tuple[Claim, ...]:
    return tuple(get_claim(c) for c in CLAIM_IDS)
