import numpy as np
import pandas as pd
import pytest

from si_amortized.evaluation.seed_summary import paired_over_seeds


def seeds_table():
    rows = []
    for seed, (ref, better, mixed) in enumerate([(1.0, 0.7, 1.3), (2.0, 1.6, 1.5), (1.5, 1.2, 1.9), (1.2, 0.9, 1.0)]):
        rows += [dict(scenario="zigzag", method="ref", seed=seed, rms_um=ref),
                 dict(scenario="zigzag", method="better", seed=seed, rms_um=better),
                 dict(scenario="zigzag", method="mixed", seed=seed, rms_um=mixed)]
    rows.append(dict(scenario="zigzag", method="mixed", seed=9, rms_um=50.0))  # no reference on seed 9: unpaired
    rows += [dict(scenario="bumps", method="ref", seed=0, rms_um=1.0),
             dict(scenario="bumps", method="better", seed=0, rms_um=0.5)]
    return pd.DataFrame(rows)


def test_paired_differences_over_seeds_against_a_naive_computation():
    out = paired_over_seeds(seeds_table(), reference="ref").set_index(["scenario", "method"])
    better = out.loc[("zigzag", "better")]
    # every seed 0.3-0.4 below the reference: the mean difference, an interval below 0, 4 of 4 at or below
    assert better["difference"] == pytest.approx(np.mean([-0.3, -0.4, -0.3, -0.3]))
    assert better["low"] <= better["difference"] <= better["high"] < 0
    assert better["at_or_below"] == 4 and better["num_seeds"] == 4
    mixed = out.loc[("zigzag", "mixed")]
    # the unpaired seed 9 is left out of the mean and of the pairs
    assert mixed["num_seeds"] == 4 and mixed["mean"] == pytest.approx(np.mean([1.3, 1.5, 1.9, 1.0]))
    assert mixed["low"] < 0 < mixed["high"] and mixed["at_or_below"] == 2
    assert np.isnan(out.loc[("zigzag", "ref"), "difference"]) and out.loc[("zigzag", "ref"), "at_or_below"] == 4
    assert out.loc[("bumps", "better"), "difference"] == pytest.approx(-0.5)
    # the same inputs give the same intervals
    pd.testing.assert_frame_equal(paired_over_seeds(seeds_table(), reference="ref"),
                                  paired_over_seeds(seeds_table(), reference="ref"))


def test_paired_over_seeds_refuses_a_seed_given_twice():
    table = pd.concat([seeds_table(), seeds_table().iloc[:1]])
    with pytest.raises(ValueError, match="must appear once"):
        paired_over_seeds(table, reference="ref")
