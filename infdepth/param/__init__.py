"""Depth parameterizations for a user's PyTorch model (docs/user_models.md).

    from infdepth.param import parameterize
    pm = parameterize(model, "completep", base_width=64, base_depth=4, example_input=x)
    opt = pm.optimizer(lr=1e-2, optimizer="adam")    # per-parameter LR groups
    pm.report()                                      # requested vs achieved, per parameter
"""

from .install import BranchMultiplierError, Parameterized, parameterize
from .roles import ROLE_GROUP, ROLES, ParamRole, RoleError, block_modules, infer_roles

__all__ = ["parameterize", "Parameterized", "BranchMultiplierError", "RoleError", "ROLES",
           "ROLE_GROUP", "ParamRole", "infer_roles", "block_modules"]
