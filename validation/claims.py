"""The claims registry (THEORY.md s8): what each paper claims, how it is measured, and which
experiment module measures it.

A claim's verdict is an output. ``claimed`` is the paper's exponent; the ``derived`` exponent
comes from the theory layer when the claim runs; ``tolerance`` is the half-width of the band
around the claimed slope used by :func:`infdepth.validation.rate_fit.verdict` (THEORY.md s9,
default 0.15).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """One row of THEORY.md s8."""

    id: str
    source: str
    statement: str
    quantity: str
    size: str
    claimed: float | None
    claimed_text: str
    tolerance: float = 0.15
    experiment: str | None = None  # module under infdepth.validation.experiments
    planned_in: str = ""           # where an unimplemented claim is scheduled

    @property
    def implemented(self) -> bool:
        return self.experiment is not None


_CLAIMS: tuple[Claim, ...] = (
    Claim("init_kernel_depth", "NFD",
          "at init, the depth-L network's infinite-width kernel converges to the kernel ODE",
          "relative error of the output kernel vs L (exact recursion, no noise)", "L",
          -1.0, "-1 in L", experiment="init_kernel_depth"),
    Claim("init_width", "NFD",
          "the finite-width network at init converges to its infinite-width limit",
          "relative bias of seed-averaged kernel / gradient statistics vs n at fixed L", "n",
          -1.0, "-1 in n", experiment="init_width"),
    Claim("init_coupling_width", "NFD",
          "weight-reuse coupling at init is O(1/n), uniformly in L",
          "coupling size vs n, for several L", "n", -1.0, "-1 in n, flat in L",
          experiment="init_coupling_width"),
    Claim("nfd_depth_error", "NFD",
          "the trained finite network converges to the NFD limit with O(1/L) error",
          "output / kernel error after K steps vs L, against both NFD variants", "L",
          -1.0, "-1 in L", experiment="nfd_depth_error"),
    Claim("train_coupling_depth", "NFD",
          "the accumulated reused-weight coupling during training is O(L^-2)",
          "accumulated coupling vs L at levels (a), (b), (c) of THEORY.md s4", "L",
          -2.0, "-2 in L", experiment="train_coupling_depth"),
    Claim("gia_restoration", "NFD",
          "reused vs independent backward weights: training curves coincide as L grows under "
          "depth-muP, not under muP",
          "gap between the two loss curves vs L, per parameterization", "L",
          None, "decreasing in L (depth-muP only)", experiment="gia_restoration"),
    Claim("twolayer_collapse", "NFD",
          "the first internal layer's feature update vanishes under depth-muP",
          "rms Delta u vs L", "L", -0.5, "-1/2 in L", experiment="twolayer_collapse"),
    Claim("twolayer_correction", "NFD",
          "the depth-aware LR correction restores the first layer's feature learning",
          "rms Delta u and rms Delta h_L vs L with correction", "L", 0.0, "0 in L (both)",
          experiment="twolayer_correction"),
    Claim("depth_hp_transfer", "NFD",
          "the optimal LR transfers across depth (one-layer depth-muP; two-layer only with "
          "correction)", "argmin-LR drift across L on a real task", "L", 0.0, "~0 shift",
          experiment="depth_hp_transfer"),
    Claim("hw_rate_lm", "HW",
          "output error O(1/L + alpha/sqrt(LM)); depends on L and M only through LM",
          "output error vs L at fixed M and vs M at fixed L", "L", -0.5,
          "-1/2 in L and M; -1 in L at large M", experiment="hw_rate_lm"),
    Claim("hw_sqrt_d", "HW", "2LP error O(sqrt(D)/sqrt(LM))",
          "embedding error vs D at fixed LM", "D", 0.5, "+1/2 in D", experiment="hw_sqrt_d"),
    Claim("hw_lazy", "HW", "alpha -> infinity: lazy, linearly parameterized",
          "relative parameter movement vs alpha; output change vs alpha", "alpha", -1.0,
          "-1 and 0 in alpha", experiment="hw_lazy"),
    Claim("hw_phase", "HW",
          "only the residual scale ~ sqrt(D)/(LM) gives complete feature learning",
          "regime map over (scale exponent, LR exponent)", "LM", None, "phase diagram",
          experiment="hw_phase"),
)

CLAIMS: dict[str, Claim] = {c.id: c for c in _CLAIMS}
CLAIM_IDS: tuple[str, ...] = tuple(CLAIMS)


def get_claim(claim_id: str) -> Claim:
    """The claim called ``claim_id``; ``ValueError`` naming the known ids otherwise."""
    if claim_id not in CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}; allowed: {', '.join(CLAIM_IDS)}")
    return CLAIMS[claim_id]


def implemented_claims() -> tuple[str, ...]:
    return tuple(c.id for c in _CLAIMS if c.implemented)
