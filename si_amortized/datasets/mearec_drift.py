"""Drifting MEArec ground truth: drifting NEURON templates, recordings with a known drift, their true displacement.

MEArec simulates a drifting template as the same cell at ``drift_steps`` positions along a straight path
(here the probe's long axis), and a drifting recording picks, for each spike, the step that the drift
signal reaches at its time. The drift signal here is given from outside (``external_drift_vector_um``),
so that a MEArec recording can drift exactly like a ``spikeinterface.generation`` scenario. Both need the
``simulation`` extra (NEURON < 9, LFPy); results are cached in the user cache folder.

Axes: MEArec's z (the probe's long axis) is SpikeInterface's y; see :mod:`si_amortized.datasets.mearec`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._paths import cache_folder, check_probe_name, file_digest
from .mearec import _generate_and_save, _recording_output, _recording_params
from .templates import _short_hash, cell_model_names, check_neuron_available, run_template_generation

__all__ = ["drifting_ground_truth", "simulate_drifting_recording", "simulate_drifting_templates"]


def simulate_drifting_templates(
    probe: str = "Neuropixels-64",
    *,
    n_per_cell: int = 3,
    cell_models: list[str] | None = None,
    seed: int = 1,
    drift_um: float = 50.0,
    drift_steps: int = 21,
    min_amp: float = 30.0,
    xlim: tuple[float, float] = (10.0, 80.0),
    n_jobs: int = 1,
    overwrite: bool = False,
    verbose: bool = False,
) -> Path:
    """Simulate MEArec drifting templates, each cell moved ``drift_um`` along the probe's long axis.

    Parameters
    ----------
    probe : str, default: "Neuropixels-64"
        MEAutility probe name.
    n_per_cell : int, default: 3
        Drifting templates per cell model.
    cell_models : list of str | None, default: None
        Subset of the 13 BBP cell models (folder names or m-types); all if None.
    seed : int, default: 1
        Seed of positions and rotations (the packaged library uses 0).
    drift_um : float, default: 50.0
        Length of every template's path, upward along the probe (MEArec needs one length for all).
    drift_steps : int, default: 21
        Positions simulated along the path (``drift_um / (drift_steps - 1)`` um apart).
    min_amp : float, default: 30.0
        Minimum amplitude (uV) of the first position.
    xlim : tuple of float, default: (10.0, 80.0)
        Range of the soma distance from the probe plane (um).
    n_jobs : int, default: 1
        Cell models simulated in parallel.
    overwrite : bool, default: False
    verbose : bool, default: False

    Returns
    -------
    Path
        A MEArec templates ``.h5`` file (``MEArec.load_templates``): templates of shape
        (num_templates, drift_steps, num_channels, num_samples), locations (num_templates, drift_steps, 3).
    """
    check_probe_name(probe)
    check_neuron_available()
    if drift_um <= 0 or drift_steps < 3:
        raise ValueError("drift_um must be > 0 and drift_steps >= 3")
    names = cell_model_names(cell_models)
    tag = (f"{probe}_n{n_per_cell}_s{seed}_d{drift_um:g}x{drift_steps}_a{min_amp:g}_x{xlim[0]:g}-{xlim[1]:g}_"
           f"{_short_hash(names)}")
    out = cache_folder() / "templates" / f"drifting_templates_{tag}.h5"
    if out.is_file() and not overwrite:
        return out
    params = dict(
        n=int(n_per_cell), seed=int(seed), min_amp=float(min_amp), xlim=[float(xlim[0]), float(xlim[1])],
        drifting=True, drift_steps=int(drift_steps), min_drift=float(drift_um), max_drift=float(drift_um),
        drift_xlim=[0.0, 0.0], drift_ylim=[0.0, 0.0], drift_zlim=[float(drift_um), float(drift_um)],
    )
    return run_template_generation(probe, names, params, out, n_jobs=n_jobs, verbose=verbose)


def simulate_drifting_recording(
    templates: str | Path,
    drift_vector_um: np.ndarray,
    drift_fs: float,
    *,
    duration: float,
    non_rigid_min_factor: float | None = None,
    n_exc: int = 10,
    n_inh: int = 10,
    noise_level: float = 10.0,
    min_dist: float = 20.0,
    min_amp: float = 40.0,
    seed: int = 0,
    output: str | Path | None = None,
    overwrite: bool = False,
    verbose: bool = False,
) -> Path:
    """A MEArec recording from drifting templates that drifts as ``drift_vector_um`` says.

    Parameters
    ----------
    templates : path
        Drifting templates (:func:`simulate_drifting_templates`).
    drift_vector_um : np.ndarray, shape (num_times,)
        Displacement along the probe's long axis (SpikeInterface's y), sampled at ``drift_fs`` from t = 0;
        0 is each template's middle position. Clipped by MEArec to half the templates' path each way.
    drift_fs : float
        Hz.
    duration : float
        Seconds; ``num_times`` must be ``int(duration * drift_fs)``.
    non_rigid_min_factor : float | None, default: None
        None: rigid. f in [0, 1): each cell moves by the vector times a factor going linearly with its depth
        from 1 (deepest cell) to f (shallowest), MEArec's linear non-rigid mode.
    n_exc, n_inh : int, default: 10, 10
    noise_level : float, default: 10.0
        Noise standard deviation in uV (before MEArec's band-pass filter).
    min_dist : float, default: 20.0
        Minimum distance between selected somas (um).
    min_amp : float, default: 40.0
    seed : int, default: 0
    output : path | None, default: None
        None: a file in the user cache named by the inputs (reused when it exists).
    overwrite : bool, default: False
    verbose : bool, default: False

    Returns
    -------
    Path
        The MEArec recording file; :func:`drifting_ground_truth` reads its true displacement.
    """
    import hashlib

    templates = Path(templates)
    if not templates.is_file():
        raise FileNotFoundError(
            f"Drifting templates {templates} do not exist: make them with simulate_drifting_templates()"
        )
    vector = np.asarray(drift_vector_um, dtype="float64")
    if vector.ndim != 1 or vector.size != int(duration * drift_fs):
        raise ValueError(f"drift_vector_um must have int(duration * drift_fs) = {int(duration * drift_fs)} samples, "
                         f"not {vector.shape}")
    if non_rigid_min_factor is not None and not 0.0 <= non_rigid_min_factor < 1.0:
        raise ValueError("non_rigid_min_factor must be in [0, 1) or None")
    key = dict(templates=file_digest(templates), vector=hashlib.sha1(vector.tobytes()).hexdigest()[:12],
               drift_fs=drift_fs, duration=duration, non_rigid=non_rigid_min_factor, n_exc=n_exc, n_inh=n_inh,
               noise_level=noise_level, min_dist=min_dist, min_amp=min_amp, seed=seed)
    output, cached = _recording_output(key, "drifting", output, overwrite)
    if cached:
        return output

    params = _recording_params(seed, min_dist, min_amp, max_amp=500.0)
    params["spiketrains"].update(n_exc=int(n_exc), n_inh=int(n_inh), duration=float(duration))
    params["recordings"].update(noise_level=float(noise_level), filter=True, dtype="float32", chunk_duration=10.0,
                                drifting=True, preferred_dir=[0, 0, 1])
    # MEArec 1.11 reads an external vector only with its times (without, it fails); a spike takes the value of
    # the first time at or after it, and spikes after the last time do not drift: end the times at `duration`
    times = np.arange(vector.size + 1) / float(drift_fs)
    vector = np.append(vector, vector[-1])
    drift = dict(
        drift_fs=float(drift_fs), external_drift_vector_um=vector.astype("float32"), external_drift_times=times,
        drift_mode_probe="rigid" if non_rigid_min_factor is None else "non-rigid",
        non_rigid_gradient_mode="linear", non_rigid_linear_direction=1,
        non_rigid_linear_min_factor=0.5 if non_rigid_min_factor is None else float(non_rigid_min_factor),
    )
    return _generate_and_save(
        output, verbose=verbose, include_spike_traces=False, params=params, templates=str(templates),
        drift_dicts=[drift], n_jobs=1, tmp_mode="memmap", tmp_folder=str(cache_folder() / "tmp"),
    )


def drifting_ground_truth(path: str | Path, sampling_frequency: float = 10.0) -> dict:
    """The true displacement of every cell of a drifting MEArec recording, in SpikeInterface's axes.

    The template step of a cell at time t is the one MEArec's convolution gives a spike at t: the drift
    index at the first drift time at or after t (or at ``floor(t * drift_fs)`` without drift times), times the
    cell's drift factor, truncated, from the middle step; summed over the recording's drift signals.

    Parameters
    ----------
    path : path
        A recording of :func:`simulate_drifting_recording` (or any MEArec recording with drift).
    sampling_frequency : float, default: 10.0
        Hz of the returned time series (from t = 0).

    Returns
    -------
    dict
        ``unit_displacements`` (num_times, num_units, 2): x, y displacement of each cell from its middle
        template position (template steps included); ``unit_locations`` (num_units, 3): x, y in the probe
        plane and z the distance from it, at the middle position; ``displacement_sampling_frequency``. The
        form of ``spikeinterface.generation.generate_drifting_recording``'s extra outputs, so that
        :func:`si_amortized.evaluation.motion.true_displacement_at` reads both.
    """
    import MEArec as mr

    recgen = mr.load_recordings(path, return_h5_objects=False, load=["spiketrains", "templates", "info"], verbose=False)
    if not recgen.drift_list:
        raise ValueError(f"{path} is not a drifting MEArec recording")
    duration = float(recgen.info["spiketrains"]["duration"])
    times = np.arange(int(duration * sampling_frequency)) / sampling_frequency
    locations = np.asarray(recgen.template_locations, dtype="float64")  # (num_units, drift_steps, 3), MEArec axes
    num_units, num_steps = locations.shape[:2]
    steps = np.zeros((times.size, num_units), dtype=np.int64)
    for drift in recgen.drift_list:
        idxs = np.asarray(drift["drift_vector_idxs"])
        drift_times = drift.get("drift_times")
        if drift_times is not None and np.size(drift_times):
            drift_times = np.asarray(drift_times, dtype="float64")
            at = np.clip(np.searchsorted(drift_times, times), 0, idxs.size - 1)
            inside = (times >= drift_times[0]) & (times <= drift_times[-1])
        else:
            at = np.clip((times * float(drift["drift_fs"])).astype(np.int64), 0, idxs.size - 1)
            inside = np.ones(times.size, dtype=bool)
        factors = np.asarray(drift["drift_factors"], dtype="float64")
        moved = (idxs[at][:, None] * factors[None, :]).astype(np.int16)  # MEArec truncates each signal's steps
        steps += np.where(inside[:, None], moved, 0)
    middle_step = num_steps // 2
    steps = np.clip(steps + middle_step, 0, num_steps - 1)
    depth = locations[np.arange(num_units)[None, :], steps, 2]
    middle = locations[:, middle_step]
    displacements = np.zeros((times.size, num_units, 2))
    displacements[:, :, 1] = depth - middle[None, :, 2]
    return dict(unit_displacements=displacements, unit_locations=middle[:, [1, 2, 0]],
                displacement_sampling_frequency=float(sampling_frequency))
