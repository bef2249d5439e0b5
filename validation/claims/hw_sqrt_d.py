"""Claim ``hw_sqrt_d`` (docs/theory.md s6, s8): for 2LP blocks the error is O(sqrt(D)/sqrt(LM));
the per-coordinate embedding error grows like sqrt(D) at fixed LM (needs D = O(LM)).

Measured per seed: rms over inputs and embedding coordinates of ``h_L`` after K GD steps minus
the **exact** linear-activation Mean ODE (:mod:`infdepth.numerics.mean_ode_linear`), at fixed L
and M (``linear/embedding``), and the same at step 0 (``linear/embedding_init``: the init noise
alone, before training can amplify it differently at each D). Settings as ``hw_rate_lm``'s linear
variants (eta = 0.2, K = 15).

**Statistic and interval** (docs/theory.md s9): one positive error per seed and size, heavy-tailed
over seeds like ``hw_rate_lm``'s: the unmarked variants use the **geometric mean** over seeds
(the typical error; the median of a log-normal), whose log-slope has the exact t-interval
``log_t`` the calibration suite selected for this data structure; it replaces the median. The
``/mean`` twins keep the arithmetic mean (``boot_t``). **Not paired**: ``W_in`` and ``W_out``
are redrawn for every D (different shapes), so the sizes are independent (Welch degrees of
freedom). **Reference error**: 0 (the exact linear Mean ODE).

**Negative control** ``control/output`` (declared with the claim, run in every suite, on the
primary's points: no extra compute): the rms *output* error ``out_err`` vs D. The readout
``W_out^T h / D`` averages the per-coordinate noise over D coordinates, so the output noise is
``D^0`` (``derive_hw(preset("hw_mlu"))["noise_output"]``): it must be refuted against +1/2.

**Conventions** (docs/theory.md s6 "The authors' own setting"): under ``"authors"`` the networks
and the exact Mean ODE use the loss ``(1/(2 N d_out)) sum |f-y|^2``, ``W_out`` std
``sqrt(d_out)``, ``eta = 1``, ``K = 15``, and compare the last records (before the K-th update);
the sweep is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from infdepth.lazy import lazy

from ..measurements import RateMeasurement
from .base import Claim, ControlVariant, Derived, FigureSpec, Overrides, Variant, size_sweep
from .hw_common import (HW_CONVENTIONS, STATISTIC_TEXT, STATISTICS, FixedSizeSweep,
                        compute_errors, error_points, errors_footprint, reference_affinity,
                        twin_suffix)

pd = lazy("pandas")  # imported on first use (infdepth.lazy)


@dataclass(frozen=True)
class Sweep(FixedSizeSweep):
    D_sweep: tuple[int, ...]


@dataclass(frozen=True)
class SqrtDVariant(Variant):
    """``horizon``: ``"K"`` (after training) or ``"init"`` (step 0); ``statistic`` over seeds."""

    allowed = {"horizon": ("K", "init"), "statistic": STATISTICS}

    horizon: str = "K"
    statistic: str = "geometric_mean"

    @property
    def label(self) -> str:
        return ("linear/embedding" + ("_init" if self.horizon == "init" else "")
                + twin_suffix(self.statistic))


class HWSqrtD(Claim):
    id = "hw_sqrt_d"
    source = "HW"
    statement = "2LP error O(sqrt(D)/sqrt(LM))"
    quantity = "embedding error vs D at fixed LM"
    claimed_slope = 0.5
    claimed_text = "+1/2 in D"
    conventions = HW_CONVENTIONS
    suites = {"smoke": Sweep(8, 16, 16, (4, 8, 16, 32)),
              "standard": Sweep(24, 32, 32, (4, 8, 16, 32)),
              "full": Sweep(64, 64, 64, (4, 8, 16, 32, 64, 128))}
    primary = SqrtDVariant("K")
    controls = (ControlVariant("output"),)
    figures = (FigureSpec("rate", "hw_sqrt_d", "[HW] per-coordinate embedding error vs "
                          "embedding dimension D at fixed LM",
                          ylabel="error (see legend per variant)"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[SqrtDVariant, ...]:
        if not overrides.keeps("linear"):
            return ()
        return tuple(SqrtDVariant(h, s) for h in ("K", "init") for s in STATISTICS)

    def points(self, variant: SqrtDVariant | ControlVariant, sweep: Sweep,
               overrides: Overrides, run):
        """The D sweep at fixed L, M (the control reads the same points)."""
        sizes = [(overrides.depth(sweep.L), sweep.M)]
        return [p for D in size_sweep(overrides.widths, sweep.D_sweep)
                for p in error_points("linear", sizes, D=D, seeds=sweep.seeds, run=run, ode={},
                                      convention=overrides.convention)]

    def affinity(self, p):
        return reference_affinity(p)

    def compute(self, p) -> pd.DataFrame:
        """One row per seed (the columns of ``hw_rate_lm``'s rate points: ``emb_err``, ...)."""
        return compute_errors(p)

    def footprint(self, p):
        """The exact linear Mean ODE (whose memory grows like ``D^2``), then the networks."""
        return errors_footprint(p)

    def measure(self, variant: SqrtDVariant | ControlVariant, points, frames
                ) -> RateMeasurement:
        p = points[0]
        zero = [0.0] * len(points)            # the exact linear Mean ODE: no reference error
        if isinstance(variant, ControlVariant):
            return RateMeasurement([q.D for q in points],
                                   [f["out_err"].to_numpy() for f in frames],
                                   STATISTICS["geometric_mean"], "embedding dimension D",
                                   f"geometric mean rms output error after K={p.K} steps vs "
                                   f"exact Mean ODE (linear, L={p.L}, M={p.M})",
                                   column="out_err", reference_error=zero)
        init = variant.horizon == "init"
        col = "emb_err_init" if init else "emb_err"
        when = "at init" if init else f"after K={p.K} steps"
        return RateMeasurement([q.D for q in points], [f[col].to_numpy() for f in frames],
                               STATISTICS[variant.statistic], "embedding dimension D",
                               f"{STATISTIC_TEXT[variant.statistic]} rms per-coordinate "
                               f"embedding error {when} vs exact Mean ODE (linear, L={p.L}, "
                               f"M={p.M})", column=col, reference_error=zero)

    def derived(self, variant: SqrtDVariant | ControlVariant) -> Derived:
        from infdepth.theory.exponents_core import fmt_exponent
        from infdepth.theory.exponents_hw import derive_hw
        from infdepth.theory.parameterization import preset
        if isinstance(variant, ControlVariant):
            q = derive_hw(preset("hw_mlu"))["noise_output"]
            e = q.exponent("D")
            return Derived(float(e), f"[hw_mlu] {q.derivation}: the readout W_out^T h/D "
                                     f"averages the per-coordinate noise over the D "
                                     f"coordinates, slope {fmt_exponent(e)} in D")
        q = derive_hw(preset("hw_mlu"))["noise_embedding"]
        e = q.exponent("D")
        return Derived(float(e), f"[hw_mlu] {q.derivation}: slope {fmt_exponent(e)} in D per "
                                 f"embedding coordinate")


CLAIM = HWSqrtD()
