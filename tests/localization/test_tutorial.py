import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "tutorials" / "vae_localization.py"


@pytest.mark.slow
def test_tutorial_runs_quick(tmp_path):
    env = dict(os.environ, SI_AMORTIZED_QUICK="1", SI_AMORTIZED_TUTORIAL_OUT=str(tmp_path))
    proc = subprocess.run([sys.executable, str(TUTORIAL)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "vae_locations.png").is_file()
    assert proc.stdout.count("2D error to soma") == 3  # trained, pretrained, center_of_mass
    assert "pretrained localizer: trained on" in proc.stdout and "posterior sd" in proc.stdout
