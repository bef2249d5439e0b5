"""What the [HW] claims share (docs/theory.md s6). Not a claim module: the base of the point
dataclasses of ``hw_rate_lm``, ``hw_sqrt_d``, ``hw_lazy`` and ``hw_phase`` (the typical data on top
of the run fields), the base of those that train one network size (:class:`HWNetworkPoint`), the
per-activation training settings, the error-to-reference point that ``hw_rate_lm`` and
``hw_sqrt_d`` both sweep with the reference's own error (and its footprint), and the statistics
over seeds.

**Conventions** (docs/theory.md s6 "The authors' own setting"). Every [HW] point carries the named
convention of its networks and references (``convention``, :mod:`infdepth.numerics.hw_conventions`:
``"default"`` or ``"authors"``), which enters its hash only when it is not the default (so the
default points keep their hashes). The [HW] claims implement both (:data:`HW_CONVENTIONS`); under
``"authors"`` every activation trains at the base rate and steps the authors' setting names
(eta = 1, K = 15; :func:`act_settings`) instead of :data:`ACT_SETTINGS`; nothing else of a sweep
changes."""

from __future__ import annotations

import math

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from infdepth.lazy import lazy
from infdepth.numerics import footprint as fp
from infdepth.numerics.hw_conventions import CONVENTION_NAMES, DEFAULT
from infdepth.numerics.hw_conventions import convention as convention_rules
from infdepth.run_fields import RunFields, hashed_when_set

from ..intervals import geometric_mean

pd = lazy("pandas")  # imported on first use (infdepth.lazy)

#: per-activation training settings (choice). Linear: eta = 0.2 -- with the typical data the
#: linear limit diverges at step ~7 for eta = 1 and sits at the edge of divergence at step 15 for
#: eta = 0.3, where a few seeds' amplified noise dominates the error. Tanh: eta = 0.5 (eta = 1 is
#: at the edge of stability).
ACT_SETTINGS = {"linear": {"eta": 0.2, "K": 15}, "tanh": {"eta": 0.5, "K": 15}}
#: reference of the non-linear variants: the particle Mean-ODE solver (docs/theory.md s6); the
#: coupled large network (docs/theory.md s9) is the documented fallback ("coupled")
TANH_REFERENCE = "mean_ode"
#: the named conventions the [HW] claims implement (:attr:`Claim.conventions`)
HW_CONVENTIONS = CONVENTION_NAMES


def act_settings(act: str, convention: str = DEFAULT) -> dict:
    """The training settings ``{"eta", "K"}`` of the ``act`` networks under ``convention``:
    :data:`ACT_SETTINGS` under ``"default"``; where the convention names a base rate and steps
    (``"authors"``: eta = 1, K = 15, their setting for every activation) those."""
    rules, st = convention_rules(convention), ACT_SETTINGS[act]
    return {"eta": st["eta"] if rules.eta is None else rules.eta,
            "K": st["K"] if rules.K is None else rules.K}


@dataclass(frozen=True, kw_only=True)
class HWRunFields(RunFields):
    """The data (``N`` Gaussian inputs in ``d_in`` dims, targets in ``d_out``, fixed by
    ``data_seed``) and the named ``convention`` of the networks and their references (hashed
    only when not ``"default"``; module docstring) besides the run fields."""

    N: int = 10
    d_in: int = 5
    d_out: int = 5
    data_seed: int = 0
    convention: str = hashed_when_set(DEFAULT)

    def data(self):
        """``(X, Y)`` of :func:`~infdepth.numerics.hidden_width.hw_data` in this run's dtype
        and device."""
        from infdepth.numerics.hidden_width import hw_data
        return hw_data(self.N, self.d_in, self.d_out, self.data_seed, dtype=self.torch_dtype,
                       device=self.device)

    def config(self, **overrides):
        """The :class:`~infdepth.numerics.hidden_width.HWConfig` of this point's networks (its
        fields of the same names; ``overrides`` replace any)."""
        from infdepth.numerics.hidden_width import config_from
        return config_from(self, **overrides)


@dataclass(frozen=True)
class FixedSizeSweep:
    """A suite of an [HW] sweep at one network size: ``seeds`` per point, depth ``L``, hidden
    width ``M`` (``--depths`` replace ``L`` by their largest value)."""

    seeds: int
    L: int
    M: int


