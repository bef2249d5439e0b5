"""Depth coord check for any PyTorch ResNet or transformer (docs/user_models.md "Coord check").

:func:`coord_check` builds ``make_model(depth, width)`` for every depth, width and seed,
installs a parameterization (:mod:`infdepth.param`), trains ``steps`` steps (SGD or Adam with
the per-parameter LR groups) and records on a fixed probe batch, per module and step:

* ``act``   -- rms of the module's output (after its multiplier);
* ``delta`` -- rms of its output minus the output at initialization, on the same inputs;
* ``own``   -- rms of the change due to the module's own parameters: ``module(x_k; theta_k) -
  module(x_k; theta_0)`` on its current input ``x_k``;
* ``own_sum`` (one row per pattern of a stream-writing layer, ``block = -1``) -- rms of the
  own updates of all blocks summed as vectors (what the residual stream receives);
* for every residual block (role ``stream``): ``act``, ``delta`` of its output.

Records at step ``k`` use the parameters before step ``k`` (``k = steps``: after the last).
The result is one tidy DataFrame; :func:`coord_slopes` fits every module's slope in ``L`` (and
``n``, with three or more widths) with :func:`~infdepth.validation.rate_fit.fit_rate` and
decides it against the exponent :mod:`infdepth.theory.coord_exponents` derives for its role and
block type (version-2 rule, docs/theory.md s9); plotting only reads the frames
(:mod:`infdepth.coord_check_plot`).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import pandas as pd
import torch
from torch import nn
from torch.func import functional_call

from .param.install import Parameterized
from .param.roles import STREAM_WRITERS
from .seeding import generator
from .theory.coord_exponents import coord_exponents
from .theory.exponents_core import fmt_exponent

#: the verdict band around a derived exponent (``Claim.tolerance`` of the claims)
TOLERANCE = 0.15
COLUMNS = ("depth", "width", "seed", "step", "module", "pattern", "role", "block", "stat",
           "value")


def _rms(x: torch.Tensor) -> float:
    return float(x.detach().double().square().mean().sqrt())


def mse_loss(f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``mean_b (f_b - y_b)^2 / 2`` (the engine's loss, docs/theory.md s2)."""
    return 0.5 * (f - y).square().mean()


def _batch(X, y, k: int, batching: str):
    if batching == "full":
        return X, y
    if batching == "sgd":
        i = k % X.shape[0]
        return X[i:i + 1], y[i:i + 1]
    raise ValueError(f"unknown batching {batching!r}; allowed: full, sgd")


def measure_run(pm: Parameterized, X: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float,
                optimizer: str = "sgd", batching: str = "full", probe: torch.Tensor | None = None,
                loss_fn: Callable = mse_loss) -> list[dict]:
    """Train ``pm.model`` for ``steps`` steps and return the coord-check rows (module
    docstring) without the ``depth, width, seed`` columns."""
    model = pm.model
    probe = X if probe is None else probe
    layers = pm.layer_modules()
    mods = {name: pm.modules[name] for name in layers}
    blocks = dict(pm.blocks)
    seen: dict[str, tuple] = {}
    capture = {"on": True}

    def grab(name):
        def hook(mod, inp, out):
            if capture["on"]:
                seen[name] = (inp, out)
        return hook

    handles = [m.register_forward_hook(grab(n)) for n, m in {**mods, **blocks}.items()]
    theta0 = {n: {k: v.detach().clone() for k, v in m.named_parameters()} for n, m in mods.items()}
    opt = pm.optimizer(lr, optimizer)
    rows: list[dict] = []
    out0: dict[str, torch.Tensor] = {}
    try:
        for k in range(steps + 1):
            with torch.no_grad():
                seen.clear()
                model(probe)
                outs = {n: o for n, (_, o) in seen.items()}
                inps = {n: i for n, (i, _) in seen.items()}
                if k == 0:
                    out0 = {n: o.detach().clone() for n, o in outs.items()}
                own_vec: dict[str, torch.Tensor] = {}
                capture["on"] = False
                for n, m in mods.items():
                    old = functional_call(m, theta0[n], inps[n])
                    own_vec[n] = outs[n] - old
                capture["on"] = True
            for n, r in layers.items():
                for stat, v in (("act", _rms(outs[n])), ("delta", _rms(outs[n] - out0[n])),
                                ("own", _rms(own_vec[n]))):
                    rows.append({"step": k, "module": n, "pattern": r.pattern, "role": r.role,
                                 "block": -1 if r.block is None else r.block, "stat": stat,
                                 "value": v})
            sums: dict[str, torch.Tensor] = {}
            for n, r in layers.items():
                if r.role in STREAM_WRITERS:
                    sums[r.pattern] = sums.get(r.pattern, 0) + own_vec[n]
            for pat, vec in sums.items():
                rows.append({"step": k, "module": pat, "pattern": pat,
                             "role": layers[next(n for n in layers
                                                 if layers[n].pattern == pat)].role,
                             "block": -1, "stat": "own_sum", "value": _rms(vec)})
            for i, (n, _) in enumerate(pm.blocks):
                if n in outs:
                    pat = n.rsplit(".", 1)[0] + ".*" if "." in n else "*"
                    for stat, v in (("act", _rms(outs[n])), ("delta", _rms(outs[n] - out0[n]))):
                        rows.append({"step": k, "module": n, "pattern": pat, "role": "stream",
                                     "block": i, "stat": stat, "value": v})
            if k < steps:
                xb, yb = _batch(X, y, k, batching)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                rows.append({"step": k, "module": "", "pattern": "", "role": "loss",
                             "block": -1, "stat": "loss", "value": float(loss.detach())})
    finally:
        for h in handles:
            h.remove()
    return rows


