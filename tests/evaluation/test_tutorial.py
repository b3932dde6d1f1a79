"""The benchmark-and-sorter tutorial runs top to bottom on tiny data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# end-to-end: MEArec simulations, whole tutorials or the benchmark report
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_and_sorter_tutorial_runs(tmp_path):
    env = dict(os.environ, SI_AMORTIZED_QUICK="1", SI_AMORTIZED_TUTORIAL_OUT=str(tmp_path), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "tutorials/benchmark_and_sorter.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "location_sorter[vae]:" in proc.stdout and "location_sorter[center_of_mass]:" in proc.stdout
    assert "median" in proc.stdout
    assert (tmp_path / "benchmark_and_sorter_locations.png").stat().st_size > 10_000
    assert (tmp_path / "report" / "report.md").is_file()
