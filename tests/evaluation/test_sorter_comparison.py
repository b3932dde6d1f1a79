"""Peer sorters of the sorter comparison: absent ones are reported with the reason, not dropped."""


def test_absent_peers_are_reported_not_dropped():
    from si_amortized.evaluation import installed_peers, sorter_cases

    installed, absent = installed_peers(["tridesclous2", "no_such_sorter"])
    assert installed == ["tridesclous2"]
    assert "unknown" in absent["no_such_sorter"]
    cases = sorter_cases("gt", localization_methods=("center_of_mass",), internal_sorter=None,
                         peers=["tridesclous2", "no_such_sorter"])
    assert set(cases) == {"location_sorter[center_of_mass]", "tridesclous2"}


def test_herdingspikes_sorts_a_copy_of_the_dataset_with_the_location_property():
    """herdingspikes 0.4 reads a channel property 'location' that SpikeInterface recordings no longer carry."""
    from si_amortized.evaluation import sorter_cases
    from si_amortized.evaluation.peer_recordings import needs_location_property
    from si_amortized.evaluation.sorter_comparison import location_dataset

    assert needs_location_property("herdingspikes") and not needs_location_property("lupin")
    cases = sorter_cases("gt", localization_methods=(), internal_sorter=None, peers=["herdingspikes", "tridesclous2"])
    if "herdingspikes" in cases:  # installed
        assert cases["herdingspikes"]["dataset"] == location_dataset("gt")
    assert cases["tridesclous2"]["dataset"] == "gt"


def test_location_property_recording_survives_the_dump_that_run_sorter_reloads(tmp_path):
    import numpy as np
    from spikeinterface.core import generate_ground_truth_recording, load

    from si_amortized.evaluation.peer_recordings import ChannelLocationPropertyRecording

    recording, _ = generate_ground_truth_recording(durations=[1.0], num_channels=8, num_units=2, seed=0)
    recording = recording.save(folder=tmp_path / "binary")
    assert recording.get_property("location") is None  # what herdingspikes' detector trips on
    wrapped = ChannelLocationPropertyRecording(recording)
    for reloaded in (load(wrapped.to_dict()), _pickled(wrapped, tmp_path)):
        first = reloaded.channel_ids[0]
        np.testing.assert_array_equal(reloaded.get_channel_property(first, "location"),
                                      recording.get_channel_locations()[0])
        traces = reloaded.get_traces(end_frame=100)
        np.testing.assert_array_equal(traces, recording.get_traces(end_frame=100))
        # a new array, not a view of the memory-mapped file (herdingspikes' detector crashed on one)
        assert traces.flags.owndata and traces.flags.writeable and traces.flags.c_contiguous
        assert reloaded.get_probe() is not None


def _pickled(recording, folder):
    from spikeinterface.core import load

    recording.dump_to_pickle(folder / "recording.pkl")
    return load(folder / "recording.pkl")


def test_study_records_each_case_peak_memory(tmp_path):
    import numpy as np
    from spikeinterface.core import generate_ground_truth_recording

    from si_amortized.evaluation import run_sorter_study, sorter_cases, summarize_study

    recording, gt = generate_ground_truth_recording(durations=[4.0], num_channels=16, num_units=3, seed=1)
    recording = recording.save(folder=tmp_path / "recording")
    cases = sorter_cases("gt", localization_methods=("center_of_mass",), internal_sorter=None,
                         location_sorter_params=dict(matching=None, n_pcs=0))
    study = run_sorter_study(tmp_path / "study", recording, gt, cases)
    table = summarize_study(study)
    row = table.loc["location_sorter[center_of_mass]"]
    assert row["peak_memory_mb"] > 50  # a Python process with numpy and spikeinterface loaded
    assert 0 <= row["added_memory_mb"] < row["peak_memory_mb"]
    assert np.isfinite(row["run_time_s"])
