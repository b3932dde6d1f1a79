"""Spike sorters built on si_amortized's methods, registered with ``spikeinterface.sorters``.

Importing this module (``import si_amortized`` does) makes ``"location_sorter"`` a name that
``spikeinterface.sorters.run_sorter`` and ``spikeinterface.benchmark.SorterStudy`` accept.
"""

from .clustering import ClusteringConfig, cluster_features
from .features import PeakChannelWaveform, fit_whitened_pca, peak_channel_waveforms
from .location_sorter import LocationSorter, read_sorter_features, register_location_sorter, sort_by_locations

register_location_sorter()

__all__ = [
    "LocationSorter",
    "sort_by_locations",
    "read_sorter_features",
    "register_location_sorter",
    "ClusteringConfig",
    "cluster_features",
    "PeakChannelWaveform",
    "fit_whitened_pca",
    "peak_channel_waveforms",
]
