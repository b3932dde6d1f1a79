"""Benchmark figures over seeds: each method's mean and its paired difference to a reference method."""

from __future__ import annotations

import numpy as np

from ..scoring import bootstrap_difference

__all__ = ["paired_over_seeds"]


def paired_over_seeds(table, reference: str, value: str = "rms_um", by=("scenario",), n_boot: int = 2000,
                      seed: int = 0):
    """Per group and method: the mean of ``value`` over seeds and its paired difference to ``reference``.

    Only the seeds where both the method and the reference have a figure are paired; the mean is over those.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (group, method, seed): columns ``method``, ``seed``, ``value`` and those of ``by``.
    reference : str
        The method every other one is compared with (e.g. ``"monopolar_triangulation"``).
    value : str, default: "rms_um"
        The figure (lower is better for ``at_or_below``).
    by : sequence of str, default: ("scenario",)
        Columns that define a group (e.g. ``("scenario", "value")``).
    n_boot, seed : int
        Of :func:`si_amortized.scoring.bootstrap_difference` (pairs resampled over seeds).

    Returns
    -------
    pandas.DataFrame
        One row per (group, method), in the table's order: the ``by`` columns, ``method``, ``num_seeds``,
        ``mean``, ``reference_mean``, ``difference`` (mean of method - reference), ``low`` and ``high`` (its
        95 % bootstrap interval; NaN for the reference itself) and ``at_or_below`` (seeds where the method's
        figure is at or below the reference's).

    Raises
    ------
    ValueError
        When a (group, method, seed) appears twice.
    """
    import pandas as pd

    by = list(by)
    keys = by + ["method", "seed"]
    if table.duplicated(keys).any():
        raise ValueError(f"each ({', '.join(keys)}) must appear once")
    rows = []
    for group, part in table.groupby(by, sort=False):
        group = group if isinstance(group, tuple) else (group,)
        ref = part[part["method"] == reference].set_index("seed")[value]
        for method, own in part.groupby("method", sort=False):
            own = own.set_index("seed")[value]
            seeds = own.index.intersection(ref.index)
            a, b = own.loc[seeds].to_numpy(float), ref.loc[seeds].to_numpy(float)
            if method == reference or seeds.size == 0:
                difference = low = high = np.nan
            else:
                difference, low, high = bootstrap_difference(a, b, n_boot=n_boot, seed=seed)
            rows.append(dict(zip(by, group), method=method, num_seeds=int(seeds.size),
                             mean=float(a.mean()) if a.size else np.nan,
                             reference_mean=float(b.mean()) if b.size else np.nan,
                             difference=difference, low=low, high=high, at_or_below=int((a <= b).sum())))
    return pd.DataFrame(rows)
