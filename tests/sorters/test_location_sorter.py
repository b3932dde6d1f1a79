"""The location sorter through SpikeInterface's ``run_sorter`` and ``SorterStudy`` on the tiny MEArec fixture."""

import numpy as np
import pytest

import si_amortized.sorters  # noqa: F401  (registers "location_sorter")
from si_amortized.sorters import LocationSorter, read_sorter_features, sort_by_locations

JOB = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)


def test_registered_with_spikeinterface():
    from spikeinterface.sorters import available_sorters, get_default_sorter_params, installed_sorters

    assert "location_sorter" in available_sorters()
    assert "location_sorter" in installed_sorters()
    params = get_default_sorter_params("location_sorter")
    assert params["localization_method"] == "vae"
    assert set(params) == set(LocationSorter._default_params) == set(LocationSorter._params_description)


@pytest.mark.slow
def test_run_sorter_center_of_mass_finds_ground_truth_units(mearec_small, tmp_path):
    from spikeinterface.comparison import compare_sorter_to_ground_truth
    from spikeinterface.sorters import run_sorter

    recording, gt = mearec_small
    sorting = run_sorter("location_sorter", recording, folder=tmp_path / "com", localization_method="center_of_mass",
                         job_kwargs=JOB)
    assert sorting.get_num_units() >= 3
    comparison = compare_sorter_to_ground_truth(gt, sorting, exhaustive_gt=True)
    assert comparison.count_well_detected_units(0.8) >= 3
    saved = read_sorter_features(tmp_path / "com")
    assert saved["params"]["localization_method"] == "center_of_mass"
    assert saved["features"].shape == (saved["peaks"].size, 2 + 2 + 1)  # x, y + 2 PCs + log amplitude
    # the log-amplitude feature: the largest deflection near the peak, at least the detected peak's own
    local_amplitude = np.exp(saved["features"][:, -1] / saved["params"]["amplitude_scale"])
    assert np.all(local_amplitude >= np.abs(saved["peaks"]["amplitude"]) * (1 - 1e-5))
    clusters = np.unique(saved["labels"][saved["labels"] >= 0])
    assert np.array_equal(clusters, np.arange(clusters.size))
    # matching keeps the clusters whose template is clean and that it gives >= min_spikes spikes; a matched unit
    # split afterwards gives one half a new id, after every cluster label, with its evidence saved
    splits = [d for d in saved["matched_split_decisions"] if d["split"]]
    new_ids = set(sorting.unit_ids) - set(clusters)
    assert len(new_ids) == len(splits) and all(u > clusters.max() for u in new_ids)
    for decision in saved["matched_split_decisions"]:
        assert {"unit", "sizes", "observed", "expected", "split"} <= set(decision)
        if decision["split"]:
            assert decision["expected"] >= 3.0
            assert 0.5 * decision["expected"] <= decision["observed"] <= 3.0 * decision["expected"]
    # every judged split is saved with its evidence, and a kept split lies within the coincidence bounds
    assert isinstance(saved["split_decisions"], list)
    for decision in saved["split_decisions"]:
        assert {"cluster", "sizes", "observed", "expected", "split"} <= set(decision)
        if decision["split"]:
            assert 0.5 * decision["expected"] <= decision["observed"] <= 3.0 * decision["expected"]
    # every duplicate pair judged after matching is saved too; a merged pair's second unit is gone
    assert isinstance(saved["duplicate_decisions"], list)
    for decision in saved["duplicate_decisions"]:
        assert decision["cosine"] >= 0.97 or (decision["fragment"] and decision["cosine"] >= 0.8
                                               and decision["ratio"] <= 0.5)
        if decision["merged"]:
            assert decision["observed"] <= 0.5 * max(decision["expected"], 4.0)
            assert max(decision["units"]) not in set(sorting.unit_ids)


