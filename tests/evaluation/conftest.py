"""The tiny benchmark report, shared by the benchmark and Dask tests (built once for the package)."""

import pytest


@pytest.fixture(scope="package")
def tiny_report(tmp_path_factory):
    from si_amortized.cli import main

    output = tmp_path_factory.mktemp("bench") / "report"
    rc = main(["benchmark", "--scenario", "sqmea-10uv", "--tiny", "--output", str(output), "--methods",
               "vae,center_of_mass", "--internal-sorter", "simple", "--vae-epochs", "2", "--no-progress"])
    assert rc == 0
    return output
