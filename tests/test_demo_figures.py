"""``write_demo_figures`` on a tiny analyzer: one PNG per method, somas drawn, legends readable."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_analyzer():
    """4 units on 16 channels, 3 s, with ``gt_unit_locations`` and ``cell_type``; ``vae_locations`` (1 epoch)
    and ``nemo_embeddings``."""
    import spikeinterface.core as si

    import si_amortized  # noqa: F401  (registers the extensions)

    recording, sorting = si.generate_ground_truth_recording(durations=[3.0], num_units=4, num_channels=16, seed=0)
    assert sorting.get_property("gt_unit_locations").shape == (4, 3)
    sorting.set_property("cell_type", np.array(["E", "E", "E", "I"]))
    analyzer = si.create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    analyzer.compute("vae_locations", epochs=1, seed=0, progress_bar=False)
    analyzer.compute("nemo_embeddings")
    return analyzer


@pytest.fixture
def wells():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(16), 5)
    return rng.normal(size=(80, 8)) + labels[:, None], labels


def test_one_png_per_method_and_nothing_left_open(tiny_analyzer, wells, tmp_path):
    import matplotlib.pyplot as plt

    from si_amortized.demo import write_demo_figures

    open_before = plt.get_fignums()
    paths = write_demo_figures(tiny_analyzer, *wells, tmp_path / "figures")
    assert [p.name for p in paths] == ["vae_locations.png", "nemo_embeddings.png", "rollae_embeddings.png"]
    for path in paths:
        assert path.parent == tmp_path / "figures"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert plt.get_fignums() == open_before


def _axes():
    from matplotlib.figure import Figure

    return Figure().add_subplot()


def test_vae_figure_draws_every_true_soma(tiny_analyzer):
    from si_amortized.demo import _draw_vae_locations

    ax = _axes()
    _draw_vae_locations(ax, tiny_analyzer, 0)
    drawn = np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections])
    for soma in tiny_analyzer.sorting.get_property("gt_unit_locations"):
        assert np.any(np.all(np.isclose(drawn, soma[:2]), axis=1)), soma
    assert "ground-truth somas" in ax.get_title()


def test_nemo_figure_legend_names_the_cell_types(tiny_analyzer):
    from si_amortized.demo import _draw_nemo_embeddings

    ax = _axes()
    _draw_nemo_embeddings(ax, tiny_analyzer, 0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["excitatory", "inhibitory"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 4


def test_rollae_figure_gives_each_class_its_own_colour(wells):
    from si_amortized.demo import _draw_rollae_embeddings

    ax = _axes()
    _draw_rollae_embeddings(ax, *wells, 0)
    assert len(ax.get_legend().get_texts()) == 16
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in ax.collections}
    assert len(colours) == 16
