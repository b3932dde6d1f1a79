"""MEArec ground truth for multiwell MEA wells: one synthetic binary well -> one 8-electrode recording.

Geometry. The well is the Axion-style 8-electrode 3-2-3 layout of the Roll-AE paper: rows of 3, 2 and 3
contacts, ``pitch_um`` apart within a row and between rows, the middle pair sitting between the columns
(``si_amortized.rollae.axion_323_positions(pitch_um)``, centred on the well). With the default 30 um pitch
the outer rows are at x = -30, 0, 30 um and the middle row at x = -15, 15 um; rows at y = -30, 0, 30 um.

Templates. No NEURON is needed: every electrode's neuron is a template of the packaged SqMEA-10-15 library
(LFPy simulations of MEArec's 13 BBP layer-5 cell models on a 10 x 10 grid of square contacts, 15 um
pitch) restricted to 8 of its 100 contacts that form this 3-2-3 pattern (contacts two grid steps apart;
the middle row offset by one step). The library's medium is homogeneous and its contacts identical, so
the potential only depends on the contact position relative to the cell: any 3-2-3 window of the grid
records what the well's 8 electrodes would record from a cell at the same relative position. For the
same reason a quarter turn of the grid about the probe normal is the same cell turned by 90 degrees (the
contacts are squares). Each neuron is therefore a (template, quarter turns, window) triple, and its soma
is stored at its position relative to the well. The neuron of electrode ``e`` has its soma within
``max_distance_um`` (in the plane) of ``e``, its largest negative peak on ``e`` (``min_amp``-``max_amp``
uV) and at most ``max_crosstalk`` of that, and at most ``max_crosstalk_uv``, on any other electrode:
real wells space electrodes by a few hundred um so that each electrode sees its own neurons, which a
135 um probe can only approach by choosing cells with little cross-talk (20 uV, well below a 5 x MAD
threshold of about 35 uV at 10 uV noise). Compact cells pass these limits more often: with the packaged
library about nine in ten selected neurons are interneurons.

Spikes. Each active bin of electrode ``e`` holds exactly one spike of neuron ``e`` at a uniformly random
time at least half a refractory period from the bin's edges, so consecutive spikes of a neuron are at
least one refractory period apart.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .mearec import _cache_path, _generate_and_save, _mearec_seeds
from .templates import TemplateLibrary, cell_type_from_mtype, load_template_library, mtype_from_cell_model

__all__ = [
    "WELL_PROBE_NAME",
    "WellTemplates",
    "well_323_positions",
    "select_well_templates",
    "turn_grid_templates",
    "well_spike_times",
    "simulate_well_recording",
    "simulate_well_ground_truth",
]

#: ``electrode_name`` of the 3-2-3 well probe written into the MEArec files
WELL_PROBE_NAME = "Well-3-2-3"

# rows of 3, 2, 3 contacts in units of the pitch, ordered by y then x: the electrode order of
# si_amortized.rollae.axion_323_positions (not imported here: it would pull in torch)
_UNIT_323 = np.array([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (0.5, 1.0), (1.5, 1.0), (0.0, 2.0), (1.0, 2.0), (2.0, 2.0)])

_GRID_PROBE = "SqMEA-10-15"
_GRID_PITCH_UM = 15.0
_GRID_DIM = 10


def well_323_positions(pitch_um: float = 30.0) -> np.ndarray:
    """Contact positions of the 3-2-3 well, centred on the well, in the electrode order of the Roll-AE code.

    Parameters
    ----------
    pitch_um : float, default: 30.0
        Distance between neighbouring contacts of a row, and between rows (um).

    Returns
    -------
    np.ndarray, shape (8, 2)
        ``(x, y)`` in um; rows of 3, 2, 3 contacts ordered by y then x (the order of
        :func:`si_amortized.rollae.axion_323_positions` and of :func:`si_amortized.rollae.well_spike_trains`).
    """
    pos = float(pitch_um) * _UNIT_323
    return pos - pos.mean(axis=0)


def _grid_offsets(pitch_um: float) -> np.ndarray:
    """Grid steps ``(8, 2)`` of the 3-2-3 contacts on the 15 um SqMEA grid; the pattern must fit on it."""
    steps = pitch_um / (2 * _GRID_PITCH_UM)
    if pitch_um <= 0 or abs(steps - round(steps)) > 1e-9:
        raise ValueError(
            f"pitch_um={pitch_um}: the 3-2-3 well is cut out of the 15 um SqMEA-10-15 grid, whose middle row "
            "sits half a pitch off the columns, so pitch_um must be a multiple of 30 um"
        )
    offsets = np.rint(pitch_um * _UNIT_323 / _GRID_PITCH_UM).astype(np.int64)
    if offsets.max() >= _GRID_DIM:
        raise ValueError(f"pitch_um={pitch_um} makes the well wider than the 135 um SqMEA-10-15 grid (max 60 um)")
    return offsets


@dataclass(frozen=True, kw_only=True)
class WellTemplates:
    """The 8 neurons of one well: templates on the 8 well electrodes, one neuron per electrode.

    Attributes
    ----------
    templates : np.ndarray
        ``(8, 8, num_samples)`` float32 (neuron, electrode, sample), microvolts; neuron ``e`` belongs to
        electrode ``e``.
    locations : np.ndarray
        ``(8, 3)`` soma positions in MEArec axes relative to the well: x = distance from the probe plane,
        (y, z) = the well's in-plane (x, y) coordinates of :attr:`channel_positions`.
    rotations : np.ndarray
        ``(8, 3)`` rotation angles (rad) of the source templates, before ``in_plane_turns``.
    cell_models : np.ndarray
        ``(8,)`` full BBP cell-model names.
    channel_positions : np.ndarray
        ``(8, 2)`` electrode positions (um), centred on the well.
    source_templates : np.ndarray
        ``(8,)`` index of each neuron's template in the source library.
    in_plane_turns : np.ndarray
        ``(8,)`` quarter turns (counter-clockwise, 0-3) of each source template about the probe normal.
    source_channels : np.ndarray
        ``(8, 8)`` the SqMEA-10-15 contacts (channel indices) of the turned template that each neuron
        was read from.
    params : dict
        MEArec template parameters of the source library (``dt``, ``cut_out`` in ms, ...).
    """

    templates: np.ndarray
    locations: np.ndarray
    rotations: np.ndarray
    cell_models: np.ndarray
    channel_positions: np.ndarray
    source_templates: np.ndarray
    in_plane_turns: np.ndarray
    source_channels: np.ndarray
    params: dict

    @property
    def cell_types(self) -> np.ndarray:
        """``(8,)`` 'E' / 'I' of each neuron."""
        return np.array([cell_type_from_mtype(mtype_from_cell_model(c)) for c in self.cell_models])

    def electrodes_info(self) -> dict:
        """MEAutility probe description of the well (custom positions, 10 um square contacts like SqMEA)."""
        pos = np.asarray(self.channel_positions, dtype=float)
        pitch = float(np.min(np.linalg.norm(pos[0] - pos[1:], axis=1)))
        return {
            "electrode_name": WELL_PROBE_NAME,
            "description": (
                f"Axion-style 8-electrode well: rows of 3, 2, 3 square contacts, {pitch:g} um pitch, "
                f"cut out of {_GRID_PROBE}"
            ),
            "sortlist": None,
            "pitch": pitch,
            "size": 5,
            "plane": "yz",
            "shape": "square",
            "type": "mea",
            "center": False,
            "pos": pos.tolist(),
        }

    def to_template_generator(self, order: np.ndarray | None = None):
        """A MEArec ``TemplateGenerator`` with these templates (in ``order``) on the well probe."""
        import MEArec as mr

        order = np.arange(len(self.templates)) if order is None else np.asarray(order)
        temp_dict = {
            "templates": self.templates[order].astype("float32"),
            "locations": self.locations[order],
            "rotations": self.rotations[order],
            "celltypes": self.cell_models[order],
        }
        info = {"params": dict(self.params), "electrodes": self.electrodes_info()}
        return mr.TemplateGenerator(temp_dict=temp_dict, info=info)

    def digest(self) -> str:
        """Short hash of the templates and positions (cache key)."""
        h = hashlib.sha1(np.ascontiguousarray(self.templates[:, :, ::4], dtype="float32").tobytes())
        h.update(np.ascontiguousarray(self.locations, dtype="float64").tobytes())
        h.update(np.ascontiguousarray(self.channel_positions, dtype="float64").tobytes())
        return h.hexdigest()[:12]


def _check_grid_library(library: TemplateLibrary) -> None:
    if library.probe != _GRID_PROBE or library.templates.shape[1] != _GRID_DIM * _GRID_DIM:
        raise ValueError(
            f"well templates are cut out of a {_GRID_PROBE} library (100 contacts); got probe {library.probe!r} "
            f"with {library.templates.shape[1]} channels"
        )


def turn_grid_templates(library: TemplateLibrary, turns: int) -> TemplateLibrary:
    """The cells of a SqMEA-10-15 library turned by ``turns`` quarter turns about the probe normal.

    Channel ``i`` of SqMEA-10-15 sits at MEArec ``(y, z) = (-67.5 + 15 * (i // 10), -67.5 + 15 * (i % 10))``.
    Turning the grid of templates with ``np.rot90`` (counter-clockwise in the (y, z) plane) makes the
    contact at ``(y, z)`` read what the contact at ``(z, -y)`` read, i.e. the cell turned by
    ``(y, z) -> (-z, y)``; its soma turns the same way. The medium is isotropic and the square contacts are
    unchanged by a quarter turn, so these are the templates of the turned cells.

    Parameters
    ----------
    library : TemplateLibrary
        ``SqMEA-10-15`` library, templates ``(num_templates, 100, num_samples)``.
    turns : int
        Number of counter-clockwise quarter turns (any integer; taken modulo 4).

    Returns
    -------
    TemplateLibrary
        Same cells and order; ``templates`` and ``locations`` turned (``rotations`` unchanged).
    """
    _check_grid_library(library)
    k = int(turns) % 4
    n_t, _, n_s = library.templates.shape
    grid = library.templates.reshape(n_t, _GRID_DIM, _GRID_DIM, n_s)
    templates = np.rot90(grid, k, axes=(1, 2)).reshape(n_t, _GRID_DIM * _GRID_DIM, n_s)
    locations = np.array(library.locations, dtype=float, copy=True)
    y, z = locations[:, 1].copy(), locations[:, 2].copy()
    for _ in range(k):
        y, z = -z, y
    locations[:, 1], locations[:, 2] = y, z
    return dataclasses.replace(library, templates=np.ascontiguousarray(templates), locations=locations)


def _window_candidates(library: TemplateLibrary, pitch_um: float):
    """Every (template, window) pair: amplitudes on the 8 contacts and the soma relative to the well.

    Returns
    -------
    amplitudes : (num_templates, num_windows, 8) negative-peak amplitudes (uV, positive)
    soma_xy : (num_templates, num_windows, 2) soma in-plane position relative to the well centre (um)
    channels : (num_windows, 8) SqMEA-10-15 channel indices of the window's contacts
    """
    _check_grid_library(library)
    offsets = _grid_offsets(pitch_um)  # (8, 2) grid steps (SI x, SI y)
    span = offsets.max(axis=0)
    origins = np.array(
        [(a, b) for a in range(_GRID_DIM - span[0]) for b in range(_GRID_DIM - span[1])], dtype=np.int64
    )  # (num_windows, 2)
    # SpikeInterface's (x, y) are MEArec's (y, z); channel i is at grid step (i // 10, i % 10)
    steps = origins[:, None, :] + offsets[None, :, :]  # (num_windows, 8, 2)
    channels = steps[..., 0] * _GRID_DIM + steps[..., 1]
    grid_min = -_GRID_PITCH_UM * (_GRID_DIM - 1) / 2
    contact_xy = grid_min + _GRID_PITCH_UM * steps.astype(float)  # (num_windows, 8, 2)
    window_centre = contact_xy.mean(axis=1)  # (num_windows, 2)
    neg_peak = -library.templates.min(axis=2)  # (num_templates, 100)
    amplitudes = neg_peak[:, channels]  # (num_templates, num_windows, 8)
    soma_xy = library.locations[:, None, 1:3] - window_centre[None, :, :]
    return amplitudes, soma_xy, channels


def select_well_templates(
    library: TemplateLibrary | None = None,
    *,
    pitch_um: float = 30.0,
    min_amp: float = 50.0,
    max_amp: float = 300.0,
    max_crosstalk: float = 0.35,
    max_crosstalk_uv: float = 20.0,
    max_distance_um: float = 20.0,
    seed: int = 0,
) -> WellTemplates:
    """Choose one neuron per electrode of the 3-2-3 well from a SqMEA-10-15 template library.

    Candidates are every template of the library, turned by 0-3 quarter turns
    (:func:`turn_grid_templates`), read on every 3-2-3 window of the grid.

    Parameters
    ----------
    library : TemplateLibrary | None, default: None
        A ``SqMEA-10-15`` library (100 contacts); None = the packaged one (12 templates x 13 cell models).
    pitch_um : float, default: 30.0
        Well pitch; a multiple of 30 um (the middle row must fall on the 15 um grid), at most 60.
    min_amp, max_amp : float, default: 50.0, 300.0
        Range of the neuron's negative-peak amplitude on its own electrode (uV); it must also be its
        largest negative peak on the well.
    max_crosstalk : float, default: 0.35
        Largest negative peak on any other electrode, as a fraction of the own-electrode peak.
    max_crosstalk_uv : float, default: 20.0
        Largest negative peak on any other electrode (uV).
    max_distance_um : float, default: 20.0
        Largest in-plane distance between the soma and its electrode (um).
    seed : int, default: 0
        Seeds the random choice among the admissible candidates; the 8 neurons come from 8 distinct
        library templates.

    Returns
    -------
    WellTemplates
    """
    library = load_template_library(_GRID_PROBE) if library is None else library
    positions = well_323_positions(pitch_um)
    n_el = positions.shape[0]
    admissible = [[] for _ in range(n_el)]  # rows (template, turns, window)
    turned, somas, channels = [], [], None
    for k in range(4):
        lib_k = turn_grid_templates(library, k)
        amplitudes, soma_xy, channels = _window_candidates(lib_k, pitch_um)
        turned.append(lib_k)
        somas.append(soma_xy)
        own_best = amplitudes.argmax(axis=2)
        for e in range(n_el):
            own = amplitudes[:, :, e]
            others = np.delete(amplitudes, e, axis=2).max(axis=2)
            dist = np.linalg.norm(soma_xy - positions[e], axis=2)
            ok = (own_best == e) & (own >= min_amp) & (own <= max_amp) & (dist <= max_distance_um)
            ok &= (others <= max_crosstalk * own) & (others <= max_crosstalk_uv)
            tw = np.argwhere(ok)
            admissible[e].append(np.column_stack([tw[:, 0], np.full(len(tw), k), tw[:, 1]]))
    admissible = [np.concatenate(a) for a in admissible]
    rng = np.random.default_rng(seed)
    chosen = np.full((n_el, 3), -1, dtype=np.int64)
    # electrodes with the fewest candidate cells choose first, so that distinct cells remain for all
    for e in np.argsort([len(np.unique(a[:, 0])) for a in admissible], kind="stable"):
        cand = admissible[e]
        cand = cand[~np.isin(cand[:, 0], chosen[chosen[:, 0] >= 0, 0])]
        if len(cand) == 0:
            raise ValueError(
                f"no template of the library fits electrode {e} of the {pitch_um:g} um well with amplitude in "
                f"[{min_amp}, {max_amp}] uV, cross-talk <= {max_crosstalk} and <= {max_crosstalk_uv} uV, soma "
                f"within {max_distance_um} um (distinct templates per electrode): widen these limits or simulate "
                "more templates with si_amortized.datasets.simulate_templates('SqMEA-10-15')"
            )
        chosen[e] = cand[rng.integers(len(cand))]
    templates, locations = [], []
    for t, k, w in chosen:
        templates.append(turned[k].templates[t][channels[w]])
        locations.append([turned[k].locations[t, 0], *somas[k][t, w]])
    t_idx = chosen[:, 0]
    return WellTemplates(
        templates=np.stack(templates).astype(np.float32),
        locations=np.asarray(locations, dtype=float),
        rotations=np.asarray(library.rotations[t_idx], dtype=float),
        cell_models=np.asarray(library.cell_models[t_idx]).astype(str),
        channel_positions=positions,
        source_templates=t_idx,
        in_plane_turns=chosen[:, 1].copy(),
        source_channels=channels[chosen[:, 2]].astype(np.int64),
        params=dict(library.params),
    )


def _check_binary_well(binary_well) -> np.ndarray:
    well = np.asarray(binary_well)
    if well.ndim != 2:
        raise ValueError(f"binary_well must have shape (num_electrodes, num_bins), got {well.shape}")
    if well.size and not np.all((well == 0) | (well == 1)):
        raise ValueError("binary_well must hold 0/1 spike indicators (one spike per active bin)")
    return well.astype(bool)


def well_spike_times(
    binary_well,
    bin_width_s: float,
    *,
    refractory_period_ms: float = 2.0,
    seed: int | np.random.Generator | None = 0,
) -> list[np.ndarray]:
    """One spike per active bin, at a random time inside the bin that respects a refractory period.

    Parameters
    ----------
    binary_well : array-like, shape (num_electrodes, num_bins)
        0/1 spike indicators (e.g. one well of :func:`si_amortized.rollae.simulate_wells`).
    bin_width_s : float
        Bin width (s); bin ``b`` covers ``[b * bin_width_s, (b + 1) * bin_width_s)``.
    refractory_period_ms : float, default: 2.0
        Spikes are drawn uniformly in ``[start + r / 2, end - r / 2]`` of their bin, so consecutive spikes
        of an electrode are at least ``r`` apart and no spike sits on a bin edge.
    seed : int | np.random.Generator | None, default: 0

    Returns
    -------
    list of np.ndarray
        ``num_electrodes`` sorted arrays of spike times (s), one spike per active bin.
    """
    well = _check_binary_well(binary_well)
    half = refractory_period_ms / 2000.0
    if bin_width_s <= 0 or refractory_period_ms < 0:
        raise ValueError("bin_width_s must be positive and refractory_period_ms non-negative")
    if 2 * half >= bin_width_s:
        raise ValueError(
            f"the refractory period ({refractory_period_ms} ms) must be shorter than a bin ({bin_width_s * 1e3:g} ms)"
        )
    rng = np.random.default_rng(seed)
    out = []
    for row in well:
        bins = np.flatnonzero(row)
        out.append(bins * bin_width_s + half + rng.random(bins.size) * (bin_width_s - 2 * half))
    return out


def simulate_well_recording(
    binary_well,
    bin_width_s: float = 0.05,
    *,
    templates: WellTemplates | None = None,
    library: TemplateLibrary | None = None,
    pitch_um: float = 30.0,
    noise_level: float = 10.0,
    refractory_period_ms: float = 2.0,
    seed: int = 0,
    sampling_frequency: float | None = None,
    filter: bool = True,
    dtype: str = "float32",
    output: str | Path | None = None,
    overwrite: bool = False,
    verbose: bool = False,
    **selection_kwargs,
) -> Path:
    """Simulate one synthetic well as a MEArec ground-truth recording on the 8-electrode 3-2-3 well.

    Electrode ``e`` of the well gets one neuron (see :func:`select_well_templates`) whose spike train is
    the events of row ``e`` of ``binary_well`` (:func:`well_spike_times`); MEArec convolves the templates,
    adds uncorrelated noise and band-pass filters. The file carries the well geometry
    (``info/electrodes``, probe ``"Well-3-2-3"``), so ``load_mearec`` returns a recording whose probe
    holds the 8 contacts of :func:`well_323_positions` in the same order as the rows of ``binary_well``.

    Parameters
    ----------
    binary_well : array-like, shape (8, num_bins)
        0/1 spike indicators, rows in the electrode order of :func:`well_323_positions`.
    bin_width_s : float, default: 0.05
        Bin width (s); the recording lasts ``num_bins * bin_width_s`` seconds.
    templates : WellTemplates | None, default: None
        The well's neurons; None selects them with ``select_well_templates(library, pitch_um=pitch_um,
        seed=seed, **selection_kwargs)``.
    library : TemplateLibrary | None, default: None
        SqMEA-10-15 library to select from (None = the packaged one).
    pitch_um : float, default: 30.0
    noise_level : float, default: 10.0
        Noise standard deviation in uV (added before the band-pass filter, ~7 uV after it).
    refractory_period_ms : float, default: 2.0
    seed : int, default: 0
        Seeds the neurons, the spike times inside their bins, MEArec's jitter and its noise.
    sampling_frequency : float | None, default: None
        None keeps the templates' rate (32 kHz).
    filter : bool, default: True
        MEArec's 300-6000 Hz band-pass filter.
    dtype : str, default: "float32"
    output : path | None, default: None
        Where to write; None writes into the user cache (``SI_AMORTIZED_CACHE``), named by the inputs and
        reused when it exists.
    overwrite : bool, default: False
    **selection_kwargs
        ``min_amp``, ``max_amp``, ``max_crosstalk``, ``max_crosstalk_uv``, ``max_distance_um`` of
        :func:`select_well_templates`.

    Returns
    -------
    Path
        The MEArec recording file (``.h5``; spike traces are not stored). Its spike train ``i`` is
        annotated with ``input_index`` = its electrode (row of ``binary_well``).
    """
    import MEArec as mr
    import neo
    import quantities as pq

    well = _check_binary_well(binary_well)
    if templates is None:
        templates = select_well_templates(library, pitch_um=pitch_um, seed=seed, **selection_kwargs)
    elif selection_kwargs or library is not None:
        raise ValueError("give either templates or library / selection settings, not both")
    n_el = templates.templates.shape[1]
    if well.shape[0] != n_el:
        raise ValueError(f"binary_well has {well.shape[0]} electrodes but the well has {n_el}")
    duration = well.shape[1] * float(bin_width_s)
    times = well_spike_times(well, bin_width_s, refractory_period_ms=refractory_period_ms, seed=seed)

    key = dict(
        well=hashlib.sha1(np.packbits(well).tobytes() + str(well.shape).encode()).hexdigest()[:12],
        bin_width_s=float(bin_width_s), templates=templates.digest(), noise_level=float(noise_level),
        refractory_period_ms=float(refractory_period_ms), seed=int(seed), sampling_frequency=sampling_frequency,
        filter=bool(filter), dtype=str(dtype),
    )
    output = _cache_path(key, "well_recordings", WELL_PROBE_NAME) if output is None else Path(output)
    if output.is_file() and not overwrite:
        return output
    output.parent.mkdir(parents=True, exist_ok=True)

    # MEArec wants excitatory spike trains first; template i goes with spike train i
    cell_types = templates.cell_types
    order = np.argsort(cell_types == "I", kind="stable")
    trains = []
    for e in order:
        st = neo.SpikeTrain(times[e] * pq.s, t_start=0 * pq.s, t_stop=duration * pq.s)
        st.annotate(cell_type=str(cell_types[e]), input_index=int(e))
        trains.append(st)
    spgen = mr.SpikeTrainGenerator(spiketrains=trains)
    tempgen = templates.to_template_generator(order)

    params = mr.get_default_recordings_params()
    params["seeds"] = _mearec_seeds(seed)
    params["recordings"].update(
        noise_level=float(noise_level), noise_mode="uncorrelated", filter=bool(filter), dtype=dtype,
        fs=sampling_frequency, chunk_duration=0,
    )
    n_exc = int(np.sum(cell_types == "E"))
    params["spiketrains"].update(duration=duration, n_exc=n_exc, n_inh=n_el - n_exc)
    return _generate_and_save(
        output, verbose=verbose, include_spike_traces=False, params=params, tempgen=tempgen, spgen=spgen,
        template_ids=np.arange(n_el), n_jobs=1,
    )


def simulate_well_ground_truth(binary_well, bin_width_s: float = 0.05, **kwargs):
    """:func:`simulate_well_recording` then :func:`~si_amortized.datasets.load_mearec`.

    Returns
    -------
    recording : spikeinterface.BaseRecording
        8 channels with the well probe attached.
    sorting : spikeinterface.BaseSorting
        One unit per electrode; property ``input_index`` = the unit's electrode (row of ``binary_well``).
    """
    from .mearec import load_mearec

    return load_mearec(simulate_well_recording(binary_well, bin_width_s, **kwargs))
