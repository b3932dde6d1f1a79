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
