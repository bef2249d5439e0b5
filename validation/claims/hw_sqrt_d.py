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

**Tanh** (the [HW] experiments' activation; ``standard`` and ``full`` suites): ``tanh/embedding``
and ``tanh/output``, the per-coordinate embedding and the rms output error after K steps against
the particle Mean-ODE solver (:class:`TanhSweep`: its own seeds and solver sizes, D swept as far
as the solver's memory, which grows like ``seeds P D``, allows), geometric mean over seeds,
``log_t``. The solver's own error is estimated on ``f_K`` (:func:`reference_errors`): it enters
the output error's noise floor; the embedding error has no such estimate (``None``). Derived:
+1/2 in D for the embedding, 0 for the output (the readout averages the per-coordinate noise).
Exploratory rows: they report whether the D-dependence after training is sqrt(D), faster, or
not settled; the primary stays ``linear/embedding``.

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
                        reference_errors, reference_text, twin_suffix)

pd = lazy("pandas")  # imported on first use (infdepth.lazy)


@dataclass(frozen=True)
class TanhSweep:
    """The tanh variants' D sweep (at the suite's L, M): seeds per point and the Mean-ODE
    reference's depth steps ``Ls`` and particles ``P`` (its memory grows like ``seeds P D``)."""

    seeds: int
    Ls: int
    P: int
    D_sweep: tuple[int, ...]


@dataclass(frozen=True)
class Sweep(FixedSizeSweep):
    D_sweep: tuple[int, ...]
    #: the tanh variants' sweep (``None``: no tanh variants)
    tanh: TanhSweep | None = None


@dataclass(frozen=True)
class SqrtDVariant(Variant):
    """``horizon``: ``"K"`` (after training) or ``"init"`` (step 0); ``statistic`` over seeds;
    ``act``: ``"linear"`` (exact reference) or ``"tanh"`` (the Mean-ODE solver); ``error``:
    the per-coordinate ``embedding`` error or the rms ``output`` error (tanh)."""

    allowed = {"horizon": ("K", "init"), "statistic": STATISTICS, "act": ("linear", "tanh"),
               "error": ("embedding", "output")}

    horizon: str = "K"
    statistic: str = "geometric_mean"
    act: str = "linear"
    error: str = "embedding"

    @property
    def label(self) -> str:
        return (f"{self.act}/{self.error}" + ("_init" if self.horizon == "init" else "")
                + twin_suffix(self.statistic))


#: the tanh variants (the [HW] experiments' activation): embedding and output error after K
#: steps, geometric mean over seeds, against the Mean-ODE solver
TANH_VARIANTS = (SqrtDVariant("K", act="tanh", error="embedding"),
                 SqrtDVariant("K", act="tanh", error="output"))


class HWSqrtD(Claim):
    id = "hw_sqrt_d"
    source = "HW"
    statement = "2LP error O(sqrt(D)/sqrt(LM))"
    quantity = "embedding error vs D at fixed LM"
    claimed_slope = 0.5
    claimed_text = "+1/2 in D"
    conventions = HW_CONVENTIONS
    suites = {"smoke": Sweep(8, 16, 16, (4, 8, 16, 32)),
              "standard": Sweep(24, 32, 32, (4, 8, 16, 32),
                                TanhSweep(8, 16, 8192, (4, 8, 16, 32))),
              "full": Sweep(64, 64, 64, (4, 8, 16, 32, 64, 128),
                            TanhSweep(16, 16, 32768, (4, 8, 16, 32, 64)))}
    primary = SqrtDVariant("K")
    controls = (ControlVariant("output"),)
    figures = (FigureSpec("rate", "hw_sqrt_d", "[HW] per-coordinate embedding error vs "
                          "embedding dimension D at fixed LM",
                          ylabel="error (see legend per variant)"),)

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[SqrtDVariant, ...]:
        out: tuple[SqrtDVariant, ...] = ()
        if overrides.keeps("linear"):
            out += tuple(SqrtDVariant(h, s) for h in ("K", "init") for s in STATISTICS)
        if sweep.tanh is not None and overrides.keeps("tanh"):
            out += TANH_VARIANTS
        return out

    def points(self, variant: SqrtDVariant | ControlVariant, sweep: Sweep,
               overrides: Overrides, run):
        """The D sweep at fixed L, M (the control reads the linear points; the two tanh
        variants read the same tanh points)."""
        sizes = [(overrides.depth(sweep.L), sweep.M)]
        if isinstance(variant, SqrtDVariant) and variant.act == "tanh":
            t = sweep.tanh
            return [p for D in size_sweep(overrides.widths, t.D_sweep)
                    for p in error_points("tanh", sizes, D=D, seeds=t.seeds, run=run,
                                          ode={"Ls": t.Ls, "P": t.P},
                                          convention=overrides.convention)]
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
        stat = STATISTICS[variant.statistic]
        when = "at init" if init else f"after K={p.K} steps"
        what = ("rms per-coordinate embedding error" if variant.error == "embedding"
                else "rms output error")
        col = {"embedding": "emb_err", "output": "out_err"}[variant.error] + ("_init" if init
                                                                              else "")
        if variant.act == "linear":
            ref, ref_err = "exact Mean ODE (linear", zero
        else:   # the solver's own error is estimated on f_K: it enters the output error only
            ref = f"{reference_text(p)} (tanh"
            ref_err = (reference_errors(points, frames, stat) if variant.error == "output"
                       else None)
        return RateMeasurement([q.D for q in points], [f[col].to_numpy() for f in frames],
                               stat, "embedding dimension D",
                               f"{STATISTIC_TEXT[variant.statistic]} {what} {when} vs {ref}, "
                               f"L={p.L}, M={p.M})", column=col, reference_error=ref_err)

    def derived(self, variant: SqrtDVariant | ControlVariant) -> Derived:
        from infdepth.theory.exponents_core import fmt_exponent
        from infdepth.theory.exponents_hw import derive_hw
        from infdepth.theory.parameterization import preset
        if isinstance(variant, ControlVariant) or variant.error == "output":
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
