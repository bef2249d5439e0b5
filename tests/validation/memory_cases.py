"""Small real points of every claim and their measured peak memory (the calibration of
``tests/validation/test_memory_estimate.py``).

:func:`cases`: name -> (claim id, a tiny warm-up point, the measured point). Run as a script
with case names, it computes each warm-up point (imports, lazily built state), then each
measured point from scratch (:func:`clear_caches`), and prints ``{name: [peak, seconds]}`` as
JSON: the growth of the process's peak resident memory (``VmHWM``, reset through
``/proc/self/clear_refs`` after the caches are emptied and the allocator trimmed) over its
resident memory just before ``compute``.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import time


def cases() -> dict:
    from infdepth.validation.claims.depth_hp_transfer import TransferPoint
    from infdepth.validation.claims.gia_restoration import GiaPoint
    from infdepth.validation.claims.hw_common import HWODEPoint, HWPoint
    from infdepth.validation.claims.hw_lazy import HWLazyPoint
    from infdepth.validation.claims.hw_phase import HWPhasePoint
    from infdepth.validation.claims.init_coupling_width import CouplingInitPoint
    from infdepth.validation.claims.init_kernel_depth import KernelDepthPoint
    from infdepth.validation.claims.init_width import WidthPoint
    from infdepth.validation.claims.nfd_depth_error import NFDSweepPoint
    from infdepth.validation.claims.train_coupling_depth import TrainCouplingPoint
    from infdepth.validation.claims.twolayer_point import TwoLayerPoint
    lin = dict(act="linear", D=5, K=15, eta=0.2)
    tanh = dict(act="tanh", D=5, K=15, eta=0.5)
    eng = dict(act="tanh")
    return {
        "init_kernel_depth": ("init_kernel_depth", KernelDepthPoint(activation="relu", L=8),
                              KernelDepthPoint(activation="relu", L=2000)),
        "init_width": ("init_width", WidthPoint(activations=("tanh", "relu"), n=8, L=4,
                                                n_seeds=20),
                       WidthPoint(activations=("tanh", "relu"), n=128, L=4, n_seeds=600)),
        "init_coupling_width": ("init_coupling_width",
                                CouplingInitPoint(n=16, L=2, n_seeds=2, **eng),
                                CouplingInitPoint(n=256, L=8, n_seeds=16, **eng)),
        "nfd_depth_error": ("nfd_depth_error",
                            NFDSweepPoint(act="tanh", variant="covariance", K=3, depths=(2, 4, 4),
                                          n_particles=256, n_seeds=1),
                            NFDSweepPoint(act="tanh", variant="covariance", K=3,
                                          depths=(4, 8, 16), n_particles=8192, n_seeds=2)),
        "train_coupling_depth": ("train_coupling_depth",
                                 TrainCouplingPoint(n=16, L=2, K=3, n_seeds=2, **eng),
                                 TrainCouplingPoint(n=128, L=16, K=3, n_seeds=8, **eng)),
        "gia_restoration": ("gia_restoration",
                            GiaPoint(n=16, L=2, K=2, n_seeds=2, parameterization="mup", **eng),
                            GiaPoint(n=256, L=16, K=6, n_seeds=8, parameterization="depth_mup",
                                     **eng)),
        "twolayer_collapse": ("twolayer_collapse",
                              TwoLayerPoint(n=16, L=2, K=2, n_seeds=2, parameterization="mup",
                                            **eng),
                              TwoLayerPoint(n=256, L=16, K=3, n_seeds=8,
                                            parameterization="depth_mup", **eng)),
        "twolayer_correction": ("twolayer_correction",
                                TwoLayerPoint(n=16, L=2, K=2, n_seeds=2, parameterization="mup",
                                              **eng),
                                TwoLayerPoint(n=128, L=32, K=3, n_seeds=8,
                                              parameterization="depth_mup_corrected", gamma=0.5,
                                              **eng)),
        "depth_hp_transfer": ("depth_hp_transfer",
                              TransferPoint(block="one_layer", parameterization="depth_mup",
                                            act="tanh", n=8, L=2, K=2, n_seeds=2,
                                            log2_etas=(0.0,), n_train=8),
                              TransferPoint(block="one_layer", parameterization="depth_mup",
                                            act="tanh", n=256, L=8, K=6, n_seeds=4,
                                            log2_etas=(0.0, 1.0), n_train=64)),
        "hw_rate_lm": ("hw_rate_lm", HWPoint(L=2, M=2, n_seeds=2, **lin),
                       HWPoint(L=32, M=512, n_seeds=16, **dict(lin, K=5))),
        "hw_rate_lm/mean_ode": ("hw_rate_lm",
                                HWODEPoint(L=2, M=2, n_seeds=2, ref_Ls=2, ref_P=64,
                                           **dict(tanh, K=3)),
                                HWODEPoint(L=4, M=16, n_seeds=4, ref_Ls=8, ref_P=4096,
                                           **dict(tanh, K=3))),
        "hw_sqrt_d": ("hw_sqrt_d", HWPoint(L=2, M=2, n_seeds=2, **dict(lin, D=4, K=7)),
                      HWPoint(L=16, M=256, n_seeds=6, **dict(lin, D=24, K=7))),
        "hw_lazy": ("hw_lazy", HWLazyPoint(L=2, M=2, n_seeds=2, alpha=2.0, **tanh),
                    HWLazyPoint(L=32, M=1024, n_seeds=8, alpha=2.0, **dict(tanh, K=7))),
        "hw_phase": ("hw_phase", HWPhasePoint(scale_exponent=-1.0, lr_exponent=1.0, L=2, M=2,
                                              n_seeds=2),
                     HWPhasePoint(scale_exponent=-1.0, lr_exponent=1.0, L=128, M=128,
                                  n_seeds=8)),
    }


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def clear_caches() -> None:
    """Empty the draw cache and every in-process result cache (``functools.lru_cache``) of
    ``infdepth``, so that a point is computed from scratch."""
    from infdepth.seeding import clear_draw_cache
    clear_draw_cache()
    for name, module in list(sys.modules.items()):
        if name.startswith("infdepth.") and module is not None:
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def peak_growth(claim, point) -> int:
    """Bytes by which ``claim.compute(point)`` raises the peak resident memory, computed from
    scratch (:func:`clear_caches`)."""
    clear_caches()
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    base = _rss()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    claim.compute(point)
    return _hwm() - base


def main(names: list[str]) -> None:
    import torch
    torch.set_num_threads(1)
    from infdepth.validation.claims import get_claim
    table = cases()
    out = {}
    for name in names:
        cid, warm, point = table[name]
        claim = get_claim(cid)
        claim.compute(warm)
        t = time.perf_counter()
        out[name] = [peak_growth(claim, point), time.perf_counter() - t]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
