"""scripts/gpu_check.sh exists, is executable and skips cleanly (exit 0, one line) without CUDA."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the script runs the real check")
def test_gpu_check_skips_cleanly_without_cuda():
    assert SCRIPT.exists() and os.access(SCRIPT, os.X_OK)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == [
        "gpu_check: no CUDA device visible to torch: skipped (nothing ran)"]


def test_gpu_check_refuses_an_unknown_option_in_one_line():
    out = subprocess.run(["bash", str(SCRIPT), "--smok"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "gpu_check: unknown option '--smok'; allowed: --smoke"]
