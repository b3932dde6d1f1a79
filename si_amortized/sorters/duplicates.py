"""Merge units that are one cell found twice: the same template, and spike trains that never coincide.

Clustering on locations and amplitudes can cut one large cell in two (its spikes drift between two peak
channels, or its amplitude varies); matching then gives each half a template, and the two templates are
the same waveform. Two units are merged when their multichannel templates have a cosine of at least
``min_cosine`` and their spike trains respect a shared refractory period: two halves of one cell (almost)
never fire within ``refractory_ms`` of each other, two independent cells do so
``2 * n_a * n_b * window / duration`` times by chance (the test of :mod:`.splitting`, used the other way).

A smaller unit beside a larger one is also judged at a lower cosine (``fragment_cosine``, when it has at
most ``fragment_ratio`` times the larger unit's spikes), under a stricter refractory test
(``fragment_max_ratio``): MEArec's bursting cells, whose spikes within a burst are smaller and wider, leave
clusters of a few dozen burst spikes whose template is a distorted copy of the cell's (cosine 0.8-0.95) and
that matching then keeps as units of their own; at high noise a small cell's cluster is cut in two where
the split's refractory test has too few spikes to object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .splitting import check_refractory, cross_coincidences, expected_coincidences, refractory_samples

__all__ = ["AbsorbConfig", "DuplicateConfig", "absorbed_units", "duplicate_groups", "lagged_cosines", "template_cosines"]


@dataclass(frozen=True, kw_only=True)
class DuplicateConfig:
    """Settings of :func:`duplicate_groups` (the location sorter's defaults; it sets ``min_cosine`` from
    ``matching_kwargs["duplicate_cosine"]`` and the fragment fields from the ``matching_kwargs`` of the same
    names).

    Parameters
    ----------
    min_cosine : float, default: 0.97
        Units whose dense templates (all channels and samples, flattened) have at least this cosine are
        candidates. 1 or more: never merge.
    refractory_ms : float, default: 2.0
        Spike pairs of the two units closer than this are coincidences one cell cannot produce.
    dead_ms : float, default: 0.5
        Closer pairs are not counted (one event matched by both templates, a few samples apart).
    max_ratio : float, default: 0.5
        Merged only when the observed coincidences are at most this fraction of what two independent cells
        would give, with the expectation taken as at least ``min_expected``.
    min_expected : float, default: 4.0
        Floor of the expectation in that test: with fewer expected coincidences the refractory period cannot
        tell one cell from two, and identical templates decide (at most ``max_ratio * min_expected``
        coincidences, 2 by default, are tolerated).
    fragment_cosine : float, default: 0.8
        Lower cosine at which a pair is a candidate when its smaller unit has at most ``fragment_ratio`` times
        the spikes of the larger one. 1 or more: no fragment rule.
    fragment_ratio : float, default: 0.5
        Spike-count ratio (small / large) up to which ``fragment_cosine`` applies.
    fragment_max_ratio : float, default: 0.25
        A fragment pair (judged below ``min_cosine``) merges only with at most this fraction of the chance
        coincidences, and never more than the ``max_ratio * min_expected`` tolerated for any pair: a stricter
        test where the template is less alike.
    """

    min_cosine: float = 0.97
    refractory_ms: float = 2.0
    dead_ms: float = 0.5
    max_ratio: float = 0.5
    min_expected: float = 4.0
    fragment_cosine: float = 0.8
    fragment_ratio: float = 0.5
    fragment_max_ratio: float = 0.25

    @property
    def candidate_cosine(self) -> float:
        """Lowest template cosine at which a pair is judged at all (duplicate or fragment)."""
        return min(self.min_cosine, self.fragment_cosine)

    @property
    def merges(self) -> bool:
        """False when no pair can be a candidate (both cosine thresholds at 1 or more): merging is off."""
        return self.candidate_cosine < 1

    def __post_init__(self):
        check_refractory(self.dead_ms, self.refractory_ms)
        if self.max_ratio < 0 or self.min_expected <= 0:
            raise ValueError("max_ratio must be >= 0 and min_expected > 0")
        if self.fragment_cosine <= 0 or not 0.0 <= self.fragment_ratio < 1.0 or self.fragment_max_ratio < 0:
            raise ValueError("fragment_cosine must be > 0, fragment_ratio in [0, 1) and fragment_max_ratio >= 0")


def template_cosines(templates: np.ndarray) -> np.ndarray:
    """Cosine between every pair of flattened templates.

    Parameters
    ----------
    templates : np.ndarray, shape (num_units, num_samples, num_channels)
        Dense templates (zeros off a unit's sparse channels).

    Returns
    -------
    np.ndarray, shape (num_units, num_units)
        Symmetric; 0 for a template that is all zeros.
    """
    flat = np.asarray(templates, dtype="float64").reshape(len(templates), -1)
    norms = np.linalg.norm(flat, axis=1)
    unit = flat / np.where(norms > 0, norms, 1.0)[:, None]
    return unit @ unit.T


def _count(trains_a: list[np.ndarray], trains_b: list[np.ndarray], dead: int, window: int) -> int:
    return sum(cross_coincidences(a, b, dead, window) for a, b in zip(trains_a, trains_b))


def duplicate_groups(
    templates: np.ndarray,
    spike_trains: list[list[np.ndarray]],
    config: DuplicateConfig,
    sampling_frequency: float,
    total_samples: int,
) -> tuple[np.ndarray, list[dict]]:
    """Group units that are one cell found twice.

    Candidate pairs (cosine >= ``min_cosine``, or >= ``fragment_cosine`` with a spike-count ratio of at most
    ``fragment_ratio`` between the two groups when judged) are taken in decreasing order of template cosine;
    each pair whose groups pass the refractory test (computed on the groups' merged trains) joins the two
    groups.

    Parameters
    ----------
    templates : np.ndarray, shape (num_units, num_samples, num_channels)
    spike_trains : list (per unit) of list (per segment) of np.ndarray
        Sorted spike times in samples.
    config : DuplicateConfig
    sampling_frequency : float
    total_samples : int
        Samples over all segments (the duration of the expectation).

    Returns
    -------
    group : np.ndarray, shape (num_units,)
        Index of the unit each unit is merged into (the group's first unit; itself when not merged).
    decisions : list of dict
        Every candidate pair judged: units (indices), cosine, observed and expected coincidences, the
        spike-count ratio (smaller / larger group), whether it was judged as a fragment (below
        ``min_cosine``), merged.
    """
    num_units = len(templates)
    group = np.arange(num_units)
    decisions: list[dict] = []
    if num_units < 2 or not config.merges:
        return group, decisions
    cos = template_cosines(templates)
    rows, cols = np.triu_indices(num_units, 1)
    candidates = cos[rows, cols] >= config.candidate_cosine
    order = np.argsort(-cos[rows, cols][candidates], kind="stable")
    dead, window = refractory_samples(config.dead_ms, config.refractory_ms, sampling_frequency)
    floor = config.max_ratio * config.min_expected  # coincidences tolerated when chance gives too few to judge
    trains = {u: [np.asarray(t, dtype=np.int64) for t in spike_trains[u]] for u in range(num_units)}

    def root(u):
        while group[u] != u:
            u = group[u]
        return u

    for i, j in zip(rows[candidates][order], cols[candidates][order]):
        a, b = root(i), root(j)
        if a == b:
            continue
        n_a = sum(t.size for t in trains[a])
        n_b = sum(t.size for t in trains[b])
        ratio = min(n_a, n_b) / max(n_a, n_b, 1)
        fragment = cos[i, j] < config.min_cosine
        if fragment and ratio > config.fragment_ratio:
            continue
        observed = _count(trains[a], trains[b], dead, window)
        expected = expected_coincidences(n_a, n_b, dead, window, total_samples)
        bound = config.fragment_max_ratio if fragment else config.max_ratio
        merged = observed <= max(bound * expected, floor)
        decisions.append(dict(units=(int(i), int(j)), cosine=float(cos[i, j]), observed=int(observed),
                              expected=float(expected), ratio=float(ratio), fragment=bool(fragment),
                              merged=bool(merged)))
        if merged:
            keep, gone = min(a, b), max(a, b)
            group[gone] = keep
            trains[keep] = [np.sort(np.concatenate([x, y])) for x, y in zip(trains[keep], trains[gone])]
    return np.array([root(u) for u in range(num_units)]), decisions


@dataclass(frozen=True, kw_only=True)
class AbsorbConfig:
    """Settings of :func:`absorbed_units` (the location sorter's ``matching_kwargs`` of the same names).

    Parameters
    ----------
    fraction : float, default: 0.5
        A unit to which matching gave fewer spikes than this fraction of its cluster's peaks is a candidate: the
        other templates explained most of its cluster. 0 turns absorption off.
    cosine : float, default: 0.7
        It is absorbed by the unit with at least twice its spikes (``DuplicateConfig.fragment_ratio``) whose
        template, shifted by up to ``max_lag_ms``, has the highest cosine with its own, when that cosine
        reaches this value.
    max_lag_ms : float, default: 0.3
        Largest shift between the two templates (a cluster's peaks found on another sample of the same spike
        give a template aligned that much later or earlier).
    """

    fraction: float = 0.5
    cosine: float = 0.7
    max_lag_ms: float = 0.3

    def __post_init__(self):
        if self.fraction < 0 or not 0 < self.cosine <= 1 or self.max_lag_ms < 0:
            raise ValueError("absorb fraction must be >= 0, cosine in (0, 1] and max_lag_ms >= 0; got "
                             f"{self.fraction!r}, {self.cosine!r}, {self.max_lag_ms!r}")


def lagged_cosines(template: np.ndarray, others: np.ndarray, max_lag: int) -> np.ndarray:
    """Cosine between a template and each other template delayed by every lag up to ``max_lag`` samples.

    Parameters
    ----------
    template : np.ndarray, shape (num_samples, num_channels)
    others : np.ndarray, shape (num_others, num_samples, num_channels)
    max_lag : int

    Returns
    -------
    np.ndarray, shape (num_others, 2 * max_lag + 1)
        Column ``max_lag + k`` is ``sum_t template[t] . other[t - k] / (|template| |other|)`` (samples outside
        the window count as zero): at its largest for ``k`` when ``template`` is ``other`` delayed by ``k``.
    """
    template = np.asarray(template, dtype="float64")
    others = np.asarray(others, dtype="float64")
    ns = template.shape[0]
    norms = np.linalg.norm(others.reshape(len(others), -1), axis=1) * np.linalg.norm(template)
    out = np.zeros((len(others), 2 * max_lag + 1))
    for c, k in enumerate(range(-max_lag, max_lag + 1)):
        if abs(k) >= ns:
            continue
        if k >= 0:
            out[:, c] = np.einsum("tc,otc->o", template[k:], others[:, : ns - k])
        else:
            out[:, c] = np.einsum("tc,otc->o", template[: ns + k], others[:, -k:])
    return out / np.where(norms > 0, norms, np.inf)[:, None]


def absorbed_units(
    templates: np.ndarray,
    spike_trains: list[list[np.ndarray]],
    fractions: np.ndarray,
    config: AbsorbConfig,
    refractory: DuplicateConfig,
    sampling_frequency: float,
    total_samples: int,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Units that matching emptied, and the unit that holds the rest of their cell.

    A unit whose matched spikes are a small part of its cluster's peaks (``fraction`` below
    ``config.fraction``) had a template the other templates explain better: typically a cell's peaks found on
    another sample (its template a copy of the cell's, shifted) or its spikes where another cell's overlap.
    Each such unit, in increasing order of fraction, is judged against the units that are not candidates
    themselves and have at least ``1 / refractory.fragment_ratio`` times its spikes (a fragment is small beside
    its cell): the one whose template, delayed by at most ``config.max_lag_ms``, is most alike
    absorbs it when that cosine reaches ``config.cosine`` and the two trains, the candidate's moved by the
    lag, pass the fragment refractory test of :func:`duplicate_groups` (``refractory.fragment_max_ratio`` of
    the chance coincidences, at least ``refractory.max_ratio * refractory.min_expected``).

    Parameters
    ----------
    templates : np.ndarray, shape (num_units, num_samples, num_channels)
    spike_trains : list (per unit) of list (per segment) of np.ndarray
        Sorted spike times in samples.
    fractions : np.ndarray, shape (num_units,)
        Matched spikes over cluster peaks (:func:`si_amortized.sorters.matching.matched_fractions`).
    config : AbsorbConfig
    refractory : DuplicateConfig
        Its refractory window and ratios judge the pairs.
    sampling_frequency : float
    total_samples : int

    Returns
    -------
    target : np.ndarray, shape (num_units,)
        Index of the absorbing unit, -1 where none.
    lag : np.ndarray, shape (num_units,)
        Samples to add to an absorbed unit's spike times to put them on the absorbing unit's time reference.
    decisions : list of dict
        Every candidate judged: units (candidate, best match or None), fraction, cosine, lag, observed and
        expected coincidences, absorbed.
    """
    num_units = len(templates)
    fractions = np.asarray(fractions, dtype="float64")
    target = np.full(num_units, -1, dtype=np.int64)
    lag = np.zeros(num_units, dtype=np.int64)
    decisions: list[dict] = []
    if num_units < 2 or config.fraction <= 0:
        return target, lag, decisions
    counts = np.array([sum(t.size for t in unit) for unit in spike_trains])
    candidates = np.flatnonzero(fractions < config.fraction)
    keepers = np.flatnonzero(fractions >= config.fraction)
    max_lag = int(round(config.max_lag_ms * sampling_frequency / 1000.0))
    dead, window = refractory_samples(refractory.dead_ms, refractory.refractory_ms, sampling_frequency)
    floor = refractory.max_ratio * refractory.min_expected
    trains = {u: [np.asarray(t, dtype=np.int64) for t in spike_trains[u]] for u in keepers}
    for u in candidates[np.argsort(fractions[candidates], kind="stable")]:
        larger = keepers[counts[u] <= refractory.fragment_ratio * counts[keepers]]
        decision = dict(units=(int(u), None), fraction=float(fractions[u]), cosine=None, lag=0, observed=None,
                        expected=None, absorbed=False)
        decisions.append(decision)
        if larger.size == 0:
            continue
        cos = lagged_cosines(templates[u], templates[larger], max_lag)
        best, column = np.unravel_index(np.argmax(cos), cos.shape)
        v, k = int(larger[best]), int(column) - max_lag
        moved = [np.sort(t + k) for t in spike_trains[u]]
        observed = _count(moved, trains[v], dead, window)
        expected = expected_coincidences(counts[u], sum(t.size for t in trains[v]), dead, window, total_samples)
        absorbed = bool(cos[best, column] >= config.cosine
                        and observed <= max(refractory.fragment_max_ratio * expected, floor))
        decision.update(units=(int(u), v), cosine=float(cos[best, column]), lag=k, observed=int(observed),
                        expected=float(expected), absorbed=absorbed)
        if absorbed:
            target[u], lag[u] = v, k
            trains[v] = [np.sort(np.concatenate([a, b])) for a, b in zip(trains[v], moved)]
    return target, lag, decisions
