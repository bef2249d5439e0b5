"""Convergence study of the particle Mean-ODE solver (docs/theory.md s6, s9): the same particles
at depths ``Ls, 2Ls, 4Ls`` give the depth-discretisation difference and its observed order;
further independent particle draws give the Monte Carlo spread (:func:`convergence_check`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from infdepth.validators import int_at_least

from .mean_ode import (SCHEME_ORDER, MeanODEConfig, MeanODEResult, check_mean_ode_config,
                       solve_mean_ode)

__all__ = ["depth_sequence", "ConvergenceReport", "convergence_check"]


def _rms(t: torch.Tensor) -> np.ndarray:
    """Per-seed rms over every other axis."""
    t = t.detach().cpu().double()
    return torch.sqrt((t ** 2).flatten(1).mean(1)).numpy()


def depth_sequence(cfg: MeanODEConfig, X, Y, depths) -> dict[int, MeanODEResult]:
    """Solve at each depth in ``depths`` with the same particles (``cfg.particle_seed``) and
    ``W_in``, ``W_out`` (diffrax-style: one random draw at every refinement level)."""
    return {Ls: solve_mean_ode(replace(cfg, Ls=int(Ls)), X, Y) for Ls in depths}


@dataclass
class ConvergenceReport:
    """What :func:`convergence_check` measured; per-seed arrays have shape (S,).

    ``f_K`` (S, N, d_out) the base solution's final outputs; ``depth_diff`` rms of
    ``f_K(Ls) - f_K(2 Ls)`` (same particles), ``depth_diff_fine`` of ``f_K(2Ls) - f_K(4Ls)``;
    ``order`` the observed order ``log2(|depth_diff| / |depth_diff_fine|)`` (norms over seeds);
    ``depth_error`` the base's estimated depth error ``depth_diff / (1 - 2^-q)`` with the
    scheme's order ``q``; ``mc_spread`` rms over outputs of the std over ``n_draws`` independent
    particle draws at ``(Ls, P)`` (the Monte Carlo error of one draw); ``width_diff`` rms of
    ``f_K(Ls, P) - f_K(Ls, width_factor P)`` (independent draws; about ``mc_spread
    sqrt(1 + 1/width_factor)`` when the Monte Carlo error scales as ``P^-1/2``); ``wall_s``
    the wall time per run (``"Ls"``, ``"2Ls"``, ``"4Ls"``, ``"draw<r>"``, ``"wide"``).
    """

    config: MeanODEConfig
    f_K: np.ndarray
    depth_diff: np.ndarray
    depth_diff_fine: np.ndarray
    order: float
    depth_error: np.ndarray
    mc_spread: np.ndarray
    width_diff: np.ndarray
    width_factor: int
    n_draws: int
    wall_s: dict[str, float]

    def to_frame(self) -> pd.DataFrame:
        """One row per seed (tidy)."""
        return pd.DataFrame({"seed": np.arange(len(self.depth_diff)),
                             "depth_diff": self.depth_diff,
                             "depth_diff_fine": self.depth_diff_fine,
                             "depth_error": self.depth_error, "mc_spread": self.mc_spread,
                             "width_diff": self.width_diff})

    def summary(self) -> dict[str, float]:
        """Medians over seeds and the observed order."""
        return {"Ls": self.config.Ls, "P": self.config.P, "order": self.order,
                "depth_diff": float(np.median(self.depth_diff)),
                "depth_error": float(np.median(self.depth_error)),
                "mc_spread": float(np.median(self.mc_spread)),
                "width_diff": float(np.median(self.width_diff)),
                "wall_s_base": self.wall_s["Ls"]}


def convergence_check(cfg: MeanODEConfig, X, Y, *, n_draws: int = 4,
                      width_factor: int = 4) -> ConvergenceReport:
    """Rerun ``cfg`` at ``(Ls, P)``, ``(2Ls, P)``, ``(4Ls, P)`` with the same particles, at
    ``(Ls, P)`` with ``n_draws - 1`` further independent particle seeds and at
    ``(Ls, width_factor P)`` with yet another seed; report the depth-discretisation difference,
    the observed order and the Monte Carlo spread (:class:`ConvergenceReport`)."""
    check_mean_ode_config(cfg)
    int_at_least("n_draws", n_draws, 2)
    int_at_least("width_factor", width_factor, 2)
    wall: dict[str, float] = {}
    seq = depth_sequence(cfg, X, Y, (cfg.Ls, 2 * cfg.Ls, 4 * cfg.Ls))
    for name, Ls in (("Ls", cfg.Ls), ("2Ls", 2 * cfg.Ls), ("4Ls", 4 * cfg.Ls)):
        wall[name] = seq[Ls].wall_s
    fK = {Ls: r.f[:, -1] for Ls, r in seq.items()}
    d1 = _rms(fK[cfg.Ls] - fK[2 * cfg.Ls])
    d2 = _rms(fK[2 * cfg.Ls] - fK[4 * cfg.Ls])
    order = float(np.log2(np.linalg.norm(d1) / np.linalg.norm(d2)))
    q = SCHEME_ORDER[cfg.scheme]
    draws = [fK[cfg.Ls]]
    for r in range(1, n_draws):
        res = solve_mean_ode(replace(cfg, particle_seed=cfg.particle_seed + r), X, Y)
        wall[f"draw{r}"] = res.wall_s
        draws.append(res.f[:, -1])
    st = torch.stack(draws).detach().cpu().double()        # (R, S, N, d_out)
    spread = torch.sqrt(st.var(dim=0, unbiased=True).flatten(1).mean(1)).numpy()
    wide = solve_mean_ode(replace(cfg, P=width_factor * cfg.P,
                                  particle_seed=cfg.particle_seed + n_draws), X, Y)
    wall["wide"] = wide.wall_s
    return ConvergenceReport(config=cfg, f_K=fK[cfg.Ls].detach().cpu().numpy(), depth_diff=d1,
                             depth_diff_fine=d2, order=order, depth_error=d1 / (1 - 2.0 ** -q),
                             mc_spread=spread, width_diff=_rms(fK[cfg.Ls] - wide.f[:, -1]),
                             width_factor=width_factor, n_draws=n_draws, wall_s=wall)
