#!/usr/bin/env bash
# Prepared GPU check (one short run on a machine with an NVIDIA GPU; about 2-4 minutes).
#   1. every test marked `gpu`: CUDA vs CPU on small points of the engine (three modes, both
#      block types), the init Monte Carlo, the Mean-ODE solver, the NFD particle solver and
#      Model B -- float64 to 1e-10 relative, float32 to each solver's stated tolerance;
#   2. `infdepth bench --device cuda`: the engine against plain torch.nn + autograd.
# Without CUDA it says so and exits 0 (nothing is run). Run from the repository root with the
# package installed (`pip install -e ".[test]"`); output also goes to gpu_check.log.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! python -c "import torch" 2>/dev/null; then
    echo "gpu_check: torch is not importable here; install the package first (pip install -e \".[test]\")"
    exit 2
fi
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device visible to torch: skipped (nothing ran)"
    exit 0
fi
{
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'device', torch.cuda.get_device_name(0))"
    echo "== CUDA vs CPU (pytest -m gpu)"
    pytest -m gpu -q -p no:cacheprovider -rs
    tests=$?
    echo "== engine benchmark on the GPU (infdepth bench --device cuda)"
    infdepth bench --device cuda
    bench=$?
    echo "gpu_check: tests rc=$tests, bench rc=$bench"
    [ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
} 2>&1 | tee gpu_check.log
exit "${PIPESTATUS[0]}"