@dataclass(frozen=True, kw_only=True)
class HWNetworkPoint(HWRunFields):
    """``n_seeds`` [HW] 2LP networks (activation ``act``, embedding dimension ``D``, depth ``L``,
    hidden width ``M``, residual scale ``alpha``) trained K GD steps at base rate ``eta``."""

    act: str
    D: int
    L: int
    M: int
    K: int
    eta: float
    n_seeds: int
    alpha: float = 1.0
    parameterization: str = "hw_mlu"


@dataclass(frozen=True, kw_only=True)
class HWPoint(HWNetworkPoint):
    """One finite network size, compared with its reference after K GD steps; ``L_ref``/``M_ref``
    only for the coupled (tanh) reference."""

    L_ref: int = 0
    M_ref: int = 0


@dataclass(frozen=True, kw_only=True)
class HWODEPoint(HWPoint):
    """A tanh point whose reference is the particle Mean-ODE solver (``ref_Ls`` depth steps,
    ``ref_P`` particles; :mod:`infdepth.numerics.mean_ode`). ``ref_error``: also store the
    solver's own error per seed (columns ``ref_err``, ``ref_err_mc``, ``ref_err_depth``;
    :func:`~infdepth.numerics.hw_reference.reference_error`)."""

    ref_Ls: int = 16
    ref_P: int = 8192
    ref_scheme: str = "heun"
    ref_sampler: str = "sobol"
    ref_error: bool = True


def error_points(act: str, sizes, *, D: int, seeds: int, run: RunFields, ode: dict,
                 coupled: tuple[int, int] = (0, 0), convention: str = DEFAULT) -> list[HWPoint]:
    """The points of a sweep over ``sizes`` = [(L, M), ...]: exact reference for linear, the
    Mean-ODE solver (sizes ``ode``) or the coupled network (``coupled`` = (L_ref, M_ref), each
    raised to cover the sweep) for tanh; training settings :func:`act_settings` of the
    ``convention``."""
    st = act_settings(act, convention)
    common = dict(act=act, D=D, K=st["K"], eta=st["eta"], n_seeds=seeds, convention=convention,
                  **run.run_fields())
    if act != "linear" and TANH_REFERENCE == "mean_ode":
        return [HWODEPoint(L=L, M=M, ref_Ls=ode["Ls"], ref_P=ode["P"], **common)
                for L, M in sizes]
    L_ref, M_ref = (0, 0)
    if act != "linear":
        L_ref = int(np.lcm.reduce([L for L, _ in sizes] + [coupled[0]]))
        M_ref = max([M for _, M in sizes] + [coupled[1]])
    return [HWPoint(L=L, M=M, L_ref=L_ref, M_ref=M_ref, **common) for L, M in sizes]


def reference_spec(p: HWPoint):
    """The reference of a point: the Mean-ODE solver for an :class:`HWODEPoint`, else the exact
    Mean ODE (linear) or the coupled network (tanh). The solver's own memory cap is lifted
    (``max_memory_gb=inf``): the point's footprint, which counts the reference solves, is what
    the sweep checks against the machine before any work (the `full` and `gpu` suites' largest
    references need about 22 GiB, over the solver's default of 8)."""
    from infdepth.numerics.hw_reference import ReferenceSpec
    if isinstance(p, HWODEPoint):
        return ReferenceSpec("mean_ode", Ls=p.ref_Ls, P=p.ref_P, scheme=p.ref_scheme,
                             sampler=p.ref_sampler, max_memory_gb=math.inf)
    if p.act == "linear":
        return ReferenceSpec("exact")
    return ReferenceSpec("coupled", L_ref=p.L_ref, M_ref=p.M_ref)


def reference_text(p: HWPoint) -> str:
    if p.act == "linear":
        return "exact Mean ODE"
    if isinstance(p, HWODEPoint):
        return f"Mean-ODE solver (Ls={p.ref_Ls}, P={p.ref_P})"
    return f"coupled reference L={p.L_ref}, M={p.M_ref}"


def reference_affinity(p: Any) -> Any:
    """Points that differ only in ``L`` and ``M`` train against one cached reference
    (:func:`~infdepth.numerics.hw_reference.train_against_reference`, the Mean-ODE solver's
    own-error estimate): the same affinity (:meth:`Claim.affinity`); other points none."""
    if isinstance(p, HWPoint) and type(p) in (HWPoint, HWODEPoint):
        return replace(p, L=0, M=0)
    return None


