"""The MEArec recordings the localization benchmarks simulate (cached by their parameters)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["localization_benchmark_recording"]

#: (min_dist um, min_amp uV) tried in turn when MEArec cannot place the cells with the first.
SELECTION_FALLBACKS = ((20.0, 40.0), (15.0, 40.0), (10.0, 30.0), (5.0, 20.0))


def localization_benchmark_recording(probe: str, noise: float, n_cells: int, duration: float, seed: int,
                                     folder: Path, over_array: bool = False) -> Path:
    """A MEArec recording of the localization benchmarks, simulated once into ``folder`` and reused.

    Parameters
    ----------
    probe : str
        A packaged probe (``"SqMEA-10-15"``, ``"Neuropixels-64"``).
    noise : float
        Noise level (uV).
    n_cells : int
        Cells, a fifth of them (at least one) inhibitory.
    duration : float
        Seconds.
    seed : int
    folder : Path
        Where the file is written and looked up (its name holds every parameter).
    over_array : bool, default: False
        Only cells whose soma lies over the probe's footprint (the paper's setting), with as many excitatory
        cells as the packaged library has there.

    Returns
    -------
    Path
        The MEArec file. The somas are at least 20 um apart and 40 uV large where MEArec can place the cells
        so, else at the first of :data:`SELECTION_FALLBACKS` that works.

    Raises
    ------
    RuntimeError
        When no fallback places the cells.
    """
    from ..datasets import cell_type_from_mtype, load_template_library, simulate_recording

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{probe}_{n_cells}cells_{duration:g}s_{noise:g}uV_seed{seed}{'_over' if over_array else ''}.h5"
    if out.exists():
        return out
    n_inh = max(n_cells // 5, 1)
    templates = None
    if over_array:
        library = load_template_library(probe)
        templates = library.subset(library.somas_over_array())
        excitatory = int(sum(cell_type_from_mtype(m) == "E" for m in templates.mtypes))
        n_inh = max(n_inh, n_cells - max(excitatory // 2, 1))  # room for the selection's distance rule
    for min_dist, min_amp in SELECTION_FALLBACKS:
        try:
            return simulate_recording(
                probe, n_exc=n_cells - n_inh, n_inh=n_inh, duration=duration, noise_level=noise, seed=seed,
                min_dist=min_dist, min_amp=min_amp, output=out, templates=templates,
            )
        except RuntimeError as err:  # MEArec: "Templates could not be selected"
            print(f"  selection failed with min_dist={min_dist}, min_amp={min_amp}: {str(err).splitlines()[0]}")
    raise RuntimeError(f"MEArec could not place {n_cells} cells on {probe} with any of {SELECTION_FALLBACKS}")
