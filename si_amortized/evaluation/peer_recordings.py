"""Recordings shaped for peer sorters that expect what older SpikeInterface recordings carried.

herdingspikes 0.4's detector (``HSDetectionLightning``) reads each channel's position with
``recording.get_channel_property(channel_id, "location")``. SpikeInterface 0.103 and later keep positions
in the probe only, so that call returns None and the detector fails with a ``TypeError``; setting the
property on a recording before ``run_sorter`` does not survive, because ``run_sorter`` reloads the recording
from its dump. :class:`ChannelLocationPropertyRecording` sets the property in its constructor, so it is
there again after every reload.

It also hands out copies of the traces: on a binary-folder recording (traces memory-mapped from the file)
the herdingspikes 0.4.6 detector crashed the Python process with a segmentation fault inside its compiled
``detect`` module on a 100-channel recording (reproducibly; the same traces read from the MEArec file, which
come as a new array, sorted), so it is given what an in-memory read gives.
"""

from __future__ import annotations

import numpy as np
from spikeinterface.preprocessing.basepreprocessor import BasePreprocessor, BasePreprocessorSegment

__all__ = ["ChannelLocationPropertyRecording", "needs_location_property"]

#: Sorters whose code reads the channel property ``"location"``.
SORTERS_READING_LOCATION_PROPERTY = ("herdingspikes",)


def needs_location_property(sorter_name: str) -> bool:
    """Whether ``sorter_name`` reads channel positions from the ``"location"`` property."""
    return sorter_name in SORTERS_READING_LOCATION_PROPERTY


class _CopyingSegment(BasePreprocessorSegment):
    """The parent's traces as a new, writeable, C-ordered array (not a view of a memory-mapped file)."""

    def get_traces(self, start_frame, end_frame, channel_indices):
        return np.array(self.parent_recording_segment.get_traces(start_frame, end_frame, channel_indices), order="C")


class ChannelLocationPropertyRecording(BasePreprocessor):
    """The traces and probe of ``recording`` (copied on each read), with the channel property ``"location"`` set.

    Parameters
    ----------
    recording : BaseRecording
        With a probe (or channel locations).

    Notes
    -----
    The property holds ``recording.get_channel_locations()``, shape (num_channels, 2 or 3), in micrometres.
    """

    def __init__(self, recording):
        BasePreprocessor.__init__(self, recording)
        for segment in recording._recording_segments:
            self.add_recording_segment(_CopyingSegment(segment))
        self.set_property("location", np.asarray(recording.get_channel_locations()))
        self._kwargs = dict(recording=recording)
