"""MEArec template libraries: the small packaged library, and simulation with NEURON/LFPy.

MEArec templates are extracellular action potentials of the 13 BBP layer-5 cell models that ship
inside MEArec, computed with NEURON + LFPy for a MEAutility probe. Simulation needs the optional
``simulation`` extra (``pip install "si_amortized[simulation]"``); the packaged library does not.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._paths import atomic_output, cache_folder, check_probe_name

LIBRARY_FOLDER = Path(__file__).parent / "library"
LIBRARY_PROBES = ("SqMEA-10-15", "Neuropixels-64")

EXCITATORY_MTYPES = ("STPC", "TTPC1", "TTPC2", "UTPC")


def mtype_from_cell_model(cell_model: str) -> str:
    """'L5_TTPC1_cADpyr232_1' -> 'L5_TTPC1'."""
    parts = str(cell_model).split("_")
    return "_".join(parts[:2])


def cell_type_from_mtype(mtype: str) -> str:
    """'E' for the excitatory BBP m-types (pyramidal cells), 'I' otherwise."""
    return "E" if mtype.split("_")[-1] in EXCITATORY_MTYPES else "I"


@dataclass(frozen=True, kw_only=True)
class TemplateLibrary:
    """Extracellular templates of MEArec cell models on one probe.

    Attributes
    ----------
    probe : str
        MEAutility probe name.
    templates : np.ndarray
        ``(num_templates, num_channels, num_samples)`` float32, microvolts.
    locations : np.ndarray
        ``(num_templates, 3)`` soma positions in MEArec axes (x = distance from the probe plane).
    rotations : np.ndarray
        ``(num_templates, 3)`` rotation angles (rad).
    cell_models : np.ndarray
        ``(num_templates,)`` full BBP cell-model names (e.g. ``L5_TTPC1_cADpyr232_1``).
    params : dict
        MEArec template parameters (``dt`` in ms, ``cut_out`` in ms, ...).
    """

    probe: str
    templates: np.ndarray
    locations: np.ndarray
    rotations: np.ndarray
    cell_models: np.ndarray
    params: dict

    @property
    def mtypes(self) -> np.ndarray:
        return np.array([mtype_from_cell_model(c) for c in self.cell_models])

    @property
    def soma_locations(self) -> np.ndarray:
        """``(num_templates, 3)`` somas in SpikeInterface axes: x, y in the probe plane, z the distance from it."""
        return np.asarray(self.locations, dtype="float64")[:, [1, 2, 0]]

    @property
    def sampling_frequency(self) -> float:
        """Sampling frequency of the templates (Hz), from MEArec's ``dt`` (ms)."""
        return 1000.0 / float(self.params["dt"])

    def channel_locations(self) -> np.ndarray:
        """``(num_channels, 2)`` contact positions in the probe plane, as SpikeInterface reads a MEArec recording."""
        import MEAutility as mu

        return np.asarray(mu.return_mea(self.probe).positions, dtype="float64")[:, 1:]

    def subset(self, keep) -> "TemplateLibrary":
        """The templates selected by ``keep`` (boolean mask or indices), with the same probe and params."""
        keep = np.asarray(keep)
        return TemplateLibrary(
            probe=self.probe,
            templates=self.templates[keep],
            locations=self.locations[keep],
            rotations=self.rotations[keep],
            cell_models=self.cell_models[keep],
            params=dict(self.params),
        )

    def somas_over_array(self) -> np.ndarray:
        """Which somas lie over the probe's footprint (x and y within the contacts' extent), shape (num_templates,)."""
        somas, contacts = self.soma_locations, self.channel_locations()
        low, high = contacts.min(axis=0), contacts.max(axis=0)
        return np.all((somas[:, :2] >= low) & (somas[:, :2] <= high), axis=1)

    def to_template_generator(self):
        """Return a MEArec ``TemplateGenerator`` holding these templates (for ``gen_recordings``)."""
        import MEArec as mr
        import MEAutility as mu

        info = {"params": dict(self.params), "electrodes": mu.return_mea_info(self.probe)}
        temp_dict = {
            "templates": self.templates.astype("float32"),
            "locations": self.locations,
            "rotations": self.rotations,
            "celltypes": self.cell_models,
        }
        return mr.TemplateGenerator(temp_dict=temp_dict, info=info)

    def save(self, path: str | Path) -> Path:
        """Save as a compressed ``.npz`` (templates in float16) with the parameters as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            templates=self.templates.astype("float16"),
            locations=self.locations.astype("float32"),
            rotations=self.rotations.astype("float32"),
            cell_models=self.cell_models.astype("U64"),
            probe=np.array(self.probe),
            params=np.array(json.dumps(_jsonable(self.params))),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TemplateLibrary":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Template library {path} does not exist.")
        with np.load(path, allow_pickle=False) as f:
            return cls(
                probe=str(f["probe"]),
                templates=f["templates"].astype("float32"),
                locations=f["locations"].astype("float64"),
                rotations=f["rotations"].astype("float64"),
                cell_models=f["cell_models"].astype(str),
                params=json.loads(str(f["params"])),
            )

    @classmethod
    def from_mearec_templates(cls, path: str | Path) -> "TemplateLibrary":
        """Read a MEArec templates ``.h5`` file (as written by ``MEArec.save_template_generator``)."""
        import MEArec as mr

        path = _existing_file(path)
        tempgen = mr.load_templates(path, return_h5_objects=False, verbose=False)
        params = dict(tempgen.info["params"])
        probe = params.get("probe") or tempgen.info["electrodes"]["electrode_name"]
        return cls(
            probe=str(probe),
            templates=np.asarray(tempgen.templates, dtype="float32"),
            locations=np.asarray(tempgen.locations, dtype="float64"),
            rotations=np.asarray(tempgen.rotations, dtype="float64"),
            cell_models=np.asarray(tempgen.celltypes).astype(str),
            params=params,
        )


def load_template_library(probe: str = "SqMEA-10-15") -> TemplateLibrary:
    """Load the small template library packaged with si_amortized.

    Parameters
    ----------
    probe : str, default: "SqMEA-10-15"
        One of ``LIBRARY_PROBES``. Other probes need :func:`simulate_templates` (NEURON).

    Returns
    -------
    TemplateLibrary
    """
    check_probe_name(probe)
    if probe not in LIBRARY_PROBES:
        raise ValueError(
            f"No packaged templates for probe {probe!r}: the library holds {list(LIBRARY_PROBES)}. "
            f"Simulate templates for it with si_amortized.datasets.simulate_templates(probe={probe!r}) "
            "(needs `pip install \"si_amortized[simulation]\"`)."
        )
    return TemplateLibrary.load(LIBRARY_FOLDER / f"templates_{probe}.npz")


def check_neuron_available() -> None:
    """Raise an ImportError that names the fix when NEURON or LFPy is missing."""
    missing = []
    for module in ("neuron", "LFPy"):
        try:
            __import__(module)
        except Exception:  # NEURON raises other errors than ImportError when half-installed
            missing.append(module)
    if missing:
        raise ImportError(
            f"Template simulation needs {' and '.join(missing)}, which is not installed. "
            "Install the simulation extra: pip install \"si_amortized[simulation]\" "
            "(NEURON < 9 and LFPy), or use the packaged library with load_template_library()."
        )


def compiled_cell_models_folder(folder: Path | None = None, recompile: bool = False) -> Path:
    """Copy MEArec's BBP cell models to a writable cache folder and compile their mechanisms.

    MEArec runs ``nrnivmodl`` with ``os.system`` and ignores its exit status; here a failed
    compilation raises a ``RuntimeError`` with NEURON's output.

    Returns
    -------
    Path
        Folder with the 13 cell models and a compiled ``mods`` folder.
    """
    import MEArec as mr

    check_neuron_available()
    folder = Path(folder) if folder is not None else cache_folder() / "cell_models" / "bbp"
    source = Path(mr.get_default_cell_models_folder())
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__", "mods"))
    mods = folder / "mods"
    if recompile and mods.is_dir():
        shutil.rmtree(mods)
    if not list(mods.glob("*/libnrnmech.so")) and not list(mods.glob("*/.libs/libnrnmech.so")):
        mods.mkdir(exist_ok=True)
        for cell in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "mods"):
            for mod in (cell / "mechanisms").glob("*.mod"):
                if not (mods / mod.name).is_file():
                    shutil.copy(mod, mods / mod.name)
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        nrnivmodl = shutil.which("nrnivmodl", path=env["PATH"])
        if nrnivmodl is None:
            raise RuntimeError(
                "nrnivmodl was not found next to the Python interpreter or on PATH; reinstall NEURON "
                "with pip install \"si_amortized[simulation]\"."
            )
        proc = subprocess.run([nrnivmodl], cwd=mods, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not list(mods.glob("*/libnrnmech.so")) + list(mods.glob("*/.libs/libnrnmech.so")):
            shutil.rmtree(mods, ignore_errors=True)
            raise RuntimeError(
                f"Compiling MEArec's NEURON mechanisms failed (nrnivmodl exit {proc.returncode}). "
                "NEURON 9 cannot compile two of MEArec's BBP mod files: install neuron<9 "
                "(pip install \"si_amortized[simulation]\").\n" + proc.stdout[-2000:] + proc.stderr[-2000:]
            )
    return folder


def simulate_templates(
    probe: str = "SqMEA-10-15",
    *,
    n_per_cell: int = 30,
    cell_models: list[str] | None = None,
    seed: int = 0,
    min_amp: float = 30.0,
    xlim: tuple[float, float] = (10.0, 80.0),
    n_jobs: int = 1,
    overwrite: bool = False,
    verbose: bool = False,
) -> TemplateLibrary:
    """Simulate MEArec templates with NEURON/LFPy, cached in the user cache folder.

    Parameters
    ----------
    probe : str, default: "SqMEA-10-15"
        MEAutility probe name (``MEAutility.return_mea_list()``).
    n_per_cell : int, default: 30
        Templates per cell model (random positions and physiological rotations).
    cell_models : list of str | None, default: None
        Subset of BBP cell-model folder names or m-types (e.g. ``["L5_TTPC1", "L5_NBC"]``); all 13 if None.
    seed : int, default: 0
        Seed of positions and rotations.
    min_amp : float, default: 30.0
        Minimum template amplitude (uV) to be kept.
    xlim : tuple of float, default: (10.0, 80.0)
        Range of the soma distance from the probe plane (um).
    n_jobs : int, default: 1
        Cell models simulated in parallel (one process each).
    overwrite : bool, default: False
        Simulate again even if a cached result exists.

    Returns
    -------
    TemplateLibrary
    """
    check_probe_name(probe)
    check_neuron_available()
    names = cell_model_names(cell_models)
    tag = f"{probe}_n{n_per_cell}_s{seed}_a{min_amp:g}_x{xlim[0]:g}-{xlim[1]:g}_{_short_hash(names)}"
    out = cache_folder() / "templates" / f"templates_{tag}.npz"
    if out.is_file() and not overwrite:
        return TemplateLibrary.load(out)
    simulated = out.with_suffix(".mearec.h5")
    try:
        run_template_generation(
            probe, names,
            dict(n=int(n_per_cell), seed=int(seed), min_amp=float(min_amp), xlim=[float(xlim[0]), float(xlim[1])]),
            simulated, n_jobs=n_jobs, verbose=verbose,
        )
        library = TemplateLibrary.from_mearec_templates(simulated)
        library.save(out)
    finally:
        simulated.unlink(missing_ok=True)
    return library


def cell_model_names(cell_models: list[str] | None = None) -> list[str]:
    """Folder names of MEArec's BBP cell models (compiled in the cache), all 13 or those of ``cell_models``.

    Parameters
    ----------
    cell_models : list of str | None, default: None
        Cell-model folder names or m-types (e.g. ``["L5_TTPC1", "L5_NBC"]``).

    Returns
    -------
    list of str
        Sorted folder names.
    """
    all_cells = compiled_cell_models_folder()
    names = sorted(p.name for p in all_cells.iterdir() if p.is_dir() and p.name != "mods")
    if cell_models is not None:
        wanted = {mtype_from_cell_model(c) for c in cell_models}
        unknown = wanted - {mtype_from_cell_model(n) for n in names}
        if unknown:
            raise ValueError(f"Unknown cell models {sorted(unknown)}; MEArec ships {names}.")
        names = [n for n in names if mtype_from_cell_model(n) in wanted]
    return names


def run_template_generation(probe: str, names: list[str], params: dict, output: Path, n_jobs: int = 1,
                            verbose: bool = False) -> Path:
    """``MEArec.gen_templates`` for the cell models ``names`` on ``probe``, run in a fresh process, saved to ``output``.

    NEURON loads a folder of compiled mechanisms once per process and fails on a second folder holding the
    same mechanisms, and MEArec loads them from the folder of the cell models it is given (a subset folder
    per choice of cell models here). Running each generation in a spawned process keeps the caller's
    process free of NEURON, so that simulations of different cell models can follow each other.

    Parameters
    ----------
    probe : str
        MEAutility probe name.
    names : list of str
        Cell-model folder names (:func:`cell_model_names`).
    params : dict
        Template parameters replacing MEArec's defaults (``n``, ``seed``, ``drifting``, ...).
    output : Path
        Where the templates go (``MEArec.save_template_generator``'s ``.h5``), written atomically.
    n_jobs : int, default: 1
        Cell models simulated in parallel.
    verbose : bool, default: False

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    RuntimeError
        When MEArec produced no template.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_generate_templates, probe, list(names), dict(params), str(output), int(n_jobs), bool(verbose)).result()
    return output


