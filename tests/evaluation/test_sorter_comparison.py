"""Peer sorters of the sorter comparison: absent ones are reported with the reason, not dropped."""


def test_absent_peers_are_reported_not_dropped():
    from si_amortized.evaluation import installed_peers, sorter_cases

    installed, absent = installed_peers(["tridesclous2", "no_such_sorter"])
    assert installed == ["tridesclous2"]
    assert "unknown" in absent["no_such_sorter"]
    cases = sorter_cases("gt", localization_methods=("center_of_mass",), internal_sorter=None,
                         peers=["tridesclous2", "no_such_sorter"])
    assert set(cases) == {"location_sorter[center_of_mass]", "tridesclous2"}


def test_herdingspikes_is_reported_with_why_it_cannot_run_on_this_spikeinterface():
    """herdingspikes 0.4 reads a channel property 'location' that SpikeInterface recordings no longer carry."""
    import spikeinterface

    from si_amortized.evaluation.sorter_comparison import _cannot_run

    why = _cannot_run("herdingspikes")
    assert why is not None and "'location'" in why and spikeinterface.__version__ in why
    assert _cannot_run("tridesclous2") is None