def coord_check(make_model: Callable[[int, int], nn.Module], depths: Sequence[int],
                widths: Sequence[int], data: tuple[torch.Tensor, torch.Tensor], steps: int = 3,
                seeds: int = 4, preset="completep", optimizer: str = "sgd", *, lr: float = 0.1,
                base_width: float = 1, base_depth: float = 1, batching: str = "full",
                roles=None, loss_fn: Callable = mse_loss, dtype: torch.dtype = torch.float64,
                probe: torch.Tensor | None = None, base_seed: int = 0) -> pd.DataFrame:
    """Coord check of ``make_model(depth, width)`` (module docstring): one tidy DataFrame with
    columns ``depth, width, seed, step, module, pattern, role, block, stat, value`` and, in
    ``df.attrs``, the parameterization, optimizer, lr, whether the blocks are two-layer and the
    derived exponents per (role, stat). Seed ``s`` of a (depth, width) draws its weights from
    :func:`infdepth.seeding.generator` on stream ``coordcheck/L<depth>/n<width>``, index ``s``
    (``base_seed``: the base seed)."""
    X, y = (t.to(dtype) for t in data)
    probe = None if probe is None else probe.to(dtype)
    frames = []
    two_layer = None
    name = preset if isinstance(preset, str) else preset.name
    for width in widths:
        for depth in depths:
            for s in range(seeds):
                model = make_model(int(depth), int(width)).to(dtype)
                pm = Parameterized(model, preset, base_width=base_width, base_depth=base_depth,
                                   roles=roles,
                                   generator=generator(f"coordcheck/L{depth}/n{width}",
                                                       base_seed, s))
                two_layer = pm.two_layer if two_layer is None else two_layer
                rows = measure_run(pm, X, y, steps=steps, lr=lr, optimizer=optimizer,
                                   batching=batching, probe=probe, loss_fn=loss_fn)
                df = pd.DataFrame(rows)
                df.insert(0, "seed", s)
                df.insert(0, "width", int(width))
                df.insert(0, "depth", int(depth))
                frames.append(df)
    out = pd.concat(frames, ignore_index=True)[list(COLUMNS)]
    out.attrs.update({"parameterization": name, "optimizer": optimizer, "lr": lr,
                      "two_layer": bool(two_layer), "steps": steps})
    out.attrs["_preset"] = preset
    return out


def _fit_stat(role: str, stat: str) -> str:
    """The recorded statistic a (role, stat) row is fitted on: ``own_sum`` for the own update of
    a stream writer (theory/coord_exponents.py), else the stat itself (block mean)."""
    return "own_sum" if (stat == "own" and role in STREAM_WRITERS) else stat


