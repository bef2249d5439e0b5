"""infdepth: check the theory of very deep residual networks against experiment.

The public API (docs/api.md) is the names below; everything else lives in the subpackages
``infdepth.theory`` (SymPy derivations, code generation), ``infdepth.numerics`` (finite networks
and their limits, CPU and CUDA), ``infdepth.validation`` (claims, sweeps, rate fits, verdicts) and
``infdepth.paper_figs`` (figures). Names are imported on first use, so ``import infdepth`` is
cheap.

    import infdepth as idp
    cfg = idp.A1Config(n=256, L=16, K=5, eta=0.5, parameterization="depth_mup", n_seeds=8)
    res = idp.train_a1(cfg, X, y)                      # batched over seeds, hand-written backward
    fit = idp.fit_rate(sizes, samples)                 # log-log slope with a bootstrap CI
    records = idp.validate(["init_kernel_depth"], suite="smoke", out="results")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> "module:attribute" (relative to the package)
_EXPORTS: dict[str, str] = {
    # parameterizations and the exponent calculus (docs/theory.md s7)
    "Parameterization": "theory.parameterization:Parameterization",
    "GroupScaling": "theory.parameterization:GroupScaling",
    "preset": "theory.parameterization:preset",
    "PRESET_NAMES": "theory.parameterization:PRESET_NAMES",
    "derive": "theory.exponent_calculus:derive",
    # finite networks (docs/theory.md s2, s5, s6)
    "A1Config": "numerics.engine:A1Config",
    "train_a1": "numerics.engine:train_a1",
    "HWConfig": "numerics.hidden_width:HWConfig",
    "train_hw": "numerics.hidden_width:train_hw",
    "sample_init_moments": "numerics.finite_width_init:sample_init_moments",
    # limits and their solvers (docs/theory.md s3, s6)
    "depth_recursion": "numerics.kernel_recursion:depth_recursion",
    "kernel_ode": "numerics.kernel_ode:kernel_ode",
    "NFDConfig": "numerics.nfd_solver:NFDConfig",
    "solve_nfd": "numerics.nfd_solver:solve_nfd",
    "MeanODEConfig": "numerics.mean_ode:MeanODEConfig",
    "solve_mean_ode": "numerics.mean_ode:solve_mean_ode",
    "solve_mean_ode_linear": "numerics.mean_ode_linear:solve_mean_ode_linear",
    # rates and verdicts (docs/theory.md s9)
    "fit_rate": "validation.rate_fit:fit_rate",
    "RateFit": "validation.rate_fit:RateFit",
    "band_verdict": "validation.verdict:band_verdict",
    "verdict": "validation.verdict:verdict",
    "decide": "validation.verdict:decide",
    "geometric_mean": "validation.intervals:geometric_mean",
    "NormOfMean": "validation.noise_budget:NormOfMean",
    "Term": "validation.multiterm:Term",
    "Model": "validation.multiterm:Model",
    "fit_model": "validation.multiterm:fit_model",
    "compare_models": "validation.multiterm:compare_models",
    "calibrate": "validation.calibration:calibrate",
    # claims: running them and reading their results
    "CLAIM_IDS": "validation.claims:CLAIM_IDS",
    "get_claim": "validation.claims:get_claim",
    "validate": "validation.api:validate",
    "load_verdicts": "validation.api:load_verdicts",
    "read_table": "validation.api:read_table",
    "ResultsStore": "validation.results_store:ResultsStore",
    "compare_points": "validation.compare:compare_points",
    "compare_verdicts": "validation.compare:compare_verdicts",
    # your own model: depth parameterizations, coord check, transfer check (docs/user_models.md)
    "parameterize": "param:parameterize",
    "coord_check": "depth_coord_check:coord_check",
    "coord_slopes": "depth_coord_check:coord_slopes",
    "plot_coord_check": "coord_check_plot:plot_coord_check",
    "transfer_check": "depth_transfer_check:transfer_check",
    "transfer_drift": "depth_transfer_check:transfer_drift",
    "plot_transfer_check": "depth_transfer_check:plot_transfer_check",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'infdepth' has no attribute {name!r}")
    module, attr = _EXPORTS[name].split(":")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
