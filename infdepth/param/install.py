"""Install a parameterization on a user's ``torch.nn.Module`` (docs/user_models.md).

:class:`Parameterized` takes a model, a parameterization (preset name or
:class:`~infdepth.theory.parameterization.Parameterization`), the model's width and depth and the
base shape, and

* installs every layer's forward **multiplier** (docs/theory.md s1, multiplier form) as a forward
  hook that scales the layer's output by a buffer ``infdepth_multiplier`` (so it is part of the
  ``state_dict``): ``input`` ``m_U / sqrt(fan_in)`` (the model's ``1/sqrt(d)``), ``hidden``,
  ``branch_in``, ``branch_out``, ``readout`` the monomials of ``W``, ``W1``, ``W2``, ``v`` with
  ``n`` the layer's fan-in and ``L`` the depth;
* draws every weight as ``init_std * N(0, 1)`` (``n`` = width, ``L`` = depth); ``norm`` and
  ``bias`` parameters keep the values the model gave them;
* gives per-parameter **learning-rate factors** for SGD (the group's ``lr`` monomial) and for
  Adam/AdamW (derived in :mod:`infdepth.theory.adam_scaling`), each divided by its value at the
  base shape ``(base_width, base_depth)``, so an LR tuned at the base shape is the base LR there
  (``base_width = base_depth = 1``: the theory's absolute factors); ``norm`` and ``bias`` use the
  factor of ``U`` (the calculus has no such terms; documented, not derived);
* checks, on an example input, that every residual block's increment scales linearly with its
  branch multiplier (a normalization after the branch would undo it) and measures the achieved
  multipliers where the multiplied output lands: for the stream writers of a block the block's
  increment ``out - in`` with the installed multipliers over the same with those multipliers set
  to 1; for the input layer the stream entering the first block; for the readout the model's
  output (a normalization after the layer shows as an achieved multiplier near 1). A
  ``branch_in`` multiplier acts through the branch's nonlinearity and has no such ratio (NaN).
"""

from __future__ import annotations

import contextlib
import math
from typing import Mapping

import pandas as pd
import sympy as sp
import torch
from torch import nn

from ..theory.adam_scaling import OPTIMIZERS, optimizer_parameterization
from ..theory.parameterization import Parameterization, preset
from ..theory.symbols import L as L_SYM, n as N_SYM
from .roles import (ROLE_GROUP, STREAM_WRITERS, ParamRole, RoleError, block_modules, fan_in,
                    infer_roles)

BUFFER = "infdepth_multiplier"
#: a block's increment must scale by 2 (1 +- this) when its branch multipliers are doubled
LINEARITY_TOL = 0.05
#: the check scales the multipliers down by this first (first order in the multiplier: blocks
#: with several branches, e.g. attention then MLP, are linear there)
PROBE_EPS = 1e-3
#: ... and at the multipliers' own values, where a norm's scale invariance shows (a norm's
#: ``eps`` can hide it at ``PROBE_EPS``); several branches interact there, hence the looser band
SCALE_TOL = 0.25


class BranchMultiplierError(ValueError):
    """A residual block whose increment does not scale with its branch multiplier."""


def _value(expr: sp.Expr, *, n: float, L: float, what: str) -> float:
    v = sp.sympify(expr).subs({N_SYM: n, L_SYM: L})
    if v.free_symbols:
        raise ValueError(f"{what}: {expr} needs sizes {sorted(map(str, v.free_symbols))} that a "
                         "user model does not have (only n and L)")
    return float(v)


def _rms(x: torch.Tensor) -> float:
    return float(x.detach().double().square().mean().sqrt())


