"""NEMO inputs from arrays are those of the analyzer path."""

import dataclasses

import numpy as np
import spikeinterface.full as si

from si_amortized.nemo import NemoConfig, prepare_inputs
from si_amortized.nemo.inputs import inputs_from_arrays


def test_inputs_from_arrays_match_the_analyzer_path():
    rec, sort = si.generate_ground_truth_recording(durations=[20.0], num_units=5, num_channels=12, seed=3)
    analyzer = si.create_sorting_analyzer(sort, rec, sparse=False)
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    config = dataclasses.replace(NemoConfig(), waveform=dataclasses.replace(NemoConfig().waveform, num_channels=9))
    expected_acg, expected_wf = prepare_inputs(analyzer, config)
    ext = analyzer.get_extension("templates")
    spikes = analyzer.sorting.to_spike_vector()
    acg, wf = inputs_from_arrays(
        spikes["sample_index"], spikes["unit_index"], len(analyzer.unit_ids), analyzer.get_num_samples(0),
        ext.get_templates(operator="average"), ext.nbefore, analyzer.sampling_frequency, config,
        channel_locations=analyzer.get_channel_locations(),
    )
    assert wf.shape == (5, 9, 90)
    np.testing.assert_array_equal(acg, expected_acg)
    np.testing.assert_array_equal(wf, expected_wf)
