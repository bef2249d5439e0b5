"""The exponent calculus of THEORY.md s7: power counting of every term in the recursions.

Entry points:

* :func:`derive` ``(parameterization, model) -> ExponentResult`` -- for model ``"A1"``
  (one-layer blocks, s2/s4), ``"A2"`` (two-layer blocks, s5) or ``"B"`` ([HW] 2LP, s6), the
  orders (SymPy Rational exponents of ``n, L, M, D, alpha``) of the random part and drift per
  block and accumulated, every layer's feature update, the reused-weight coupling per block and
  accumulated at levels (a)/(b)/(c), the layer regimes and the limit type, each with a one-line
  derivation. The counting rules are documented in :mod:`.exponents_a1`,
  :mod:`.exponents_a2`, :mod:`.exponents_hw` and the order algebra in :mod:`.exponents_core`.
  Any parameterization works; presets are only test cases.
* :func:`a2_regime_map` (grid over ``(a, c1, c2)``) and :func:`hw_phase_map` (grid over
  residual-scale and LR exponents): tidy rows of regimes.
* :func:`derived_exponent` ``(claim_id, variant) -> (value, explanation)``: the "derived" column
  of the verdict table (THEORY.md s8).

Where the calculus disagrees with the papers' claims (depth-muP, width first):

* ``train_coupling_depth``: level (b) is ``(beta^2/L) Gamma`` per block with ``Gamma = O(1)``
  after one step, coherent over blocks: O(1) accumulated, not O(L^-2). Level (c) vanishes at
  infinite width (Stein's lemma is exact for Gaussian ``W^0``) and is ``n^-1/2`` rms, flat in
  L, at finite width. No level gives L^-2 accumulated.
* ``gia_restoration``: reused vs independent backward weights differ by the accumulated (b)
  terms, Theta(1) in L under depth-muP (the forward twin already acts at step 1), so the gap
  does not close with depth; it does close (L^-1) under CompleteP.
* ``nfd_depth_error`` against the GIA variant: Theta(1), no convergence (against the
  covariance variant: L^-1).
* ``twolayer_correction``: gamma = 1/2 restores ``Delta u = O(1)`` but the drift through
  ``W2 W2^T`` makes the residual stream's change grow like ``L^gamma`` (L^1/2).
* ``hw_rate_lm`` in M: -1/2 only while the noise dominates (M below ~L); at fixed L the slope
  tends to 0 once the M-independent Euler bias L^-1 dominates.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import sympy as sp

from .exponents_a1 import derive_a1
from .exponents_a2 import a2_parameterization, a2_regime_map, derive_a2
from .exponents_core import ExponentResult, Order, Quantity, classify, fmt_rational
from .exponents_hw import derive_hw, hw_parameterization, hw_phase_map
from .parameterization import Parameterization, preset

__all__ = ["MODELS", "CLAIM_IDS", "derive", "derive_a1", "derive_a2", "derive_hw",
           "a2_regime_map", "a2_parameterization", "hw_phase_map", "hw_parameterization",
           "derived_exponent", "ExponentResult", "Quantity", "Order", "classify"]

MODELS: tuple[str, ...] = ("A1", "A2", "B")
_ALIASES = {"A1": "A1", "A2": "A2", "B": "B", "HW": "B"}
_DERIVE: dict[str, Callable[[Parameterization], ExponentResult]] = {
    "A1": derive_a1, "A2": derive_a2, "B": derive_hw}
ACTIVATION_TOKENS: tuple[str, ...] = ("relu", "tanh", "erf", "linear")


def derive(parameterization: Parameterization | str, model: str = "A1") -> ExponentResult:
    """Power-count ``model`` (``"A1"``, ``"A2"``, ``"B"``; ``"hw"`` = ``"B"``) under
    ``parameterization`` (a :class:`Parameterization` or a preset name)."""
    key = _ALIASES.get(str(model).upper()) if isinstance(model, str) else None
    if key is None:
        raise ValueError(f"unknown model {model!r}; allowed: {', '.join(MODELS)} (or 'hw')")
    if isinstance(parameterization, str):
        parameterization = preset(parameterization)
    return _DERIVE[key](parameterization)


# ---------------------------------------------------------------------------------------------
# derived exponents per claim (THEORY.md s8)
# ---------------------------------------------------------------------------------------------

def _f(q: sp.Rational | None) -> float | None:
    return None if q is None else float(q)


def _e(q: sp.Rational | None) -> str:
    return "-oo" if q is None else fmt_rational(q)


class _Variant:
    """Parsed ``variant``: '/'-separated tokens. Claim tokens, a preset name, ``gamma=<x>``
    and activation names (the exponents do not depend on the activation) are recognised."""

    def __init__(self, claim: str, variant: str | None, tokens: tuple[str, ...],
                 presets: tuple[str, ...], default_preset: str | None, allow_gamma: bool = False):
        self.token: str | None = None
        self.flags: set[str] = set()
        self.preset = default_preset
        self.gamma: float | None = None
        self.activation: str | None = None
        if variant is None or variant == "":
            return
        if not isinstance(variant, str):
            raise ValueError(f"variant of {claim} must be a string, got {variant!r}")
        for t in variant.split("/"):
            if t in tokens:
                self.flags.add(t)
                if self.token is None:
                    self.token = t
            elif t in presets:
                self.preset = t
            elif t in ACTIVATION_TOKENS:
                self.activation = t
            elif allow_gamma and t.startswith("gamma="):
                try:
                    self.gamma = float(t[len("gamma="):])
                except ValueError:
                    raise ValueError(f"bad gamma in variant {variant!r} of {claim}") from None
            else:
                allowed = list(tokens) + list(presets) + list(ACTIVATION_TOKENS)
                if allow_gamma:
                    allowed.append("gamma=<number>")
                raise ValueError(f"unknown variant token {t!r} in {variant!r} for claim {claim}; "
                                 f"allowed tokens (joined by '/'): {', '.join(allowed)}")


_NFD = ("sp", "mup", "depth_mup", "depth_mup_corrected", "completep")
_HW = ("hw_mlu", "hw_lazy")


def _init_kernel_depth(v: _Variant):
    r = derive_a1(preset(v.preset))
    racc = r["random_accumulated"].order.limit_exponent("L")
    step = (r["random_per_block"].order ** 2).limit_exponent("L")
    if racc == 0:
        return _f(step), (f"[{v.preset}] the infinite-width network at init is the Euler scheme of "
                          f"the kernel ODE with step r^2 = L^({_e(step)}) (random part per block "
                          f"L^({_e(step / 2)})): global error = step, slope {_e(step)}")
    if racc < 0:
        acc = 2 * racc
        return _f(acc), (f"[{v.preset}] the kernel increments vanish (accumulated L^({_e(acc)})): "
                         f"the limit kernel is the input kernel and the error is the accumulated "
                         f"increment, slope {_e(acc)}")
    return None, f"[{v.preset}] the kernel recursion diverges with depth (random part L^({_e(racc)}))"


def _init_width(v: _Variant):
    if v.activation == "linear":
        return None, ("linear activation: the kernel map is affine, so finite-width averages are "
                      "unbiased at every order (exact; see theory.truncation)")
    return -1.0, ("finite-width bias of statistics of empirical averages over n coordinates: "
                  "fluctuations n^-1/2 enter the mean at second order (delta method), n^-1; "
                  "activation-specific check in theory.truncation")


def _init_coupling_width(v: _Variant):
    r = derive_a1(preset(v.preset))
    rms, ms = r["coupling_init_accumulated"], r["coupling_init_accumulated_ms"]
    base = (f"[{v.preset}] at init the coupling is the projection of W^T g on the revealed "
            f"direction phi, coefficient <phi, W^T g/sqrt(n)>_n centred (g^0 linear in centred "
            f"v^0) of rms n^-1/2: per block {r['coupling_init_per_block'].order}, independent over "
            f"blocks, accumulated rms {rms.order}")
    if v.token == "rms":
        return _f(rms.exponent("n")), base + f": slope {_e(rms.exponent('n'))} in n for the rms"
    if v.token == "L":
        e = rms.exponent("L")
        return _f(e), base + f": slope {_e(e)} in L ({'flat' if e == 0 else 'not flat'} in L)"
    return _f(ms.exponent("n")), (base + f"; its mean square and its effect on seed-averaged "
                                  f"second moments are {ms.order}: slope {_e(ms.exponent('n'))} "
                                  f"in n (the rms reading gives -1/2)")


def _weak_error(r: ExponentResult) -> tuple[sp.Rational | None, str]:
    """Weak (expectation) error of the depth-L, infinite-width network to its depth limit."""
    racc = r["random_accumulated"].order.limit_exponent("L")
    if r.limit_type == "sde":
        return sp.Integer(-1), ("Euler-Maruyama step of the McKean-Vlasov SDE: drift L^-1 and noise "
                                "variance L^-1 per block, weak order 1 (smooth coefficients, width "
                                "first, fixed K): L^-1")
    if r.limit_type == "ode":
        e = max(sp.Integer(-1), 2 * racc)
        return e, (f"Euler step of the ODE (L^-1) plus the centred random part L^({_e(racc)}) that "
                   f"enters expectations at second order (L^({_e(2 * racc)})): L^({_e(e)})")
    return None, f"no finite depth limit ({r.limit_type}: {r.limit_reason})"


def _nfd_depth_error(v: _Variant):
    r = derive_a1(preset(v.preset))
    e, why = _weak_error(r)
    if e is None:
        return None, f"[{v.preset}] {why}"
    if v.token == "gia":
        gap = r["gia_gap"].order.limit_exponent("L")
        tot = max(e, gap)
        return _f(tot), (f"[{v.preset}] vs the GIA limit: {why}, plus the reused-weight (b) terms "
                         f"the GIA drops, L^({_e(gap)}) on the function: slope {_e(tot)}"
                         + (" (does not converge)" if tot >= 0 else ""))
    return _f(e), (f"[{v.preset}] vs the covariance NFD (keeps the Gamma terms): {why}. "
                   "Assumes smooth activation (relu's kink may lower the order)")


def _train_coupling_depth(v: _Variant):
    r = derive_a1(preset(v.preset))
    level = next((t for t in ("a", "b", "c") if t in v.flags), "a")
    b_pb, b_acc = r["coupling_b_per_block"].order, r["coupling_b_accumulated"].order
    c_pb, c_acc = r["coupling_c_per_block"].order, r["coupling_c_accumulated"].order
    common = (f"[{v.preset}] per block (b) r^2 Gamma = {b_pb} with Gamma = "
              f"{r['gamma_backward'].order} after one step (readout update + drift above), "
              f"coupling scalar r Gamma = {r['coupling_scalar_per_block'].order}; coherent over "
              f"blocks: (b) accumulated {b_acc}; (c) = finite-width remainder {c_pb} per block, "
              f"{c_acc} accumulated (Stein exact for Gaussian W^0: (c) -> 0 at infinite width). "
              f"No level gives L^-2 accumulated; L^-2 appears only per block and only if Gamma were "
              f"carried by the block's own update alone (L^(c-2a)), and then accumulates to L^-1")
    if level == "b":
        q = r["coupling_b_forward_accumulated" if "forward" in v.flags else
              "coupling_b_accumulated"].order
        return _f(q.limit_exponent("L")), f"level (b): slope {_e(q.limit_exponent('L'))}. " + common
    if level == "c":
        e = c_acc.exponent("L")
        return _f(e), (f"level (c): slope {_e(e)} in L at fixed n (rms n^-1/2 L^({_e(e)})). "
                       + common)
    e = r["coupling_a_accumulated"].order.exponent("L")
    return _f(e), f"level (a) = (b) + (c): slope {_e(e)} in L at fixed n. " + common


def _gia_restoration(v: _Variant):
    r = derive_a1(preset(v.preset))
    gap = r["gia_gap"].order.limit_exponent("L")
    why = (f"[{v.preset}] reused minus independent backward weights = accumulated (b) terms "
           f"(forward twin at step 1, backward from step 2): L r^2 (Gamma + Gammat) x output "
           f"sensitivity = {r['gia_gap'].order} (width first), limit {r.limit_type}")
    if gap < 0:
        return _f(gap), why + f": decays, slope {_e(gap)}"
    return None, why + (": Theta(1), does not decay" if gap == 0 else
                        f": grows like L^({_e(gap)}), does not decay")


def _twolayer_collapse(v: _Variant):
    r = derive_a2(preset(v.preset))
    q = r["internal_update"]
    return _f(q.exponent("L")), (f"[{v.preset}] {q.derivation}. (Total change of u including "
                                 f"the stream's change through W1^0: {r['internal_update_total'].order})")


def _corrected(v: _Variant) -> Parameterization:
    return preset("depth_mup_corrected", gamma=v.gamma if v.gamma is not None else 0.5)


def _twolayer_correction(v: _Variant):
    p = _corrected(v)
    r = derive_a2(p)
    g = p.option("gamma")
    if v.token == "dh":
        q = r["stream_update"]
        return _f(q.exponent("L")), (
            f"[gamma={g:g}] rms Delta h_L ~ input update + L (drift through W2 + drift through "
            f"W1: r2 Delta u = {r['drift_w1_per_block'].order} per block, coherent via W2 W2^T) = "
            f"{q.order}: slope {_e(q.exponent('L'))}")
    q = r["internal_update"]
    return _f(q.exponent("L")), f"[gamma={g:g}] {q.derivation}"


_LR_LINEAR = ("input_update", "drift_accumulated", "readout_output_update", "internal_update")


def _depth_hp_transfer(v: _Variant):
    token = v.token or "one_layer"
    if token == "one_layer":
        r = derive_a1(preset(v.preset if v.preset != "depth_mup_corrected" else "depth_mup"))
    elif token == "two_layer":
        r = derive_a2(preset(v.preset if v.preset != "depth_mup_corrected" else "depth_mup"))
    else:
        r = derive_a2(_corrected(v))
    es = {k: r.exponent(k, "L") for k in _LR_LINEAR if k in r.names}
    top = max(e for e in es.values() if e is not None)
    txt = ", ".join(f"{k} L^({_e(e)})" for k, e in es.items())
    return _f(-top), (f"[{token}, {r.parameterization}] one-step updates are linear in eta: {txt}; "
                      f"the largest stable (assumed optimal) eta scales as L^({_e(-top)}) to keep "
                      f"the fastest one Theta(1)")


def _hw_rate_lm(v: _Variant):
    r = derive_hw(preset(v.preset))
    noise, bias = r["noise_output"].order, r["euler_bias"].order
    if v.token == "bias":
        e = bias.exponent("L")
        return _f(e), (f"[{v.preset}] at large M the noise {noise} falls below the Euler bias of "
                       f"the Mean ODE {bias} (weak order 1): slope {_e(e)} in L")
    head = (f"[{v.preset}] output error = Euler bias {bias} + noise {noise} (L M independent "
            f"centred units, seen through the independent W_out)")
    if v.token == "LM":
        # along the diagonal L = M = sqrt(LM) a monomial L^a M^b is (LM)^((a+b)/2)
        e_n = (noise.exponent("L") + noise.exponent("M")) / 2
        e_b = (bias.exponent("L") + bias.exponent("M")) / 2
        e = max(e_n, e_b)
        return _f(e), (head + f": along L = M both are powers of LM, noise (LM)^({_e(e_n)}) and "
                       f"bias (LM)^({_e(e_b)}): slope {_e(e)} in LM")
    if v.token == "M":
        e = noise.exponent("M")
        return _f(e), (head + f": slope {_e(e)} in M at fixed L while the noise dominates "
                       f"(M below ~L); for M >> L the M-independent bias takes over and the slope "
                       f"tends to {_e((noise + bias).exponent('M'))}")
    e = (noise + bias).exponent("L")
    return _f(e), head + f": slope {_e(e)} in L at fixed M (the noise dominates as L grows)"


def _hw_sqrt_d(v: _Variant):
    r = derive_hw(preset(v.preset))
    if v.token == "output":
        q = r["noise_output"]
        return _f(q.exponent("D")), (f"[{v.preset}] {q.derivation}: slope {_e(q.exponent('D'))} "
                                     f"in D (the 1/D readout averages the noise out)")
    q = r["noise_embedding"]
    return _f(q.exponent("D")), (f"[{v.preset}] {q.derivation}: slope {_e(q.exponent('D'))} in D "
                                 f"per embedding coordinate")


def _hw_lazy(v: _Variant):
    r = derive_hw(preset("hw_lazy"))
    if v.token == "output":
        q = r["output_update"]
        return _f(q.exponent("alpha")), (f"[hw_lazy] {q.derivation}: slope "
                                         f"{_e(q.exponent('alpha'))} in alpha")
    q = r["unit_movement"]
    return _f(q.exponent("alpha")), (
        f"[hw_lazy] rho_u = {r['rho_u'].order}, rho_v = {r['rho_v'].order} (LR L M D/alpha^2 "
        f"against residual scale alpha): slope {_e(q.exponent('alpha'))} in alpha; output change "
        f"{r['output_update'].order}; regime over alpha: {r.regime('alpha')}")


def _hw_phase(v: _Variant):
    grid_s = [Fraction(k, 4) for k in range(-12, 1)]
    grid_q = [Fraction(k, 4) for k in range(-4, 13)]
    rows = hw_phase_map([sp.Rational(x.numerator, x.denominator) for x in grid_s],
                        [sp.Rational(x.numerator, x.denominator) for x in grid_q])
    best = [(r["scale_exponent"], r["lr_exponent"]) for r in rows if r["regime"] == "maximal"]
    if len(best) != 1:
        return None, f"maximal local updates at {best} on the grid (not a single point)"
    s, q = best[0]
    return s, (f"unit movement (LM)^(q+s) and function change (LM)^(1+2s+q) are both Theta(1) "
               f"only at residual scale sqrt(D) (LM)^{s:g} with LR D (LM)^{q:g}: larger scales are "
               f"lazy or unstable, smaller trivial or unstable (grid of {len(rows)} points)")


_CLAIMS: dict[str, tuple[Callable[[_Variant], tuple], tuple[str, ...], tuple[str, ...],
                         str | None, bool]] = {
    # id: (handler, claim tokens, presets allowed, default preset, gamma allowed)
    "init_kernel_depth": (_init_kernel_depth, (), _NFD, "depth_mup", False),
    "init_width": (_init_width, (), _NFD, "depth_mup", False),
    "init_coupling_width": (_init_coupling_width, ("rms", "moment", "ms", "L"), _NFD, "depth_mup",
                            False),
    "nfd_depth_error": (_nfd_depth_error, ("covariance", "gia"), _NFD, "depth_mup", False),
    "train_coupling_depth": (_train_coupling_depth, ("a", "b", "c", "forward", "backward"), _NFD,
                             "depth_mup", False),
    "gia_restoration": (_gia_restoration, (), _NFD, "depth_mup", False),
    "twolayer_collapse": (_twolayer_collapse, (), _NFD, "depth_mup", False),
    "twolayer_correction": (_twolayer_correction, ("du", "dh"), (), None, True),
    "depth_hp_transfer": (_depth_hp_transfer, ("one_layer", "two_layer", "two_layer_corrected"),
                          _NFD, "depth_mup", True),
    "hw_rate_lm": (_hw_rate_lm, ("L", "M", "LM", "bias"), _HW, "hw_mlu", False),
    "hw_sqrt_d": (_hw_sqrt_d, ("embedding", "output"), _HW, "hw_mlu", False),
    "hw_lazy": (_hw_lazy, ("movement", "output"), (), None, False),
    "hw_phase": (_hw_phase, (), (), None, False),
}
CLAIM_IDS: tuple[str, ...] = tuple(_CLAIMS)


def derived_exponent(claim_id: str, variant: str | None = None) -> tuple[float | None, str]:
    """The exponent the calculus derives for a claim of THEORY.md s8, and a one-line reason.

    ``variant``: '/'-separated tokens -- a claim-specific reading (e.g. ``"rms"``, ``"b"``,
    ``"dh"``), a preset name (default: the claim's own parameterization), ``gamma=<x>`` for the
    two-layer correction, and activation names (ignored: power counting does not depend on the
    activation, except ``init_width`` with ``linear``, which is exact). ``value`` is ``None``
    when the calculus says the quantity does not decay (``gia_restoration``) or has no finite
    limit. Unknown claim or token -> ``ValueError`` naming the allowed ones.
    """
    if claim_id not in _CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}; allowed: {', '.join(CLAIM_IDS)}")
    handler, tokens, presets, default, gamma = _CLAIMS[claim_id]
    v = _Variant(claim_id, variant, tokens, presets, default, allow_gamma=gamma)
    value, text = handler(v)
    return (None if value is None else float(value)), text