@pytest.mark.slow
def test_run_sorter_vae_locations(mearec_small, tmp_path):
    from spikeinterface.sorters import run_sorter

    recording, gt = mearec_small
    sorting = run_sorter("location_sorter", recording, folder=tmp_path / "vae", localization_kwargs=dict(epochs=2),
                         n_pcs=0, job_kwargs=JOB)
    saved = read_sorter_features(tmp_path / "vae")
    assert {"x", "y", "z", "x_std"} <= set(saved["locations"].dtype.names)
    assert saved["features"].shape[1] == 2 + 1  # x, y + log amplitude
    assert sorting.get_num_units() >= 2
    # locations lie around the 10 x 10, 15 um array (+-67.5 um)
    assert np.nanmedian(np.abs(saved["locations"]["x"])) < 80


def test_results_do_not_depend_on_chunking(mearec_small):
    recording, _ = mearec_small
    params = dict(localization_method="center_of_mass", seed=0)
    _, a = sort_by_locations(recording, dict(params, job_kwargs=dict(chunk_duration="0.5s", progress_bar=False)))
    _, b = sort_by_locations(recording, dict(params, job_kwargs=dict(chunk_duration="2s", progress_bar=False)))
    np.testing.assert_array_equal(a["peaks"], b["peaks"])
    np.testing.assert_allclose(a["features"], b["features"], rtol=1e-5, atol=1e-4)
    assert np.array_equal(a["labels"], b["labels"])


def test_default_sorter_gives_the_same_spikes_for_every_n_jobs(mearec_small):
    # default pipeline (shipped localizer, amplitude feature, wobble matching) on MEArec data
    recording, _ = mearec_small
    runs = [
        sort_by_locations(recording, dict(job_kwargs=dict(n_jobs=n_jobs, chunk_duration="1s", progress_bar=False)))[0]
        for n_jobs in (1, 2)
    ]
    a, b = (run.to_spike_vector() for run in runs)
    assert a.size > 0
    np.testing.assert_array_equal(a, b)


def test_bad_parameters_are_refused(mearec_small, tmp_path):
    from spikeinterface.sorters import run_sorter

    recording, _ = mearec_small
    with pytest.raises(ValueError, match="localization_method"):
        run_sorter("location_sorter", recording, folder=tmp_path / "a", localization_method="nope")
    with pytest.raises(ValueError, match="clusterer"):
        run_sorter("location_sorter", recording, folder=tmp_path / "b", clusterer="kmeans")
    with pytest.raises(ValueError, match="min_fraction"):
        run_sorter("location_sorter", recording, folder=tmp_path / "c", split_kwargs={"min_fraction": 0.7})
    with pytest.raises(ValueError, match="min_expected"):
        run_sorter("location_sorter", recording, folder=tmp_path / "d", split_matched_kwargs={"min_expected": 0})
    with pytest.raises(ValueError, match="gives no"):
        sort_by_locations(recording, dict(localization_method="center_of_mass", location_features=["x", "y", "z"],
                                          job_kwargs=dict(progress_bar=False)))


@pytest.mark.slow
def test_sorter_study_runs_location_sorter_by_name(mearec_small, tmp_path):
    from spikeinterface.benchmark import SorterStudy

    recording, gt = mearec_small
    # monopolar_triangulation with SpikeInterface's faster least-squares optimizer keeps the test short
    methods = {"center_of_mass": {}, "monopolar_triangulation": {"optimizer": "least_square"}}
    cases = {
        method: dict(label=method, dataset="small",
                     params=dict(sorter_name="location_sorter", localization_method=method,
                                 localization_kwargs=kwargs, job_kwargs=JOB))
        for method, kwargs in methods.items()
    }
    study = SorterStudy.create(tmp_path / "study", datasets={"small": (recording, gt)}, cases=cases)
    study.run()
    study.compute_results()
    counts = study.get_count_units()
    assert list(counts.index) == list(cases)
    assert (counts["num_gt"] == gt.get_num_units()).all()
    assert (counts["num_well_detected"] >= 2).all()
