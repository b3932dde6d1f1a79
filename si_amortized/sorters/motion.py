"""Motion correction before location sorting (``apply_motion_correction=True``).

A cell that drifts along the probe moves its peaks' locations with it, and clustering by location splits it
into several units or joins it to its neighbours. SpikeInterface's ``correct_motion`` estimates the drift
from localized peaks (here with the ``"vae"`` localizer by default, the one the sorter uses) and
interpolates the traces back to a still probe; the sorter then runs on the corrected recording, as
``lupin`` and ``spykingcircus2`` do with theirs.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MOTION_CORRECTION", "FEATURE_SOURCES", "check_motion_correction", "correct_sorter_motion"]

#: ``dredge_fast`` with the VAE localizer and 150 um non-rigid windows instead of the preset's 400 um: on the
#: seed-1 drifting recordings of the sorter's selection (64-channel Neuropixels-1.0-like probe) 400 um windows
#: gave two spatial bins, nearly rigid, and an RMS motion error of 2.23 um on the non-rigid drift; 150 um gave
#: 0.60 um there (0.58 / 0.56 against 0.50 / 0.35 um on the zigzag / jumps) and 24 / 23 / 24 well-detected
#: units against 24 / 23 / 23 (100 um: 0.64 / 0.65 / 0.58 um, the same units).
DEFAULT_MOTION_CORRECTION = {
    "preset": "dredge_fast",
    # the VAE's analyzer defaults, with which these windows were chosen (under a detector the node would
    # otherwise use its motion defaults, likelihood="gaussian", learn_decay_length=True and refine_steps=5,
    # unmeasured with dredge_fast)
    "localize_peaks_kwargs": {"method": "vae", "model": "auto", "likelihood": "squared_error",
                              "learn_decay_length": False, "refine_steps": 0},
    "estimate_motion_kwargs": {"win_step_um": 150.0, "win_scale_um": 150.0},
    "features": "interpolated",
}
FEATURE_SOURCES = ("interpolated", "peaks")

_KWARGS = ("detect_kwargs", "select_kwargs", "localize_peaks_kwargs", "estimate_motion_kwargs",
           "interpolate_motion_kwargs")


def check_motion_correction(settings: dict) -> dict:
    """``correct_motion`` keyword arguments from the sorter's ``motion_correction`` setting, checked.

    Parameters
    ----------
    settings : dict
        ``preset`` (a ``spikeinterface.preprocessing.correct_motion`` preset) and any of ``detect_kwargs``,
        ``select_kwargs``, ``localize_peaks_kwargs``, ``estimate_motion_kwargs``, ``interpolate_motion_kwargs``
        (dicts that update the preset's), and ``features``: ``"interpolated"`` (peaks, locations and waveform
        features from the interpolated traces) or ``"peaks"`` (from the drifting traces, each location then
        moved back by the estimated displacement at its time and depth; templates and matching use the
        interpolated traces either way). Missing keys take :data:`DEFAULT_MOTION_CORRECTION`'s; a key given
        replaces the default's whole entry (``estimate_motion_kwargs={"rigid": True}`` drops the 150 um windows).

    Returns
    -------
    dict
        Keyword arguments of ``correct_motion`` (no job kwargs) and ``features``.
    """
    from spikeinterface.preprocessing.motion import motion_options_preset

    if not isinstance(settings, dict):
        raise ValueError(f"motion_correction must be a dict (preset, localize_peaks_kwargs, ...), not {settings!r}")
    unknown = set(settings) - {"preset", "features", *_KWARGS}
    if unknown:
        raise ValueError(
            f"Unknown motion_correction keys {sorted(unknown)}; allowed: preset, features, {', '.join(_KWARGS)}"
        )
    kwargs = {**DEFAULT_MOTION_CORRECTION, **settings}
    if kwargs["features"] not in FEATURE_SOURCES:
        raise ValueError(f"motion_correction features must be one of {FEATURE_SOURCES}, not {kwargs['features']!r}")
    presets = [name for name in motion_options_preset if name]
    if kwargs["preset"] not in presets:
        raise ValueError(f"motion_correction preset {kwargs['preset']!r} is not one of {presets}")
    for key in _KWARGS:
        if not isinstance(kwargs.get(key, {}), dict):
            raise ValueError(f"motion_correction[{key!r}] must be a dict, not {kwargs[key]!r}")
    localize = dict(kwargs.get("localize_peaks_kwargs", {}))
    method = localize.get("method", motion_options_preset[kwargs["preset"]]["localize_peaks_kwargs"]["method"])
    if method != "vae":  # the VAE's defaults mean nothing to the others
        for key, value in DEFAULT_MOTION_CORRECTION["localize_peaks_kwargs"].items():
            if key != "method" and localize.get(key) == value:
                del localize[key]
    kwargs["localize_peaks_kwargs"] = localize
    return kwargs


def correct_sorter_motion(recording, settings: dict, job_kwargs: dict):
    """The recording with its drift interpolated away, and the estimated motion.

    Parameters
    ----------
    recording : BaseRecording
        Filtered. Its noise levels, when already computed (``get_noise_levels`` caches them on the
        recording), are the ones the motion's peak detection uses, so a seeded sorter stays deterministic.
    settings : dict
        The sorter's ``motion_correction`` (:func:`check_motion_correction`).
    job_kwargs : dict

    Returns
    -------
    corrected : BaseRecording
        ``InterpolateMotionRecording`` (lazy).
    motion : spikeinterface.core.motion.Motion
        Displacement (um) per time bin and depth bin.
    """
    from spikeinterface.preprocessing import correct_motion

    kwargs = check_motion_correction(settings)
    kwargs.pop("features")
    return correct_motion(recording, output_motion=True, **kwargs, **job_kwargs)