def band_reading(lo: float, hi: float, tol: float,
                 words: tuple[str, str, str] = ("flat", "collapses", "grows")) -> str:
    """A slope's 95% interval ``[lo, hi]`` in words: inside ``[-tol, tol]`` (``words[0]``),
    below it (``words[1]``), above it (``words[2]``), else ``unclear``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "unclear"
    if -tol <= lo and hi <= tol:
        return words[0]
    if hi < -tol:
        return words[1]
    if lo > tol:
        return words[2]
    return "unclear"


def expected_direction(exponent: float, tol: float) -> tuple[str, tuple[float, float]]:
    """What the derived exponent predicts in words, and the band of slopes that shows it:
    ``flat`` ``[-tol, tol]``, ``grows`` ``[tol, inf)``, ``collapses`` ``(-inf, -tol]`` (a
    one-sided band: the direction, not the rate)."""
    if exponent > tol:
        return "grows", (tol, math.inf)
    if exponent < -tol:
        return "collapses", (-math.inf, -tol)
    return "flat", (-tol, tol)


def coord_slopes(df: pd.DataFrame, *, step: int | None = None, preset=None,
                 stats: Sequence[str] = ("act", "delta", "own"), tolerance: float = TOLERANCE
                 ) -> pd.DataFrame:
    """Verdict table: one row per (pattern, stat, over, at): the slope in ``L`` (per width;
    ``over = "L"``) or in ``n`` (per depth, with >= 3 widths; ``over = "n"``) of the block-mean
    statistic at ``step`` (default: the last), geometric mean over seeds with its 95% CI
    (``fit_rate``, calibrated ``log_t``), the exponent derived for the role, and the status of
    the version-2 rule against ``derived +- tolerance`` (docs/theory.md s9) with its ``reason``
    and ``advice`` (what would decide an undecided row, e.g. the seeds); ``reading`` names
    what the CI says (flat, collapses, grows, unclear); ``expected`` is what the derived
    exponent predicts in words and ``direction`` the same rule's status against that
    direction alone (:func:`expected_direction`): a parameterization the calculus says grows
    can be confirmed to grow while its rate is refuted."""
    from .validation.intervals import geometric_mean
    from .validation.measurements import Claimed, RateMeasurement

    preset = preset if preset is not None else df.attrs.get("_preset",
                                                            df.attrs.get("parameterization"))
    two_layer = bool(df.attrs.get("two_layer", False))
    step = int(df["step"].max()) if step is None else int(step)
    d = df[(df["step"] == step) & (df["role"] != "loss")]
    rows = []
    keys = d[["pattern", "role"]].drop_duplicates().itertuples(index=False)
    for pattern, role in keys:
        derived = coord_exponents(preset, role, two_layer=two_layer)
        for stat in stats:
            if stat not in derived:
                continue
            sub = d[(d["pattern"] == pattern) & (d["stat"] == _fit_stat(role, stat))]
            if sub.empty:
                continue
            per_seed = sub.groupby(["width", "depth", "seed"])["value"].mean()
            for over, fixed_name, size_name in (("L", "width", "depth"), ("n", "depth", "width")):
                exp = derived[stat].exponent(over)
                for fixed in sorted(per_seed.index.get_level_values(fixed_name).unique()):
                    s = per_seed.xs(fixed, level=fixed_name)
                    sizes = sorted(s.index.get_level_values(size_name).unique())
                    if len(sizes) < 3:
                        continue
                    samples = [s.xs(z, level=size_name).to_numpy() for z in sizes]
                    meas = RateMeasurement(sizes=sizes, samples=samples,
                                           statistic=geometric_mean, size_label=over,
                                           error_label=f"{pattern} {stat}",
                                           noise_floor_factor=0.0)
                    if exp is None:
                        ev = meas.evaluate(Claimed(None, (math.nan, math.nan), "none"))
                        status, reason, advice = "inconclusive", "no derived exponent", ""
                        expected, direction = "", "inconclusive"
                    else:
                        e = float(exp)
                        ev = meas.evaluate(Claimed.around(e, tolerance, fmt_exponent(exp)))
                        status, reason, advice = ev.status, ev.reason, ev.advice
                        expected, band = expected_direction(e, tolerance)
                        direction = (status if expected == "flat" else
                                     meas.evaluate(Claimed(None, band, expected)).status)
                    rows.append({
                        "pattern": pattern, "role": role, "stat": stat, "over": over,
                        "at": f"{fixed_name}={fixed}", "step": step,
                        "slope": ev.slope, "ci_low": ev.ci_low, "ci_high": ev.ci_high,
                        "derived": None if exp is None else float(exp),
                        "derived_text": fmt_exponent(exp), "status": status,
                        "reading": band_reading(ev.ci_low, ev.ci_high, tolerance),
                        "tail_slope": ev.tail_slope, "reason": reason, "advice": advice,
                        "expected": expected, "direction": direction,
                        "derivation": derived[stat].derivation,
                        "sizes": tuple(sizes), "values": tuple(ev.errors)})
    return pd.DataFrame(rows)


def format_slopes(table: pd.DataFrame) -> str:
    """The verdict table as aligned text (one line per row)."""
    lines = [f"{'module':24s} {'role':10s} {'stat':5s} {'over':4s} {'at':10s} "
             f"{'slope [95% CI]':26s} {'derived':>7s}  {'reading':9s} "
             f"{'direction':24s} status vs derived"]
    for r in table.itertuples():
        d = getattr(r, "expected", "")
        d = f"{d}: {_short(r.direction)}" if d else "-"
        lines.append(f"{r.pattern:24s} {r.role:10s} {r.stat:5s} {r.over:4s} {r.at:10s} "
                     f"{r.slope:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]   "
                     f"{r.derived_text:>7s}  {r.reading:9s} {d:24s} {r.status}"
                     + (f" ({r.advice})" if getattr(r, "advice", "") else ""))
    return "\n".join(lines)


def _short(status: str) -> str:
    """A status without its parenthesised qualifier (``inconclusive (noise-limited)`` ->
    ``inconclusive``), for the narrow direction column."""
    return status.split(" (")[0]


def per_block_means(df: pd.DataFrame) -> pd.DataFrame:
    """Block-mean statistic per (depth, width, seed, step, pattern, role, stat)."""
    d = df[df["role"] != "loss"]
    return (d.groupby(["depth", "width", "seed", "step", "pattern", "role", "stat"],
                      as_index=False)["value"].mean())


__all__ = ["coord_check", "coord_slopes", "measure_run", "format_slopes", "per_block_means",
           "mse_loss", "expected_direction", "TOLERANCE"]
