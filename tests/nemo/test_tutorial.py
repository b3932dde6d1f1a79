"""The NEMO tutorial runs top to bottom in quick mode."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# end-to-end: MEArec simulations, whole tutorials or the benchmark report
pytestmark = pytest.mark.slow

TUTORIAL = Path(__file__).resolve().parents[2] / "tutorials" / "nemo_embeddings.py"


def test_tutorial_quick(tmp_path):
    env = dict(os.environ, SI_AMORTIZED_QUICK="1", SI_AMORTIZED_TUTORIAL_OUT=str(tmp_path), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(TUTORIAL)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "features: (12, 1012)  representations: (12, 500)" in proc.stdout
    assert (tmp_path / "nemo_embeddings.png").stat().st_size > 0
