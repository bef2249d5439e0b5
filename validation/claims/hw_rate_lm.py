"""Claim ``hw_rate_lm`` (docs/theory.md s6, s8): the [HW] 2LP ResNet's output error to the Neural
Mean ODE after K GD steps is O(1/L + alpha/sqrt(LM)): slope -1/2 in L at fixed M and in M at
fixed L, and -1 in L at large M (the Euler bias). The full design is docs/claims/hw_rate_lm.md.

Measured per seed (``<act>/L``, ``<act>/M``, ``<act>/LM``): rms over inputs and outputs of
``f_K(finite) - f_K(reference)``, network and reference sharing ``W_in``, ``W_out`` and the data
(:func:`~infdepth.validation.claims.hw_common.compute_errors`). References: the exact linear Mean
ODE (``linear``); the particle Mean-ODE solver (``tanh``; sizes :data:`ODE_REFERENCE`), the
coupled large network being the selectable fallback (``hw_common.TANH_REFERENCE``). ``LM`` is the
diagonal L = M, where both error terms are powers of LM. In the L and M sweeps the Euler bias is
not separated: at fixed L = 16 the M-independent bias flattens the slope at the largest M (see
:meth:`HWRateLM.derived`).

**Statistic and interval** (docs/theory.md s9). One positive error per seed and size, heavy-tailed
over seeds (seeds whose limit trajectory nears the edge of stability amplify the noise) and
close to log-normal: the unmarked variants (``linear/L`` ...) use the **geometric mean** over
seeds -- the typical error, the median of a log-normal -- whose log-slope has the exact t-interval
``log_t`` the calibration suite selected for this data structure. It replaces the median, chosen
earlier after a trial with the mean gave a wide CI (the percentile bootstrap used then
undercovers with few seeds). The ``/mean`` twins keep the arithmetic mean (``boot_t``).
**Paired** across sizes: seed ``i`` has the same ``W_in``, ``W_out``, reference and unit streams
at every size (measured correlation 0.6-0.8), so the interval is formed from per-seed slopes.

**Reference error.** The exact linear Mean ODE: 0. The Mean-ODE solver (tanh): its own error on
``f_K`` per seed, Monte Carlo (a second independent particle draw) and depth (Richardson from one
solve at 2 Ls) in quadrature (:func:`~infdepth.numerics.hw_reference.reference_error`), stored
as the column ``ref_err`` and summarised by the variant's statistic per size; the fitter adds it
in quadrature to the seed noise in the noise floor and the signal-to-noise ratio. The coupled
fallback has no estimate (``None``).

**The Euler bias** (``linear/bias``, ``tanh/bias``; claimed -1 in L): every seed shares one
``W_in``, ``W_out`` and differs only in its units, so the rms over inputs and outputs of the
**seed-mean signed error** isolates ``bias_L + E[second-order terms]``
(:mod:`infdepth.numerics.hw_bias`). That statistic is the rms of a noisy mean, biased upward by
the Monte Carlo error of the mean; it is estimated with the noise bias removed from its square
(:class:`~infdepth.validation.noise_budget.NormOfMean` with ``rms=True``, ``boot_t``, paired).
Linear: signed error to the exact Mean ODE, with the M = infinity Euler scheme's own error
stored beside it (``euler_err``). Tanh: the Cauchy difference ``f_K(L, M) - f_K(2L, M/2)`` on the
same L M units (mean ``bias_L - bias_2L``, same exponent); the partner's noise is inside the
measured difference, so no reference error is added (0 for both). M and the seed counts of
:data:`BIAS_SUITES` come from measured noise budgets (the Monte-Carlo error of the mean about
0.1 of the bias at the largest L; the linear second-order rest falls like 1/M, ~1% at M =
1024), written per L into the verdict's notes with the floor of the corrected estimate;
``--widths`` is ignored there.

**Negative control** ``control/wrong_limit`` (declared with the claim, run in every suite): the
``linear/L`` networks compared with the exact linear Mean ODE of another residual scale (alpha =
1.25 in the reference only). The error then tends to the O(1) distance between the two limits
(derived slope 0), which a fit must refute against the claimed -1/2.

**Conventions** (docs/theory.md s6 "The authors' own setting"): under ``"authors"`` every point
(the bias and control points too) and its reference use the loss ``(1/(2 N d_out)) sum |f-y|^2``,
``W_out`` std ``sqrt(d_out)``, ``eta = 1`` for both activations, ``K = 15``, and compare the last
outputs recorded before an update (``f_{K-1}``); sweeps, seeds and rules are unchanged
(:func:`~infdepth.validation.claims.hw_common.act_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from infdepth.lazy import lazy

from ..measurements import Claimed, RateMeasurement
from .base import (TOLERANCE, Claim, ControlVariant, Derived, FigureSpec, Overrides, Variant,
                   size_sweep)
from .hw_common import (ACT_SETTINGS, HW_CONVENTIONS, STATISTIC_TEXT, STATISTICS, act_settings,
                        compute_errors, error_points, errors_footprint, reference_affinity,
                        reference_errors, reference_text, twin_suffix)
from .hw_rate_parts import (BIAS_STATISTIC, JOINT_BANDS, WRONG_ALPHA, HWBiasPoint,
                            HWWrongLimitPoint, bias_samples, budget_notes, compute_bias,
                            compute_wrong_limit, joint_measurement)

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

AXES = ("L", "M", "LM", "bias")
BIAS_CLAIMED = -1.0


@dataclass(frozen=True)
class BiasSweep:
    depths: tuple[int, ...]
    M: int
    seeds: int


@dataclass(frozen=True)
class Sweep:
    variants: tuple[str, ...]           # "<act>/<axis>" of the L, M and LM sweeps
    seeds: int
    D: int
    L_sweep: tuple[int, ...]
    M_fixed: int
    LM_sweep: tuple[int, ...]
    M_sweep: tuple[int, ...]
    L_fixed: int
    L_ref: int                          # coupled-reference sizes (fallback reference)
    M_ref: int
    ode: dict                           # Mean-ODE solver sizes: {"Ls", "P"}
    bias: dict                          # activation -> BiasSweep


@dataclass(frozen=True)
class RateVariant(Variant):
    allowed = {"act": ACT_SETTINGS, "axis": AXES, "statistic": STATISTICS}

    act: str
    axis: str                           # L | M | LM | bias
    statistic: str = "geometric_mean"   # geometric_mean | mean (bias: NormOfMean of the seeds)

    def __post_init__(self):
        super().__post_init__()
        if self.axis == "bias" and self.statistic != "geometric_mean":
            raise ValueError(f"bad hw_rate_lm variant {self!r}; allowed: "
                             "<linear|tanh>/<L|M|LM>[/mean] or <linear|tanh>/bias")

    @property
    def label(self) -> str:
        return f"{self.act}/{self.axis}" + twin_suffix(self.statistic)


@dataclass(frozen=True)
class JointVariant(Variant):
    """``<act>/joint``: the two-term model ``a/L + b sqrt(D/(LM))`` fitted over every network
    of the activation's L-, M- and diagonal sweeps at once (exponents free, compared with a
    single power law and the noise term alone; :mod:`.hw_rate_parts`)."""

    allowed = {"act": ACT_SETTINGS}

    act: str

    @property
    def label(self) -> str:
        return f"{self.act}/joint"


_VARIANTS = ("linear/L", "linear/M", "linear/LM", "tanh/L", "tanh/M", "tanh/LM")
#: Mean-ODE solver sizes per suite. Measured (tanh, eta 0.5, K 15, 8 seeds): (16, 8192): depth
#: error 2.2e-4, particle spread 1.1e-3; (16, 32768): 2.2e-4 and 4.6e-4.
ODE_REFERENCE = {"smoke": {"Ls": 16, "P": 8192}, "standard": {"Ls": 16, "P": 32768},
                 "full": {"Ls": 32, "P": 65536}}


class HWRateLM(Claim):
    id = "hw_rate_lm"
    source = "HW"
    statement = "output error O(1/L + alpha/sqrt(LM)); depends on L and M only through LM"
    quantity = "output error vs L at fixed M and vs M at fixed L"
    claimed_slope = -0.5
    claimed_text = "-1/2 in L and M; -1 in L at large M"
    conventions = HW_CONVENTIONS
    suites = {
        "smoke": Sweep(("linear/L", "linear/M", "linear/LM", "tanh/L"), 24, 5,
                       (4, 8, 16, 32, 64, 128), 16, (4, 8, 16, 32), (4, 8, 16, 32, 64, 128), 16,
                       512, 64, ODE_REFERENCE["smoke"],
                       {"linear": BiasSweep((2, 4, 8, 16), 512, 128)}),
        "standard": Sweep(_VARIANTS, 32, 5, (4, 8, 16, 32, 64, 128, 256), 16,
                          (4, 8, 16, 32, 64), (4, 8, 16, 32, 64, 128), 16, 512, 128,
                          ODE_REFERENCE["standard"],
                          {"linear": BiasSweep((2, 4, 8, 16, 32), 1024, 256),
                           "tanh": BiasSweep((2, 4, 8, 16, 32), 256, 64)}),
        "full": Sweep(_VARIANTS, 64, 5, (4, 8, 16, 32, 64, 128, 256), 16,
                      (4, 8, 16, 32, 64, 128), (4, 8, 16, 32, 64, 128, 256), 16, 2048, 256,
                      ODE_REFERENCE["full"],
                      {"linear": BiasSweep((2, 4, 8, 16, 32, 64), 2048, 256),
                       "tanh": BiasSweep((2, 4, 8, 16, 32, 64), 512, 128)}),
    }
    primary = RateVariant("linear", "L")
    controls = (ControlVariant("wrong_limit"),)
    figures = (
        FigureSpec("rate", "hw_rate_lm", "[HW] output error to the Neural Mean ODE after K "
                   "steps vs L and vs M", select=lambda v: not v.endswith(("/bias", "/joint")),
                   ylabel="error (see legend per variant)"),
        FigureSpec("rate", "hw_rate_lm_bias", "[HW] Euler bias of the Mean ODE at large M: "
                   "seed-mean error vs L", select=lambda v: v.endswith("/bias"),
                   ylabel="rms of the seed-mean signed error (linear: vs exact Mean ODE; tanh: "
                          "Cauchy L vs 2L)"),
        FigureSpec("depth_as_width", "hw_depth_as_width", "[HW] depth acts as width: error vs "
                   "L*M", select=lambda v: not (v.endswith(("/mean", "/bias", "/joint"))
                                                or v.startswith("control/"))),
    )

    def variants(self, sweep: Sweep, overrides: Overrides) -> tuple[Variant, ...]:
        out: list[Variant] = []
        for v in sweep.variants:
            act, axis = v.split("/")
            if overrides.keeps(act):
                out += [RateVariant(act, axis), RateVariant(act, axis, "mean")]
        joint = [JointVariant(a) for a in ACT_SETTINGS if overrides.keeps(a)
                 and all(f"{a}/{x}" in sweep.variants for x in ("L", "M", "LM"))]
        return tuple(out) + tuple(joint) + tuple(RateVariant(a, "bias") for a in sweep.bias
                                                 if overrides.keeps(a))

    def points(self, variant: RateVariant | ControlVariant, sweep: Sweep, overrides: Overrides,
               run):
        if isinstance(variant, JointVariant):        # every network of the three sweeps
            return [p for axis in ("L", "M", "LM")
                    for p in self.points(RateVariant(variant.act, axis), sweep, overrides, run)]
        if isinstance(variant, ControlVariant):      # the linear/L networks, wrong reference
            return [HWWrongLimitPoint(**{f.name: getattr(p, f.name) for f in fields(p)})
                    for p in self.points(RateVariant("linear", "L"), sweep, overrides, run)]
        conv = overrides.convention
        act, st = variant.act, act_settings(variant.act, conv)
        if variant.axis == "bias":
            if act not in sweep.bias:
                raise ValueError(f"no bias sweep for {act!r} in this suite; allowed: "
                                 f"{', '.join(f'{a}/bias' for a in sweep.bias)}")
            b = sweep.bias[act]
            ref = "exact" if act == "linear" else "cauchy"
            return [HWBiasPoint(act=act, D=sweep.D, L=L, M=b.M, K=st["K"], eta=st["eta"],
                                n_seeds=b.seeds, reference=ref, convention=conv,
                                **run.run_fields())
                    for L in size_sweep(overrides.depths, b.depths)]
        if variant.axis == "L":
            sizes = [(L, sweep.M_fixed) for L in size_sweep(overrides.depths, sweep.L_sweep)]
        elif variant.axis == "LM":
            sizes = [(m, m) for m in size_sweep(overrides.depths, sweep.LM_sweep)]
        else:
            sizes = [(sweep.L_fixed, M) for M in size_sweep(overrides.widths, sweep.M_sweep)]
        return error_points(act, sizes, D=sweep.D, seeds=sweep.seeds, run=run, ode=sweep.ode,
                            coupled=(sweep.L_ref, sweep.M_ref), convention=conv)

    def affinity(self, p):
        return reference_affinity(p)

    def compute(self, p) -> pd.DataFrame:
        """Per seed errors to the reference (rate points; for the control, to the exact Mean
        ODE at ``ref_alpha``); for a bias point, tidy rows (seed, x, o) of the signed error
        ``err`` and the M = infinity Euler scheme's ``euler_err``."""
        if isinstance(p, HWWrongLimitPoint):
            return compute_wrong_limit(p)
        return compute_bias(p) if isinstance(p, HWBiasPoint) else compute_errors(p)

    def footprint(self, p):
        """Rate and control points: the reference, then the networks; a bias point: the
        networks in chunks of seeds (after the exact reference's small solve)."""
        from infdepth.numerics import footprint as fp
        if isinstance(p, HWBiasPoint):
            bias = fp.hw_bias(p.n_seeds, p.L, p.M, p.D, N=p.N, d_in=p.d_in, d_out=p.d_out, K=p.K,
                              cauchy=p.reference == "cauchy", item=fp.itemsize(p.dtype))
            return fp.linear_mean_ode(1, p.D, p.K).then(bias) if p.reference == "exact" else bias
        return errors_footprint(p)

    def measure(self, variant, points, frames):
        p = points[0]
        if isinstance(variant, JointVariant):
            return joint_measurement(points, frames, STATISTICS["geometric_mean"])
        if isinstance(variant, ControlVariant):
            return RateMeasurement(
                [q.L for q in points], [f["out_err"].to_numpy() for f in frames],
                STATISTICS["geometric_mean"], "depth L",
                f"geometric mean rms output error after K={p.K} steps vs the exact Mean ODE at "
                f"alpha={p.ref_alpha:g} (networks at alpha={p.alpha:g}; linear, M={p.M})",
                paired=True, column="out_err", reference_error=[0.0] * len(points))
        if variant.axis == "bias":
            what = ("f_K - f_ref vs exact Mean ODE" if p.reference == "exact"
                    else "f_K(L, M) - f_K(2L, M/2) on shared units (Cauchy)")
            return RateMeasurement(
                [q.L for q in points], [bias_samples(f) for f in frames], BIAS_STATISTIC,
                "depth L", f"rms of the seed-mean signed error {what} after K={p.K} steps, "
                f"noise bias removed ({p.act}, M={p.M}, {p.n_seeds} seeds sharing W_in, W_out)",
                paired=True, notes=budget_notes(points, frames),
                reference_error=[0.0] * len(points))
        fixed = {"L": f"M={p.M}", "M": f"L={p.L}", "LM": "L = M"}[variant.axis]
        sizes = [q.L * q.M if variant.axis == "LM" else getattr(q, variant.axis)
                 for q in points]
        size_label = {"L": "depth L", "M": "hidden width M",
                      "LM": "hidden width LM (L = M)"}[variant.axis]
        stat = STATISTICS[variant.statistic]
        return RateMeasurement(sizes, [f["out_err"].to_numpy() for f in frames], stat,
                               size_label,
                               f"{STATISTIC_TEXT[variant.statistic]} rms output error after "
                               f"K={p.K} steps vs {reference_text(p)} ({variant.act}, {fixed})",
                               paired=True, column="out_err",
                               reference_error=reference_errors(points, frames, stat))

    def claimed(self, variant: RateVariant | ControlVariant) -> Claimed:
        if isinstance(variant, RateVariant) and variant.axis == "bias":
            return Claimed.around(BIAS_CLAIMED, TOLERANCE, "-1 in L at large M (Euler bias)")
        if isinstance(variant, JointVariant):
            lo, hi = JOINT_BANDS["noise.LM"]
            return Claimed(-0.5, (lo, hi), "a/L + b sqrt(D/(LM)): -1 in L and -1/2 in LM")
        return super().claimed(variant)

    def derived(self, variant: RateVariant | ControlVariant) -> Derived:
        from infdepth.theory.exponents_core import fmt_exponent
        from infdepth.theory.exponents_hw import derive_hw
        from infdepth.theory.parameterization import preset
        r = derive_hw(preset("hw_mlu"))
        noise, bias = r["noise_output"].order, r["euler_bias"].order
        if isinstance(variant, JointVariant):
            return Derived(float(noise.exponent("M")),
                           f"[hw_mlu] output error = Euler bias {bias} + noise {noise}: the sum "
                           f"of a term in L alone (exponent {fmt_exponent(bias.exponent('L'))}) "
                           f"and one in L M (exponent {fmt_exponent(noise.exponent('M'))} in "
                           "LM), fitted jointly")
        if isinstance(variant, ControlVariant):
            return Derived(0.0, f"[hw_mlu] the networks (alpha = 1) converge to their own Mean "
                           f"ODE at the rate of the noise {noise} + bias {bias}, but the "
                           f"reference is the Mean ODE at alpha = {WRONG_ALPHA:g}, a different "
                           "limit (its drift and learning rate scale with alpha): the error "
                           "tends to the O(1) distance between the two limits, slope 0 in L")
        if variant.axis == "bias":
            e = bias.exponent("L")
            text = (f"[hw_mlu] at large M the noise {noise} falls below the Euler bias of the "
                    f"Mean ODE {bias} (weak order 1): slope {fmt_exponent(e)} in L")
            if variant.act != "linear":
                text += " (measured as the Cauchy difference bias_L - bias_2L: same exponent)"
            return Derived(float(e), text)
        head = (f"[hw_mlu] output error = Euler bias {bias} + noise {noise} (L M independent "
                f"centred units, seen through the independent W_out)")
        if variant.axis == "LM":    # along L = M a monomial L^a M^b is (LM)^((a+b)/2)
            e_n = (noise.exponent("L") + noise.exponent("M")) / 2
            e_b = (bias.exponent("L") + bias.exponent("M")) / 2
            e = max(e_n, e_b)
            return Derived(float(e), head + f": along L = M both are powers of LM, noise "
                           f"(LM)^({fmt_exponent(e_n)}) and bias (LM)^({fmt_exponent(e_b)}): "
                           f"slope {fmt_exponent(e)} in LM")
        if variant.axis == "M":
            e = noise.exponent("M")
            return Derived(float(e), head + f": slope {fmt_exponent(e)} in M at fixed L while "
                           f"the noise dominates (M below ~L); for M >> L the M-independent bias "
                           f"takes over and the slope tends to "
                           f"{fmt_exponent((noise + bias).exponent('M'))}")
        e = (noise + bias).exponent("L")
        return Derived(float(e), head + f": slope {fmt_exponent(e)} in L at fixed M (the noise "
                       "dominates as L grows)")


CLAIM = HWRateLM()
