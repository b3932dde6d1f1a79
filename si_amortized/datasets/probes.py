"""Full-size probe layouts built offline (probeinterface's library needs a download).

The geometry follows the published Neuropixels layouts; contact shapes and sizes are approximate.
"""

from __future__ import annotations

from probeinterface import generate_multi_columns_probe, generate_multi_shank

__all__ = ["neuropixels1_like_probe", "neuropixels2_like_probe"]


def neuropixels1_like_probe(num_channels: int = 384):
    """A Neuropixels-1.0-like shank: 4 staggered columns (x = 11, 27, 43, 59 um), 20 um between rows.

    Parameters
    ----------
    num_channels : int, default: 384
        A multiple of 4 (the bottom ``num_channels`` contacts of the shank's checkerboard).

    Returns
    -------
    probeinterface.Probe
        With a device channel index per contact (0 .. num_channels - 1).
    """
    if num_channels < 4 or num_channels % 4:
        raise ValueError(f"num_channels must be a positive multiple of 4, got {num_channels}")
    per_column = num_channels // 4
    probe = generate_multi_columns_probe(
        num_columns=4,
        num_contact_per_column=per_column,
        xpitch=16.0,
        ypitch=40.0,
        y_shift_per_column=[20.0, 0.0, 20.0, 0.0],
        contact_shapes="square",
        contact_shape_params={"width": 12.0},
    )
    probe.move([11.0, 0.0])
    probe.set_device_channel_indices(list(range(num_channels)))
    return probe


def neuropixels2_like_probe(num_shanks: int = 4, channels_per_shank: int = 96):
    """A Neuropixels-2.0-like probe: shanks 250 um apart, 2 columns 32 um apart, 15 um between rows.

    Parameters
    ----------
    num_shanks : int, default: 4
    channels_per_shank : int, default: 96
        An even number.

    Returns
    -------
    probeinterface.Probe
        ``shank_ids`` set, so that SpikeInterface (and the VAE neighbourhoods) keep each shank apart.
    """
    if channels_per_shank < 2 or channels_per_shank % 2:
        raise ValueError(f"channels_per_shank must be a positive even number, got {channels_per_shank}")
    probe = generate_multi_shank(
        num_shank=num_shanks,
        shank_pitch=[250.0, 0.0],
        num_columns=2,
        num_contact_per_column=channels_per_shank // 2,
        xpitch=32.0,
        ypitch=15.0,
        contact_shapes="square",
        contact_shape_params={"width": 12.0},
    )
    probe.set_device_channel_indices(list(range(num_shanks * channels_per_shank)))
    return probe
