"""Cell-type firing models: spike trains inside the duration, refractory, at their type's rate; balanced m-types."""

from collections import Counter

import numpy as np
import pytest

from si_amortized.datasets import FIRING_PROFILES, MTYPES, FiringProfile, draw_mtypes, simulate_spike_trains


def test_draw_mtypes_is_balanced_and_seeded():
    drawn = draw_mtypes(30, seed=3)
    counts = Counter(drawn)
    assert set(counts) <= set(MTYPES) and len(drawn) == 30
    assert max(counts.values()) - min(counts.values()) <= 1
    assert draw_mtypes(30, seed=3) == drawn


def test_spike_trains_respect_duration_refractory_and_rate():
    mtypes = list(MTYPES) * 4
    trains = simulate_spike_trains(mtypes, duration=20.0, seed=0)
    assert len(trains) == len(mtypes)
    for m, t in zip(mtypes, trains):
        assert np.all(np.diff(t) > 0) and (t.size == 0 or (t[0] >= 0 and t[-1] < 20.0))
        # refractory periods are drawn within a factor ~2 of the profile's value
        assert t.size < 2 or np.diff(t).min() >= 0.3 * FIRING_PROFILES[m].refractory_ms / 1000.0
    again = simulate_spike_trains(mtypes, duration=20.0, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(trains, again))
    # without per-unit jitter the median rate of a type follows its profile (log-normal rate spread 0.5)
    flat = {m: FiringProfile(rate_hz=FIRING_PROFILES[m].rate_hz, rate_log_sd=0.0) for m in ("L5_UTPC", "L5_LBC")}
    slow, fast = simulate_spike_trains(["L5_UTPC", "L5_LBC"], duration=60.0, seed=1, jitter=0.0, profiles=flat)
    assert slow.size / 60.0 == pytest.approx(3.0, rel=0.35) and fast.size / 60.0 == pytest.approx(14.0, rel=0.35)


def test_unknown_mtype_is_refused():
    with pytest.raises(KeyError, match="no firing profile"):
        simulate_spike_trains(["L23_PC"], duration=1.0)


def test_mearec_default_trains_fire_by_ei_only_and_respect_the_refractory_period():
    from si_amortized.datasets import cell_type_from_mtype
    from si_amortized.datasets.firing import mearec_default_spike_trains

    mtypes = list(MTYPES) * 6
    trains = mearec_default_spike_trains(mtypes, duration=60.0, seed=0)
    rates = np.array([t.size / 60.0 for t in trains])
    inhibitory = np.array([cell_type_from_mtype(m) == "I" for m in mtypes])
    # MEArec's defaults: N(5, 1) Hz for excitatory cells, N(15, 3) Hz for inhibitory ones (Poisson counts on top)
    assert rates[~inhibitory].mean() == pytest.approx(5.0, rel=0.15)
    assert rates[inhibitory].mean() == pytest.approx(15.0, rel=0.1)
    assert rates[inhibitory].std() == pytest.approx(3.0, rel=0.4)
    # two inhibitory m-types fire alike: no difference beyond sampling noise
    lbc = rates[np.array(mtypes) == "L5_LBC"]
    ngc = rates[np.array(mtypes) == "L5_NGC"]
    assert abs(lbc.mean() - ngc.mean()) < 3 * 3.0 / np.sqrt(6)
    for t in trains:
        assert np.all(np.diff(t) >= 0.002) and (t.size == 0 or (t[0] >= 0 and t[-1] < 60.0))
    again = mearec_default_spike_trains(mtypes, duration=60.0, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(trains, again))
    # a Poisson train: ISI coefficient of variation near 1 (refractory period aside)
    isi = np.diff(trains[int(np.flatnonzero(~inhibitory)[0])])
    assert np.std(isi) / np.mean(isi) == pytest.approx(1.0, abs=0.25)
