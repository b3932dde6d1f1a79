"""Cell-type-specific spike trains for simulated NEMO training and benchmarks (pure numpy).

Each of MEArec's 13 BBP layer-5 m-types gets a firing profile: a log-normal distribution of mean rates, a
gamma renewal process (shape > 1 = more regular than Poisson), a refractory period, bursts (probability that
a spike starts a burst, extra spikes per burst, intra-burst interval) and a slow log-normal modulation of the
rate (Ornstein-Uhlenbeck, so the rate deciles of the 3D ACG differ). Every parameter is drawn per unit
around its type's values, so that the statistics of different types overlap: rates alone do not separate
excitatory from inhibitory cells. The values are loose caricatures of the literature (thick-tufted L5
pyramids burst, basket and chandelier cells fire fast and regularly, Martinotti cells burst at low
threshold, neurogliaform cells fire late and regularly), not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .templates import cell_type_from_mtype

__all__ = [
    "FiringProfile",
    "FIRING_PROFILES",
    "MTYPES",
    "simulate_spike_trains",
    "mearec_default_spike_trains",
    "draw_mtypes",
]


@dataclass(frozen=True, kw_only=True)
class FiringProfile:
    """Firing statistics of one m-type (per-unit values are drawn around these).

    Parameters
    ----------
    rate_hz : float
        Median of the log-normal mean rate (log-sd ``rate_log_sd``).
    gamma_shape : float
        Shape of the renewal process (1 = Poisson).
    refractory_ms : float
    burst_prob : float
        Probability that a spike starts a burst.
    burst_extra : float
        Mean number of extra spikes per burst (Poisson, at least 1).
    burst_isi_ms : float
        Mean interval inside bursts.
    modulation : float
        Log-sd of the slow rate modulation (time constant ``modulation_tau_s``).
    """

    rate_hz: float
    rate_log_sd: float = 0.5
    gamma_shape: float = 1.0
    refractory_ms: float = 2.0
    burst_prob: float = 0.0
    burst_extra: float = 1.5
    burst_isi_ms: float = 5.0
    modulation: float = 0.4
    modulation_tau_s: float = 1.0


FIRING_PROFILES: dict[str, FiringProfile] = {
    # excitatory pyramidal cells
    "L5_TTPC1": FiringProfile(rate_hz=5.0, gamma_shape=1.0, refractory_ms=2.5, burst_prob=0.35, burst_extra=2.0, burst_isi_ms=4.0),
    "L5_TTPC2": FiringProfile(rate_hz=6.0, gamma_shape=1.2, refractory_ms=2.5, burst_prob=0.25, burst_extra=1.5, burst_isi_ms=5.0),
    "L5_STPC": FiringProfile(rate_hz=4.0, gamma_shape=1.5, refractory_ms=3.0, burst_prob=0.08, burst_extra=1.0, burst_isi_ms=6.0),
    "L5_UTPC": FiringProfile(rate_hz=3.0, gamma_shape=2.0, refractory_ms=3.0, burst_prob=0.05, burst_extra=1.0, burst_isi_ms=7.0),
    # inhibitory interneurons
    "L5_LBC": FiringProfile(rate_hz=14.0, gamma_shape=3.0, refractory_ms=1.2, modulation=0.5),
    "L5_NBC": FiringProfile(rate_hz=12.0, gamma_shape=2.5, refractory_ms=1.3, modulation=0.5),
    "L5_SBC": FiringProfile(rate_hz=10.0, gamma_shape=2.0, refractory_ms=1.5, modulation=0.3),
    "L5_ChC": FiringProfile(rate_hz=9.0, gamma_shape=4.0, refractory_ms=1.2, modulation=0.6),
    "L5_MC": FiringProfile(rate_hz=7.0, gamma_shape=1.5, refractory_ms=2.0, burst_prob=0.2, burst_extra=1.5, burst_isi_ms=8.0),
    "L5_BTC": FiringProfile(rate_hz=6.0, gamma_shape=1.0, refractory_ms=2.0, burst_prob=0.1, burst_extra=1.0, burst_isi_ms=6.0),
    "L5_DBC": FiringProfile(rate_hz=8.0, gamma_shape=1.2, refractory_ms=1.8, modulation=0.7),
    "L5_BP": FiringProfile(rate_hz=5.0, gamma_shape=0.8, refractory_ms=2.0, modulation=0.6),
    "L5_NGC": FiringProfile(rate_hz=4.0, gamma_shape=3.0, refractory_ms=2.5, modulation=0.2),
}
MTYPES: tuple[str, ...] = tuple(FIRING_PROFILES)


def draw_mtypes(num_units: int, seed: int = 0, mtypes=MTYPES) -> list[str]:
    """``num_units`` m-types, as balanced as possible over ``mtypes``, in random order."""
    rng = np.random.default_rng(seed)
    reps = int(np.ceil(num_units / len(mtypes)))
    out = np.tile(np.asarray(mtypes), reps)[:num_units]
    return list(rng.permutation(out))


def _ou(num_steps: int, dt: float, tau: float, rng) -> np.ndarray:
    a = np.exp(-dt / tau)
    noise = rng.standard_normal(num_steps) * np.sqrt(1 - a * a)
    x = np.empty(num_steps)
    x[0] = rng.standard_normal()
    # AR(1) recursion via a short loop over blocks would be faster; scipy's lfilter does it in C
    from scipy.signal import lfilter

    x[1:] = lfilter([1.0], [1.0, -a], noise[1:], zi=[a * x[0]])[0]
    return x


def _one_train(profile: FiringProfile, duration: float, rng, jitter: float) -> np.ndarray:
    def vary(value, rel):
        return value * np.exp(rel * jitter * rng.standard_normal())

    rate = profile.rate_hz * np.exp(profile.rate_log_sd * rng.standard_normal())
    shape = max(0.5, vary(profile.gamma_shape, 0.3))
    refractory = vary(profile.refractory_ms, 0.2) / 1000.0
    burst_prob = float(np.clip(vary(profile.burst_prob, 0.4), 0.0, 0.9)) if profile.burst_prob > 0 else 0.0
    burst_extra = vary(profile.burst_extra, 0.3)
    burst_isi = vary(profile.burst_isi_ms, 0.3) / 1000.0
    mod_sd = max(0.0, vary(profile.modulation, 0.3))
    base_rate = rate / (1.0 + burst_prob * max(1.0, burst_extra))
    dt = 0.001
    n_grid = int(np.ceil(duration / dt)) + 1
    lam = base_rate * np.exp(mod_sd * _ou(n_grid, dt, profile.modulation_tau_s, rng) - 0.5 * mod_sd**2)
    cum = np.concatenate([[0.0], np.cumsum(lam[:-1] * dt)])
    total = cum[-1]
    n_draw = int(total * 1.3 + 10 * np.sqrt(total + 1) + 10)
    op = np.cumsum(rng.gamma(shape, 1.0 / shape, n_draw))
    op = op[op < total]
    times = np.interp(op, cum, np.arange(n_grid) * dt)
    if burst_prob > 0 and times.size:
        starts = times[rng.random(times.size) < burst_prob]
        n_extra = np.maximum(1, rng.poisson(burst_extra, starts.size))
        owner = np.repeat(starts, n_extra)
        k = np.arange(n_extra.sum()) - np.repeat(np.cumsum(n_extra) - n_extra, n_extra)
        gaps = rng.gamma(4.0, burst_isi / 4.0, owner.size)
        # cumulative gaps within each burst
        csum = np.cumsum(gaps)
        first = np.repeat(np.cumsum(n_extra) - n_extra, n_extra)
        offsets = csum - np.where(first > 0, csum[np.maximum(first - 1, 0)], 0.0)
        del k
        times = np.concatenate([times, owner + offsets])
    times = np.sort(times[(times >= 0) & (times < duration)])
    # refractory period: drop spikes closer than `refractory` to the previous one (repeat until clean)
    for _ in range(20):
        bad = np.flatnonzero(np.diff(times) < refractory)
        if bad.size == 0:
            break
        times = np.delete(times, bad + 1)
    return times


def _profile_key(mtype, profiles) -> str:
    key = mtype if mtype in profiles else next((k for k in profiles if str(mtype).startswith(k)), None)
    if key is None:
        raise KeyError(f"no firing profile for m-type {mtype!r}")
    return key


def simulate_spike_trains(
    mtypes, duration: float, seed: int = 0, jitter: float = 1.0, profiles: dict | None = None
) -> list[np.ndarray]:
    """Spike times (s) of one unit per entry of ``mtypes``.

    Parameters
    ----------
    mtypes : sequence of str
        Keys of :data:`FIRING_PROFILES` (or of ``profiles``).
    duration : float
        Seconds.
    seed : int, default: 0
    jitter : float, default: 1.0
        Scales the per-unit spread of the profile parameters (0 = every unit of a type identical but the rate).
    profiles : dict | None, default: None
        Replacement profiles.

    Returns
    -------
    list of np.ndarray
        Sorted spike times in ``[0, duration)``.
    """
    profiles = FIRING_PROFILES if profiles is None else profiles
    rng = np.random.default_rng(seed)
    out = []
    for m in mtypes:
        out.append(_one_train(profiles[_profile_key(m, profiles)], duration, rng, jitter))
    return out


def mearec_default_spike_trains(
    mtypes,
    duration: float,
    seed: int = 0,
    *,
    f_exc: float = 5.0,
    f_inh: float = 15.0,
    st_exc: float = 1.0,
    st_inh: float = 3.0,
    min_rate: float = 0.1,
    refractory_ms: float = 2.0,
) -> list[np.ndarray]:
    """Spike times (s) as MEArec draws them by default: Poisson, the rate depending on the E/I type only.

    Each unit's rate is drawn from a normal distribution (mean ``f_exc`` / ``f_inh``, sd ``st_exc`` /
    ``st_inh``, at least ``min_rate``), MEArec's defaults; spikes closer than the refractory period to the
    previous kept spike are dropped. Within E or I, m-types fire alike: only waveforms tell them apart.

    Parameters
    ----------
    mtypes : sequence of str
        M-types (keys of :data:`FIRING_PROFILES` or full BBP names starting with one).
    duration : float
        Seconds.
    seed : int, default: 0

    Returns
    -------
    list of np.ndarray
        Sorted spike times in ``[0, duration)``.
    """
    rng = np.random.default_rng(seed)
    refractory = refractory_ms / 1000.0
    out = []
    for m in mtypes:
        inhibitory = cell_type_from_mtype(_profile_key(m, FIRING_PROFILES)) == "I"
        rate = max(min_rate, rng.normal(f_inh, st_inh) if inhibitory else rng.normal(f_exc, st_exc))
        times = np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))
        keep = np.ones(times.size, dtype=bool)
        last = -np.inf
        for i, t in enumerate(times):  # sequential: a dropped spike does not block the next one
            if t - last < refractory:
                keep[i] = False
            else:
                last = t
        out.append(times[keep])
    return out
