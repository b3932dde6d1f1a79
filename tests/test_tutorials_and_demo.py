"""The foundation's tutorial and the demo run top to bottom on tiny data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# end-to-end: MEArec simulations, whole tutorials or the benchmark report
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _run(args, tmp_path, timeout=600):
    env = dict(os.environ, SI_AMORTIZED_QUICK="1", SI_AMORTIZED_TUTORIAL_OUT=str(tmp_path), MPLBACKEND="Agg")
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_mearec_tutorial_runs(tmp_path):
    proc = _run([sys.executable, "tutorials/mearec_ground_truth.py"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "median 2D error" in proc.stdout
    assert (tmp_path / "mearec_ground_truth.png").stat().st_size > 10_000


def test_demo_runs_and_reports_ground_truth(tmp_path):
    proc = _run(
        [sys.executable, "-m", "si_amortized.cli", "demo", "--duration", "4", "--n-exc", "4", "--n-inh", "2",
         "--folder", str(tmp_path / "analyzer"), "--figures", str(tmp_path / "figures")],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "loc_error_um" in proc.stdout and "Done." in proc.stdout
    for line in ("vae: per-spike 2D error", "embeddings (6, 1012)", "16-class test accuracy"):
        assert line in proc.stdout
    assert (tmp_path / "analyzer" / "extensions" / "unit_locations").is_dir()
    assert f"in {tmp_path / 'figures'}" in proc.stdout
    for name in ("vae_locations.png", "nemo_embeddings.png", "rollae_embeddings.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 10_000
        assert name in proc.stdout
