"""The tiny benchmark through the CLI writes a complete report."""

import json
import math
import re

import numpy as np
import pytest

from si_amortized.evaluation.report import SECTION_TITLES

# end-to-end: MEArec simulations, whole tutorials or the benchmark report
pytestmark = pytest.mark.slow


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, float):
        yield obj


def test_tiny_report_has_every_section_and_no_nan(tiny_report):
    text = (tiny_report / "report.md").read_text()
    for title in SECTION_TITLES.values():
        assert f"## {title}" in text
    for heading in ("## Wall times and memory", "## Parameters", "## Versions"):
        assert heading in text
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
    assert "| sqmea-10uv | vae |" in text and "| sqmea-10uv | center_of_mass |" in text
    assert "locations: vae" in text and "| simple |" in text
    assert "vae (trained on A)" in text
    for name in ("locations_sqmea-10uv.png", "errors_sqmea-10uv.png", "gmm_sqmea-10uv.png", "sorters_sqmea-10uv.png"):
        assert (tiny_report / "figures" / name).stat().st_size > 5_000
        assert f"figures/{name}" in text
    results = json.loads((tiny_report / "results.json").read_text())
    numbers = list(_numbers(results["scenarios"]))
    assert numbers and all(math.isfinite(x) for x in numbers)
    assert results["run_info"]["versions"]["spikeinterface"]
    sorters = results["scenarios"][0]["sorters"]
    assert set(sorters) == {"location_sorter[vae]", "location_sorter[center_of_mass]", "simple"}
    # accuracy vs SNR: each GT unit's accuracy per case, averaging to the study's mean accuracy
    by_unit = results["scenarios"][0]["sorters_by_unit"]  # {unit: {"snr": ..., label: accuracy}}
    assert all(row["snr"] > 0 for row in by_unit.values())
    for row in sorters.values():
        per_unit = [unit[row["label"]] for unit in by_unit.values()]
        assert len(per_unit) == row["num_gt"] and np.mean(per_unit) == pytest.approx(row["accuracy"])
    scale = results["wings"]["scale"]  # the tiny run sorts 10 s of a lazy Neuropixels-64 recording
    assert scale["probe"] == "Neuropixels-64" and scale["duration_s"] == 10.0 and scale["num_channels"] == 64
    assert 0 < scale["num_peaks"] and 0 < scale["peak_rss_mb"] < 4000
    assert f"Peak memory of the sorting process: **{scale['peak_rss_mb']:.0f} MB**" in text
    # motion: correct_motion with each localizer against the ground-truth drift, a figure per scenario
    motion = results["wings"]["motion"]
    assert {row["method"] for row in motion["table"]} == {"center_of_mass", "grid_convolution", "vae"}
    assert all(math.isfinite(row["rms_um"]) and row["rms_um"] >= 0 for row in motion["table"])
    assert "| zigzag | vae |" in text
    assert (tiny_report / "figures" / "motion_zigzag.png").stat().st_size > 5_000
