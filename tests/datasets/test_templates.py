"""The template library: packaged libraries, save / load, import and errors without NEURON, and simulation with
NEURON/LFPy (runs where the simulation extra is installed)."""

import builtins
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from si_amortized.datasets import LIBRARY_PROBES, TemplateLibrary, load_template_library, simulate_templates


BBP_MTYPES = {
    "L5_STPC", "L5_TTPC1", "L5_TTPC2", "L5_UTPC", "L5_BP", "L5_BTC", "L5_ChC",
    "L5_DBC", "L5_LBC", "L5_MC", "L5_NBC", "L5_NGC", "L5_SBC",
}


HAS_NEURON = importlib.util.find_spec("neuron") is not None and importlib.util.find_spec("LFPy") is not None


@pytest.mark.parametrize("probe", LIBRARY_PROBES)
def test_packaged_library_holds_all_cell_models(probe):
    import MEAutility as mu

    library = load_template_library(probe)
    n_channels = mu.return_mea(probe).number_electrodes
    assert library.templates.ndim == 3 and library.templates.shape[1] == n_channels
    assert library.templates.dtype == np.float32
    assert set(library.mtypes) == BBP_MTYPES
    # somas between 10 and 80 um from the probe plane (MEArec x axis)
    assert np.all((library.locations[:, 0] >= 10) & (library.locations[:, 0] <= 80))
    # every template is a negative-going spike of at least the simulation's min_amp (30 uV)
    assert np.all(-library.templates.min(axis=(1, 2)) >= 29.0)


def test_library_save_load_round_trip(tmp_path):
    library = load_template_library("SqMEA-10-15")
    path = library.save(tmp_path / "lib.npz")
    again = TemplateLibrary.load(path)
    np.testing.assert_allclose(again.templates, library.templates, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(again.cell_models, library.cell_models)
    assert again.params["dt"] == library.params["dt"]


def test_missing_neuron_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name in ("neuron", "LFPy"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"si_amortized\[simulation\]"):
        simulate_templates("SqMEA-10-15", n_per_cell=1)


def test_import_without_neuron():
    code = (
        "import sys; sys.modules['neuron'] = None; sys.modules['LFPy'] = None\n"
        "import si_amortized, si_amortized.datasets; print(si_amortized.__version__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


@pytest.mark.neuron
@pytest.mark.skipif(not HAS_NEURON, reason="NEURON/LFPy not installed: pip install 'si_amortized[simulation]'")
def test_simulate_templates_of_one_cell_model():
    """Compiles MEArec's mechanisms, simulates one interneuron, projects it on a tetrode; cached afterwards."""
    library = simulate_templates("tetrode-mea-l", n_per_cell=2, cell_models=["L5_BP"], seed=3)
    assert library.templates.shape[:2] == (2, 4)
    assert set(library.mtypes) == {"L5_BP"}
    assert np.all(library.templates.min(axis=(1, 2)) <= -30.0)  # MEArec's min_amp
    again = simulate_templates("tetrode-mea-l", n_per_cell=2, cell_models=["L5_BP"], seed=3)
    np.testing.assert_allclose(again.templates, library.templates, rtol=1e-3, atol=1e-2)  # from the cache


def test_subset_and_somas_over_the_array():
    from si_amortized.datasets import load_template_library

    library = load_template_library("SqMEA-10-15")
    over = library.somas_over_array()
    contacts = library.channel_locations()
    somas = library.soma_locations
    inside = (somas[:, :2] >= contacts.min(axis=0)) & (somas[:, :2] <= contacts.max(axis=0))
    np.testing.assert_array_equal(over, inside.all(axis=1))
    assert 0 < over.sum() < over.size  # the library has cells beside the array too
    subset = library.subset(over)
    assert len(subset.templates) == over.sum() and subset.probe == library.probe
    np.testing.assert_array_equal(subset.soma_locations, somas[over])
    np.testing.assert_array_equal(subset.mtypes, library.mtypes[over])
    np.testing.assert_array_equal(library.subset(np.flatnonzero(over)).templates, subset.templates)


def test_template_simulations_wait_for_each_other(tmp_path):
    """Two simulations at once share MEArec's scratch folder: the second waits for the first's lock."""
    import time

    from si_amortized.datasets.templates import _exclusive_lock

    lock, started = tmp_path / ".lock", tmp_path / "started"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time, pathlib; from si_amortized.datasets.templates import _exclusive_lock\n"
        f"with _exclusive_lock(pathlib.Path({str(lock)!r})):\n"
        f"    pathlib.Path({str(started)!r}).touch(); time.sleep(1.5)\n")])
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        t0 = time.monotonic()
        with _exclusive_lock(lock):
            waited = time.monotonic() - t0
        assert waited > 0.5  # the holder kept it for 1.5 s after saying it started
    finally:
        holder.wait(timeout=60)
