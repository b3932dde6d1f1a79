"""Peer sorters of the sorter comparison: absent ones are reported with the reason, not dropped."""


def test_absent_peers_are_reported_not_dropped():
    from si_amortized.evaluation import installed_peers, sorter_cases

    installed, absent = installed_peers(["tridesclous2", "no_such_sorter"])
    assert installed == ["tridesclous2"]
    assert "unknown" in absent["no_such_sorter"]
    cases = sorter_cases("gt", localization_methods=("center_of_mass",), internal_sorter=None,
                         peers=["tridesclous2", "no_such_sorter"])
    assert set(cases) == {"location_sorter[center_of_mass]", "tridesclous2"}