class Parameterized:
    """A model with a parameterization installed (module docstring).

    ``model``: the network (modified in place: hooks, buffers, weights); ``parameterization``:
    preset name or Parameterization of family ``nfd``; ``width``: the residual stream's width
    (default: the input layer's output size); ``depth``: number of residual blocks (default:
    the length of the blocks container); ``roles``: explicit roles (``{pattern: role}``, see
    :mod:`.roles`); ``example_input``: a batch for the block check and the achieved
    multipliers; ``reinit``: draw the weights (False: keep them, e.g. to load weights later);
    ``generator``: a ``torch.Generator`` for the draws.
    """

    def __init__(self, model: nn.Module, parameterization: str | Parameterization = "completep",
                 *, width: int | None = None, depth: int | None = None,
                 base_width: float = 1, base_depth: float = 1,
                 roles: Mapping[str, str] | None = None, example_input=None,
                 reinit: bool = True, generator: torch.Generator | None = None):
        p = preset(parameterization) if isinstance(parameterization, str) else parameterization
        if not isinstance(p, Parameterization) or p.family != "nfd":
            raise ValueError("a user model needs an 'nfd'-family parameterization (groups U, W "
                             "or W1/W2, v), e.g. sp, mup, depth_mup, depth_mup_corrected, "
                             "completep")
        self.model, self.parameterization = model, p
        self.roles: dict[str, ParamRole] = infer_roles(model, roles)
        self.modules = dict(model.named_modules())
        self.blocks = block_modules(model)
        self.depth = int(depth if depth is not None else len(self.blocks))
        if self.depth < 1:
            raise RoleError("depth unknown: the model has no container of residual blocks; "
                            "pass depth=")
        self.width = int(width if width is not None else self._infer_width())
        self.base_width, self.base_depth = float(base_width), float(base_depth)
        role_set = {r.role for r in self.roles.values()}
        self.two_layer = bool(role_set & {"branch_in", "branch_out"})
        if self.two_layer and "hidden" in role_set:
            raise RoleError("a model mixing one-layer ('hidden') and two-layer branches "
                            "(branch_in/branch_out) is not supported: give explicit roles")
        self.model_kind = "A2" if self.two_layer else "A1"
        for r in self.roles.values():
            g = ROLE_GROUP[r.role]
            if g is not None and g not in p.group_names:
                raise ValueError(f"parameterization {p.name!r} has no group {g!r} for "
                                 f"{r.name!r} (role {r.role})")
        self.requested: dict[str, float] = {}
        self._handles = []
        self.achieved: dict[str, float] = {}
        self.increment_ratio: dict[str, float] = {}
        self._install_multipliers()
        if reinit:
            self._init_weights(generator)
        if example_input is not None:
            self.check_blocks(example_input)

    # -- sizes and roles -------------------------------------------------------------------
    def _infer_width(self) -> int:
        for r in self.roles.values():
            if r.role == "input":
                m = self.modules[r.module]
                w = m.weight
                return int(w.shape[1] if isinstance(m, nn.Embedding) else w.shape[0])
        raise RoleError("width unknown: no input layer found; pass width=")

    def layer_modules(self) -> dict[str, ParamRole]:
        """Module name -> role of its weight, for every layer with a group (not norm/bias)."""
        out = {}
        for r in self.roles.values():
            if ROLE_GROUP[r.role] is not None:
                out.setdefault(r.module, r)
        return out

    # -- multipliers ----------------------------------------------------------------------
    def _multiplier(self, module: nn.Module, role: str) -> float:
        g = self.parameterization.group(ROLE_GROUP[role])
        if role == "input":
            m = _value(g.multiplier, n=self.width, L=self.depth, what="U multiplier")
            return m / math.sqrt(fan_in(module))
        return _value(g.multiplier, n=fan_in(module), L=self.depth, what=f"{role} multiplier")

    def _install_multipliers(self) -> None:
        for mname, r in self.layer_modules().items():
            mod = self.modules[mname]
            m = self._multiplier(mod, r.role)
            self.requested[mname] = m
            ref = next(mod.parameters())
            if hasattr(mod, BUFFER):
                raise ValueError(f"module {mname!r} is already parameterized")
            mod.register_buffer(BUFFER, torch.tensor(m, dtype=ref.dtype, device=ref.device))
            self._handles.append(mod.register_forward_hook(self._hook(mname)))

    def _hook(self, mname: str):
        def hook(mod, inputs, out):
            return out * getattr(mod, BUFFER)
        return hook

    def installed(self) -> dict[str, float]:
        """The multipliers the buffers hold now (after a ``load_state_dict``: the loaded ones)."""
        return {m: float(getattr(self.modules[m], BUFFER)) for m in self.requested}

    def verify(self, rtol: float = 1e-6) -> None:
        """Raise if an installed multiplier differs from the requested one (e.g. a state dict
        saved under another parameterization, width or depth was loaded)."""
        bad = [f"{m}: installed {v:.6g}, requested {self.requested[m]:.6g}"
               for m, v in self.installed().items()
               if not math.isclose(v, self.requested[m], rel_tol=rtol)]
        if bad:
            raise ValueError("multipliers differ from the parameterization: " + "; ".join(bad))

    def load_state_dict(self, state: Mapping[str, torch.Tensor], strict: bool = True):
        """Load ``state`` into the model and check its multipliers (:meth:`verify`)."""
        res = self.model.load_state_dict(state, strict=strict)
        self.verify()
        return res

    def remove(self) -> None:
        """Remove the hooks and buffers (the weights stay as they are)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for m in self.requested:
            delattr(self.modules[m], BUFFER)

    # -- initialization -------------------------------------------------------------------
    def init_std(self, role: str) -> float:
        g = self.parameterization.group(ROLE_GROUP[role])
        return _value(g.init_std, n=self.width, L=self.depth, what=f"{role} init std")

    @torch.no_grad()
    def _init_weights(self, generator: torch.Generator | None) -> None:
        for pname, prm in self.model.named_parameters():
            r = self.roles[pname]
            if ROLE_GROUP[r.role] is None:
                continue
            z = torch.randn(prm.shape, generator=generator, dtype=prm.dtype,
                            device="cpu").to(prm.device)
            prm.copy_(z * self.init_std(r.role))

    # -- learning rates -------------------------------------------------------------------
    def lr_factors(self, optimizer: str = "sgd") -> dict[str, float]:
        """Per parameter, the factor multiplying the base LR (normalized to 1 at the base
        shape); ``optimizer``: ``"sgd"`` or ``"adam"`` (Adam, AdamW)."""
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
        q = optimizer_parameterization(self.parameterization, optimizer, self.model_kind)
        out = {}
        for pname, r in self.roles.items():
            g = q.group(ROLE_GROUP[r.role] or "U")
            if not g.trainable:
                out[pname] = 0.0
                continue
            now = _value(g.lr, n=self.width, L=self.depth, what=f"{r.role} lr")
            base = _value(g.lr, n=self.base_width, L=self.base_depth, what=f"{r.role} lr")
            out[pname] = now / base
        return out

    def param_groups(self, lr: float, optimizer: str = "sgd") -> list[dict]:
        """``torch.optim`` parameter groups: one per parameter, ``lr * factor``, named."""
        f = self.lr_factors(optimizer)
        return [{"params": [prm], "lr": lr * f[pname], "name": pname}
                for pname, prm in self.model.named_parameters()]

    def optimizer(self, lr: float, optimizer: str = "sgd", **kwargs) -> torch.optim.Optimizer:
        """``torch.optim.SGD`` (``"sgd"``), ``Adam`` (``"adam"``) or ``AdamW`` (``"adamw"``,
        Adam's factors) over :meth:`param_groups`."""
        kind = "adam" if optimizer == "adamw" else optimizer
        groups = self.param_groups(lr, kind)
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
               "adamw": torch.optim.AdamW}.get(optimizer)
        if cls is None:
            raise ValueError(f"unknown optimizer {optimizer!r}; allowed: sgd, adam, adamw")
        return cls(groups, lr=lr, **kwargs)

    # -- checks and report ----------------------------------------------------------------
    @torch.no_grad()
    def check_blocks(self, example_input) -> dict[str, float]:
        """Scale each block's stream-writer multipliers by ``PROBE_EPS`` and ``2 PROBE_EPS``, then
        by 1 and 2, and measure how the block's increment ``out - in`` scales: 2 when the
        multiplier survives (to first order; ``LINEARITY_TOL``, then ``SCALE_TOL``), 1 when a
        norm after the branch undoes it, and ``norm(h) - h`` dominates a post-norm block's
        increment at small multipliers. Records ``increment_ratio`` per block and the achieved
        multipliers. Raises :class:`BranchMultiplierError` naming the block."""
        seen: dict[str, tuple] = {}

        def grab(name):
            def hook(mod, inp, out):
                seen[name] = (inp[0], out)
            return hook

        hs = [m.register_forward_hook(grab(n)) for n, m in self.blocks]
        try:
            out = self.model(example_input)
            base = {n for n, (i, o) in seen.items()
                    if isinstance(o, torch.Tensor) and o.shape == i.shape}
            writers = {}
            for mname, r in self.layer_modules().items():
                if r.role in STREAM_WRITERS and r.block is not None:
                    writers.setdefault(self.blocks[r.block][0], []).append(mname)
            self.achieved = self._measure_achieved(example_input, out, seen, writers, base)
            for bname, mods in writers.items():
                if bname not in base:
                    continue
                ratios = []
                for eps, tol in ((PROBE_EPS, LINEARITY_TOL), (1.0, SCALE_TOL)):
                    incs = []
                    for f in (eps, 2 * eps):
                        with self._multipliers(mods, lambda b: b.mul_(f)):
                            self.model(example_input)
                        i, o = seen[bname]
                        incs.append(_rms(o - i))
                    ratio = incs[1] / incs[0] if incs[0] > 0 else math.nan
                    ratios.append(ratio)
                    if not abs(ratio - 2.0) <= 2.0 * tol:
                        break
                self.increment_ratio[bname] = tuple(ratios)
                if not abs(ratio - 2.0) <= 2.0 * tol:
                    raise BranchMultiplierError(
                        f"block {bname!r} normalizes away its branch multiplier: doubling the "
                        f"multiplier of {', '.join(mods)} (at {eps:g} times its value) scaled "
                        f"the block's increment by {ratio:.3f}, not 2. Put the "
                        f"normalization at the start of the branch (pre-LN: h + "
                        f"branch(norm(h))), not after the branch or the sum.")
        finally:
            for h in hs:
                h.remove()
        return dict(self.increment_ratio)

    @contextlib.contextmanager
    def _multipliers(self, mods, change):
        """The multiplier buffers of ``mods`` changed in place by ``change(buffer)`` inside the
        block, restored to their exact values after it."""
        bufs = [getattr(self.modules[m], BUFFER) for m in mods]
        saved = [b.clone() for b in bufs]
        for b in bufs:
            change(b)
        try:
            yield
        finally:
            for b, v in zip(bufs, saved):
                b.copy_(v)

    def _measure_achieved(self, example_input, out, seen, writers, base) -> dict[str, float]:
        """Per multiplied module, the factor by which its multiplier scales what it feeds, on
        ``example_input`` (module docstring): a block's increment (stream writers), the stream
        entering the first block (input layer), the model's output (readout); ``out`` and
        ``seen`` (each block's input and output) are the forward pass at the installed
        multipliers. Each ratio's denominator comes from one more pass with the module's
        multipliers set to 1."""
        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else math.nan

        def at_one(mods, read):
            with self._multipliers(mods, lambda b: b.fill_(1.0)):
                return read(self.model(example_input))

        h_m = {n: (i.detach().clone(), o.detach().clone()) for n, (i, o) in seen.items()}
        first = self.blocks[0][0] if self.blocks else None
        achieved = {}
        for bname, mods in writers.items():
            if bname not in base:
                continue
            i, o = h_m[bname]
            inc1 = at_one(mods, lambda _: _rms(seen[bname][1] - seen[bname][0]))
            for m in mods:
                achieved[m] = ratio(_rms(o - i), inc1)
        for mname, r in self.layer_modules().items():
            if r.role == "input" and first in h_m:
                h1 = at_one([mname], lambda _: _rms(seen[first][0]))
                achieved[mname] = ratio(_rms(h_m[first][0]), h1)
            elif r.role == "readout" and isinstance(out, torch.Tensor):
                achieved[mname] = ratio(_rms(out), at_one([mname], _rms))
        return achieved

    def report(self, optimizer: str | None = None) -> pd.DataFrame:
        """One row per parameter: role, group, requested / installed / achieved multiplier
        (achieved: measured on the example input where the output lands, module docstring; NaN
        without an example input and for ``branch_in``), requested and achieved init std, SGD
        and Adam LR factors."""
        sgd, adam = self.lr_factors("sgd"), self.lr_factors("adam")
        inst = self.installed()
        rows = []
        for pname, prm in self.model.named_parameters():
            r = self.roles[pname]
            grp = ROLE_GROUP[r.role]
            has = grp is not None and r.module in self.requested
            rows.append({
                "parameter": pname, "role": r.role, "group": grp or "", "block": r.block,
                "pattern": r.pattern,
                "multiplier_requested": self.requested[r.module] if has else math.nan,
                "multiplier_installed": inst[r.module] if has else math.nan,
                "multiplier_achieved": self.achieved.get(r.module, math.nan) if has else math.nan,
                "std_requested": self.init_std(r.role) if grp else math.nan,
                "std_achieved": float(prm.detach().double().std()) if prm.numel() > 1 else math.nan,
                "lr_sgd": sgd[pname], "lr_adam": adam[pname]})
        return pd.DataFrame(rows)


def parameterize(model: nn.Module, parameterization: str | Parameterization = "completep",
                 **kwargs) -> Parameterized:
    """Install ``parameterization`` on ``model`` (see :class:`Parameterized`)."""
    return Parameterized(model, parameterization, **kwargs)
