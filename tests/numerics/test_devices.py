"""The NFD particle solver and Model B on the ``device`` fixture agree with the CPU float64 run:
float64 to 1e-10 relative, float32 to its stated tolerance (cpu always; cuda when present,
marked ``gpu``). The engine,
the init Monte Carlo and the Mean-ODE solver have their own CUDA tests beside their CPU ones."""

from __future__ import annotations

import pytest
import torch

from infdepth.numerics.hidden_width import HWConfig, train_hw
from infdepth.numerics.nfd_solver import NFDConfig, solve_nfd_depth
from helpers import roundoff_sensitivity


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm())


def _data(d=4, N=3):
    g = torch.Generator().manual_seed(5)
    X = torch.randn(N, d, dtype=torch.float64, generator=g)
    return X, torch.tensor([0.5, -0.3, 0.8][:N], dtype=torch.float64)


#: float32 tolerance of the NFD solver: 1e-2 (on the CPU float32 differs from float64 by 4.8e-3
#: here: the covariance variant's sums over earlier steps lose digits in single precision).
#: float64: 1e-10, or ten times the solve's own round-off sensitivity where that is larger. The
#: Stein regressions and conditional laws invert the covariance of the increments of earlier
#: steps, which is nearly singular when the steps' features are close (condition numbers up to
#: 6e5 here): on the CPU alone, inputs moved by 1e-16 relative move f_train by 2.5e-10.
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-2)])
def test_nfd_solver_on_device_matches_cpu(device, dtype, tol):
    X, y = _data()
    cfg = NFDConfig(K=2, n_particles=256, act="tanh")
    ref = solve_nfd_depth(cfg, X, y, L=4)
    out = solve_nfd_depth(cfg, X.to(device, dtype), y.to(device, dtype), L=4)
    assert out.f_train.device.type == device
    for name in ("f_train", "kernel"):
        bound = tol
        if dtype == torch.float64:
            bound = max(tol, 10 * roundoff_sensitivity(
                lambda x: getattr(solve_nfd_depth(cfg, x, y, L=4), name), X))
        assert _rel(getattr(out, name), getattr(ref, name)) < bound, name


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-3)])
def test_model_b_on_device_matches_cpu(device, dtype, tol):
    X, _ = _data(d=5)
    Y = torch.tensor([[0.5], [-0.3], [0.8]], dtype=torch.float64)
    base = dict(D=5, L=4, M=3, K=3, n_seeds=2, act="tanh", alpha=1.0, eta=0.5)
    ref = train_hw(HWConfig(**base), X, Y)
    out = train_hw(HWConfig(**base, device=device), X.to(dtype), Y.to(dtype))
    assert out.f.device.type == device
    assert _rel(out.f, ref.f) < tol