def _generate_templates(probe: str, names: list[str], params: dict, output: str, n_jobs: int, verbose: bool) -> None:
    """The body of :func:`run_template_generation`, in the child process."""
    import MEArec as mr

    all_cells = compiled_cell_models_folder()
    # MEArec simulates every cell model of a folder: build one with only the requested models
    subset = cache_folder() / "cell_models" / f"subset_{_short_hash(names)}"
    subset.mkdir(parents=True, exist_ok=True)
    for name in names + ["mods"]:
        link = subset / name
        if not link.exists():
            link.symlink_to(all_cells / name, target_is_directory=True)
    full = mr.get_default_templates_params()
    full.update(probe=probe, **params)
    work = cache_folder() / "template_simulations"
    work.mkdir(parents=True, exist_ok=True)
    # MEArec's scratch folder (physrot/tmp_{n}_{probe}) is named by n and probe only and deleted when done:
    # two simulations at once (other seeds, other processes) would delete each other's files
    with _exclusive_lock(work / ".lock"), _chdir(work), _interpreter_bin_on_path():
        tempgen = mr.gen_templates(
            cell_models_folder=str(subset),
            params=full,
            templates_tmp_folder=str(work),
            parallel=n_jobs > 1,
            n_jobs=n_jobs,
            recompile=False,
            verbose=verbose,
        )
    if len(tempgen.templates) == 0:
        raise RuntimeError(f"MEArec produced no template for {probe!r}; check that NEURON runs (nrniv -c quit()).")
    with atomic_output(output) as partial:
        mr.save_template_generator(tempgen, filename=str(partial), verbose=False)


def _short_hash(names: list[str]) -> str:
    import hashlib

    return hashlib.sha1(",".join(names).encode()).hexdigest()[:8]


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: check the path (simulate one with `si-amortized simulate`).")
    return path


@contextlib.contextmanager
def _exclusive_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created if missing): other processes wait for it."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _chdir(folder: Path):
    # MEArec writes tmp_params_path.yaml into the current folder
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _interpreter_bin_on_path():
    previous = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + previous
    try:
        yield
    finally:
        os.environ["PATH"] = previous


__all__ = [
    "TemplateLibrary",
    "load_template_library",
    "simulate_templates",
    "check_neuron_available",
    "compiled_cell_models_folder",
    "mtype_from_cell_model",
    "cell_type_from_mtype",
    "LIBRARY_PROBES",
]
