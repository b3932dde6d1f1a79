import numpy as np
import pytest

from si_amortized.rollae.symmetry import axion_323_positions, grid_positions
from si_amortized.rollae.synthetic import SyntheticParams, make_synthetic_dataset, simulate_wells


def test_sporadic_rate_matches_beta_s():
    x = simulate_wells(SyntheticParams(beta_s=0.07, beta_b=0.0, beta_c=False, beta_n=False), 200, 300, seed=0)
    assert x.shape == (200, 8, 300) and x.dtype == np.uint8
    assert x.mean() == pytest.approx(0.07, abs=0.003)


def test_burst_rate_matches_its_formula():
    p, gamma = 0.02, 0.9
    x = simulate_wells(SyntheticParams(beta_s=0.0, beta_b=p, beta_c=False, beta_n=False), 300, 300, seed=1)
    # an interior bin is covered unless no burst started 0-2 bins before, nor a >=4-bin one 3 bins
    # before, nor a 5-bin one 4 bins before
    covered = 1 - (1 - p) ** 3 * (1 - 2 * p / 3) * (1 - p / 3)
    assert x[:, :, 10:].mean() == pytest.approx(gamma * covered, rel=0.04)
    # bursts are runs: P(spike | previous bin spiked) is far above the marginal rate
    prev, cur = x[:, :, :-1].astype(bool), x[:, :, 1:].astype(bool)
    assert cur[prev].mean() > 5 * x.mean()


def test_cycles_are_periodic_bursts():
    x = simulate_wells(SyntheticParams(beta_s=0.0, beta_b=0.0, beta_c=True, beta_n=False), 20, 300, seed=2)
    t = np.arange(300)
    for well in x:
        for train in well:
            spikes = np.flatnonzero(train)
            assert spikes.size > 0
            ok = [
                np.all(((spikes - ph) % q < 5) & (spikes >= ph))
                for q in range(15, 20)
                for ph in range(0, 15)
            ]
            assert any(ok)
    assert t.size == 300


def test_network_bursts_decay_with_distance_and_are_exact_without_decay():
    pos = axion_323_positions()
    same = simulate_wells(SyntheticParams(beta_s=0, beta_b=0, beta_c=False, beta_n=True, gamma_b=1.0, delta=1.0), 10, 200, seed=3)
    assert same.sum() > 0
    assert np.all(same == same[:, :1])  # every electrode fires in every network burst
    x = simulate_wells(SyntheticParams(beta_s=0, beta_b=0, beta_c=False, beta_n=True, delta=0.3), 400, 300, positions=pos, seed=4).astype(float)
    flat = x.transpose(1, 0, 2).reshape(8, -1)
    corr = np.corrcoef(flat)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    near = corr[(d > 0) & (d < 1.2)].mean()
    far = corr[d > 2.0].mean()
    assert near > far + 0.1


def test_dataset_labels_and_any_layout():
    X, labels = make_synthetic_dataset(n_per_class=3, n_bins=50, positions=grid_positions(2, 2), seed=0)
    assert X.shape == (48, 4, 50)
    assert sorted(labels.label.unique()) == list(range(16))
    assert set(labels.columns) >= {"beta_s", "beta_b", "beta_c", "beta_n", "spike", "burst", "cycle", "network"}
    rates = [X[labels.beta_s == b].mean() for b in (0.02, 0.1)]
    assert rates[1] > rates[0]
    X2, _ = make_synthetic_dataset(n_per_class=3, n_bins=50, positions=grid_positions(2, 2), seed=0)
    np.testing.assert_array_equal(X, X2)
    with pytest.raises(ValueError):
        simulate_wells(SyntheticParams(beta_s=0.1, beta_b=0, beta_c=False, beta_n=False), 2, 0)
