"""The paper's synthetic well generator (Appendix B), for any electrode layout.

Four binary source recordings are drawn and OR-ed: sporadic spikes (probability ``beta_s`` per bin),
sporadic single-electrode bursts (start probability ``beta_b``), cyclic bursts (period 15-19 bins, phase
0-14, when ``beta_c``), and network bursts (start probability ``gamma_n / E`` per electrode and bin, firing
probability ``gamma_b * delta ** distance`` on the other electrodes, when ``beta_n``). Burst durations are
uniform on {3, 4, 5} bins, truncated at the end of the recording; inside a burst every bin fires with
probability ``gamma_b``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .symmetry import axion_323_positions, check_positions

__all__ = ["SyntheticParams", "simulate_wells", "make_synthetic_dataset", "PAPER_LEVELS"]

#: the two levels of each factor used for the paper's 16 classes
PAPER_LEVELS = {
    "beta_s": (0.02, 0.1),
    "beta_b": (0.005, 0.025),
    "beta_c": (0, 1),
    "beta_n": (0, 1),
}


@dataclass(frozen=True, kw_only=True)
class SyntheticParams:
    """Parameters of Algorithm B.1.

    Parameters
    ----------
    beta_s : float
        Probability of a sporadic spike per electrode and bin.
    beta_b : float
        Probability that a sporadic single-electrode burst starts per electrode and bin.
    beta_c : bool
        Cyclic bursts present.
    beta_n : bool
        Network bursts present.
    gamma_b : float, default: 0.9
        Firing probability per bin inside a burst.
    gamma_n : float, default: 0.035
        Probability that a network burst starts at a given bin (shared across electrodes).
    delta : float, default: 0.8
        Network decay per unit of distance.
    burst_durations : tuple of int, default: (3, 4, 5)
    cycle_periods : tuple of int, default: (15, 16, 17, 18, 19)
    cycle_phases : tuple of int, default: (0, ..., 14)
    """

    beta_s: float
    beta_b: float
    beta_c: bool
    beta_n: bool
    gamma_b: float = 0.9
    gamma_n: float = 0.035
    delta: float = 0.8
    burst_durations: tuple[int, ...] = (3, 4, 5)
    cycle_periods: tuple[int, ...] = tuple(range(15, 20))
    cycle_phases: tuple[int, ...] = tuple(range(0, 15))


def _burst_cover(starts: np.ndarray, durations: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Bins covered by bursts starting at ``starts`` (bool, (..., D)), durations drawn per start, truncated at D."""
    d = starts.shape[-1]
    dur = rng.choice(np.asarray(durations), size=starts.shape)
    cover = np.zeros_like(starts, dtype=bool)
    for k in range(int(max(durations))):
        hit = starts & (dur > k)
        if k == 0:
            cover |= hit
        elif k < d:
            cover[..., k:] |= hit[..., : d - k]
    return cover


def simulate_wells(
    params: SyntheticParams,
    n_wells: int,
    n_bins: int = 300,
    positions=None,
    distance_unit: float | None = None,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Simulate wells with Algorithm B.1.

    Parameters
    ----------
    params : SyntheticParams
    n_wells : int
    n_bins : int, default: 300
    positions : array-like, shape (num_electrodes, ndim) | None
        Electrode layout; ``None``: the 8-electrode 3-2-3 well.
    distance_unit : float | None
        Distance counted as one unit in ``delta ** distance``; ``None``: the distance between
        electrodes 0 and 1 (the paper's convention).
    seed : int | np.random.Generator | None, default: 0

    Returns
    -------
    np.ndarray, shape (n_wells, num_electrodes, n_bins), uint8
        Binary spike indicators.
    """
    pos = check_positions(axion_323_positions() if positions is None else positions)
    if n_wells < 0 or n_bins < 1:
        raise ValueError("n_wells must be >= 0 and n_bins >= 1")
    rng = np.random.default_rng(seed)
    e = pos.shape[0]
    shape = (n_wells, e, n_bins)
    p = params
    z = rng.random(shape) < p.beta_s
    # sporadic single-electrode bursts
    cover = _burst_cover(rng.random(shape) < p.beta_b, p.burst_durations, rng)
    z |= cover & (rng.random(shape) < p.gamma_b)
    # cyclic bursts
    if p.beta_c:
        period = rng.choice(np.asarray(p.cycle_periods), size=(n_wells, e, 1))
        phase = rng.choice(np.asarray(p.cycle_phases), size=(n_wells, e, 1))
        t = np.arange(n_bins)[None, None, :]
        starts = ((t - phase) % period == 0) & (t >= phase)
        cover = _burst_cover(starts, p.burst_durations, rng)
        z |= cover & (rng.random(shape) < p.gamma_b)
    # network bursts
    if p.beta_n and e > 0:
        dist = np.linalg.norm(pos[:, None] - pos[None, :], axis=-1)
        unit = float(dist[0, 1]) if distance_unit is None and e > 1 else float(distance_unit or 1.0)
        prob = p.gamma_b * p.delta ** (dist / unit)  # (origin, target)
        starts = rng.random(shape) < p.gamma_n / e
        cover = _burst_cover(starts, p.burst_durations, rng)  # (N, origin, D)
        for origin in range(e):
            fire = cover[:, origin][:, None, :] & (rng.random(shape) < prob[origin][None, :, None])
            z |= fire
    return z.astype(np.uint8)


def make_synthetic_dataset(
    n_per_class: int = 500,
    n_bins: int = 300,
    positions=None,
    levels: dict | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The paper's 16-class task: every combination of two levels of the four factors.

    Parameters
    ----------
    n_per_class : int, default: 500
    n_bins : int, default: 300
    positions : array-like | None
        Layout (default: 3-2-3 well).
    levels : dict | None
        ``{"beta_s": (lo, hi), "beta_b": ..., "beta_c": (0, 1), "beta_n": (0, 1)}``; default :data:`PAPER_LEVELS`.
    seed : int, default: 0

    Returns
    -------
    X : np.ndarray, shape (16 * n_per_class, num_electrodes, n_bins), float32
    labels : pandas.DataFrame
        Columns ``beta_s, beta_b, beta_c, beta_n`` (the level values), ``spike, burst, cycle, network``
        (0/1 level indices) and ``label`` (0..15).
    """
    levels = dict(PAPER_LEVELS if levels is None else levels)
    rng = np.random.default_rng(seed)
    xs, rows = [], []
    for label, (i_s, i_b, i_c, i_n) in enumerate(itertools.product(range(2), repeat=4)):
        params = SyntheticParams(
            beta_s=levels["beta_s"][i_s],
            beta_b=levels["beta_b"][i_b],
            beta_c=bool(levels["beta_c"][i_c]),
            beta_n=bool(levels["beta_n"][i_n]),
        )
        xs.append(simulate_wells(params, n_per_class, n_bins=n_bins, positions=positions, seed=rng))
        rows += [
            dict(
                beta_s=params.beta_s, beta_b=params.beta_b, beta_c=int(params.beta_c), beta_n=int(params.beta_n),
                spike=i_s, burst=i_b, cycle=i_c, network=i_n, label=label,
            )
        ] * n_per_class
    return np.concatenate(xs).astype(np.float32), pd.DataFrame(rows)
