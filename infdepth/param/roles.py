"""Roles of a user model's parameters (docs/user_models.md "Roles").

A role says which group of a parameterization (docs/theory.md s7) a parameter follows:

=============  ======  =====================================================================
role           group   meaning
=============  ======  =====================================================================
``input``      U       layer that maps the inputs into the residual stream
``hidden``     W       the only layer of a one-layer residual branch (reads and writes the stream)
``branch_in``  W1      a layer inside a residual branch that reads the stream (first layers)
``branch_out`` W2      the last layer of a residual branch: writes the stream (carries ``L^-a``)
``readout``    v       the output layer
``norm``       --      a normalization gain/shift (kept as initialized; LR of ``U``)
``bias``       --      a bias (kept as initialized; LR of ``U``)
=============  ======  =====================================================================

Inference (:func:`infer_roles`) handles the common pattern: the model holds one
``ModuleList``/``Sequential`` of residual blocks (the longest such container of modules with
parameters). Parameterized modules registered before it are ``input``, the last one after it is
``readout``; inside a block each direct child that holds linear layers is one branch (the block
itself if it holds them directly): the last linear layer of a branch is ``branch_out``, earlier
ones ``branch_in``; a block with a single linear layer has role ``hidden``. Normalization modules'
parameters are ``norm``, parameters called ``bias`` are ``bias``. Explicit roles
(``{pattern: role}``, ``fnmatch`` patterns over module or parameter names, e.g.
``{"blocks.*.attn.q": "branch_in"}``) override inference; a parameter left without a role is an
error that names it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

ROLES: tuple[str, ...] = ("input", "hidden", "branch_in", "branch_out", "readout", "norm", "bias")
#: role -> parameterization group (None: no group; the U group's LR is used)
ROLE_GROUP: dict[str, str | None] = {"input": "U", "hidden": "W", "branch_in": "W1",
                                     "branch_out": "W2", "readout": "v", "norm": None,
                                     "bias": None}
#: roles whose module writes the residual stream (the branch multiplier sits on them)
STREAM_WRITERS: tuple[str, ...] = ("hidden", "branch_out")
_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm1d)
_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Embedding)


class RoleError(ValueError):
    """A parameter without a role, an unknown role, or a model the inference cannot read."""


@dataclass(frozen=True)
class ParamRole:
    """Role of one parameter: ``module`` its module's qualified name, ``block`` the index of its
    residual block (``None`` outside the blocks), ``pattern`` the module name with the block
    index replaced by ``*`` (the unit the coord check fits)."""

    name: str
    role: str
    module: str
    block: int | None
    pattern: str


def _is_norm(m: nn.Module) -> bool:
    return isinstance(m, _NORM_TYPES) or type(m).__name__.lower().endswith("norm")


def _has_params(m: nn.Module) -> bool:
    return any(True for _ in m.parameters())


def find_blocks(model: nn.Module) -> tuple[str, nn.Module] | None:
    """``(name, container)`` of the residual blocks: the longest ModuleList/Sequential whose
    children are of one class, hold parameters and are not single layers (ties: the first registered); ``None`` if there is none."""
    best = None
    for name, m in model.named_modules():
        if isinstance(m, (nn.ModuleList, nn.Sequential)) and len(m) >= 1:
            kids = list(m.children())
            if (all(_has_params(k) for k in kids) and len({type(k) for k in kids}) == 1
                    and not isinstance(kids[0], _LAYER_TYPES)):
                if best is None or len(m) > len(best[1]):
                    best = (name, m)
    return best


def _layers(m: nn.Module, prefix: str) -> list[str]:
    return [f"{prefix}.{n}" if n else prefix for n, k in m.named_modules()
            if isinstance(k, _LAYER_TYPES)]


def _block_layer_roles(block: nn.Module, prefix: str) -> dict[str, str]:
    """Roles of the linear layers inside one block (module docstring)."""
    direct = [f"{prefix}.{n}" for n, k in block.named_children() if isinstance(k, _LAYER_TYPES)]
    branches = [] if direct else [_layers(k, f"{prefix}.{n}") for n, k in block.named_children()]
    branches = [b for b in branches if b] or [_layers(block, prefix)]
    out = {}
    total = sum(len(b) for b in branches)
    for br in branches:
        for i, name in enumerate(br):
            out[name] = ("hidden" if total == 1 else
                         "branch_out" if i == len(br) - 1 else "branch_in")
    return out


def infer_roles(model: nn.Module, roles: Mapping[str, str] | None = None
                ) -> dict[str, ParamRole]:
    """Role of every parameter of ``model`` (module docstring), explicit ``roles`` first."""
    roles = dict(roles or {})
    for pat, r in roles.items():
        if r not in ROLES:
            raise RoleError(f"unknown role {r!r} for {pat!r}; allowed: {', '.join(ROLES)}")
    found = find_blocks(model)
    blocks_name, blocks = found if found else ("", None)
    modules = dict(model.named_modules())
    inferred: dict[str, str] = {}          # module name -> role
    block_of: dict[str, int] = {}
    if blocks is not None:
        for i, (cname, child) in enumerate(blocks.named_children()):
            prefix = f"{blocks_name}.{cname}" if blocks_name else cname
            inferred.update(_block_layer_roles(child, prefix))
            for n, _ in child.named_modules():
                block_of[f"{prefix}.{n}" if n else prefix] = i
        order = [n for n, m in model.named_modules() if isinstance(m, _LAYER_TYPES)]
        inside = set(_layers(blocks, blocks_name))
        first_block = next((k for k, n in enumerate(order) if n in inside), len(order))
        last_block = max((k for k, n in enumerate(order) if n in inside), default=-1)
        for k, n in enumerate(order):
            if k < first_block:
                inferred[n] = "input"
        after = [n for k, n in enumerate(order) if k > last_block]
        if after:
            inferred[after[-1]] = "readout"
    out: dict[str, ParamRole] = {}
    for pname, _ in model.named_parameters():
        mname, _, leaf = pname.rpartition(".")
        role = None
        for pat, r in roles.items():
            if fnmatch.fnmatchcase(pname, pat) or fnmatch.fnmatchcase(mname, pat):
                role = r
        if role is None:
            if leaf == "bias":
                role = "bias"
            elif mname in modules and _is_norm(modules[mname]):
                role = "norm"
            else:
                role = inferred.get(mname)
        if role is None:
            raise RoleError(
                f"parameter {pname!r} has no role: pass roles={{{mname or pname!r}: ...}} "
                f"with one of {', '.join(ROLES)}")
        block = block_of.get(mname)
        pattern = mname
        if block is not None and blocks is not None:
            cname = list(dict(blocks.named_children()))[block]
            head = f"{blocks_name}.{cname}" if blocks_name else cname
            pattern = (f"{blocks_name}.*" if blocks_name else "*") + mname[len(head):]
        out[pname] = ParamRole(name=pname, role=role, module=mname, block=block,
                               pattern=pattern)
    return out


def block_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The residual blocks ``[(qualified name, module)]`` (empty if none are found)."""
    found = find_blocks(model)
    if found is None:
        return []
    name, blocks = found
    return [(f"{name}.{c}" if name else c, m) for c, m in blocks.named_children()]


def fan_in(module: nn.Module) -> int:
    """Fan-in of a layer's weight (``Embedding``: 1, one-hot inputs)."""
    if isinstance(module, nn.Embedding):
        return 1
    w = getattr(module, "weight", None)
    if not isinstance(w, torch.Tensor) or w.dim() < 2:
        raise RoleError(f"cannot read the fan-in of {type(module).__name__}")
    return int(w[0].numel())
