"""MEArec ground truth: simulate recordings from template libraries and load them with GT properties.

Axis conventions. MEArec stores soma positions as (x, y, z) with x the distance from the probe
plane and (y, z) in the plane. SpikeInterface's unit locations are (x, y) in the probe plane and z
the distance from it, so ``gt_unit_locations = soma_position[:, [1, 2, 0]]``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import numbers
from pathlib import Path
from typing import Sequence

import numpy as np

from ._paths import atomic_output, cache_folder, check_probe_name
from .templates import (
    TemplateLibrary,
    cell_type_from_mtype,
    load_template_library,
    mtype_from_cell_model,
)


def _resolve_library(templates: TemplateLibrary | str | Path | None, probe: str) -> TemplateLibrary:
    if templates is None:
        return load_template_library(probe)
    if isinstance(templates, TemplateLibrary):
        return templates
    path = Path(templates)
    if not path.exists():
        raise FileNotFoundError(f"Templates file {path} does not exist.")
    if path.suffix == ".npz":
        return TemplateLibrary.load(path)
    return TemplateLibrary.from_mearec_templates(path)


def _select_templates_for_mtypes(
    library: TemplateLibrary,
    mtypes: Sequence[str],
    *,
    min_dist: float,
    min_amp: float,
    max_amp: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Pick one template per requested m-type, all at least ``min_dist`` um apart."""
    lib_mtypes = library.mtypes
    amplitudes = np.abs(library.templates.min(axis=(1, 2)))
    chosen: list[int] = []
    for mtype in mtypes:
        candidates = np.flatnonzero(
            (lib_mtypes == mtype) & (amplitudes >= min_amp) & (amplitudes <= max_amp)
        )
        candidates = np.setdiff1d(candidates, chosen)
        if len(candidates) == 0 and not np.any(lib_mtypes == mtype):
            raise ValueError(f"No template of cell model {mtype!r}; the library has {sorted(set(lib_mtypes))}.")
        rng.shuffle(candidates)
        for c in candidates:
            if not chosen or np.min(np.linalg.norm(library.locations[chosen] - library.locations[c], axis=1)) >= min_dist:
                chosen.append(int(c))
                break
        else:
            raise ValueError(
                f"Could not place a {mtype} template at least {min_dist} um from the {len(chosen)} already chosen "
                f"with amplitude in [{min_amp}, {max_amp}] uV: lower min_dist, ask for fewer cells of this type, "
                "or simulate more templates with simulate_templates()."
            )
    return np.array(chosen)


def _cache_path(key: dict, subfolder: str, probe_name: str) -> Path:
    """``<cache>/<subfolder>/mearec_<probe_name>_<digest of key>.h5``: one file per set of inputs."""
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return cache_folder() / subfolder / f"mearec_{probe_name}_{digest}.h5"


def _mearec_seeds(seed: int) -> dict:
    """MEArec's four seeds derived from one."""
    return {"spiketrains": seed, "templates": seed + 1, "convolution": seed + 2, "noise": seed + 3}


def _recording_output(key: dict, probe_name: str, output, overwrite: bool) -> tuple[Path, bool]:
    """Where a recording goes (``output``, or the cache file of ``key``) and whether it is there to reuse."""
    output = _cache_path(key, "recordings", probe_name) if output is None else Path(output)
    if output.is_file() and not overwrite:
        return output, True
    output.parent.mkdir(parents=True, exist_ok=True)
    return output, False


def _recording_params(seed: int, min_dist: float, min_amp: float, max_amp: float) -> dict:
    """MEArec's default recording parameters with the seeds of ``seed`` and the template selection set."""
    import MEArec as mr

    params = mr.get_default_recordings_params()
    params["seeds"] = _mearec_seeds(seed)
    params["templates"].update(min_dist=float(min_dist), min_amp=float(min_amp), max_amp=float(max_amp))
    return params


def _generate_and_save(output: Path, *, verbose: bool, include_spike_traces: bool = True, **gen_kwargs) -> Path:
    """``MEArec.gen_recordings(**gen_kwargs)`` (quiet unless ``verbose``), written to ``output`` atomically."""
    import MEArec as mr

    # MEArec prints some messages whatever its verbosity
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with atomic_output(output) as tmp_output:
        with quiet:
            recgen = mr.gen_recordings(verbose=verbose, **gen_kwargs)
        mr.save_recording_generator(
            recgen, filename=str(tmp_output), verbose=False, include_spike_traces=include_spike_traces
        )
    return output


