"""``benchmarks/gpu.py`` runs on a machine without CUDA (its CPU half) and writes what it prints."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


@pytest.mark.slow
def test_gpu_benchmark_cpu_half_writes_its_figures(tmp_path):
    out = tmp_path / "gpu.json"
    args = ["--duration", "2", "--rounds", "1", "--n-jobs", "1", "--nemo-units", "64", "--nemo-epochs", "1",
            "--rollae-per-class", "2", "--rollae-epochs", "1", "--json", str(out)]
    run = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(out.read_text())
    loc = results["localization"]
    assert "error" not in loc, loc
    assert set(loc["rows"]) >= {"center_of_mass", "vae pretrained, cpu", "monopolar_triangulation"}
    assert loc["rows"]["center_of_mass"]["ratio_to_center_of_mass"] == pytest.approx(1.0)
    assert all(row["spikes_per_s"] > 0 for row in loc["rows"].values())
    assert loc["training"]["cpu"]["train_and_infer_s"] > 0
    assert results["nemo"]["cpu"]["seconds"] > 0 and results["rollae"]["cpu"]["seconds"] > 0
    assert np.isfinite(results["nemo"]["cpu"]["final_loss"])
    has_cuda = torch.cuda.is_available()
    assert ("cuda" in results["nemo"]) == has_cuda and ("cuda" in results["rollae"]) == has_cuda
    assert "Localization of" in run.stdout and "NEMO:" in run.stdout and "Roll-AE:" in run.stdout
