"""The Dask path of the benchmark gives the local results."""

import numpy as np
import pytest

from si_amortized.evaluation import BenchmarkConfig, get_scenarios, map_dask, map_local

# end-to-end: runs the tiny benchmark first (its simulations are reused)
pytestmark = pytest.mark.slow


def test_dask_local_cluster_gives_the_local_results(tiny_report, tmp_path):
    from si_amortized.evaluation.benchmark import _evaluate_task

    tiny = get_scenarios("sqmea-10uv", size="tiny")[0]
    scenarios = [tiny, tiny.with_other_neurons()]  # both simulated (cached) by the tiny benchmark
    config = BenchmarkConfig(size="tiny", sections=("localization", "gmm"), localization_methods=("center_of_mass",),
                             n_components=(5, 10), job_kwargs=dict(n_jobs=1, chunk_duration="1s", progress_bar=False))
    local = map_local(_evaluate_task, scenarios, config=config, work_folder=str(tmp_path / "local"))
    remote = map_dask(_evaluate_task, scenarios, n_workers=2, config=config, work_folder=str(tmp_path / "dask"))
    assert len(remote) == 2
    for a, b in zip(local, remote):
        assert a["scenario"] == b["scenario"]
        np.testing.assert_array_equal(a["localization"]["center_of_mass"]["errors"],
                                      b["localization"]["center_of_mass"]["errors"])
        assert a["gmm"] == b["gmm"]
    assert local[0]["localization"]["center_of_mass"]["mean"] != local[1]["localization"]["center_of_mass"]["mean"]
