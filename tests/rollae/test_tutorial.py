import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "tutorials" / "rollae_wells.py"


@pytest.mark.slow
def test_tutorial_runs_quick(tmp_path):
    env = dict(os.environ, SI_AMORTIZED_QUICK="1", SI_AMORTIZED_TUTORIAL_OUT=str(tmp_path))
    proc = subprocess.run([sys.executable, str(TUTORIAL)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "rollae_wells.png").exists()
    assert "max |embedding(flipped, shifted) - embedding|" in proc.stdout
    recovered = float(proc.stdout.split("bins recovered from the recording: ")[1].split()[0])
    assert recovered >= 0.95, proc.stdout