def _check_count(name: str, value) -> None:
    """``value`` is a non-negative integer (bool excluded), else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name}={value!r}: give a whole number of cells, 0 or more.")


def _check_number(name: str, value, *, minimum: float, strict: bool, meaning: str) -> None:
    """``value`` is a finite real number above (``strict``) or at least ``minimum``, else ValueError."""
    bound = f"{'>' if strict else '>='} {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}={value!r}: give a finite number {bound} ({meaning}).")
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"{name}={value!r} must be {bound} ({meaning}).")


def _check_user_spike_trains(spike_trains, cell_models, duration: float) -> None:
    """One 1D array of finite times in ``[0, duration)`` s per cell model, at least one."""
    if len(spike_trains) != len(cell_models):
        raise ValueError(
            f"{len(spike_trains)} spike_trains but {len(cell_models)} cell_models: give one m-type per spike train."
        )
    if len(spike_trains) == 0:
        raise ValueError("spike_trains is empty: give at least one cell (one array of spike times and its m-type).")
    for i, train in enumerate(spike_trains):
        times = np.asarray(train, dtype="float64")
        if times.ndim != 1:
            raise ValueError(f"spike_trains[{i}] has shape {times.shape}: give a 1D array of spike times in seconds.")
        if not np.all(np.isfinite(times)):
            raise ValueError(f"spike_trains[{i}] holds NaN or infinite times: give finite spike times in seconds.")
        if times.size and (times.min() < 0 or times.max() >= duration):
            raise ValueError(
                f"spike_trains[{i}] has times outside [0, {duration:g}) s: drop them or raise duration."
            )


def _check_simulation_inputs(
    *, n_exc, n_inh, duration, noise_level, seed, spike_trains, cell_models, min_dist, min_amp, max_amp,
    f_exc, f_inh, sampling_frequency, dtype,
) -> None:
    """ValueError naming the parameter and the fix for any input :func:`simulate_recording` cannot simulate."""
    _check_number("duration", duration, minimum=0.0, strict=True, meaning="the recording length in seconds")
    _check_number("noise_level", noise_level, minimum=0.0, strict=False, meaning="the noise standard deviation in uV")
    _check_number("min_dist", min_dist, minimum=0.0, strict=False, meaning="the minimum soma distance in um")
    _check_number("min_amp", min_amp, minimum=0.0, strict=False, meaning="the smallest template amplitude in uV")
    _check_number("max_amp", max_amp, minimum=0.0, strict=True, meaning="the largest template amplitude in uV")
    if min_amp >= max_amp:
        raise ValueError(f"min_amp={min_amp!r} must be smaller than max_amp={max_amp!r}: the amplitude range is empty.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed={seed!r}: give an integer, 0 or more.")
    if sampling_frequency is not None:
        _check_number("sampling_frequency", sampling_frequency, minimum=0.0, strict=True,
                      meaning="a rate in Hz, or None to keep the templates' rate")
    try:
        np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype={dtype!r} is not a numpy dtype: use e.g. 'float32' or 'int16'.") from None
    if spike_trains is not None:
        _check_user_spike_trains(spike_trains, cell_models, duration)
        return
    _check_count("n_exc", n_exc)
    _check_count("n_inh", n_inh)
    if n_exc + n_inh < 1:
        raise ValueError(
            f"n_exc={n_exc} and n_inh={n_inh}: give at least one cell (n_exc + n_inh >= 1), "
            "or spike_trains with cell_models."
        )
    _check_number("f_exc", f_exc, minimum=0.0, strict=True, meaning="the excitatory mean firing rate in Hz")
    _check_number("f_inh", f_inh, minimum=0.0, strict=True, meaning="the inhibitory mean firing rate in Hz")


def simulate_recording(
    probe: str = "SqMEA-10-15",
    *,
    n_exc: int = 8,
    n_inh: int = 2,
    duration: float = 10.0,
    noise_level: float = 10.0,
    noise_mode: str = "uncorrelated",
    seed: int = 0,
    spike_trains: Sequence[np.ndarray] | None = None,
    cell_models: Sequence[str] | None = None,
    templates: TemplateLibrary | str | Path | None = None,
    min_dist: float = 15.0,
    min_amp: float = 40.0,
    max_amp: float = 500.0,
    f_exc: float = 5.0,
    f_inh: float = 15.0,
    sampling_frequency: float | None = None,
    filter: bool = True,
    dtype: str = "float32",
    output: str | Path | None = None,
    overwrite: bool = False,
    n_jobs: int = 1,
    verbose: bool = False,
) -> Path:
    """Simulate a MEArec recording and write it to a ``.h5`` file.

    Parameters
    ----------
    probe : str, default: "SqMEA-10-15"
        MEAutility probe name; must match the templates.
    n_exc, n_inh : int, default: 8, 2
        Numbers of excitatory / inhibitory cells (ignored when ``spike_trains`` is given).
    duration : float, default: 10.0
        Seconds (ignored when ``spike_trains`` is given with ``t_stop``; see below).
    noise_level : float, default: 10.0
        Noise standard deviation in uV (added before MEArec's band-pass filter).
    noise_mode : "uncorrelated" | "distance-correlated" | "far-neurons", default: "uncorrelated"
    seed : int, default: 0
        Seeds spike trains, template selection, convolution jitter and noise.
    spike_trains : sequence of np.ndarray | None, default: None
        User spike times per cell, in seconds within ``[0, duration)``. Requires ``cell_models``.
    cell_models : sequence of str | None, default: None
        M-type of each spike train (e.g. ``"L5_TTPC1"`` or the full BBP name).
    templates : TemplateLibrary | path | None, default: None
        Templates to use: None = the packaged library for ``probe``; a ``.npz`` library; a MEArec templates ``.h5``.
    min_dist : float, default: 15.0
        Minimum distance between selected somas (um).
    min_amp, max_amp : float, default: 40.0, 500.0
        Range of template amplitudes (uV) allowed for selection.
    f_exc, f_inh : float, default: 5.0, 15.0
        Mean Poisson rates of generated spike trains (Hz).
    sampling_frequency : float | None, default: None
        None keeps the templates' rate (32 kHz for MEArec's defaults).
    filter : bool, default: True
        Apply MEArec's band-pass filter (300-6000 Hz).
    dtype : str, default: "float32"
    output : path | None, default: None
        Where to write; None writes into the user cache, named by the parameters (reused when it exists).
    overwrite : bool, default: False
    n_jobs : int, default: 1

    Returns
    -------
    Path
        The MEArec recording file.

    Raises
    ------
    ValueError
        Before any simulation work, naming the parameter, for inputs that cannot be simulated: no cell
        (``n_exc + n_inh == 0`` without ``spike_trains``), negative or non-integer cell counts, ``duration <= 0``,
        ``noise_level < 0``, ``min_amp >= max_amp``, non-positive rates, a negative ``seed``, ``spike_trains`` and
        ``cell_models`` of different lengths or spike times outside ``[0, duration)``.
    """
    check_probe_name(probe)
    if noise_mode not in ("uncorrelated", "distance-correlated", "far-neurons"):
        raise ValueError(f"noise_mode={noise_mode!r}: use 'uncorrelated', 'distance-correlated' or 'far-neurons'.")
    if (spike_trains is None) != (cell_models is None):
        raise ValueError("Give spike_trains and cell_models together (one m-type per spike train).")
    _check_simulation_inputs(
        n_exc=n_exc, n_inh=n_inh, duration=duration, noise_level=noise_level, seed=seed, spike_trains=spike_trains,
        cell_models=cell_models, min_dist=min_dist, min_amp=min_amp, max_amp=max_amp, f_exc=f_exc, f_inh=f_inh,
        sampling_frequency=sampling_frequency, dtype=dtype,
    )
    library = _resolve_library(templates, probe)
    if library.probe != probe:
        raise ValueError(f"The templates were computed for probe {library.probe!r}, not {probe!r}.")

    key = dict(
        probe=probe, n_exc=n_exc, n_inh=n_inh, duration=duration, noise_level=noise_level, noise_mode=noise_mode,
        seed=seed, min_dist=min_dist, min_amp=min_amp, max_amp=max_amp, f_exc=f_exc, f_inh=f_inh,
        sampling_frequency=sampling_frequency, filter=filter, dtype=dtype,
        library=hashlib.sha1(library.templates[:, :, ::8].tobytes()).hexdigest()[:10],
        trains=None if spike_trains is None else hashlib.sha1(
            b"".join(np.asarray(s, dtype="float64").tobytes() for s in spike_trains) + "|".join(cell_models).encode()
        ).hexdigest()[:10],
    )
    output, cached = _recording_output(key, probe, output, overwrite)
    if cached:
        return output

    params = _recording_params(seed, min_dist, min_amp, max_amp)
    params["recordings"].update(
        noise_level=float(noise_level), noise_mode=noise_mode, filter=bool(filter), dtype=dtype,
        fs=sampling_frequency, chunk_duration=10.0,
    )
    params["spiketrains"].update(
        n_exc=int(n_exc), n_inh=int(n_inh), duration=float(duration), f_exc=float(f_exc), f_inh=float(f_inh)
    )
    tempgen = library.to_template_generator()

    spgen = None
    template_ids = None
    if spike_trains is not None:
        spgen, template_ids = _user_spike_trains(
            library, spike_trains, cell_models, duration=duration, seed=seed,
            min_dist=min_dist, min_amp=min_amp, max_amp=max_amp,
        )

    return _generate_and_save(
        output, verbose=verbose, params=params, tempgen=tempgen, spgen=spgen, template_ids=template_ids,
        n_jobs=n_jobs, tmp_mode="memmap", tmp_folder=str(cache_folder() / "tmp"),
    )


def _user_spike_trains(library, spike_trains, cell_models, *, duration, seed, min_dist, min_amp, max_amp):
    """neo spike trains ordered excitatory first (MEArec's requirement), with their template ids.

    The trains were checked by :func:`_check_user_spike_trains`.
    """
    import neo
    import quantities as pq
    from MEArec import SpikeTrainGenerator

    mtypes = [mtype_from_cell_model(c) for c in cell_models]
    types = np.array([cell_type_from_mtype(m) for m in mtypes])
    order = np.argsort(types == "I", kind="stable")  # E first, as MEArec reorders otherwise
    rng = np.random.default_rng(seed)
    ids = _select_templates_for_mtypes(
        library, [mtypes[i] for i in order], min_dist=min_dist, min_amp=min_amp, max_amp=max_amp, rng=rng
    )
    trains = []
    for i in order:
        times = np.sort(np.asarray(spike_trains[i], dtype="float64"))  # checked by _check_user_spike_trains
        st = neo.SpikeTrain(times * pq.s, t_start=0 * pq.s, t_stop=duration * pq.s)
        st.annotate(cell_type=str(types[i]), input_index=int(i))
        trains.append(st)
    return SpikeTrainGenerator(spiketrains=trains), ids


def simulate_ground_truth(probe: str = "SqMEA-10-15", **kwargs):
    """:func:`simulate_recording` then :func:`load_mearec`; returns ``(recording, sorting)``."""
    return load_mearec(simulate_recording(probe, **kwargs))


def _check_mearec_file(path: str | Path) -> Path:
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: check the path, or simulate a recording with "
            "`si-amortized simulate recording --output FILE`."
        )
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
    except OSError as e:
        raise ValueError(f"{path} is not an HDF5 file ({e}); load_mearec reads MEArec recordings (.h5).") from None
    if not {"recordings", "spiketrains", "info"} <= keys:
        raise ValueError(
            f"{path} is an HDF5 file but not a MEArec recording (groups {sorted(keys)}; a MEArec recording has "
            "'recordings', 'spiketrains' and 'info'). Templates files are read with "
            "TemplateLibrary.from_mearec_templates()."
        )
    return path


def _middle_position(position) -> np.ndarray:
    """A soma position (3,), or the middle one of a drifting cell's positions (drift_steps, 3)."""
    position = np.asarray(position, dtype="float64")
    return position[position.shape[0] // 2] if position.ndim == 2 else position


def read_ground_truth_annotations(path: str | Path) -> dict[str, np.ndarray]:
    """Ground truth of each spike train of a MEArec file, from its annotations.

    In a drifting recording a cell's soma position is that of its middle template position (see
    :func:`si_amortized.datasets.mearec_drift.drifting_ground_truth` for its displacement over time).

    Returns
    -------
    dict
        ``soma_position`` (num_units, 3) in MEArec axes, ``gt_unit_locations`` (num_units, 3) in
        SpikeInterface axes, ``cell_type`` ('E'/'I'), ``mtype``, ``firing_rate`` (measured, Hz), and ``snr``,
        ``target_firing_rate`` (the rate MEArec drew), ``input_index`` where MEArec annotated them
        (NaN / -1 otherwise).
    """
    import h5py

    path = _check_mearec_file(path)
    with h5py.File(path, "r") as f:
        group = f["spiketrains"]
        n = len(group.keys())
        annotations = [group[str(i)]["annotations"] for i in range(n)]
        soma = np.array([_middle_position(a["soma_position"][()]) for a in annotations]).reshape(n, 3)

        def _text(a, *names):
            for name in names:
                if name in a:
                    v = a[name][()]
                    return v.decode() if isinstance(v, bytes) else str(v)
            return ""

        mtype = np.array([mtype_from_cell_model(_text(a, "mtype")) for a in annotations])
        cell_type = np.array([_text(a, "bintype", "cell_type") or cell_type_from_mtype(m) for a, m in zip(annotations, mtype)])
        cell_type = np.where(np.isin(cell_type, ["E", "I"]), cell_type, [cell_type_from_mtype(m) for m in mtype])

        def _number(a, name, default):
            return float(a[name][()]) if name in a else default

        snr = np.array([_number(a, "snr", np.nan) for a in annotations])
        fr = np.array([_number(a, "fr", np.nan) for a in annotations])
        input_index = np.array([int(_number(a, "input_index", -1)) for a in annotations])
        times = [np.asarray(group[str(i)]["times"][()]) for i in range(n)]
        rec_info = f["info"]["recordings"]
        filtered = bool(rec_info["filter"][()]) if "filter" in rec_info else False
        # MEArec stores recordings as (num_samples, num_channels)
        duration = f["recordings"].shape[0] / float(rec_info["fs"][()])
    measured_rate = np.array([len(t) for t in times]) / duration
    return dict(
        soma_position=soma,
        gt_unit_locations=soma[:, [1, 2, 0]],
        cell_type=cell_type.astype("U1"),
        mtype=mtype,
        snr=snr,
        firing_rate=measured_rate,
        target_firing_rate=fr,
        input_index=input_index,
        filtered=filtered,
    )


def load_mearec(path: str | Path):
    """Load a MEArec recording as ``(recording, sorting)`` with the ground truth as sorting properties.

    Parameters
    ----------
    path : str | Path
        MEArec recording file (``.h5``).

    Returns
    -------
    recording : spikeinterface.BaseRecording
    sorting : spikeinterface.BaseSorting
        With properties ``gt_unit_locations`` (num_units, 3; x, y in the probe plane, z distance from it,
        um), ``cell_type`` ('E'/'I'), ``mtype`` (e.g. 'L5_TTPC1'), ``snr``, ``firing_rate`` (measured),
        ``target_firing_rate`` (drawn by MEArec), and ``input_index`` (position in ``spike_trains`` given to :func:`simulate_recording`, -1 otherwise).
    """
    from spikeinterface.extractors import read_mearec

    gt = read_ground_truth_annotations(path)  # checks that path is a MEArec recording first
    recording, sorting = read_mearec(str(path))
    if len(gt["mtype"]) != sorting.get_num_units():
        raise ValueError(f"{path}: {sorting.get_num_units()} units but {len(gt['mtype'])} annotated spike trains.")
    for key in ("gt_unit_locations", "cell_type", "mtype", "snr", "firing_rate", "target_firing_rate", "input_index"):
        sorting.set_property(key, gt[key])
    if gt["filtered"]:
        recording.annotate(is_filtered=True)
    return recording, sorting


__all__ = ["simulate_recording", "simulate_ground_truth", "load_mearec", "read_ground_truth_annotations"]
