"""Named benchmark scenarios and their sizes."""

import pytest

from si_amortized.evaluation import GROUPS, SCENARIOS, get_scenarios


def test_named_scenarios_and_sizes():
    assert set(GROUPS["sqmea"]) == {"sqmea-10uv", "sqmea-20uv", "sqmea-30uv"}
    full = SCENARIOS["np64-20uv"]
    assert full.probe == "Neuropixels-64" and full.noise_level == 20.0 and full.num_cells == 50
    quick = get_scenarios("np64-20uv", size="quick")[0]
    assert quick.duration == 20.0 and quick.num_cells == 50
    tiny = get_scenarios("sqmea-10uv", size="tiny", seed=7)[0]
    assert (tiny.num_cells, tiny.duration, tiny.seed) == (10, 5.0, 7)
    assert [s.name for s in get_scenarios("sqmea-10uv, all")][:2] == ["sqmea-10uv", "sqmea-20uv"]
    assert len(get_scenarios("all")) == 6
    other = tiny.with_other_neurons()
    assert other.seed != tiny.seed and other.probe == tiny.probe
    with pytest.raises(ValueError, match="Unknown scenario"):
        get_scenarios("sqmea-15uv")
    with pytest.raises(ValueError, match="size"):
        get_scenarios("sqmea", size="huge")


def test_localization_benchmark_recording_reuses_its_file_and_relaxes_the_selection_in_order(tmp_path, monkeypatch):
    import si_amortized.datasets as datasets
    from si_amortized.evaluation.localization_recordings import SELECTION_FALLBACKS, localization_benchmark_recording

    tried = []

    def selection(probe, *, n_exc, n_inh, min_dist, min_amp, output, **kwargs):
        tried.append((min_dist, min_amp, n_exc, n_inh))
        if len(tried) < 3:
            raise RuntimeError("Templates could not be selected\nmore")
        output.write_bytes(b"simulated")
        return output

    monkeypatch.setattr(datasets, "simulate_recording", selection)
    path = localization_benchmark_recording("SqMEA-10-15", 10.0, 50, 60.0, 21, tmp_path)
    assert path.name == "SqMEA-10-15_50cells_60s_10uV_seed21.h5" and path.read_bytes() == b"simulated"
    assert [t[:2] for t in tried] == list(SELECTION_FALLBACKS[:3]) and tried[0][2:] == (40, 10)
    assert localization_benchmark_recording("SqMEA-10-15", 10.0, 50, 60.0, 21, tmp_path) == path
    assert len(tried) == 3  # the second call found the file
    tried.clear()
    monkeypatch.setattr(datasets, "simulate_recording", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no")))
    with pytest.raises(RuntimeError, match="could not place 50 cells"):
        localization_benchmark_recording("SqMEA-10-15", 10.0, 50, 60.0, 22, tmp_path)