def compute_errors(p: HWPoint) -> pd.DataFrame:
    """One row per seed: rms output and per-coordinate embedding errors to the reference at
    steps 0 and K (:func:`~infdepth.numerics.hw_reference.errors_to_reference`); for an
    :class:`HWODEPoint` with ``ref_error`` also the solver's own error on ``f_K``
    (:func:`~infdepth.numerics.hw_reference.reference_error`)."""
    from infdepth.numerics.hw_reference import (errors_to_reference, reference_error,
                                                train_against_reference)
    X, Y = p.data()
    spec, cfg = reference_spec(p), p.config()
    r, f_ref, h_ref = train_against_reference(spec, cfg, X, Y)
    cols = errors_to_reference(r, f_ref, h_ref, Y, cfg.convention)
    if isinstance(p, HWODEPoint) and p.ref_error:
        cols.update(reference_error(spec, cfg, X, Y))
    return pd.DataFrame({"seed": np.arange(p.n_seeds), **cols})


def network_footprint(p: HWRunFields, L: int, M: int, *, K: int | None = None,
                      drawn: bool = True) -> fp.Footprint:
    """:func:`infdepth.numerics.footprint.hw_network` of the point's networks (its seeds, ``D``,
    data, ``K`` unless given, dtype) at depth ``L``, hidden width ``M``."""
    return fp.hw_network(p.n_seeds, L, M, p.D, N=p.N, d_in=p.d_in, d_out=p.d_out,
                         K=p.K if K is None else K, item=fp.itemsize(p.dtype), drawn=drawn)


def errors_footprint(p: HWPoint) -> fp.Footprint:
    """:func:`compute_errors`: the reference (the exact linear Mean ODE, the Mean-ODE solver with
    its own error, or the coupled network, cached in-process with its weights), then the finite
    networks."""
    item = fp.itemsize(p.dtype)
    if isinstance(p, HWODEPoint):
        ref = fp.mean_ode_reference(p.n_seeds, p.ref_Ls, p.ref_P, p.D, N=p.N, d_out=p.d_out,
                                    K=p.K, scheme=p.ref_scheme, error=p.ref_error, item=item)
    elif p.act == "linear":
        ref = fp.linear_mean_ode(p.n_seeds, p.D, p.K)
    else:
        net = network_footprint(p, p.L_ref, p.M_ref)
        ref = fp.Footprint(net.peak, net.kept + 4 * p.n_seeds * p.L_ref * p.M_ref * p.D * item,
                           net.steps)
        return ref.then(network_footprint(p, p.L, p.M, drawn=False))
    return ref.then(network_footprint(p, p.L, p.M))


def mean(a: np.ndarray) -> float:
    """Arithmetic mean over seeds (the ``/mean`` twins)."""
    return float(np.mean(a))


#: statistic over seeds of the per-seed errors (a variant's ``statistic`` field) and its text.
#: ``geometric_mean`` -- the typical error, the statistic of the unmarked variants. The per-seed
#: error after K steps is heavy-tailed (seeds whose limit trajectory nears the edge of stability
#: amplify the noise) and close to log-normal; the geometric mean is the median of a log-normal,
#: a power law in the sizes holds for it as for every quantile, and its log-slope has the exact
#: t-interval (``log_t``) the calibration suite selected for one positive value per seed
#: (:mod:`infdepth.validation.calibration`). It replaces the median, which had been chosen after
#: a trial with the mean gave a wide CI (the percentile bootstrap of a median undercovers with
#: few seeds). ``mean`` -- the arithmetic mean, reported beside it (``/mean`` twins, ``boot_t``).
STATISTICS = {"geometric_mean": geometric_mean, "mean": mean}
STATISTIC_TEXT = {"geometric_mean": "geometric mean", "mean": "mean"}


def twin_suffix(statistic: str) -> str:
    """The label suffix of a variant by its statistic over seeds: ``/mean`` for the mean twin of
    a geometric-mean variant, else none."""
    return "/mean" if statistic == "mean" else ""


def reference_errors(points, frames, statistic) -> list[float] | None:
    """Per size, the reference's own error in the units of the statistic over seeds: 0 for the
    exact linear Mean ODE; for the Mean-ODE solver the ``statistic`` of the per-seed estimates
    (column ``ref_err``, :func:`compute_errors`); ``None`` (not estimated) for the coupled
    fallback or a point stored without the estimate."""
    out = []
    for p, f in zip(points, frames):
        if isinstance(p, HWODEPoint):
            if "ref_err" not in f:
                return None
            out.append(float(statistic(f["ref_err"].to_numpy())))
        elif p.act == "linear":
            out.append(0.0)
        else:
            return None
    return out
